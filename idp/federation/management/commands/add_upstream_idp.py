"""Register an upstream identity provider for a tenant (the admin does the same)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from idp.federation.models import UpstreamIdP
from idp.federation.services import domain_challenge, domain_set_verified, upstream_idp_create
from orgs.tree.selectors import organizations_by_identifiers
from tenants.actors import SYSTEM
from tenants.models import Tenant

if TYPE_CHECKING:
    from orgs.tree.models import Organization


class Command(BaseCommand):
    help = "Add an upstream OIDC or SAML identity provider to a tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--slug", required=True, help="stable short name used in URLs")
        parser.add_argument("--name", required=True, help='display name ("Sign in with <name>")')
        parser.add_argument("--kind", choices=["oidc", "saml"], default="oidc")
        parser.add_argument("--discovery-url", default="")
        parser.add_argument("--issuer", default="")
        parser.add_argument("--authorization-endpoint", default="")
        parser.add_argument("--token-endpoint", default="")
        parser.add_argument("--jwks-uri", default="")
        parser.add_argument("--client-id", default="")
        parser.add_argument(
            "--client-secret-env",
            default="",
            help="name of an environment variable holding the client secret (never pass secrets on the command line)",
        )
        parser.add_argument("--scopes", default="openid email profile")
        parser.add_argument("--no-pkce", action="store_true")
        parser.add_argument("--metadata-file", default="", help="SAML: the partner's metadata XML")
        parser.add_argument("--domain", action="append", default=[], help="a domain this IdP claims (repeatable)")
        parser.add_argument(
            "--verify-domains", action="store_true", help="mark the domains verified (manual verification)"
        )
        parser.add_argument("--organization", default="", help="owning organization identifier")
        parser.add_argument("--jit-organization", action="append", default=[], help="organization identifier")
        parser.add_argument("--jit-claim", default="")
        parser.add_argument("--jit-claim-map", default="{}", help='JSON: {"claim value": "organization identifier"}')
        parser.add_argument("--role", default="member")
        parser.add_argument("--sync", action="store_true", help="update attributes and memberships at each login")
        parser.add_argument(
            "--linking", choices=[c for c, _ in UpstreamIdP.Linking.choices], default="link-verified-email"
        )
        parser.add_argument("--no-jit", action="store_true")
        parser.add_argument("--no-button", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant '{opts['tenant']}'.")

        def org(identifier: str) -> Organization:
            found = organizations_by_identifiers(tenant_id=tenant.pk, identifiers=[identifier])
            if not found:
                raise CommandError(f"No organization '{identifier}' in tenant '{tenant.slug}'.")
            return found[0]

        secret = ""
        if opts["client_secret_env"]:
            secret = os.environ.get(opts["client_secret_env"], "")
            if not secret:
                raise CommandError(f"The environment variable {opts['client_secret_env']} is empty.")
        metadata = ""
        if opts["metadata_file"]:
            with open(opts["metadata_file"], encoding="utf-8") as fh:
                metadata = fh.read()
        try:
            claim_map = json.loads(opts["jit_claim_map"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--jit-claim-map is not JSON: {exc}") from exc
        try:
            idp = upstream_idp_create(
                actor=SYSTEM,
                tenant=tenant,
                slug=opts["slug"],
                name=opts["name"],
                kind=opts["kind"],
                client_secret=secret,
                jit_organizations=[org(i) for i in opts["jit_organization"]],
                domains=opts["domain"],
                organization=org(opts["organization"]) if opts["organization"] else None,
                discovery_url=opts["discovery_url"],
                issuer=opts["issuer"],
                authorization_endpoint=opts["authorization_endpoint"],
                token_endpoint=opts["token_endpoint"],
                jwks_uri=opts["jwks_uri"],
                client_id=opts["client_id"],
                scopes=opts["scopes"],
                use_pkce=not opts["no_pkce"],
                saml_metadata=metadata,
                jit_enabled=not opts["no_jit"],
                jit_claim=opts["jit_claim"],
                jit_claim_map=claim_map,
                jit_role=opts["role"],
                sync_on_login=opts["sync"],
                linking=opts["linking"],
                show_button=not opts["no_button"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(f"Added upstream IdP '{idp.slug}' ({idp.kind}) to tenant '{tenant.slug}'.")
        for domain in idp.domains.all():
            if opts["verify_domains"]:
                domain_set_verified(actor=SYSTEM, domain=domain, verified=True)
                self.stdout.write(f"  {domain.domain}: verified (manual)")
            else:
                name, value = domain_challenge(domain)
                self.stdout.write(f"  {domain.domain}: publish TXT {name} = {value}, then check it in the admin")
