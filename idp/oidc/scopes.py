"""Scopes: the configured ones, plus one ``organization:<identifier>`` per request."""

from __future__ import annotations

from typing import Any

from oauth2_provider.scopes import SettingsScopes

from idp.oidc.claims import ORGANIZATION_SCOPE_PREFIX, scope_claims
from idp.oidc.context import tenant_in_scope


class ScopeDescriptions(dict[str, str]):
    """The configured scopes; ``organization:<x>`` ones are described on demand."""

    def __missing__(self, key: str) -> str:
        if key.startswith(ORGANIZATION_SCOPE_PREFIX) and len(key) > len(ORGANIZATION_SCOPE_PREFIX):
            return f"Act for the organization '{key[len(ORGANIZATION_SCOPE_PREFIX) :]}'"
        raise KeyError(key)


class CanopyScopes(SettingsScopes):
    def get_all_scopes(self) -> dict[str, str]:
        scopes = ScopeDescriptions(super().get_all_scopes())
        tenant = tenant_in_scope()
        if tenant is not None:
            # Scopes the tenant root defined in its OIDC scopes settings are requestable too.

            for name, claims in scope_claims(tenant_id=tenant.pk).items():
                scopes.setdefault(name, f"Your {', '.join(claims)}" if claims else name)
        return scopes

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        scopes = list(self.get_all_scopes().keys())
        if application is not None and application.authorization_grant_type == application.GRANT_CLIENT_CREDENTIALS:
            # No person is involved: nothing to say about one.
            return [s for s in scopes if s not in ("openid", "profile", "email", "organization", "offline_access")]
        return scopes

    def get_default_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any) -> list[str]:
        defaults = list(super().get_default_scopes(application, request, *args, **kwargs))
        available = set(self.get_available_scopes(application, request))
        return [s for s in defaults if s in available]


def describe(scope: str, all_scopes: dict[str, str]) -> str:
    try:
        return all_scopes[scope]
    except KeyError:
        return scope
