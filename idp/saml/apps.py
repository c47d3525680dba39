from django.apps import AppConfig


class SamlConfig(AppConfig):
    name = "idp.saml"
    label = "saml"
    verbose_name = "SAML"
