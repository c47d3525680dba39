"""One redirect-URI rule for every way a client is registered: exact URIs, https or loopback http.

The rule lives in idp.oidc.services; the API (tests/api/test_integrations.py), the admin and the
``create_oidc_client`` command all reach it.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from idp.oidc.models import Application
from idp.oidc.services import application_create, application_update
from tenants.actors import SYSTEM
from tests.support.worlds import World

LOOPBACK_RULE = "use https, or http only on the loopback interface (127.0.0.1)"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("http://app.example/cb", LOOPBACK_RULE),
        ("https://*.example/cb", "wildcards are not allowed"),
        ("https://app.example/cb#frag", "must not contain a fragment"),
        ("javascript:alert(1)", "is not an absolute http(s) URL"),
    ],
)
def test_the_service_refuses_what_the_rule_forbids(world_a: World, uri: str, words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        application_create(actor=SYSTEM, tenant=world_a.tenant, client_id="rule-app", redirect_uris=[uri])
    assert any(words in m for m in refused.value.message_dict["redirect_uris"])
    assert not Application.objects.filter(client_id="rule-app").exists()
    with pytest.raises(ValidationError) as refused_logout:
        application_create(
            actor=SYSTEM,
            tenant=world_a.tenant,
            client_id="rule-app",
            redirect_uris=["https://app.example/cb"],
            post_logout_redirect_uris=[uri],
        )
    assert any(words in m for m in refused_logout.value.message_dict["post_logout_redirect_uris"])


@pytest.mark.django_db
def test_the_service_accepts_https_and_loopback_http_and_guards_updates(world_a: World) -> None:
    uris = ["https://app.example/cb", "http://127.0.0.1:8400/cb", "http://localhost:9000/cb", "http://[::1]:7000/cb"]
    app, _ = application_create(actor=SYSTEM, tenant=world_a.tenant, client_id="rule-app", redirect_uris=uris)
    assert app.redirect_uris.split() == uris
    with pytest.raises(ValidationError) as refused:
        application_update(actor=SYSTEM, app=app, redirect_uris=["http://evil.example/cb"])
    assert LOOPBACK_RULE in refused.value.message_dict["redirect_uris"][0]
    app.refresh_from_db()
    assert app.redirect_uris.split() == uris


@pytest.mark.django_db
def test_the_command_refuses_plain_http_on_a_public_host(world_a: World) -> None:
    args = ["create_oidc_client", "cli-http", "--tenant", world_a.tenant.slug, "--redirect-uri"]
    with pytest.raises(CommandError, match="loopback interface"):
        call_command(*args, "http://app.example/cb", stdout=io.StringIO())
    assert not Application.objects.filter(client_id="cli-http").exists()
    call_command(*args, "http://127.0.0.1:8765/callback", stdout=io.StringIO())
    assert Application.objects.get(client_id="cli-http").redirect_uris == "http://127.0.0.1:8765/callback"


@pytest.mark.django_db
def test_the_admin_refuses_plain_http_on_a_public_host(world_a: World, admin_client_for: Any) -> None:
    app = Application.objects.get(tenant=world_a.tenant, client_id=f"{world_a.tenant.slug}-web")
    client = admin_client_for(world_a.admin)
    page = client.get(f"/admin/oidc/application/{app.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(redirect_uris="https://ok.example/cb http://evil.example/cb", post_logout_redirect_uris="")
    refused = client.post(f"/admin/oidc/application/{app.pk}/change/", data)
    assert refused.status_code == 200 and LOOPBACK_RULE in refused.content.decode()
    app.refresh_from_db()
    assert app.redirect_uris == f"https://{world_a.tenant.slug}.example/cb"
    data.update(redirect_uris="https://ok.example/cb http://127.0.0.1:8400/cb")
    saved = client.post(f"/admin/oidc/application/{app.pk}/change/", data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    app.refresh_from_db()
    assert app.redirect_uris == "https://ok.example/cb http://127.0.0.1:8400/cb"
