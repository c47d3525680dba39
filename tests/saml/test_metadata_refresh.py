"""SPs registered from a metadata URL are re-read: by the beat job and by the admin's "Refresh metadata now".

The SP's metadata is served by a real HTTP server on 127.0.0.1 started here; what it answers
changes between steps (new endpoints and key, an error status, a DTD, too large, too slow).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from idp.saml import services as saml_services
from idp.saml.models import ServiceProvider
from idp.saml.tasks import refresh_sp_metadata
from tenants.models import AuditEvent, Tenant, User
from tests.support.saml import REFRESH_SP_ENTITY, SpMetadataServer, sp_metadata, sp_metadata_for, sp_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def served() -> Iterator[SpMetadataServer]:
    server = SpMetadataServer()
    yield server
    server.close()


@pytest.fixture
def registered(demo: Tenant, served: SpMetadataServer) -> dict[str, Any]:
    """An SP registered with ``add_saml_sp --metadata-url`` against the local server."""
    idp_metadata = Client().get("/t/mightybank/saml/metadata").content.decode()
    served.body = sp_metadata_for(idp_metadata, base="https://one.example")
    call_command("add_saml_sp", "--tenant", "mightybank", "--metadata-url", served.url, stdout=io.StringIO())
    return {"idp_metadata": idp_metadata, "sp": ServiceProvider.objects.get(tenant=demo, entity_id=REFRESH_SP_ENTITY)}


def test_the_beat_job_applies_new_endpoints_and_keys(registered: dict, served: SpMetadataServer) -> None:
    old_cert = registered["sp"].signing_certificates
    served.body = sp_metadata_for(registered["idp_metadata"], base="https://two.example", cert_label="rolled")
    assert refresh_sp_metadata() == {"ok": 1, "failed": 0}
    sp = ServiceProvider.objects.get(pk=registered["sp"].pk)
    assert sp.acs[0]["url"] == "https://two.example/acs" and sp.slo[0]["url"] == "https://two.example/sls"
    assert sp.signing_certificates and sp.signing_certificates != old_cert
    assert sp.metadata_fetched_at is not None and sp.metadata_error == ""
    event = AuditEvent.objects.filter(action="saml.sp.metadata", target_id=str(sp.pk)).latest("created_at")
    assert event.data["ok"] is True and {"acs", "signing_certificates", "slo"} <= set(event.data["changed"])


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"status": 500}, "Metadata URL answered HTTP 500."),
        ({"status": 302}, "Metadata URL answered HTTP 302."),
        (
            {"body": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'},
            "forbidden",
        ),
        ({"body": b"<md:EntityDescriptor"}, "Unusable SP metadata"),
        ({"body": b" " * (2 * 1024 * 1024 + 10)}, "Metadata larger than"),
        ({"delay": 3.0}, "Could not fetch metadata: ReadTimeout"),
        ({"other_entity": True}, "describes 'https://someone-else.example/sp', not this application"),
    ],
)
def test_a_failed_fetch_keeps_the_old_data_and_says_why(
    registered: dict, served: SpMetadataServer, monkeypatch: Any, answer: dict, message: str
) -> None:
    monkeypatch.setattr(saml_services, "METADATA_TIMEOUT_SECONDS", 1)  # bounded: a slow server is dropped after 1 s
    before = ServiceProvider.objects.get(pk=registered["sp"].pk)
    served.status = answer.get("status", 200)
    served.delay = answer.get("delay", 0.0)
    if answer.get("other_entity"):
        other = sp_settings(registered["idp_metadata"], entity_id="https://someone-else.example/sp")
        served.body = sp_metadata(other)
    elif "body" in answer:
        served.body = answer["body"]
    else:
        served.body = sp_metadata_for(registered["idp_metadata"], base="https://two.example")
    assert refresh_sp_metadata() == {"ok": 0, "failed": 1}
    sp = ServiceProvider.objects.get(pk=before.pk)
    assert message in sp.metadata_error
    assert (sp.acs, sp.slo, sp.signing_certificates) == (before.acs, before.slo, before.signing_certificates)
    assert sp.metadata_fetched_at == before.metadata_fetched_at
    event = AuditEvent.objects.filter(action="saml.sp.metadata", target_id=str(sp.pk)).latest("created_at")
    assert event.data["ok"] is False and message in event.data["error"]


def test_a_refresh_never_drops_the_signed_requests_requirement(registered: dict, served: SpMetadataServer) -> None:
    from idp.saml.services import service_provider_update
    from tenants.actors import SYSTEM

    service_provider_update(actor=SYSTEM, sp=registered["sp"], want_authn_requests_signed=True)
    without_key = sp_settings(
        registered["idp_metadata"],
        sign_requests=False,
        entity_id=REFRESH_SP_ENTITY,
        base="https://one.example",
        logoutRequestSigned=False,
        logoutResponseSigned=False,
    )
    without_key["sp"]["x509cert"], without_key["sp"]["privateKey"] = "", ""
    served.body = sp_metadata(without_key)
    assert refresh_sp_metadata() == {"ok": 0, "failed": 1}
    sp = ServiceProvider.objects.get(pk=registered["sp"].pk)
    assert sp.want_authn_requests_signed and sp.signing_certificates
    assert "Requiring signed requests needs the SP's signing certificate." in sp.metadata_error


def test_admin_action_refreshes_now_and_shows_the_error(
    registered: dict, served: SpMetadataServer, admin_client_for: Any
) -> None:
    sam = User.objects.get(tenant=registered["sp"].tenant, username="sam")  # the quickstart's tenant admin
    client = admin_client_for(sam)
    changelist = reverse("admin:saml_serviceprovider_changelist")
    served.body = sp_metadata_for(registered["idp_metadata"], base="https://three.example")
    page = client.post(
        changelist, {"action": "refresh_metadata", "_selected_action": [registered["sp"].pk]}, follow=True
    )
    assert page.status_code == 200 and "metadata refreshed" in page.content.decode()
    assert ServiceProvider.objects.get(pk=registered["sp"].pk).acs[0]["url"] == "https://three.example/acs"

    served.status = 503
    page = client.post(
        changelist, {"action": "refresh_metadata", "_selected_action": [registered["sp"].pk]}, follow=True
    )
    assert "metadata not refreshed: Metadata URL answered HTTP 503." in page.content.decode()
    change = client.get(reverse("admin:saml_serviceprovider_change", args=[registered["sp"].pk])).content.decode()
    assert "Metadata URL answered HTTP 503." in change and "metadata refresh error" in change.lower()
    assert ServiceProvider.objects.get(pk=registered["sp"].pk).acs[0]["url"] == "https://three.example/acs"


def test_admin_of_another_tenant_cannot_refresh_or_see_it(
    registered: dict, served: SpMetadataServer, world_a: Any, admin_client_for: Any
) -> None:
    client = admin_client_for(world_a.admin)
    served.body = sp_metadata_for(registered["idp_metadata"], base="https://evil.example")
    client.post(
        reverse("admin:saml_serviceprovider_changelist"),
        {"action": "refresh_metadata", "_selected_action": [registered["sp"].pk]},
    )
    sp = ServiceProvider.objects.get(pk=registered["sp"].pk)
    assert sp.acs[0]["url"] == "https://one.example/acs" and sp.metadata_fetched_at is None
    assert not AuditEvent.objects.filter(action="saml.sp.metadata").exists()
    change = client.get(reverse("admin:saml_serviceprovider_change", args=[registered["sp"].pk]))
    assert change.status_code in (302, 404)


def test_an_sp_from_a_file_is_not_fetched(demo: Tenant, tmp_path: Any) -> None:
    idp_metadata = Client().get("/t/mightybank/saml/metadata").content.decode()
    path = tmp_path / "sp.xml"
    path.write_bytes(sp_metadata_for(idp_metadata, base="https://file.example"))
    call_command("add_saml_sp", "--tenant", "mightybank", "--metadata-file", str(path), stdout=io.StringIO())
    assert refresh_sp_metadata() == {"ok": 0, "failed": 0}


def test_the_refresh_job_is_on_the_beat_schedule() -> None:
    from django.conf import settings

    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == refresh_sp_metadata.name]
    assert len(entries) == 1
    schedule = entries[0]["schedule"]
    assert isinstance(schedule, float) and 0 < schedule <= 24 * 3600
