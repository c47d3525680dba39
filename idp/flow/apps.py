from django.apps import AppConfig


class FlowConfig(AppConfig):
    name = "idp.flow"
    label = "flow"
    verbose_name = "Login journey"
