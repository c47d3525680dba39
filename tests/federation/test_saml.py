"""Upstream SAML: Canopy as SP (pysaml2) against a partner IdP (pysaml2 in IdP role, its own process)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client

from idp.federation.models import UpstreamIdentity, UpstreamIdP
from idp.flow.session import SESSION_AUTH
from orgs.tree.models import Membership
from tenants.models import AuditEvent, User
from tests.support.federation_saml import SLUG, SP_PATH, nothing_created
from tests.support.partners import PartnerIdP
from tests.support.worlds import World


def partner_response(client: Client) -> dict[str, str]:
    """Identifier-first → SAML start → the partner's login (requests) → the auto-post form's fields."""
    routed = client.post(f"/t/{SLUG}/login/", {"identifier": "dana@partner.example", "next": f"/t/{SLUG}/"})
    assert routed["Location"].startswith(f"{SP_PATH}/start"), routed["Location"]
    to_partner = client.get(routed["Location"])
    assert to_partner.status_code == 302 and "SAMLRequest=" in to_partner["Location"]
    login = requests.get(to_partner["Location"], timeout=10)
    key = re.search(r'name="key" value="([^"]+)"', login.text)
    assert key, login.text
    base = urlsplit(to_partner["Location"])
    posted = requests.post(
        f"{base.scheme}://{base.netloc}/sso/login", data={"key": unescape(key[1]), "username": "dana"}, timeout=10
    )
    fields = dict(re.findall(r'name="(SAMLResponse|RelayState)" value="([^"]*)"', posted.text))
    assert urlsplit(re.search(r'action="([^"]+)"', posted.text)[1]).path == f"{SP_PATH}/acs"  # type: ignore[index]
    return {k: unescape(v) for k, v in fields.items()}


@pytest.mark.django_db
def test_sp_metadata_at_a_stable_url(saml_idp: UpstreamIdP) -> None:
    response = Client().get(f"{SP_PATH}/metadata")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'entityID="{django_settings.CANOPY_BASE_URL}{SP_PATH}/metadata"' in body
    assert f"{SP_PATH}/acs" in body and 'WantAssertionsSigned="true"' in body


@pytest.mark.django_db
def test_saml_upstream_sign_in_provisions_and_replay_fails(world_a: World, saml_idp: UpstreamIdP) -> None:
    client = Client()
    fields = partner_response(client)
    response = client.post(f"{SP_PATH}/acs", fields)
    assert response.status_code == 302 and response["Location"] == f"/t/{SLUG}/"
    dana = User.objects.get(tenant=world_a.tenant, email="dana@partner.example")
    assert (dana.first_name, dana.last_name) == ("Dana", "Partner")
    assert set(Membership.objects.filter(user=dana).values_list("organization_id", flat=True)) == {
        world_a.partner.pk,
        world_a.root.pk,
    }
    assert UpstreamIdentity.objects.get(idp=saml_idp).subject == "dana-0001"
    auth = client.session[SESSION_AUTH]
    assert auth["amr"] == ["fed"] and auth["idp"] == "partner-saml"
    # Replayed: the same response again, in the same browser and in another one.
    assert client.post(f"{SP_PATH}/acs", {**fields, "canopy_hop": "1"}).status_code == 400  # used once
    other = Client()
    fresh = partner_response(other)  # a transaction of its own in the other browser, answered with the old response
    replay = other.post(f"{SP_PATH}/acs", {"SAMLResponse": fields["SAMLResponse"], "RelayState": fresh["RelayState"]})
    assert replay.status_code == 403
    assert SESSION_AUTH not in other.session
    assert UpstreamIdentity.objects.filter(idp=saml_idp).count() == 1


EXPECTED = {
    "unsigned": "response-invalid:SignatureError",
    "wrong-audience": "response-invalid:Exception",  # pysaml2: "AudienceRestrictions conditions not satisfied"
    "xsw": "response-invalid:InvalidAssertion",  # pysaml2: "Invalid number of assertions in Response: 2"
}


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["unsigned", "wrong-audience", "xsw"])
def test_bad_saml_responses_are_refused(
    world_a: World, saml_idp: UpstreamIdP, partner_idp: PartnerIdP, mode: str
) -> None:
    partner_idp.control(mode=mode)
    client = Client()
    fields = partner_response(client)
    response = client.post(f"{SP_PATH}/acs", fields)
    assert response.status_code == 403, response.content
    assert b"could not confirm your sign-in with Partner SAML" in response.content
    assert SESSION_AUTH not in client.session
    nothing_created(world_a)
    reasons = list(AuditEvent.objects.filter(action="federation.refused").values_list("data__reason", flat=True))
    assert reasons == [EXPECTED[mode]], reasons


@pytest.mark.django_db
def test_a_cross_site_post_without_the_session_cookie_hops_once_through_our_origin(
    world_a: World, saml_idp: UpstreamIdP
) -> None:
    client = Client()
    fields = partner_response(client)
    cookieless = Client()  # what a SameSite=Lax browser sends on the partner's cross-site POST
    hop = cookieless.post(f"{SP_PATH}/acs", fields)
    assert hop.status_code == 200 and b'name="canopy_hop" value="1"' in hop.content
    nothing_created(world_a)
    # The same-site re-post carries the session cookie and finishes.
    done = client.post(f"{SP_PATH}/acs", {**fields, "canopy_hop": "1"})
    assert done.status_code == 302
    assert client.session[SESSION_AUTH]["idp"] == "partner-saml"
