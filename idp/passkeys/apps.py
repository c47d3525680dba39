"""Passkeys plug into the login journey and the admin from ``ready`` so ``idp.flow`` never imports them."""

from django.apps import AppConfig


class PasskeysConfig(AppConfig):
    name = "idp.passkeys"
    label = "passkeys"

    def ready(self) -> None:
        from idp.passkeys import wiring

        wiring.register()
