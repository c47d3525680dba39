"""Single logout started by the upstream SAML IdP (tests/support/partners/saml_idp.py, its own process).

The partner sends a LogoutRequest through the browser to Canopy's SingleLogoutService, on the
HTTP-Redirect binding (query-string signature) or the HTTP-POST binding (XML signature). Canopy
signs the browser out when the request is signed by the partner and names this browser's
federated session, and always answers a signed LogoutResponse; the partner checks that signature
with Canopy's SP metadata key and records the status.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from idp.federation.models import UpstreamIdP
from idp.flow.session import SESSION_AUTH
from tenants.models import AuditEvent
from tests.support.federation_saml import SLUG, SP_PATH, deliver, initiate, saml_login, session_index
from tests.support.partners import PartnerIdP
from tests.support.worlds import World

SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
UNKNOWN_PRINCIPAL = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
REQUEST_DENIED = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"


def partner_reads_answer(partner: PartnerIdP, partner_browser: requests.Session, answer: Any) -> dict[str, Any]:
    """Canopy's LogoutResponse goes back to the partner, which verifies and records it."""
    assert answer.status_code == 302, answer.content[:300]
    assert answer["Location"].startswith(f"{partner.url}/slo/redirect?SAMLResponse=")
    partner_browser.get(answer["Location"], timeout=10)
    state = requests.get(f"{partner.url}/state", timeout=5).json()
    return dict(state["responses"][-1])


@pytest.mark.django_db
@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_the_partner_signs_the_browser_out_and_gets_a_signed_success(
    world_a: World, strict_partner: PartnerIdP, binding: str
) -> None:
    client, partner_browser = Client(), requests.Session()
    saml_login(client, partner_browser)
    order = initiate(strict_partner, binding=binding, name_id="dana-0001", session_index=session_index(client))
    answer = deliver(client, order)
    assert SESSION_AUTH not in client.session
    recorded = partner_reads_answer(strict_partner, partner_browser, answer)
    assert recorded == {
        "status": SUCCESS,
        "second": "",
        "in_response_to": order["id"],
        "relay_state": order.get("RelayState") or parse_qs(urlsplit(order["location"]).query)["RelayState"][0],
        "signed": True,
    }
    assert AuditEvent.objects.filter(action="federation.partner_logout", data__ended=True).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("binding", "mode"),
    [
        ("redirect", "unsigned"),
        ("redirect", "bad-signature"),
        ("redirect", "other-issuer"),
        ("post", "unsigned"),
        ("post", "bad-signature"),
    ],
)
def test_a_bad_or_unsigned_logout_request_signs_no_one_out(
    world_a: World, strict_partner: PartnerIdP, binding: str, mode: str
) -> None:
    client, partner_browser = Client(), requests.Session()
    saml_login(client, partner_browser)
    order = initiate(strict_partner, binding=binding, mode=mode, session_index=session_index(client))
    recorded = partner_reads_answer(strict_partner, partner_browser, deliver(client, order))
    assert SESSION_AUTH in client.session
    assert (recorded["status"], recorded["second"]) == (REQUESTER, REQUEST_DENIED)
    assert recorded["in_response_to"] == order["id"] and recorded["signed"] is True
    assert AuditEvent.objects.filter(action="federation.partner_logout_refused").count() == 1
    assert not AuditEvent.objects.filter(action="federation.partner_logout").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("other", [{"name_id": "someone-else-0001"}, {"session_index": "not-this-session"}])
def test_a_request_for_another_session_signs_no_one_out(
    world_a: World, strict_partner: PartnerIdP, other: dict[str, str]
) -> None:
    client, partner_browser = Client(), requests.Session()
    saml_login(client, partner_browser)
    order = initiate(strict_partner, **{"name_id": "dana-0001", "session_index": session_index(client), **other})
    recorded = partner_reads_answer(strict_partner, partner_browser, deliver(client, order))
    assert SESSION_AUTH in client.session
    assert (recorded["status"], recorded["second"]) == (REQUESTER, UNKNOWN_PRINCIPAL)


@pytest.mark.django_db
def test_a_replayed_logout_request_is_refused(world_a: World, strict_partner: PartnerIdP) -> None:
    client, partner_browser = Client(), requests.Session()
    saml_login(client, partner_browser)
    order = initiate(strict_partner, name_id="dana-0001")
    assert partner_reads_answer(strict_partner, partner_browser, deliver(client, order))["status"] == SUCCESS
    saml_login(client, requests.Session())
    recorded = partner_reads_answer(strict_partner, partner_browser, deliver(client, order))
    assert SESSION_AUTH in client.session
    assert (recorded["status"], recorded["second"]) == (REQUESTER, REQUEST_DENIED)


@pytest.mark.django_db
def test_a_browser_without_a_session_from_the_partner_answers_success(
    world_a: World, strict_partner: PartnerIdP
) -> None:
    bystander = Client()
    bystander.force_login(world_a.member)  # signed in, but not through this partner
    before = bystander.session.session_key
    order = initiate(strict_partner, name_id="dana-0001")
    recorded = partner_reads_answer(strict_partner, requests.Session(), deliver(bystander, order))
    assert recorded["status"] == SUCCESS
    assert bystander.session.session_key == before and "_auth_user_id" in bystander.session
    assert AuditEvent.objects.filter(action="federation.partner_logout", data__ended=False).count() == 1


@pytest.mark.django_db
def test_an_unsigned_logout_response_is_not_taken_as_confirmation(world_a: World, strict_partner: PartnerIdP) -> None:
    client, partner_browser = Client(), requests.Session()
    saml_login(client, partner_browser)
    strict_partner.control(unsigned_logout_response=True)
    try:
        response = client.post(f"/t/{SLUG}/logout/", {"next": f"/t/{SLUG}/login/"})
        back = partner_browser.get(response["Location"], allow_redirects=False, timeout=10)
        sls = urlsplit(back.headers["Location"])
        assert "Signature=" not in sls.query
        refused = client.get(f"{sls.path}?{sls.query}")
        assert refused.status_code == 400 and b"did not confirm" in refused.content
    finally:
        strict_partner.control(unsigned_logout_response=False)


@pytest.mark.django_db
def test_the_sls_of_another_tenant_takes_no_logout_request(
    world_a: World, world_b: World, saml_idp: UpstreamIdP
) -> None:
    other = f"/t/{world_b.tenant.slug}/federation/{saml_idp.slug}/saml/sls"
    assert Client().post(other, {"SAMLRequest": "x", "canopy_hop": "1"}).status_code == 404
    assert Client().get(other, {"SAMLRequest": "x"}).status_code == 404
    unreadable = Client().get(f"{SP_PATH}/sls", {"SAMLRequest": "bm90IHNhbWw="})
    assert unreadable.status_code == 400 and b"could not be read" in unreadable.content
