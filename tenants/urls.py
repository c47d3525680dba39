from django.urls import path

from tenants import views

app_name = "tenant"
urlpatterns = [
    path("jwks.json", views.jwks, name="jwks"),
]
