from django.urls import path

app_name = "saml"
urlpatterns: list = []
