"""Passkey rows for the fixture world (see tests/support/worlds/__init__.py)."""

from __future__ import annotations

from orgs.tree.models import Organization
from tenants.models import Tenant, User


def extend_world(*, tenant: Tenant, member: User, organization: Organization) -> None:
    """One passkey of the member (a software key: only its public half is stored)."""
    from idp.passkeys.models import PasskeyCredential
    from tests.support.webauthn import SoftAuthenticator

    key = SoftAuthenticator(rp_id="localhost", origin="http://localhost")
    PasskeyCredential.objects.create(
        tenant=tenant,
        user=member,
        credential_id=key.credential_id_b64,
        public_key=key.cose_public_key(),
        user_handle=key.user_handle_b64,
        name=f"{tenant.slug} laptop",
    )
