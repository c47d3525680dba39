"""The management API for integrations: OIDC clients, SAML SPs, upstream IdPs and their domains."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from idp.federation.models import UpstreamDomain, UpstreamIdP
from idp.oidc.models import Application
from idp.saml.models import ServiceProvider
from tenants.models import AuditEvent, Tenant
from tests.support.api import IDP, ApiClient, assert_problem, client_for
from tests.support.lookups import org
from tests.support.partners import DNSServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(demo: Tenant) -> ApiClient:
    return client_for(demo, "sam")


def token_request(client_id: str, secret: str) -> object:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return Client().post(
        "/t/mightybank/oauth/token/",
        {"grant_type": "client_credentials", "scope": "canopy:admin"},
        headers={"Authorization": f"Basic {basic}"},
    )


# --- OIDC clients ------------------------------------------------------------------------


def test_a_client_created_through_the_api_gets_a_token_with_its_once_shown_secret(demo: Tenant, sam: ApiClient) -> None:
    created = sam.post("oidc-clients/", {"client_id": "billing-robot", "grant_type": "client_credentials"})
    assert created.status_code == 201, created.content
    body = created.json()
    secret = body["client_secret"]
    assert len(secret) >= 32 and created["Cache-Control"] == "no-store"
    stored = Application.objects.get(client_id="billing-robot")
    assert stored.tenant_id == demo.pk and secret not in stored.client_secret  # kept hashed only
    shown = sam.get(f"oidc-clients/{body['id']}/").json()
    assert "client_secret" not in shown and shown["grant_type"] == "client_credentials"
    assert all("client_secret" not in c for c in sam.get("oidc-clients/").json()["results"])
    issued = token_request("billing-robot", secret)
    assert issued.status_code == 200, issued.content  # type: ignore[attr-defined]
    robot = ApiClient(issued.json()["access_token"], demo.slug)  # type: ignore[attr-defined]
    assert robot.get("organizations/").status_code == 200  # the new client drives the API as the machine admin
    rotated = sam.post(f"oidc-clients/{body['id']}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["client_secret"] != secret
    assert token_request("billing-robot", secret).status_code == 401  # type: ignore[attr-defined]
    assert token_request("billing-robot", rotated.json()["client_secret"]).status_code == 200  # type: ignore[attr-defined]
    mine = AuditEvent.objects.filter(tenant=demo, action__startswith="oidc_client.", actor__username="sam")
    assert sorted(mine.values_list("action", flat=True)) == ["oidc_client.create", "oidc_client.rotate_secret"]
    assert all(secret not in str(d) for d in mine.values_list("data", flat=True))


def test_redirect_uris_are_exact_https_or_loopback_http(demo: Tenant, sam: ApiClient) -> None:
    for bad in ("http://app.example/cb", "https://*.example/cb", "javascript:alert(1)", "https://app.example/cb#x"):
        body = assert_problem(sam.post("oidc-clients/", {"client_id": "web-1", "redirect_uris": [bad]}), 400)
        assert "redirect_uris" in body["errors"], bad
    assert_problem(sam.post("oidc-clients/", {"client_id": "web-1"}), 400)  # authorization code needs one
    assert not Application.objects.filter(client_id="web-1").exists()
    created = sam.post(
        "oidc-clients/",
        {"client_id": "web-1", "redirect_uris": ["https://app.example/cb", "http://127.0.0.1:8400/cb"]},
    )
    assert created.status_code == 201, created.content
    assert created.json()["redirect_uris"] == ["https://app.example/cb", "http://127.0.0.1:8400/cb"]
    body = assert_problem(
        sam.post("oidc-clients/", {"client_id": "web-1", "redirect_uris": ["https://a.example"]}), 400
    )
    assert "client_id" in body["errors"]


def test_client_updates_use_if_match_and_a_failed_write_changes_nothing(demo: Tenant, sam: ApiClient) -> None:
    pk = sam.post("oidc-clients/", {"client_id": "web-2", "redirect_uris": ["https://app.example/cb"]}).json()["id"]
    first = sam.get(f"oidc-clients/{pk}/")
    updated = sam.patch(f"oidc-clients/{pk}/", {"name": "Web two"}, headers={"If-Match": first["ETag"]})
    assert updated.status_code == 200 and updated.json()["name"] == "Web two"
    assert_problem(sam.patch(f"oidc-clients/{pk}/", {"name": "Stale"}, headers={"If-Match": first["ETag"]}), 412)
    body = assert_problem(sam.patch(f"oidc-clients/{pk}/", {"redirect_uris": ["http://evil.example/cb"]}), 400)
    assert "redirect_uris" in body["errors"]
    assert_problem(sam.patch(f"oidc-clients/{pk}/", {"redirect_uris": []}), 400)
    app = Application.objects.get(pk=pk)
    assert app.name == "Web two" and app.redirect_uris == "https://app.example/cb"
    assert_problem(sam.delete(f"oidc-clients/{pk}/", headers={"If-Match": first["ETag"]}), 412)
    assert sam.delete(f"oidc-clients/{pk}/").status_code == 204
    assert not Application.objects.filter(pk=pk).exists()


def test_clients_and_sps_are_for_tenant_admins_only(demo: Tenant) -> None:
    alma = client_for(demo, "alma")  # owner of mightybank-americas: a delegated admin, not a tenant admin
    web = Application.objects.filter(tenant=demo).first()
    assert web is not None
    for path in ("oidc-clients/", f"oidc-clients/{web.pk}/", "saml-sps/"):
        assert_problem(alma.get(path), 404)
    assert_problem(alma.post("oidc-clients/", {"client_id": "x", "grant_type": "client_credentials"}), 404)
    assert_problem(alma.post(f"oidc-clients/{web.pk}/rotate-secret/"), 404)


# --- SAML service providers ---------------------------------------------------------------


def sp_metadata_xml(entity_id: str = "https://app.example/sp") -> str:
    """Metadata as an independent SP library (python3-saml) writes it."""
    from tests.support.saml import sp_metadata, sp_settings

    idp_metadata = Client().get("/t/mightybank/saml/metadata").content.decode()
    return sp_metadata(sp_settings(idp_metadata, entity_id=entity_id)).decode()


def test_an_sp_is_registered_from_metadata_and_a_dtd_is_refused(demo: Tenant, sam: ApiClient) -> None:
    created = sam.post("saml-sps/", {"metadata": sp_metadata_xml(), "name": "App", "default_organization": "acme-bank"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["entity_id"] == "https://app.example/sp" and body["acs"][0]["url"] == "http://127.0.0.1:8766/acs"
    assert body["signing_certificates"] and body["default_organization"] == str(org(demo, "acme-bank").pk)
    again = assert_problem(sam.post("saml-sps/", {"metadata": sp_metadata_xml()}), 400)
    assert "metadata" in again["errors"]
    before = ServiceProvider.objects.filter(tenant=demo).count()
    for evil in (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        '<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd"><r/>',
        "<not-xml",
    ):
        refused = assert_problem(sam.post("saml-sps/", {"metadata": evil}), 400)
        assert "Unusable SP metadata" in refused["errors"]["metadata"][0]
    assert ServiceProvider.objects.filter(tenant=demo).count() == before
    assert_problem(sam.post("saml-sps/", {}), 400)


def test_an_sp_by_fields_update_with_if_match_and_delete(demo: Tenant, sam: ApiClient) -> None:
    post = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    acs = [{"url": "https://wiki.example/acs", "binding": post, "index": 0, "default": True}]
    bad = assert_problem(sam.post("saml-sps/", {"entity_id": "https://wiki.example", "acs": [{"url": "ftp://x"}]}), 400)
    assert "acs" in bad["errors"]
    created = sam.post("saml-sps/", {"entity_id": "https://wiki.example", "name": "Wiki", "acs": acs})
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    first = sam.get(f"saml-sps/{pk}/")
    assert sam.patch(f"saml-sps/{pk}/", {"idp_initiated": True}, headers={"If-Match": first["ETag"]}).status_code == 200
    assert_problem(sam.patch(f"saml-sps/{pk}/", {"name": "Stale"}, headers={"If-Match": first["ETag"]}), 412)
    body = assert_problem(sam.patch(f"saml-sps/{pk}/", {"attribute_release": ["password"]}), 400)
    assert "attribute_release" in body["errors"]
    sp = ServiceProvider.objects.get(pk=pk)
    assert sp.name == "Wiki" and sp.idp_initiated and "password" not in sp.attribute_release
    assert sam.delete(f"saml-sps/{pk}/").status_code == 204
    assert AuditEvent.objects.filter(tenant=demo, action="saml.sp.delete", target_id=str(pk)).exists()


# --- Upstream IdPs and domains ---------------------------------------------------------------


def test_upstream_idp_crud_keeps_the_secret_write_only(demo: Tenant, sam: ApiClient) -> None:
    created = sam.post("upstream-idps/", IDP)
    assert created.status_code == 201, created.content
    body = created.json()
    assert "client_secret" not in body and body["has_client_secret"] is True
    assert body["jit_organizations"] == [str(org(demo, "acme-bank").pk)]
    assert "partner-secret-value" not in created.content.decode()
    first = sam.get(f"upstream-idps/{body['id']}/")
    changed = sam.patch(
        f"upstream-idps/{body['id']}/", {"name": "Partner", "client_secret": "new"}, headers={"If-Match": first["ETag"]}
    )
    assert changed.status_code == 200 and changed.json()["name"] == "Partner" and "new" not in changed.json().values()
    assert_problem(sam.patch(f"upstream-idps/{body['id']}/", {"name": "x"}, headers={"If-Match": first["ETag"]}), 412)
    errors = assert_problem(sam.patch(f"upstream-idps/{body['id']}/", {"scopes": "email", "jit_role": "boss"}), 400)
    assert {"jit_role"} <= set(errors["errors"])
    errors = assert_problem(sam.patch(f"upstream-idps/{body['id']}/", {"scopes": "email profile"}), 400)
    assert "scopes" in errors["errors"]
    assert UpstreamIdP.objects.get(pk=body["id"]).scopes == "openid email profile"  # unchanged
    dup = assert_problem(sam.post("upstream-idps/", IDP), 400)
    assert "slug" in dup["errors"]
    events = AuditEvent.objects.filter(tenant=demo, action__startswith="federation.idp.").values_list("data", flat=True)
    assert all("partner-secret-value" not in str(d) and "new" not in str(d.get("client_secret", "")) for d in events)
    assert sam.delete(f"upstream-idps/{body['id']}/").status_code == 204
    assert not UpstreamIdP.objects.filter(pk=body["id"]).exists()


def test_domains_are_claimed_and_verified_by_dns_txt(
    demo: Tenant, sam: ApiClient, dns_server: DNSServer, settings
) -> None:
    settings.CANOPY_DNS_RESOLVER = dns_server.address
    idp_id = sam.post("upstream-idps/", IDP).json()["id"]
    claimed = sam.post(f"upstream-idps/{idp_id}/domains/", {"domain": "Partner.Example."})
    assert claimed.status_code == 201, claimed.content
    domain = claimed.json()
    assert domain["domain"] == "partner.example" and domain["verified"] is False
    assert domain["challenge"]["name"] == "_canopy-challenge.partner.example"
    verify = f"upstream-idps/{idp_id}/domains/{domain['id']}/verify/"
    first = sam.post(verify).json()
    assert first["verified"] is False and "No TXT record" in first["last_check"]
    dns_server.records["_canopy-challenge.partner.example"] = [domain["challenge"]["value"]]
    second = sam.post(verify).json()
    assert second["verified"] is True and second["verified_how"] == "dns"
    body = assert_problem(sam.post(f"upstream-idps/{idp_id}/domains/", {"domain": "gmail.com"}), 400)
    assert "domain" in body["errors"]
    assert sam.delete(f"upstream-idps/{idp_id}/domains/{domain['id']}/").status_code == 204
    assert not UpstreamDomain.objects.filter(pk=domain["id"]).exists()


def test_delegated_admins_see_only_idps_their_subtree_owns(demo: Tenant, sam: ApiClient) -> None:
    owned = sam.post("upstream-idps/", {**IDP, "organization": "acme-bank"}).json()
    other = sam.post("upstream-idps/", {**IDP, "slug": "other", "organization": "contractor"}).json()
    tenant_wide = sam.post("upstream-idps/", {**IDP, "slug": "wide"}).json()
    alma = client_for(demo, "alma")  # owner of mightybank-americas (acme-bank's parent)
    listed = {i["id"] for i in alma.get("upstream-idps/").json()["results"]}
    assert listed == {owned["id"]}
    assert alma.get(f"upstream-idps/{owned['id']}/").status_code == 200
    for idp in (other, tenant_wide):
        assert_problem(alma.get(f"upstream-idps/{idp['id']}/"), 404)
        assert_problem(alma.post(f"upstream-idps/{idp['id']}/domains/", {"domain": "x.example"}), 404)
    assert_problem(alma.patch(f"upstream-idps/{owned['id']}/", {"name": "mine now"}), 403)  # tenant admins configure
    assert_problem(alma.post("upstream-idps/", {**IDP, "slug": "alma"}), 403)
    assert UpstreamIdP.objects.get(pk=owned["id"]).name == "Partner Inc"
