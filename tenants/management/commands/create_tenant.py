from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenants.actors import SYSTEM
from tenants.cli import command_errors
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (realm) with fresh RS256 and ES256 signing keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Short name used in URLs: /t/<slug>/ (lowercase letters, digits, hyphens).")
        parser.add_argument("--name", default="", help="Display name (defaults to the slug).")

    def handle(self, *args: Any, **options: Any) -> None:
        with command_errors():
            tenant = tenant_create(actor=SYSTEM, slug=options["slug"], display_name=options["name"])
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant '{tenant.slug}' ({tenant.display_name}); issuer path /t/{tenant.slug}")
        )
