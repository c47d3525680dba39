from django.urls import include, path

from tenants import views

app_name = "tenant"
urlpatterns = [
    path("jwks.json", views.jwks, name="jwks"),
    path("", include("idp.flow.urls")),
]
