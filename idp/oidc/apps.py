from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from tenants.models import User


def revoke_user_tokens(user: User) -> int:
    """After a password reset: revoke every refresh token of ``user`` and delete their access tokens.

    First the clients holding them hear, by back-channel logout, that every session ended."""
    from django.utils import timezone

    from idp.oidc.backchannel import user_sessions_ended
    from idp.oidc.models import AccessToken, RefreshToken

    if user.tenant_id is not None:
        user_sessions_ended(tenant_id=user.tenant_id, user_id=user.pk)

    revoked = RefreshToken.objects.filter(user=user, revoked__isnull=True).update(revoked=timezone.now())
    deleted, _ = AccessToken.objects.filter(user=user).delete()
    return revoked + deleted


class OidcConfig(AppConfig):
    name = "idp.oidc"
    label = "oidc"
    verbose_name = "OpenID Connect"

    def ready(self) -> None:
        from idp.flow.revocation import register_revoker, register_session_ended
        from idp.oidc import backchannel  # also registers its logout participant

        register_revoker(revoke_user_tokens)
        # A session that ends elsewhere (account page, a partner's logout): its RPs hear of it.
        register_session_ended(backchannel.session_ended)
