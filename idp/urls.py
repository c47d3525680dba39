from django.contrib import admin
from django.urls import include, path

from idp import health

# Everything a tenant serves lives under /t/<slug>/ (the OIDC issuer is <base>/t/<slug>).
tenant_patterns = [
    path("", include("tenants.urls")),
    path("", include("idp.flow.urls")),
    path("", include("idp.oidc.urls")),
    path("saml/", include("idp.saml.urls")),
    path("federation/", include("idp.federation.urls")),
    path("api/", include("idp.api.urls")),
    path("passkeys/", include("idp.passkeys.urls")),
    path("account/", include("idp.account.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
]
