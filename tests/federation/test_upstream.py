"""Upstream OIDC sign-in against an independent partner OP (tests/support/partners/oidc_op.py, its own process).

The browser part is played by Django's test client and ``requests`` (the partner's login form);
tests/federation/test_browser.py drives the same journey in Chromium.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client

from idp.federation.models import UpstreamDomain, UpstreamIdentity, UpstreamIdP
from idp.federation.services import (
    decrypt_secret,
    domain_check_dns,
    domain_claim,
    domain_set_verified,
    upstream_idp_create,
)
from idp.flow.session import SESSION_AUTH
from orgs.tree.models import Membership
from orgs.tree.services import organization_user_create
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, User
from tests.support.federation import make_idp, upstream_login
from tests.support.partners import CLIENT_ID, CLIENT_SECRET, DNSServer, PartnerOP
from tests.support.worlds import World


def nothing_created(world: World) -> None:
    assert not User.objects.filter(tenant=world.tenant, email__iexact="dana@partner.example").exists()
    assert not User.objects.filter(tenant=world.tenant, username__icontains="dana").exists()
    assert not UpstreamIdentity.objects.filter(subject="dana-0001").exists()


@pytest.mark.django_db
def test_verified_domain_routes_to_partner_and_jit_provisions(world_a: World, partner_ok: PartnerOP) -> None:
    idp = make_idp(world_a, partner_ok)
    client = Client()
    response, callback = upstream_login(client, world_a)
    assert response.status_code == 302 and response["Location"] == f"/t/{world_a.tenant.slug}/"
    dana = User.objects.get(tenant=world_a.tenant, email="dana@partner.example")
    assert (dana.first_name, dana.last_name, dana.has_usable_password()) == ("Dana", "Partner", False)
    memberships = {m.organization_id: m for m in Membership.objects.filter(user=dana)}
    assert set(memberships) == {world_a.partner.pk, world_a.root.pk}
    assert {m.origin for m in memberships.values()} == {Membership.Origin.JIT}
    assert UpstreamIdentity.objects.get(idp=idp, subject="dana-0001").user == dana
    auth = client.session[SESSION_AUTH]
    assert auth["user_id"] == dana.pk and auth["amr"] == ["fed"] and auth["idp"] == "partner"
    assert AuditEvent.objects.filter(action="federation.jit_create", target_id=str(dana.pk)).exists()
    # The state is used once: the same callback again is an error page.
    assert client.get(callback).status_code == 400
    # A second sign-in finds the link; no second user.
    response, _ = upstream_login(Client(), world_a)
    assert response.status_code == 302
    assert User.objects.filter(tenant=world_a.tenant, email__iexact="dana@partner.example").count() == 1


@pytest.mark.django_db
def test_unverified_domain_never_routes(world_a: World, partner_ok: PartnerOP) -> None:
    make_idp(world_a, partner_ok, verified=False)
    response = Client().post(f"/t/{world_a.tenant.slug}/login/", {"identifier": "dana@partner.example"})
    assert response.status_code == 303
    assert response["Location"].startswith(f"/t/{world_a.tenant.slug}/login/password/")
    # Another tenant's verified claim on the same domain does not route here either.
    assert (Client().post("/t/tenant-a/login/", {"identifier": "bob@tenant-a-partner.example"})["Location"]).startswith(
        "/t/tenant-a/login/password/"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["bad-signature", "wrong-aud", "wrong-nonce", "expired", "wrong-iss"])
def test_bad_upstream_id_token_is_refused(world_a: World, partner_ok: PartnerOP, mode: str) -> None:
    make_idp(world_a, partner_ok)
    partner_ok.control(mode=mode)
    client = Client()
    response, _ = upstream_login(client, world_a)
    assert response.status_code == 403
    assert b"could not confirm your sign-in with Partner Inc" in response.content
    assert SESSION_AUTH not in client.session
    nothing_created(world_a)
    assert AuditEvent.objects.filter(action="federation.refused").exists()


@pytest.mark.django_db
def test_unverified_upstream_email_never_links(world_a: World, partner_ok: PartnerOP) -> None:
    make_idp(world_a, partner_ok)
    local = organization_user_create(
        actor=SYSTEM, organization=world_a.root, username="dana-local", email="dana@partner.example"
    )
    users = {"dana": {"sub": "dana-0001", "email": "dana@partner.example", "email_verified": False}}
    partner_ok.control(users=users)
    client = Client()
    response, _ = upstream_login(client, world_a)
    assert response.status_code == 403
    assert b"did not confirm that the address is yours" in response.content
    assert SESSION_AUTH not in client.session
    assert not UpstreamIdentity.objects.exists() or not UpstreamIdentity.objects.filter(subject="dana-0001").exists()
    assert User.objects.filter(tenant=world_a.tenant, email__iexact="dana@partner.example").get() == local
    # With a verified email in the IdP's verified domain, the same account is linked.
    users["dana"]["email_verified"] = True
    partner_ok.control(users=users)
    response, _ = upstream_login(client, world_a)
    assert response.status_code == 302
    assert UpstreamIdentity.objects.get(subject="dana-0001").user == local
    assert client.session[SESSION_AUTH]["user_id"] == local.pk


@pytest.mark.django_db
def test_linking_policy_refuse_and_create_new(world_a: World, partner_ok: PartnerOP) -> None:
    idp = make_idp(world_a, partner_ok, linking=UpstreamIdP.Linking.REFUSE)
    organization_user_create(
        actor=SYSTEM, organization=world_a.root, username="dana-local", email="dana@partner.example"
    )
    response, _ = upstream_login(Client(), world_a)
    assert response.status_code == 403 and b"may not sign in to it" in response.content
    assert not UpstreamIdentity.objects.filter(subject="dana-0001").exists()
    idp.linking = UpstreamIdP.Linking.CREATE_NEW
    idp.save()
    response, _ = upstream_login(Client(), world_a)
    assert response.status_code == 403  # create-new never links; the email is taken, so a clear refusal


@pytest.mark.django_db
def test_jit_organization_of_another_tenant_is_refused(world_a: World, world_b: World, partner_ok: PartnerOP) -> None:
    with pytest.raises(ValidationError) as excinfo:
        make_idp(world_a, partner_ok, jit_organizations=[world_b.root])
    assert "jit_organizations" in excinfo.value.message_dict
    idp = make_idp(world_a, partner_ok)
    idp.jit_organizations.add(world_b.root)  # a bad row, written around the services
    client = Client()
    response, _ = upstream_login(client, world_a)
    assert response.status_code == 403 and b"does not belong here" in response.content
    assert SESSION_AUTH not in client.session
    nothing_created(world_a)
    assert not Membership.objects.filter(organization=world_b.root, user__username__icontains="dana").exists()


@pytest.mark.django_db
def test_upstream_idp_without_domain_is_a_button(world_a: World, partner_ok: PartnerOP) -> None:
    make_idp(world_a, partner_ok, domains=[])
    page = Client().get(f"/t/{world_a.tenant.slug}/login/?next=/t/{world_a.tenant.slug}/")
    assert page.status_code == 200
    assert b"Sign in with Partner Inc" in page.content
    assert b"/federation/partner/start?next=" in page.content
    # The world's own IdP claims a domain (unverified): a domain IdP is never a button.
    assert f"Sign in with {world_a.tenant.slug} partner".encode() not in page.content
    # The button starts the journey at the partner.
    start = Client().get(f"/t/{world_a.tenant.slug}/federation/partner/start?next=/t/{world_a.tenant.slug}/")
    assert start.status_code == 302 and start["Location"].startswith(f"{partner_ok.url}/authorize?")


@pytest.mark.django_db
def test_client_secret_is_encrypted_at_rest(world_a: World, partner_ok: PartnerOP) -> None:
    idp = make_idp(world_a, partner_ok)
    assert CLIENT_SECRET not in idp.client_secret_encrypted
    assert decrypt_secret(idp.client_secret_encrypted) == CLIENT_SECRET
    audit = AuditEvent.objects.filter(action="federation.idp.create").values_list("data", flat=True)
    assert all(CLIENT_SECRET not in str(d) for d in audit)


@pytest.mark.django_db
def test_domain_verification_by_dns_txt(world_a: World, partner_ok: PartnerOP, dns_server: DNSServer, settings) -> None:
    settings.CANOPY_DNS_RESOLVER = dns_server.address
    idp = make_idp(world_a, partner_ok, verified=False, domains=[])
    domain = domain_claim(actor=SYSTEM, idp=idp, domain="Partner.Example.")
    assert domain.domain == "partner.example" and not domain.verified and domain.verification_token
    assert domain_check_dns(actor=world_a.admin, domain=domain) is False
    assert "No TXT record _canopy-challenge.partner.example" in domain.last_check
    dns_server.records["_canopy-challenge.partner.example"] = ["someone-else's-token"]
    assert domain_check_dns(actor=world_a.admin, domain=domain) is False
    dns_server.records["_canopy-challenge.partner.example"] = ["unrelated", domain.verification_token]
    assert domain_check_dns(actor=world_a.admin, domain=domain) is True
    domain.refresh_from_db()
    assert domain.verified and domain.verified_how == "dns" and domain.verified_at is not None
    assert AuditEvent.objects.filter(action="federation.domain.check", target_id=str(domain.pk)).count() == 3
    # Routed now.
    response = Client().post(f"/t/{world_a.tenant.slug}/login/", {"identifier": "dana@partner.example"})
    assert "/federation/partner/start" in response["Location"]


@pytest.mark.django_db
def test_domain_rules(world_a: World, world_b: World, partner_ok: PartnerOP) -> None:
    idp = make_idp(world_a, partner_ok, verified=False)
    other = upstream_idp_create(
        actor=SYSTEM,
        tenant=world_a.tenant,
        slug="other",
        name="Other",
        discovery_url=f"{partner_ok.url}/.well-known/openid-configuration",
        client_id="x",
    )
    with pytest.raises(ValidationError):  # one IdP per domain per tenant
        domain_claim(actor=SYSTEM, idp=other, domain="partner.example")
    with pytest.raises(ValidationError):  # public mail domains are nobody's
        domain_claim(actor=SYSTEM, idp=other, domain="gmail.com")
    with pytest.raises(PermissionDenied):  # only tenant admins verify
        domain_set_verified(actor=world_a.member, domain=idp.domains.get(), verified=True)
    with pytest.raises(PermissionDenied):  # another tenant's admin is nobody here
        domain_set_verified(actor=world_b.admin, domain=idp.domains.get(), verified=True)
    domain_set_verified(actor=world_a.admin, domain=idp.domains.get(), verified=True)
    assert UpstreamDomain.objects.get(domain="partner.example", tenant=world_a.tenant).verified_how == "manual"
    # The same domain in another tenant is that tenant's business.
    idp_b = upstream_idp_create(
        actor=SYSTEM,
        tenant=world_b.tenant,
        slug="partner",
        name="P",
        discovery_url="https://p.example/x",
        client_id="c",
    )
    domain_claim(actor=SYSTEM, idp=idp_b, domain="partner.example")


@pytest.mark.django_db
def test_add_upstream_idp_command(world_a: World, partner_ok: PartnerOP, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PARTNER_SECRET", CLIENT_SECRET)
    call_command(
        "add_upstream_idp",
        "--tenant=tenant-a",
        "--slug=partner",
        "--name=Partner Inc",
        f"--discovery-url={partner_ok.url}/.well-known/openid-configuration",
        f"--client-id={CLIENT_ID}",
        "--client-secret-env=PARTNER_SECRET",
        "--domain=partner.example",
        "--verify-domains",
        f"--jit-organization={world_a.partner.identifier}",
        "--role=member",
    )
    out = capsys.readouterr().out
    assert "partner.example: verified (manual)" in out and CLIENT_SECRET not in out
    response, _ = upstream_login(Client(), world_a)
    assert response.status_code == 302
    dana = User.objects.get(tenant=world_a.tenant, email="dana@partner.example")
    assert list(Membership.objects.filter(user=dana).values_list("organization_id", flat=True)) == [world_a.partner.pk]


@pytest.mark.django_db
def test_authorization_response_from_another_issuer_is_refused(world_a: World, partner_ok: PartnerOP) -> None:
    make_idp(world_a, partner_ok)
    client = Client()
    response, _ = upstream_login(client, world_a, iss="https://evil.example")
    assert response.status_code == 403
    assert SESSION_AUTH not in client.session
    nothing_created(world_a)
    assert AuditEvent.objects.filter(action="federation.refused", data__reason="authorization-response-issuer").exists()


@pytest.mark.django_db
def test_sync_on_login_adds_newly_mapped_memberships(world_a: World, partner_ok: PartnerOP) -> None:
    idp = make_idp(world_a, partner_ok, jit_claim_map={}, sync_on_login=True)
    upstream_login(Client(), world_a)
    dana = User.objects.get(tenant=world_a.tenant, email="dana@partner.example")
    assert set(Membership.objects.filter(user=dana).values_list("organization_id", flat=True)) == {world_a.partner.pk}
    idp.jit_claim_map = {"labs": world_a.root.identifier}
    idp.save()
    users = {
        "dana": {
            "sub": "dana-0001",
            "email": "dana@partner.example",
            "email_verified": True,
            "given_name": "Dana",
            "family_name": "Renamed",
            "department": "labs",
        }
    }
    partner_ok.control(users=users)
    assert upstream_login(Client(), world_a)[0].status_code == 302
    dana.refresh_from_db()
    assert dana.last_name == "Renamed"
    assert set(Membership.objects.filter(user=dana).values_list("organization_id", flat=True)) == {
        world_a.partner.pk,
        world_a.root.pk,
    }


@pytest.mark.django_db
@pytest.mark.usefixtures("world_b")
def test_admin_shows_the_challenge_and_why_a_domain_is_not_verified(
    world_a: World, partner_ok: PartnerOP, dns_server: DNSServer, settings, admin_client_for
) -> None:
    settings.CANOPY_DNS_RESOLVER = dns_server.address
    idp = make_idp(world_a, partner_ok, verified=False)
    domain = idp.domains.get()
    client = admin_client_for(world_a.admin)
    page = client.get("/admin/federation/upstreamdomain/")
    assert page.status_code == 200
    assert f"_canopy-challenge.partner.example TXT {domain.verification_token}".encode() in page.content
    assert b"not verified yet" in page.content
    assert b"tenant-b-partner.example" not in page.content  # another tenant's claim stays invisible
    client.post(
        "/admin/federation/upstreamdomain/", {"action": "check_dns", "_selected_action": [domain.pk]}, follow=True
    )
    domain.refresh_from_db()
    assert not domain.verified and "No TXT record" in domain.last_check
    dns_server.records["_canopy-challenge.partner.example"] = [domain.verification_token]
    client.post("/admin/federation/upstreamdomain/", {"action": "check_dns", "_selected_action": [domain.pk]})
    domain.refresh_from_db()
    assert domain.verified and domain.verified_how == "dns"
    # A claimed (and verified) domain cannot be renamed into another one.
    change = client.get(f"/admin/federation/upstreamdomain/{domain.pk}/change/")
    assert change.status_code == 200 and b'name="domain"' not in change.content
    # The IdP's secret is write-only in its form.
    form = client.get(f"/admin/federation/upstreamidp/{idp.pk}/change/")
    assert form.status_code == 200 and CLIENT_SECRET.encode() not in form.content
    assert idp.client_secret_encrypted.encode() not in form.content
