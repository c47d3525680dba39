from django.apps import AppConfig


class SamlConfig(AppConfig):
    name = "idp.saml"
    label = "saml"
    verbose_name = "SAML"

    def ready(self) -> None:
        # Connects the signals that invalidate the per-process SP cache, in every process (web, Celery,
        # commands), whoever writes (the eligible-organizations cache: OrgsConfig.ready).
        from idp.saml import logout, selectors  # noqa: F401 - also: SPs take part in Canopy's own sign-out
