"""Upstream identity providers: domain routing, JIT provisioning, account linking."""

from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "idp.federation"
    label = "federation"

    def ready(self) -> None:
        from idp.federation import logout, steps  # noqa: F401 - register the upstream login step and logout
        from idp.federation.selectors import issuer_of
        from idp.federation.views import login_options
        from idp.flow.pages import register_login_options
        from idp.flow.upstreams import register_issuer_resolver

        register_login_options(login_options)
        register_issuer_resolver(issuer_of)
