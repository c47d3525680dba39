from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orgs.delegated_admin import register
        from orgs.login_policy import lockout_policy_for
        from tenants.lockout import register_policy_resolver

        register()  # owners and admins of organizations may use the admin for their subtree
        register_policy_resolver(lockout_policy_for)  # lockout thresholds of the home organization
