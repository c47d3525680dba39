"""Records sessions on sign-in (``user_logged_in``) so the account page can list and end them;
ends them all on a password reset (a revoker of ``idp.flow.revocation``)."""

from django.apps import AppConfig


class AccountConfig(AppConfig):
    name = "idp.account"
    label = "account"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from idp.account.services import SESSION_RECORD_UPSTREAMS, session_record_on_login, sessions_end_all
        from idp.flow.revocation import register_revoker, register_upstream_sessions

        user_logged_in.connect(session_record_on_login, dispatch_uid="canopy.account.session_record")
        register_revoker(sessions_end_all)  # a password reset ends every session of the user
        register_upstream_sessions(SESSION_RECORD_UPSTREAMS)  # federation's upstream sessions, on the records
