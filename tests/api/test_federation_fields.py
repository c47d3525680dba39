"""The management API's federation and SAML fields (metadata by URL, attribute map, request signing,
sync on login), and If-Match on the DELETEs of domains, acts-for links and upstream domains.

Metadata is served by real HTTP servers on 127.0.0.1 (the ones of the periodic-refresh tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from idp.federation.models import UpstreamDomain, UpstreamIdP
from idp.saml.models import ServiceProvider
from orgs.tree.models import ActsForLink, OrganizationDomain
from tenants.models import Tenant
from tests.support.api import IDP, ApiClient, assert_problem, client_for
from tests.support.federation_saml import MetadataServer, idp_metadata
from tests.support.saml import REFRESH_SP_ENTITY, SpMetadataServer, sp_metadata_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def sam(demo: Tenant) -> ApiClient:
    return client_for(demo, "sam")


@pytest.fixture
def partner_metadata() -> Iterator[MetadataServer]:
    server = MetadataServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def sp_served() -> Iterator[SpMetadataServer]:
    server = SpMetadataServer()
    yield server
    server.close()


def test_upstream_saml_idp_by_metadata_url_with_mapping_and_signing(
    demo: Tenant, sam: ApiClient, partner_metadata: MetadataServer
) -> None:
    partner_metadata.answer = (200, idp_metadata("https://partner.example/saml"), 0.0)
    created = sam.post(
        "upstream-idps/",
        {
            "slug": "partner-saml",
            "name": "Partner SAML",
            "kind": "saml",
            "saml_metadata_url": partner_metadata.url,
            "saml_sign_requests": False,
            "sync_on_login": True,
            "attribute_map": {"first_name": "givenName"},
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["saml_metadata_url"] == partner_metadata.url and body["saml_metadata_fetched_at"]
    assert body["saml_metadata_error"] == "" and "partner.example/saml" in body["saml_metadata"]
    assert body["saml_sign_requests"] is False and body["sync_on_login"] is True
    assert body["attribute_map"] == {"first_name": "givenName"} and body["backchannel_logout_uri"] == ""

    # Read-only fields are ignored on write; a bad mapping or URL is a field error and changes nothing.
    first = sam.get(f"upstream-idps/{body['id']}/")
    errors = assert_problem(
        sam.patch(f"upstream-idps/{body['id']}/", {"attribute_map": {"password": "x"}, "saml_sign_requests": True}),
        400,
    )
    assert "attribute_map" in errors["errors"]
    partner_metadata.answer = (404, "", 0.0)
    other = "http://127.0.0.1:1/elsewhere"
    errors = assert_problem(sam.patch(f"upstream-idps/{body['id']}/", {"saml_metadata_url": other}), 400)
    assert "saml_metadata_url" in errors["errors"]
    assert (
        "saml_metadata_url"
        in assert_problem(
            sam.patch(f"upstream-idps/{body['id']}/", {"saml_metadata_url": "ftp://partner.example/md"}), 400
        )["errors"]
    )
    stored = UpstreamIdP.objects.get(pk=body["id"])
    assert stored.saml_metadata_url == partner_metadata.url and stored.saml_sign_requests is False
    assert sam.get(f"upstream-idps/{body['id']}/")["ETag"] == first["ETag"]

    updated = sam.patch(
        f"upstream-idps/{body['id']}/",
        {"saml_sign_requests": True, "attribute_map": {"last_name": "sn"}, "sync_on_login": False},
        headers={"If-Match": first["ETag"]},
    )
    assert updated.status_code == 200, updated.content
    assert updated.json()["saml_sign_requests"] is True and updated.json()["sync_on_login"] is False
    assert updated.json()["attribute_map"] == {"last_name": "sn"}


def test_oidc_upstream_shows_its_back_channel_logout_uri(demo: Tenant, sam: ApiClient) -> None:
    created = sam.post("upstream-idps/", {**IDP, "end_session_endpoint": "https://idp.partner.example/logout"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["backchannel_logout_uri"].endswith("/t/mightybank/federation/partner/backchannel-logout")
    assert body["end_session_endpoint"] == "https://idp.partner.example/logout"
    assert body["saml_metadata_fetched_at"] is None


def test_saml_sp_by_metadata_url_and_its_fetch_status(demo: Tenant, sam: ApiClient, sp_served: Any) -> None:
    idp_md = Client().get("/t/mightybank/saml/metadata").content.decode()
    sp_served.body = sp_metadata_for(idp_md, base="https://one.example")
    created = sam.post("saml-sps/", {"metadata_url": sp_served.url})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["entity_id"] == REFRESH_SP_ENTITY and body["metadata_url"] == sp_served.url
    assert body["metadata_fetched_at"] and body["metadata_error"] == ""
    assert body["acs"][0]["url"].startswith("https://one.example")

    # A later fetch that fails keeps the registration and says why.
    sp_served.status = 500
    patched = sam.patch(f"saml-sps/{body['id']}/", {"metadata_url": sp_served.url})
    assert patched.status_code == 200, patched.content
    assert "HTTP 500" in patched.json()["metadata_error"]
    assert ServiceProvider.objects.get(pk=body["id"]).acs == body["acs"]

    sp_served.status = 404
    errors = assert_problem(sam.post("saml-sps/", {"metadata_url": sp_served.url}), 400)
    assert "metadata_url" in errors["errors"]
    assert (
        "metadata_url" in assert_problem(sam.post("saml-sps/", {"metadata_url": "file:///etc/passwd"}), 400)["errors"]
    )


def test_deletes_of_domains_links_and_upstream_domains_honour_if_match(demo: Tenant, sam: ApiClient) -> None:
    domain = sam.post("organizations/acme-bank/domains/", {"domain": "ifmatch.example"}).json()
    link = sam.post("organizations/acme-bank/acts-for/", {"on_behalf_of": "mexbanco"}).json()
    idp = sam.post("upstream-idps/", {**IDP, "domains": ["partner.example"]}).json()
    upstream_domain = sam.get(f"upstream-idps/{idp['id']}/domains/").json()["results"][0]
    paths: list[tuple[str, Any]] = [
        (f"organizations/acme-bank/domains/{domain['id']}/", OrganizationDomain.objects.filter(pk=domain["id"])),
        (f"organizations/acme-bank/acts-for/{link['id']}/", ActsForLink.objects.filter(pk=link["id"])),
        (
            f"upstream-idps/{idp['id']}/domains/{upstream_domain['id']}/",
            UpstreamDomain.objects.filter(pk=upstream_domain["id"]),
        ),
    ]
    for path, row in paths:
        etag = sam.get(path)["ETag"]
        assert etag
        assert_problem(sam.delete(path, headers={"If-Match": '"stale"'}), 412)
        assert row.exists()
        assert sam.delete(path, headers={"If-Match": etag}).status_code == 204
        assert not row.exists()


def test_another_tenants_objects_stay_not_found(demo: Tenant, sam: ApiClient, world_b: Any) -> None:
    theirs = UpstreamDomain.objects.filter(tenant=world_b.tenant).first()
    assert theirs is not None
    assert_problem(sam.delete(f"upstream-idps/{theirs.idp_id}/domains/{theirs.pk}/", headers={"If-Match": "*"}), 404)
    assert_problem(sam.patch(f"upstream-idps/{theirs.idp_id}/", {"attribute_map": {}}), 404)
    assert UpstreamDomain.objects.filter(pk=theirs.pk).exists()
