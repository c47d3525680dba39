from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orgs.tree.selectors import organization_get
from orgs.tree.services import organization_create
from tenants.actors import SYSTEM
from tenants.cli import command_errors, lookup_or_error, tenant_or_error


class Command(BaseCommand):
    help = "Create an organization in a tenant, top-level or under --parent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("identifier", help="Short name, unique in the tenant (lowercase letters, digits, . _ -).")
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--name", default="", help="Display name (defaults to the identifier).")
        parser.add_argument(
            "--parent", help="Parent organization (identifier or id). Omit for a top-level organization."
        )
        parser.add_argument("--description", default="")
        parser.add_argument("--logo-uri", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_or_error(options["tenant"])
        parent = None
        if options["parent"]:
            parent = lookup_or_error(
                lambda: organization_get(tenant=tenant, key=options["parent"]),
                f"parent: no organization '{options['parent']}' in tenant '{tenant.slug}'.",
            )
        with command_errors():
            org = organization_create(
                actor=SYSTEM,
                tenant=tenant,
                identifier=options["identifier"],
                display_name=options["name"] or options["identifier"],
                description=options["description"],
                logo_uri=options["logo_uri"],
                parent=parent,
            )
        where = f"under '{parent.identifier}'" if parent else "at the top level"
        self.stdout.write(self.style.SUCCESS(f"Created organization '{org.identifier}' {where}; id {org.pk}"))
