"""Self-registration: opening sign-up for an organization and the form a new user fills in."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tests.support.lookups import org

GOOD_PASSWORD = "Correct-Horse-Battery-9"


def configure(tenant: Tenant, identifier: str | None, section: str, **values: Any) -> None:
    """An override of ``section`` on the organization (the tenant root when ``identifier`` is None)."""
    organization = org(tenant, identifier) if identifier else None
    job = settings_override_set(actor=SYSTEM, tenant=tenant, organization=organization, section=section, values=values)
    job_run(job.pk)
    cache.clear()


def open_signup(tenant: Tenant, identifier: str | None = "acme-bank", **login: Any) -> None:
    configure(tenant, identifier, "login", self_registration=True, **login)


def form(**overrides: str) -> dict[str, str]:
    """A valid sign-up form (Dora at Acme Bank), with ``overrides``."""
    data = {
        "username": "dora",
        "email": "dora@acme.example",
        "password": GOOD_PASSWORD,
        "confirm": GOOD_PASSWORD,
        "first_name": "Dora",
        "last_name": "Diaz",
    }
    data.update(overrides)
    return data
