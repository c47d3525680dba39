"""OIDC rows for the fixture world (see tests/support/worlds/__init__.py)."""

from __future__ import annotations

from orgs.tree.models import Organization
from tenants.actors import SYSTEM
from tenants.models import Tenant, User


def extend_world(*, tenant: Tenant, member: User, organization: Organization) -> None:
    """A client, a pending code and issued tokens, as a sign-in would leave them."""
    import secrets
    from datetime import timedelta

    from django.utils import timezone

    from idp.oidc.models import AccessToken, Grant, IDToken, RefreshToken
    from idp.oidc.services import application_create

    app, _ = application_create(
        actor=SYSTEM,
        tenant=tenant,
        client_id=f"{tenant.slug}-web",
        client_secret="web-secret",
        redirect_uris=[f"https://{tenant.slug}.example/cb"],
    )
    later = timezone.now() + timedelta(minutes=5)
    Grant.objects.create(
        tenant=tenant,
        application=app,
        user=member,
        code=secrets.token_urlsafe(16),
        expires=later,
        redirect_uri=f"https://{tenant.slug}.example/cb",
        scope="openid",
        organization=organization,
    )
    id_token = IDToken.objects.create(tenant=tenant, application=app, user=member, expires=later, scope="openid")
    access = AccessToken(
        tenant=tenant,
        application=app,
        user=member,
        expires=later,
        scope="openid",
        id_token=id_token,
        organization=organization,
    )
    access.token = secrets.token_urlsafe(16)
    access.save()
    refresh = RefreshToken(tenant=tenant, application=app, user=member, access_token=access)
    refresh.token = secrets.token_urlsafe(16)
    refresh.save()
