"""``manage.py quickstart`` and the demo's partner IdP: added only when a partner URL is given."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client

from idp.federation.models import UpstreamDomain, UpstreamIdP
from tests.support.partners import CLIENT_ID, CLIENT_SECRET, PartnerOP


@pytest.mark.django_db
def test_without_a_partner_url_nothing_routes_and_it_says_how_to_add_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANOPY_PARTNER_OIDC_DISCOVERY_URL", raising=False)
    out = io.StringIO()
    call_command("quickstart", stdout=out)
    assert not UpstreamIdP.objects.exists() and not UpstreamDomain.objects.exists()
    assert "Partner IdP: none configured" in out.getvalue()
    assert "manage.py add_upstream_idp --tenant mightybank" in out.getvalue()
    routed = Client().post("/t/mightybank/login/", {"identifier": "carol@contractor.example"})
    assert "/federation/" not in routed["Location"]


@pytest.mark.django_db
def test_with_a_partner_url_contractor_example_signs_in_there(
    partner: PartnerOP, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANOPY_PARTNER_CLIENT_SECRET", CLIENT_SECRET)
    discovery = f"{partner.url}/.well-known/openid-configuration"
    out = io.StringIO()
    call_command("quickstart", "--partner-oidc-discovery-url", discovery, "--partner-client-id", CLIENT_ID, stdout=out)
    idp = UpstreamIdP.objects.get(tenant__slug="mightybank", slug="contractor")
    assert idp.discovery_url == discovery and idp.client_id == CLIENT_ID
    assert list(idp.domains.values_list("domain", "verified")) == [("contractor.example", True)]
    assert [o.identifier for o in idp.jit_organizations.all()] == ["contractor"]
    assert "Partner IdP: Contractor" in out.getvalue() and "/federation/contractor/logout/return" in out.getvalue()
    client = Client()
    routed = client.post("/t/mightybank/login/", {"identifier": "carol@contractor.example"})
    assert routed["Location"].startswith("/t/mightybank/federation/contractor/start")
    to_partner = client.get(routed["Location"])
    assert to_partner.status_code == 302 and urlsplit(to_partner["Location"]).netloc == urlsplit(partner.url).netloc
    # A second run (the URL now from the environment) changes nothing.
    monkeypatch.setenv("CANOPY_PARTNER_OIDC_DISCOVERY_URL", discovery)
    again = io.StringIO()
    call_command("quickstart", stdout=again)
    assert "nothing changed" in again.getvalue() and UpstreamIdP.objects.count() == 1
