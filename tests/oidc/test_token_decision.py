"""The organization decision at the token endpoint: every refresh checks it again, and a token
exchange (RFC 8693) decides anew for the target organization without widening the scopes.

Everything goes through the HTTP endpoints with Django's test client; the changes that should
end a decision are made through the services an administrator's action calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from idp.oidc.models import AccessToken, RefreshToken
from orgs.tree.models import ActsForLink, Membership
from orgs.tree.services import acts_for_remove, membership_remove, organization_delete
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant
from tests.support.login import require_email_otp
from tests.support.lookups import org, user
from tests.support.oidc import DEMO_WEB, basic, jwt_claims, signed_in_flow, userinfo

pytestmark = pytest.mark.django_db
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
AT_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SCOPE = "openid profile organization offline_access"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def tokens_for(demo: Tenant, username: str, pick: str | None = None, scope: str = SCOPE) -> dict[str, Any]:
    flow = signed_in_flow(demo, username)
    response = flow.authorize(scope=scope)
    if pick is not None:
        response = flow.pick(response, pick)
    token = flow.token(flow.code_from(response))
    assert token.status_code == 200, token.content
    return dict(token.json())


def refresh(demo: Tenant, refresh_token: str) -> Any:
    return Client().post(
        f"/t/{demo.slug}/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        HTTP_AUTHORIZATION=basic(*DEMO_WEB[:2]),
    )


def exchange(demo: Tenant, subject: str, **extra: str) -> Any:
    data = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": AT_TYPE, **extra}
    return Client().post(f"/t/{demo.slug}/oauth/token/", data, HTTP_AUTHORIZATION=basic(*DEMO_WEB[:2]))


def family_of(refresh_token: str) -> Any:
    checksum = hashlib.sha256(refresh_token.encode()).hexdigest()
    return RefreshToken.objects.get(token_checksum=checksum).token_family


def assert_family_revoked(family: Any) -> None:
    """Every refresh token of the family is revoked (the rotated ones too), and no access token is left."""
    rows = RefreshToken.objects.filter(token_family=family)
    assert rows.count() >= 2
    assert not rows.filter(revoked__isnull=True).exists()
    assert not AccessToken.objects.filter(user_id__in=rows.values("user_id")).exists()


def refusals(reason: str) -> list[dict[str, Any]]:
    return [e.data for e in AuditEvent.objects.filter(action="signin.refused") if e.data.get("reason") == reason]


def decisions(issued: str) -> list[dict[str, Any]]:
    return [e.data for e in AuditEvent.objects.filter(action="signin.decision") if e.data.get("issued") == issued]


def refreshed_once(demo: Tenant, tokens: dict[str, Any]) -> dict[str, Any]:
    """One rotation first, so the family has an earlier (revoked) member too."""
    response = refresh(demo, tokens["refresh_token"])
    assert response.status_code == 200, response.content
    return dict(response.json())


def assert_refused(response: Any, *words: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_grant"
    for word in words:
        assert word in body["error_description"], body


# --- refresh --------------------------------------------------------------------------------


def test_each_refresh_is_audited_with_the_decision(demo) -> None:
    tokens = tokens_for(demo, "alice", "acme-bank")
    new = refreshed_once(demo, tokens)
    acme = org(demo, "acme-bank")
    assert jwt_claims(new["access_token"])["org_id"] == str(acme.pk)
    [entry] = decisions("refresh")
    assert entry["organization"] == str(acme.pk) and entry["source"] == "token"
    assert entry["rp"] == "oidc:demo-web" and entry["amr"] == ["pwd"]
    assert entry["policy"]["password"] is True


def test_a_refresh_writes_one_audit_row(demo) -> None:
    tokens = tokens_for(demo, "alice", "acme-bank")
    with CaptureQueriesContext(connection) as queries:
        assert refresh(demo, tokens["refresh_token"]).status_code == 200
    audit = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "tenants_auditevent"')]
    assert len(audit) == 1


def test_refresh_after_the_membership_is_removed_is_refused_and_revokes_the_family(demo) -> None:
    tokens = refreshed_once(demo, tokens_for(demo, "alice", "acme-bank"))
    alice, acme = user(demo, "alice"), org(demo, "acme-bank")
    membership_remove(actor=SYSTEM, membership=Membership.objects.get(user=alice, organization=acme))
    family = family_of(tokens["refresh_token"])
    assert_refused(refresh(demo, tokens["refresh_token"]), "may no longer act for", "authorization endpoint")
    assert_family_revoked(family)
    assert userinfo(demo, tokens["access_token"]).status_code == 401
    [entry] = refusals("not eligible")
    assert entry["organization"] == str(acme.pk) and entry["source"] == "token"


def test_refresh_after_the_acts_for_link_is_removed_is_refused(demo) -> None:
    tokens = refreshed_once(demo, tokens_for(demo, "carol", "my-corporation"))
    contractor, corporation = org(demo, "contractor"), org(demo, "my-corporation")
    acts_for_remove(actor=SYSTEM, link=ActsForLink.objects.get(organization=contractor, on_behalf_of=corporation))
    family = family_of(tokens["refresh_token"])
    assert_refused(refresh(demo, tokens["refresh_token"]), "may no longer act for")
    assert_family_revoked(family)
    [entry] = refusals("not eligible")
    assert entry["organization"] == str(corporation.pk) and entry["via"] == str(contractor.pk)


def test_refresh_after_the_organization_is_deleted_is_refused(demo) -> None:
    tokens = refreshed_once(demo, tokens_for(demo, "alice", "acme-bank"))
    acme = org(demo, "acme-bank")
    acme_id = str(acme.pk)
    family = family_of(tokens["refresh_token"])
    organization_delete(actor=SYSTEM, organization=acme)
    row = RefreshToken.objects.get(token_family=family, revoked__isnull=True)
    assert row.organization is None and str(row.organization_uuid) == acme_id  # the id outlives the row
    assert userinfo(demo, tokens["access_token"]).status_code == 401  # nor does its access token go on
    assert_refused(refresh(demo, tokens["refresh_token"]), "no longer exists")
    assert_family_revoked(family)
    [entry] = refusals("organization deleted")
    assert entry["organization"] == acme_id


def test_refresh_after_the_user_is_deactivated_is_refused(demo) -> None:
    tokens = refreshed_once(demo, tokens_for(demo, "bob"))
    bob = user(demo, "bob")
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    family = family_of(tokens["refresh_token"])
    assert_refused(refresh(demo, tokens["refresh_token"]), "disabled")
    assert_family_revoked(family)
    assert len(refusals("user inactive")) == 1


def test_refresh_after_the_policy_is_tightened_sends_the_user_back_to_authorize(demo) -> None:
    tokens = refreshed_once(demo, tokens_for(demo, "alice", "acme-bank"))
    require_email_otp(demo, "acme-bank")
    family = family_of(tokens["refresh_token"])
    assert_refused(refresh(demo, tokens["refresh_token"]), "authorization endpoint", "organization=acme-bank")
    assert_family_revoked(family)
    assert len(refusals("policy unmet")) == 1


def test_a_tighter_policy_elsewhere_does_not_end_the_refresh(demo) -> None:
    tokens = tokens_for(demo, "bob")  # mexbanco
    require_email_otp(demo, "acme-bank")
    assert refresh(demo, tokens["refresh_token"]).status_code == 200


# --- token exchange ----------------------------------------------------------------------------


def test_exchange_cannot_add_scopes_or_the_organization_scope(demo) -> None:
    tokens = tokens_for(demo, "alice", "acme-bank", scope="openid organization offline_access")
    response = exchange(demo, tokens["access_token"], organization="mightybank-americas", scope="openid email")
    assert response.json()["error"] == "invalid_scope"
    response = exchange(demo, tokens["access_token"], scope="openid organization:mightybank-americas")
    assert response.json()["error"] == "invalid_scope"  # the subject has "organization", not organization:<x>
    plain = tokens_for(demo, "alice", scope="openid profile offline_access")  # no organization chosen
    response = exchange(demo, plain["access_token"], organization="mightybank-americas")
    body = response.json()
    assert response.status_code == 400 and body["error"] == "invalid_scope"
    assert "no organization scope" in body["error_description"]
    assert userinfo(demo, plain["access_token"]).status_code == 200  # nothing was revoked


def test_exchange_keeps_the_scopes_and_does_not_add_organization(demo) -> None:
    tokens = tokens_for(demo, "alice", "acme-bank", scope="openid organization")
    body = exchange(demo, tokens["access_token"], organization="mightybank-americas").json()
    assert body["scope"] == "openid organization"
    narrowed = tokens_for(demo, "alice", "acme-bank")
    response = exchange(demo, narrowed["access_token"], organization="mightybank-americas", scope="openid organization")
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "openid organization"
    assert "refresh_token" in response.json()  # replaced, as at every exchange of a token that had one


def test_exchange_swaps_the_organization_scope(demo) -> None:
    tokens = tokens_for(demo, "alice", scope="openid organization:acme-bank offline_access")
    response = exchange(demo, tokens["access_token"], organization="mightybank-americas")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"].split() == ["openid", "offline_access", "organization:mightybank-americas"]
    americas = org(demo, "mightybank-americas")
    assert jwt_claims(body["access_token"])["org_id"] == str(americas.pk)
    again = exchange(demo, body["access_token"], scope="openid organization:acme-bank")  # the scope names the target
    assert again.status_code == 200, again.content
    assert again.json()["scope"] == "openid organization:acme-bank"
    assert jwt_claims(again.json()["access_token"])["org_name"] == "acme-bank"


def test_exchange_to_an_organization_whose_policy_the_sign_in_does_not_meet(demo) -> None:
    tokens = tokens_for(demo, "alice", "mightybank-americas")
    require_email_otp(demo, "acme-bank")
    response = exchange(demo, tokens["access_token"], organization="acme-bank")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "insufficient_user_authentication"
    assert "authorization endpoint with organization=acme-bank" in body["error_description"]
    [entry] = refusals("policy unmet")
    assert entry["organization"] == str(org(demo, "acme-bank").pk) and entry["source"] == "exchange"
    assert userinfo(demo, tokens["access_token"]).status_code == 200  # the subject stays as it was
    assert refresh(demo, tokens["refresh_token"]).status_code == 200


def test_exchange_replaces_the_refresh_token_in_the_same_family(demo) -> None:
    tokens = tokens_for(demo, "alice", "acme-bank")
    family = family_of(tokens["refresh_token"])
    response = exchange(demo, tokens["access_token"], organization="mightybank-americas")
    assert response.status_code == 200, response.content
    body = response.json()
    americas = org(demo, "mightybank-americas")
    assert family_of(body["refresh_token"]) == family
    assert RefreshToken.objects.filter(token_family=family, revoked__isnull=True).count() == 1
    assert userinfo(demo, tokens["access_token"]).status_code == 401  # the subject access token is revoked
    [entry] = decisions("exchange")
    assert entry["organization"] == str(americas.pk) and entry["source"] == "exchange"
    assert entry["requested"] == "mightybank-americas" and entry["amr"] == ["pwd"]
    new = refresh(demo, body["refresh_token"])
    assert new.status_code == 200, new.content
    assert jwt_claims(new.json()["access_token"])["org_id"] == str(americas.pk)
    old = refresh(demo, tokens["refresh_token"])  # replaced: a reuse, like a rotated token
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    assert not RefreshToken.objects.filter(token_family=family, revoked__isnull=True).exists()


def test_exchange_without_a_refresh_token_issues_none_and_revokes_the_subject(demo) -> None:
    tokens = tokens_for(demo, "carol", "contractor", scope="openid organization")
    RefreshToken.objects.all().delete()
    body = exchange(demo, tokens["access_token"], organization="my-corporation").json()
    assert "refresh_token" not in body
    assert userinfo(demo, tokens["access_token"]).status_code == 401
    assert userinfo(demo, body["access_token"]).status_code == 200


def test_exchange_for_a_user_no_longer_eligible_is_refused(demo) -> None:
    tokens = tokens_for(demo, "carol", "contractor")
    contractor, corporation = org(demo, "contractor"), org(demo, "my-corporation")
    acts_for_remove(actor=SYSTEM, link=ActsForLink.objects.get(organization=contractor, on_behalf_of=corporation))
    response = exchange(demo, tokens["access_token"], organization="my-corporation")
    assert response.status_code == 400 and response.json()["error"] == "invalid_target"
    assert len(refusals("not eligible")) == 1
    carol = user(demo, "carol")
    carol.is_active = False
    carol.save(update_fields=["is_active"])
    response = exchange(demo, tokens["access_token"], organization="contractor")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert len(refusals("user inactive")) == 1


def test_a_code_whose_organization_was_deleted_is_refused(demo) -> None:
    flow = signed_in_flow(demo, "alice")
    code = flow.code_from(flow.pick(flow.authorize(scope=SCOPE), "acme-bank"))
    organization_delete(actor=SYSTEM, organization=org(demo, "acme-bank"))
    response = flow.token(code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
