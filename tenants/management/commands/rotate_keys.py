from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from tenants.actors import SYSTEM
from tenants.cli import command_errors, tenant_or_error
from tenants.models import Tenant
from tenants.services import SIGNING_ALGORITHMS, signing_keys_prune, signing_keys_rotate


class Command(BaseCommand):
    help = (
        "Rotate signing keys: retire each active key (it stays in JWKS for the retention period) "
        "and activate a new one. Also deletes retired keys past retention."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="Only this tenant (slug). Default: every tenant.")
        parser.add_argument(
            "--alg",
            action="append",
            choices=[str(a) for a in SIGNING_ALGORITHMS],
            help="Only this algorithm (repeatable).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = [tenant_or_error(options["tenant"])] if options["tenant"] else list(Tenant.objects.order_by("slug"))
        algorithms = tuple(options["alg"] or SIGNING_ALGORITHMS)
        rotated = pruned = 0
        with command_errors():
            for tenant in tqdm(tenants, desc="Rotating keys", unit="tenant", disable=options["no_progress"] or None):
                rotated += len(signing_keys_rotate(actor=SYSTEM, tenant=tenant, algorithms=algorithms))
                pruned += signing_keys_prune(tenant=tenant)
        self.stdout.write(
            self.style.SUCCESS(
                f"Rotated {rotated} key(s) in {len(tenants)} tenant(s); removed {pruned} expired retired key(s)."
            )
        )
