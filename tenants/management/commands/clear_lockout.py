from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from tenants.actors import SYSTEM
from tenants.cli import tenant_or_error
from tenants.lockout import lockout_clear
from tenants.models import User


class Command(BaseCommand):
    help = (
        "Lift a sign-in lockout: forget the failed attempts for a username or email in a tenant "
        "(for an existing user, both their username and their email)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("identifier", nargs="?", default="", help="The username or email that is locked out.")
        parser.add_argument("--tenant", required=True, help="The tenant (slug).")
        parser.add_argument("--ip", default="", help="Also lift the limit on this client IP address.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_or_error(options["tenant"])
        identifier = (options["identifier"] or "").strip()
        if not identifier and not options["ip"]:
            raise CommandError("Name a username or email (or --ip ADDRESS).")
        identifiers = [identifier] if identifier else []
        if identifier:
            match = (
                Q(username__iexact=identifier) | Q(email=identifier.lower())
                if "@" in identifier
                else Q(username__iexact=identifier)
            )
            for found in User.objects.filter(match, tenant=tenant)[:2]:
                identifiers += [found.username, found.email]
        locked = lockout_clear(actor=SYSTEM, tenant=tenant, identifiers=identifiers, ip=options["ip"])
        what = f"'{identifier}'" if identifier else ""
        if options["ip"]:
            what = f"{what} and IP {options['ip']}" if what else f"IP {options['ip']}"
        state = "it was locked out" if locked else "it was not locked out"
        self.stdout.write(
            self.style.SUCCESS(f"Cleared the sign-in lockout for {what} in tenant {tenant.slug} ({state}).")
        )
