import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from orgs.tree.models import Membership
from orgs.tree.selectors import organization_get
from orgs.tree.services import membership_add, organization_user_create
from tenants.actors import SYSTEM
from tenants.cli import command_errors, lookup_or_error, tenant_or_error
from tenants.models import User
from tenants.services import user_create


class Command(BaseCommand):
    help = (
        "Create a user in a tenant. With --org, the user is created in that organization "
        "(its home); further --member-of organizations add memberships (parent first)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="Password. Omit to be prompted; use --no-password for none.")
        parser.add_argument("--no-password", action="store_true", help="Create without a usable password.")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--org", help="Home organization (identifier or id): the user is created there.")
        parser.add_argument(
            "--role",
            default=Membership.Role.MEMBER,
            choices=Membership.Role.values,
            help="Role in --org (default member).",
        )
        parser.add_argument(
            "--member-of",
            action="append",
            default=[],
            metavar="ORG[:ROLE]",
            help="Also add to this organization (repeatable, parents before children).",
        )
        parser.add_argument("--tenant-admin", action="store_true", help="Make the user a tenant administrator.")
        parser.add_argument("--skip-password-validation", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_or_error(options["tenant"])
        password: str | None = options["password"]
        if options["no_password"]:
            password = None
        elif password is None:
            if not options.get("interactive", True):
                raise CommandError("password: give --password or --no-password.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("password: the two passwords differ.")

        def find(key: str) -> Any:
            return lookup_or_error(
                lambda: organization_get(tenant=tenant, key=key),
                f"org: no organization '{key}' in tenant '{tenant.slug}'.",
            )

        home = find(options["org"]) if options["org"] else None
        extra = []
        for spec in options["member_of"]:
            key, _, role = spec.partition(":")
            extra.append((find(key), role or Membership.Role.MEMBER))
        common = dict(
            username=options["username"],
            email=options["email"],
            password=password,
            first_name=options["first_name"],
            last_name=options["last_name"],
            validate_password_strength=not options["skip_password_validation"],
        )
        with command_errors(), transaction.atomic():
            user: User
            if home is not None:
                user = organization_user_create(actor=SYSTEM, organization=home, role=options["role"], **common)
            else:
                user = user_create(actor=SYSTEM, tenant=tenant, **common)
            if options["tenant_admin"]:
                user.is_tenant_admin = user.is_staff = True
                user.save(update_fields=["is_tenant_admin", "is_staff"])
            for org, role in extra:
                membership_add(actor=SYSTEM, organization=org, user=user, role=role)
        self.stdout.write(self.style.SUCCESS(f"Created user '{user.username}' in tenant '{tenant.slug}'."))
