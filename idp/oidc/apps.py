from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from tenants.models import User


def revoke_user_tokens(user: User) -> int:
    """After a password reset: revoke every refresh token of ``user`` and delete their access tokens."""
    from django.utils import timezone

    from idp.oidc.models import AccessToken, RefreshToken

    revoked = RefreshToken.objects.filter(user=user, revoked__isnull=True).update(revoked=timezone.now())
    deleted, _ = AccessToken.objects.filter(user=user).delete()
    return revoked + deleted


class OidcConfig(AppConfig):
    name = "idp.oidc"
    label = "oidc"
    verbose_name = "OpenID Connect"

    def ready(self) -> None:
        from idp.flow.revocation import register_revoker

        register_revoker(revoke_user_tokens)
