"""What the passkeys app adds to others at start-up (called from ``PasskeysConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from idp.flow.factors import Factor, register_factor
from idp.flow.pages import register_login_options
from idp.flow.steps import step_url
from idp.passkeys import services
from idp.passkeys.models import PasskeyCredential
from idp.passkeys.views import factor_page_url
from orgs.tree.delegation import administered_users
from tenants.admin_base import register_delegated_scope
from tenants.models import Tenant

SIGN_IN_LABEL = "Sign in with a passkey"


def login_options(*, request: HttpRequest, tenant: Tenant, next_url: str) -> list[tuple[str, str]]:
    """The identifier page's "Sign in with a passkey" button (any tenant: passkeys need no setting to be used)."""

    del request
    return [(SIGN_IN_LABEL, step_url("passkeys:sign_in", tenant=tenant, next_url=next_url))]


def _delegated_rows(user: Any) -> QuerySet[Any]:
    """Organization owners/admins reach the passkeys of the users in their subtree (as for users)."""

    return PasskeyCredential.objects.filter(
        tenant=user.tenant, user__in=administered_users(actor=user, tenant=user.tenant)
    )


def register() -> None:

    register_login_options(login_options)
    register_factor(
        Factor(
            name=services.PASSKEY,
            required=services.passkey_required,
            page_url=factor_page_url,
            step_up=services.can_step_up,
            first=True,  # it names and proves the user: it can replace the password (idp.flow.firstfactor)
            amr=frozenset({services.AMR_HWK}),
        )
    )
    register_delegated_scope(PasskeyCredential, _delegated_rows, writable=True)
