from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "idp.federation"
    label = "federation"
