from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "idp.api"
    label = "api"
