"""The login journey through Django's test client: the identifier and password steps, lockouts,
an authorization that needs an emailed code, and the settings that choose the factors.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import reverse

from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tests.support.lookups import org
from tests.support.oidc import DEMO_WEB, demo_web_authorize, demo_web_claims

SLUG = "mightybank"
MSG_INVALID = "That username and password do not match."
MSG_LOCKED = "Try again later, or ask an administrator"


def flow_url(name: str, slug: str = SLUG, **params: str) -> str:
    url = reverse(f"flow:{name}", kwargs={"tenant_slug": slug})
    return f"{url}?{urlencode(params)}" if params else url


def submit_identifier(client: Client, identifier: str, *, slug: str = SLUG, next_url: str = "") -> Any:
    return client.post(flow_url("login", slug), {"identifier": identifier, "next": next_url})


def sign_in(client: Client, identifier: str, password: str, *, slug: str = SLUG, next_url: str = "") -> Any:
    """Both steps; returns the password step's response."""
    first = submit_identifier(client, identifier, slug=slug, next_url=next_url)
    assert first.status_code == 303, first
    return client.post(flow_url("password", slug), {"password": password, "next": next_url})


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def request_for(client: Client, user_obj: object) -> HttpRequest:
    """A request carrying the client's session and user, for calling flow's Python API."""
    request = RequestFactory().get("/")
    request.session = client.session
    request.user = user_obj  # type: ignore[assignment]
    return request


def fail(client: Client, identifier: str, times: int, *, slug: str = "mightybank") -> list[Any]:
    """``times`` sign-ins with a wrong password; their responses."""
    return [sign_in(client, identifier, "wrong-password", slug=slug) for _ in range(times)]


def require_email_otp(tenant: Tenant, identifier: str | None, **connection: Any) -> None:
    """The tenant's administrators require email OTP for one organization (an override on it)."""
    organization = org(tenant, identifier) if identifier else None
    job = settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        organization=organization,
        section="login",
        values={"authenticators": ["password", "email_otp"]},
    )
    job_run(job.pk)
    if connection:
        job = settings_override_set(
            actor=SYSTEM,
            tenant=tenant,
            organization=organization,
            section="connections",
            values={"email_otp": {"enabled": True, "length": 6, "ttl_seconds": 300, **connection}},
        )
        job_run(job.pk)
    cache.clear()


def password_step(client: Client, next_url: str, username: str = "alice") -> Any:
    """A demo user's identifier and password (``<username>-demo-pass``); the password step's response."""
    r = client.post("/t/mightybank/login/", {"identifier": username, "next": next_url})
    assert r.status_code == 303
    return client.post(r["Location"], {"password": f"{username}-demo-pass", "next": next_url})


def authorize_next(tenant: Tenant, organization: str) -> tuple[str, str]:
    """demo-web's authorization URL for ``organization`` and its PKCE verifier."""
    return demo_web_authorize(tenant, scope="openid organization", state="st-1", nonce="n-1", organization=organization)


def start_authorize(client: Client, tenant: Tenant, organization: str) -> tuple[str, str]:
    url, verifier = authorize_next(tenant, organization)
    r = client.get(url)
    assert r.status_code == 302, r.content[:300]
    location = r["Location"]
    assert location.startswith("/t/mightybank/login/"), location
    return url, verifier


def id_token_after(client: Client, url: str, verifier: str) -> dict[str, Any]:
    r = client.get(url)
    assert r.status_code == 302 and r["Location"].startswith(DEMO_WEB[2]), (r.status_code, r.content[:300])
    return demo_web_claims(r["Location"], verifier)


def signed_in_client(username: str) -> Client:
    """A browser in which a demo user signed in with their password at the tenant root."""
    client = Client()
    r = client.post("/t/mightybank/login/", {"identifier": username})
    r = client.post("/t/mightybank/login/password/", {"password": f"{username}-demo-pass"})
    assert r.status_code in (302, 303), r.content
    return client


def authenticators(tenant: Tenant, identifier: str, values: list[str]) -> None:
    """The organization's ``login.authenticators`` (an override on it)."""
    job = settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        organization=org(tenant, identifier),
        section="login",
        values={"authenticators": values},
    )
    job_run(job.pk)
    cache.clear()
