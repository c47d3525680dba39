"""Reads of passkeys, always inside one tenant."""

from __future__ import annotations

from django.db.models import QuerySet

from idp.passkeys.models import PasskeyCredential
from tenants.models import Tenant, User


def passkeys_of(*, tenant: Tenant, user: User) -> QuerySet[PasskeyCredential]:
    return PasskeyCredential.objects.filter(tenant=tenant, user=user)


def passkey_of(*, tenant: Tenant, user: User, pk: int) -> PasskeyCredential | None:
    """One of the user's own passkeys, or None (another user's or tenant's looks missing)."""
    return passkeys_of(tenant=tenant, user=user).filter(pk=pk).first()
