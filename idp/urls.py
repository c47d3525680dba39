from django.contrib import admin
from django.urls import include, path

from idp import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("t/<slug:tenant_slug>/", include("tenants.urls")),
]
