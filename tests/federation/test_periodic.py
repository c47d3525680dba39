"""The federation beat jobs: SAML partner metadata by URL (a real local HTTP server) and DNS re-checks
(the dnslib server of tests/support/partners/__init__.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.test import Client

from idp.federation import services
from idp.federation.models import UpstreamDomain, UpstreamIdP
from idp.federation.services import domain_check_dns, domain_claim, upstream_idp_create
from idp.federation.tasks import recheck_domains, refresh_saml_metadata
from tenants.actors import SYSTEM
from tenants.models import AuditEvent
from tests.support.federation_saml import MetadataServer, idp_metadata
from tests.support.partners import DNSServer
from tests.support.worlds import World

BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&lol2;">'
    "<md:IDPSSODescriptor/></md:EntityDescriptor>"
)


@pytest.fixture
def metadata_server() -> Iterator[MetadataServer]:
    server = MetadataServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


def saml_by_url(world: World, url: str) -> UpstreamIdP:
    return upstream_idp_create(
        actor=SYSTEM, tenant=world.tenant, slug="by-url", name="By URL", kind="saml", saml_metadata_url=url
    )


@pytest.mark.django_db
def test_metadata_by_url_is_fetched_refreshed_and_kept_on_failure(
    world_a: World, metadata_server: MetadataServer, monkeypatch: Any, admin_client_for: Any
) -> None:
    first = idp_metadata("https://partner-a.example/idp")
    metadata_server.answer = (200, first, 0.0)
    idp = saml_by_url(world_a, metadata_server.url)
    assert idp.saml_metadata == first and idp.saml_metadata_fetched_at is not None

    second = idp_metadata("https://partner-a.example/idp")  # the partner rolled its key
    metadata_server.answer = (200, second, 0.0)
    assert refresh_saml_metadata() == {"ok": 1, "failed": 0}
    idp.refresh_from_db()
    assert idp.saml_metadata == second and idp.saml_metadata_error == ""

    monkeypatch.setattr(services, "METADATA_TIMEOUT", (1, 1))
    failures = {
        "HTTP 500": (500, "oops", 0.0),
        "not acceptable XML (DTDForbidden)": (200, BOMB, 0.0),
        "larger than 2 MB": (200, "<x>" + "a" * (services.METADATA_MAX_BYTES + 10) + "</x>", 0.0),
        "could not be fetched (ReadTimeout)": (200, second, 2.5),
        "exactly one identity provider; it describes 0": (200, "<root/>", 0.0),
    }
    for expected, answer in failures.items():
        metadata_server.answer = answer
        assert refresh_saml_metadata() == {"ok": 0, "failed": 1}, expected
        idp.refresh_from_db()
        assert expected in idp.saml_metadata_error, (expected, idp.saml_metadata_error)
        assert idp.saml_metadata == second  # the last good metadata stays in use
    events = AuditEvent.objects.filter(action="federation.idp.metadata", target_id=str(idp.pk))
    assert [e.data["ok"] for e in events.order_by("pk")] == [True] + [False] * len(failures)

    page = admin_client_for(world_a.admin).get(f"/admin/federation/upstreamidp/{idp.pk}/change/")
    assert page.status_code == 200
    assert b"Last fetch failed: The metadata is not acceptable" not in page.content  # the latest error only
    assert b"Last fetch failed: The metadata must describe exactly one identity provider" in page.content


@pytest.mark.django_db
def test_a_bad_metadata_url_creates_nothing(world_a: World, metadata_server: MetadataServer) -> None:
    metadata_server.answer = (404, "", 0.0)
    with pytest.raises(ValidationError) as caught:
        saml_by_url(world_a, metadata_server.url)
    assert "HTTP 404" in str(caught.value.message_dict["saml_metadata_url"])
    assert not UpstreamIdP.objects.filter(slug="by-url").exists()


@pytest.mark.django_db
def test_domain_recheck_unverifies_a_domain_whose_record_is_gone(
    world_a: World, world_b: World, dns_server: DNSServer, settings: Any, admin_client_for: Any
) -> None:
    settings.CANOPY_DNS_RESOLVER = dns_server.address
    idp = upstream_idp_create(
        actor=SYSTEM,
        tenant=world_a.tenant,
        slug="partner",
        name="Partner Inc",
        issuer="https://idp.partner.example",
        authorization_endpoint="https://idp.partner.example/authorize",
        token_endpoint="https://idp.partner.example/token",
        jwks_uri="https://idp.partner.example/jwks",
        client_id="canopy",
    )
    domain = domain_claim(actor=SYSTEM, idp=idp, domain="partner.example")
    record = "_canopy-challenge.partner.example"
    dns_server.records[record] = [domain.verification_token]
    assert domain_check_dns(actor=SYSTEM, domain=domain)
    login = f"/t/{world_a.tenant.slug}/login/"
    assert "/federation/partner/start" in Client().post(login, {"identifier": "dana@partner.example"})["Location"]
    other = UpstreamDomain.objects.get(tenant=world_b.tenant)  # manually verified in world_b: not re-checked
    UpstreamDomain.objects.filter(pk=other.pk).update(verified=True, verified_how="manual")

    assert recheck_domains() == {"verified": 1, "unverified": 0}
    domain.refresh_from_db()
    assert domain.verified and domain.last_checked_at is not None

    # The DNS server cannot be reached: nothing changes but the note.
    settings.CANOPY_DNS_RESOLVER = "127.0.0.1:9"
    settings.CANOPY_DNS_TIMEOUT = 1
    assert recheck_domains() == {"verified": 1, "unverified": 0}
    domain.refresh_from_db()
    assert domain.verified and "Re-check: The DNS lookup" in domain.last_check

    settings.CANOPY_DNS_RESOLVER = dns_server.address
    del dns_server.records[record]
    assert recheck_domains() == {"verified": 0, "unverified": 1}
    domain.refresh_from_db()
    assert not domain.verified and domain.verified_at is None
    assert "Unverified by the re-check" in domain.last_check and record in domain.last_check
    event = AuditEvent.objects.get(action="federation.domain.unverified", target_id=str(domain.pk))
    assert event.tenant_id == world_a.tenant.pk and event.data["domain"] == "partner.example"
    other.refresh_from_db()
    assert other.verified  # the other tenant's manual verification is untouched
    # No longer routed; the reason shows in the admin.
    assert "/federation/" not in Client().post(login, {"identifier": "dana@partner.example"})["Location"]
    page = admin_client_for(world_a.admin).get("/admin/federation/upstreamdomain/")
    assert b"Unverified by the re-check" in page.content


def test_the_jobs_are_on_the_beat_schedule() -> None:
    tasks = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"idp.federation.tasks.refresh_saml_metadata", "idp.federation.tasks.recheck_domains"} <= tasks
