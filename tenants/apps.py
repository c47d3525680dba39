from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants and users"
    default = True
    default_auto_field = "django.db.models.BigAutoField"


class CanopyAdminConfig(admin_apps.AdminConfig):
    """Django's admin with Canopy's site: a login form that asks for the tenant."""

    default = False
    default_site = "tenants.admin_site.CanopyAdminSite"
