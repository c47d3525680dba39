"""OIDC Back-Channel Logout from the partner OP (tests/support/partners/oidc_op.py) to a live Canopy.

The partner process signs Dana out on its side and POSTs a logout token to the URI Canopy
publishes for that upstream; the Canopy sessions that came from the partner's sessions end,
and nothing else does. Bad tokens answer 400 with an error and end nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from django.contrib.sessions.models import Session
from django.test import Client

from idp.account.models import SessionRecord
from idp.federation.backchannel import backchannel_logout_uri
from idp.federation.models import UpstreamIdP
from idp.federation.quickstart import DEMO_SLUG, partner_report
from tenants.audit import AuditEvent
from tests.support.federation import dana_signs_in, partner_signout, signed_in
from tests.support.partners import PartnerOP
from tests.support.worlds import World

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_partner_signing_dana_out_ends_exactly_the_sessions_it_started(
    world_a: World, backchannel_upstream: UpstreamIdP, partner: PartnerOP
) -> None:
    laptop, phone = dana_signs_in(world_a), dana_signs_in(world_a)
    records = SessionRecord.objects.filter(tenant=world_a.tenant, upstream_idp=backchannel_upstream)
    assert records.count() == 2
    assert len(set(records.values_list("upstream_sid", flat=True))) == 2  # one partner session each
    assert set(records.values_list("upstream_subject", flat=True)) == {"dana-0001"}
    bystander = Client()
    bystander.force_login(world_a.member)  # a password session of someone else

    result = partner_signout(partner, by="sid")

    assert result["ended"] == 2
    assert [r["status"] for r in result["replies"]] == [200, 200]
    assert not signed_in(laptop) and not signed_in(phone)
    assert not records.exists()
    assert Session.objects.filter(session_key=bystander.session.session_key).exists()
    event = AuditEvent.objects.filter(tenant=world_a.tenant, action="federation.backchannel_logout").first()
    assert event is not None and event.data["by"] == "sid"


def test_a_logout_token_naming_only_the_subject_ends_all_of_its_sessions(
    world_a: World, backchannel_upstream: UpstreamIdP, partner: PartnerOP
) -> None:
    first, second = dana_signs_in(world_a), dana_signs_in(world_a)
    result = partner_signout(partner, by="sub")
    assert [r["status"] for r in result["replies"]] == [200]
    assert not signed_in(first) and not signed_in(second)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("bad-signature", "logout-token-signature"),
        ("wrong-aud", "logout-token-audience"),
        ("no-events", "logout-token-events"),
        ("nonce", "logout-token-nonce"),
        ("stale", "logout-token-iat"),
    ],
)
def test_a_bad_logout_token_is_refused_and_ends_nothing(
    world_a: World, backchannel_upstream: UpstreamIdP, partner: PartnerOP, mode: str, reason: str
) -> None:
    client = dana_signs_in(world_a)
    result = partner_signout(partner, by="both", mode=mode)
    [reply] = result["replies"]
    assert reply["status"] == 400
    body = json.loads(reply["body"])
    assert body["error"] == "invalid_request" and f"refused ({reason})" in body["error_description"]
    assert signed_in(client)
    assert SessionRecord.objects.filter(upstream_idp=backchannel_upstream).count() == 1


def test_a_replayed_logout_token_id_is_refused(
    world_a: World, backchannel_upstream: UpstreamIdP, partner: PartnerOP
) -> None:
    first = dana_signs_in(world_a)
    assert [r["status"] for r in partner_signout(partner, by="sid", jti="once-only")["replies"]] == [200]
    assert not signed_in(first)
    again = dana_signs_in(world_a)
    [reply] = partner_signout(partner, by="sid", jti="once-only")["replies"]
    assert reply["status"] == 400 and "replayed" in reply["body"]
    assert signed_in(again)


def test_the_endpoint_exists_only_for_the_tenants_own_oidc_upstreams(
    world_a: World, world_b: World, backchannel_upstream: UpstreamIdP, live_server: Any
) -> None:
    path = f"/t/{world_b.tenant.slug}/federation/{backchannel_upstream.slug}/backchannel-logout"
    other_tenant = requests.post(f"{live_server.url}{path}", data={"logout_token": "x"}, timeout=10)
    assert other_tenant.status_code == 404
    own = requests.post(backchannel_logout_uri(backchannel_upstream), data={"logout_token": "not-a-jwt"}, timeout=10)
    assert own.status_code == 400 and own.json()["error"] == "invalid_request"
    assert requests.get(backchannel_logout_uri(backchannel_upstream), timeout=10).status_code == 405


def test_the_quickstart_and_admin_publish_the_back_channel_logout_uri(
    world_a: World, backchannel_upstream: UpstreamIdP, live_server: Any, admin_client_for: Any
) -> None:
    uri = backchannel_logout_uri(backchannel_upstream)
    assert uri == f"{live_server.url}/t/{world_a.tenant.slug}/federation/partner/backchannel-logout"
    page = admin_client_for(world_a.admin).get(f"/admin/federation/upstreamidp/{backchannel_upstream.pk}/change/")
    assert page.status_code == 200 and uri in page.content.decode()
    UpstreamIdP.objects.filter(pk=backchannel_upstream.pk).update(slug=DEMO_SLUG)
    report = partner_report(world_a.tenant, live_server.url)
    assert f"{live_server.url}/t/{world_a.tenant.slug}/federation/{DEMO_SLUG}/backchannel-logout" in report
