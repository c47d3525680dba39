"""Register (or refresh) a SAML service provider from its metadata."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from idp.saml.models import ServiceProvider
from idp.saml.services import fetch_metadata, service_provider_from_metadata
from orgs.tree.selectors import organization_get
from tenants.actors import SYSTEM
from tenants.cli import command_errors, lookup_or_error, tenant_or_error

NAMEID = {
    "email": ServiceProvider.NameIDFormat.EMAIL,
    "persistent": ServiceProvider.NameIDFormat.PERSISTENT,
    "transient": ServiceProvider.NameIDFormat.TRANSIENT,
    "unspecified": ServiceProvider.NameIDFormat.UNSPECIFIED,
}


class Command(BaseCommand):
    help = "Register a SAML service provider in a tenant from its metadata (URL or file). Run again to refresh it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--metadata-url", help="http(s) URL of the SP's metadata (10 s timeout, 2 MiB cap).")
        source.add_argument("--metadata-file", help="Path of the SP's metadata XML.")
        parser.add_argument("--name", default=None, help="Display name.")
        parser.add_argument("--nameid", choices=sorted(NAMEID), default=None, help="NameID format (default email).")
        parser.add_argument("--org-required", action="store_true", help="Refuse users with no eligible organization.")
        parser.add_argument("--default-org", help="Default organization (identifier or id).")
        parser.add_argument("--idp-initiated", action="store_true", help="Allow IdP-initiated SSO.")
        parser.add_argument("--require-signed-requests", action="store_true", help="Refuse unsigned AuthnRequests.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_or_error(options["tenant"])
        fields: dict[str, Any] = {}
        if options["name"] is not None:
            fields["name"] = options["name"]
        if options["nameid"]:
            fields["nameid_format"] = NAMEID[options["nameid"]]
        for option, field in (
            ("org_required", "organization_required"),
            ("idp_initiated", "idp_initiated"),
            ("require_signed_requests", "want_authn_requests_signed"),
        ):
            if options[option]:
                fields[field] = True
        default_org = None
        if options["default_org"]:
            default_org = lookup_or_error(
                lambda: organization_get(tenant=tenant, key=options["default_org"]),
                f"default-org: no organization '{options['default_org']}' in tenant '{tenant.slug}'.",
            )
        with command_errors():
            if options["metadata_url"]:
                source = options["metadata_url"]
                data = fetch_metadata(source)
            else:
                source = options["metadata_file"]
                try:
                    with open(source, "rb") as handle:
                        data = handle.read(2 * 1024 * 1024 + 1)
                except OSError as exc:
                    raise CommandError(f"metadata-file: cannot read {source}: {exc.strerror}") from exc
            sp, created = service_provider_from_metadata(
                actor=SYSTEM, tenant=tenant, metadata=data, source=source, default_organization=default_org, **fields
            )
        verb = "Registered" if created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} SAML service provider '{sp.entity_id}' in tenant '{tenant.slug}'.")
        )
        acs = ", ".join(a["url"] for a in sp.acs)
        self.stdout.write(f"ACS: {acs}; signing certificates: {len(sp.signing_certificates)}")
