"""Seed the demo tenant ``mightybank``. Idempotent: a second run changes nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from idp.federation.quickstart import demo_partner_idp, partner_report
from idp.oidc.models import Application
from idp.oidc.services import application_create
from idp.saml.models import BINDING_POST, BINDING_REDIRECT
from idp.saml.selectors import service_provider_get
from idp.saml.services import service_provider_create
from orgs.tree.models import Organization
from orgs.tree.selectors import MembershipRole, acts_for_link_exists, domain_claimed, is_member, organization_get
from orgs.tree.services import acts_for_add, domain_add, membership_add, organization_create, organization_user_create
from tenants.actors import SYSTEM
from tenants.cli import command_errors
from tenants.models import Tenant, User
from tenants.services import tenant_create, user_create

if TYPE_CHECKING:
    from orgs.tree.models import Organization

TENANT = ("mightybank", "MightyBank")
# identifier, display name, parent identifier
ORGANIZATIONS = [
    ("mightybank-americas", "MightyBank Americas", None),
    ("acme-bank", "Acme Bank", "mightybank-americas"),
    ("mexbanco", "MexBanco", "mightybank-americas"),
    ("contractor", "Services Contractor", None),
    ("my-corporation", "My Corporation", None),
]
ACTS_FOR = [("contractor", "my-corporation")]
# client_id, name, public, first-party, redirect URIs
CLIENTS = [
    ("demo-web", "Demo Web App", False, True, ["http://127.0.0.1:8765/callback"]),
    ("demo-spa", "Demo Single-Page App", True, False, ["http://127.0.0.1:8766/callback"]),
]
DEMO_WEB_SECRET = "demo-web-secret"  # noqa: S105 - the demo's published secret
# The demo SAML service provider (SP-initiated SSO, HTTP-POST ACS, no request signing).
SAML_SP = ("http://127.0.0.1:8766/metadata", "Demo SAML App", "http://127.0.0.1:8766/acs", "http://127.0.0.1:8766/sls")
DOMAINS = [("acme-bank", "acme.example"), ("mexbanco", "mexbanco.example"), ("contractor", "contractor.example")]


@dataclass(frozen=True)
class DemoUser:
    username: str
    email: str
    first_name: str
    last_name: str
    home: str | None  # created directly in this organization
    home_role: str = MembershipRole.MEMBER
    also: tuple[tuple[str, str], ...] = ()  # further memberships, parent first
    tenant_admin: bool = False


USERS = [
    DemoUser("sam", "sam@mightybank.example", "Sam", "Carter", None, tenant_admin=True),
    DemoUser("alma", "alma@mightybank.example", "Alma", "Spreckles", "mightybank-americas", MembershipRole.OWNER),
    DemoUser("barbara", "barbara@mightybank.example", "Barbara", "Jensen", "mightybank-americas", MembershipRole.ADMIN),
    DemoUser(
        "alice",
        "alice@acme.example",
        "Alice",
        "Archer",
        "mightybank-americas",
        also=(("acme-bank", MembershipRole.MEMBER),),
    ),
    DemoUser("bob", "bob@mexbanco.example", "Bob", "Bravo", "mexbanco"),
    DemoUser("carol", "carol@contractor.example", "Carol", "Cruz", "contractor"),
]


class Command(BaseCommand):
    help = "Seed the demo tenant 'mightybank' with organizations and users. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            help="One password for every new demo user (default: '<username>-demo-pass', e.g. alice-demo-pass).",
        )
        parser.add_argument(
            "--partner-oidc-discovery-url",
            default=os.environ.get("CANOPY_PARTNER_OIDC_DISCOVERY_URL", ""),
            help="A partner OpenID Provider's discovery URL: contractor.example users then sign in there "
            "(default: $CANOPY_PARTNER_OIDC_DISCOVERY_URL; none: no partner IdP).",
        )
        parser.add_argument("--partner-client-id", default="canopy", help="Canopy's client id at the partner.")
        parser.add_argument(
            "--partner-client-secret-env",
            default="CANOPY_PARTNER_CLIENT_SECRET",
            help="The environment variable holding Canopy's client secret at the partner.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        created: list[str] = []
        passwords: dict[str, str] = {}
        with command_errors(), transaction.atomic():
            tenant = Tenant.objects.filter(slug=TENANT[0]).first()
            if tenant is None:
                tenant = tenant_create(actor=SYSTEM, slug=TENANT[0], display_name=TENANT[1])
                created.append(f"tenant {tenant.slug}")
            orgs: dict[str, Organization] = {}
            for identifier, name, parent in ORGANIZATIONS:
                org = organization_get(tenant=tenant, key=identifier)
                if org is None:
                    org = organization_create(
                        actor=SYSTEM,
                        tenant=tenant,
                        identifier=identifier,
                        display_name=name,
                        parent=orgs[parent] if parent else None,
                    )
                    created.append(f"organization {identifier}")
                orgs[identifier] = org
            for org_id, other in ACTS_FOR:
                if not acts_for_link_exists(organization=orgs[org_id], on_behalf_of=orgs[other]):
                    acts_for_add(actor=SYSTEM, organization=orgs[org_id], on_behalf_of=orgs[other])
                    created.append(f"acts-for {org_id} -> {other}")
            for org_id, domain in DOMAINS:
                if not domain_claimed(tenant=tenant, domain=domain):
                    domain_add(actor=SYSTEM, organization=orgs[org_id], domain=domain, verified=True)
                    created.append(f"domain {domain}")
            for spec in USERS:
                password = options["password"] or f"{spec.username}-demo-pass"
                passwords[spec.username] = password
                user = User.objects.filter(tenant=tenant, username__iexact=spec.username).first()
                if user is None:
                    user = self._create_user(tenant, orgs, spec, password)
                    created.append(f"user {spec.username}")
                for org_id, role in spec.also:
                    if not is_member(user=user, organization=orgs[org_id]):
                        membership_add(actor=SYSTEM, organization=orgs[org_id], user=user, role=role)
                        created.append(f"membership {spec.username} in {org_id}")
            for client_id, name, public, first_party, redirects in CLIENTS:
                if not Application.objects.filter(client_id=client_id).exists():
                    application_create(
                        actor=SYSTEM,
                        tenant=tenant,
                        client_id=client_id,
                        name=name,
                        client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
                        redirect_uris=redirects,
                        post_logout_redirect_uris=[redirects[0].rsplit("/", 1)[0] + "/"],
                        first_party=first_party,
                        client_secret=None if public else DEMO_WEB_SECRET,
                    )
                    created.append(f"OIDC client {client_id}")
            self._saml_sp(tenant, created)
            if options["partner_oidc_discovery_url"]:
                created += demo_partner_idp(
                    tenant=tenant,
                    organization=orgs["contractor"],
                    discovery_url=options["partner_oidc_discovery_url"],
                    client_id=options["partner_client_id"],
                    client_secret=os.environ.get(options["partner_client_secret_env"], ""),
                )
        self._report(tenant, created, passwords)

    def _saml_sp(self, tenant: Tenant, created: list[str]) -> None:

        entity_id, name, acs, slo = SAML_SP
        if service_provider_get(tenant=tenant, entity_id=entity_id) is None:
            service_provider_create(
                actor=SYSTEM,
                tenant=tenant,
                entity_id=entity_id,
                name=name,
                acs=[{"url": acs, "binding": BINDING_POST, "index": 0, "default": True}],
                slo=[{"url": slo, "binding": BINDING_REDIRECT, "response_url": ""}],
            )
            created.append(f"SAML SP {entity_id}")

    def _create_user(self, tenant: Tenant, orgs: dict[str, Organization], spec: DemoUser, password: str) -> User:
        common: dict[str, Any] = dict(
            username=spec.username,
            email=spec.email,
            password=password,
            first_name=spec.first_name,
            last_name=spec.last_name,
            validate_password_strength=False,
        )
        if spec.home:
            return organization_user_create(actor=SYSTEM, organization=orgs[spec.home], role=spec.home_role, **common)
        return user_create(actor=SYSTEM, tenant=tenant, is_tenant_admin_flag=spec.tenant_admin, **common)

    def _report(self, tenant: Tenant, created: list[str], passwords: dict[str, str]) -> None:
        out = self.stdout
        if created:
            out.write(self.style.SUCCESS(f"Seeded {len(created)} object(s): " + ", ".join(created)))
        else:
            out.write("Demo tenant already seeded; nothing changed.")
        base = settings.CANOPY_BASE_URL
        out.write("")
        out.write(f"Admin:   {base}/admin/   (tenant: {tenant.slug}, user: sam)")
        out.write(f"Issuer:  {base}/t/{tenant.slug}")
        out.write(f"Discovery: {base}/t/{tenant.slug}/.well-known/openid-configuration")
        out.write(
            f"OIDC clients: demo-web (confidential, first-party, secret '{DEMO_WEB_SECRET}', "
            "redirect http://127.0.0.1:8765/callback); demo-spa (public, PKCE, redirect http://127.0.0.1:8766/callback)"
        )
        out.write(f"SAML IdP metadata: {base}/t/{tenant.slug}/saml/metadata")
        out.write(f"SAML SP: {SAML_SP[0]} (ACS {SAML_SP[2]})")
        out.write(partner_report(tenant, base))
        out.write("Demo users (passwords apply to users created by this run or an earlier one with the same option):")
        for spec in USERS:
            role = "tenant admin" if spec.tenant_admin else f"{spec.home_role} of {spec.home}" if spec.home else ""
            extra = ", ".join(f"{r} of {o}" for o, r in spec.also)
            suffix = f"; {extra}" if extra else ""
            out.write(f"  {spec.username:<8} {spec.email:<28} {passwords[spec.username]:<20} {role}{suffix}")
