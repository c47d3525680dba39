"""Records sessions on sign-in (``user_logged_in``) so the account page can list and end them."""

from django.apps import AppConfig


class AccountConfig(AppConfig):
    name = "idp.account"
    label = "account"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from idp.account.services import session_record_on_login

        user_logged_in.connect(session_record_on_login, dispatch_uid="canopy.account.session_record")
