from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from idp.oidc.models import Application
from idp.oidc.services import GRANT_TYPES, application_create
from tenants.actors import SYSTEM
from tenants.cli import command_errors, tenant_or_error


class Command(BaseCommand):
    help = "Register an OIDC client in a tenant. Prints the client secret once (it is stored hashed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id")
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--public", action="store_true", help="A public client (SPA, native): no secret, PKCE required."
        )
        parser.add_argument("--grant", choices=sorted(GRANT_TYPES), default="authorization_code")
        parser.add_argument("--redirect-uri", action="append", default=[], help="Exact redirect URI (repeatable).")
        parser.add_argument(
            "--post-logout-uri", action="append", default=[], help="Post-logout redirect URI (repeatable)."
        )
        parser.add_argument("--alg", choices=["RS256", "ES256"], default="RS256", help="ID token signing algorithm.")
        parser.add_argument("--org-required", action="store_true", help="Refuse users with no eligible organization.")
        parser.add_argument("--first-party", action="store_true", help="Skip the consent page.")
        parser.add_argument("--opaque-access-tokens", action="store_true", help="Opaque instead of JWT access tokens.")
        parser.add_argument("--secret", help="Use this client secret instead of generating one.")
        parser.add_argument(
            "--backchannel-logout-uri", default="", help="Where Canopy POSTs logout tokens (back-channel logout)."
        )
        parser.add_argument(
            "--backchannel-logout-session-required", action="store_true", help="Put sid in every logout token."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_or_error(options["tenant"])
        with command_errors():
            app, secret = application_create(
                actor=SYSTEM,
                tenant=tenant,
                client_id=options["client_id"],
                name=options["name"],
                client_type=Application.CLIENT_PUBLIC if options["public"] else Application.CLIENT_CONFIDENTIAL,
                grant_type=options["grant"],
                redirect_uris=options["redirect_uri"],
                post_logout_redirect_uris=options["post_logout_uri"],
                algorithm=options["alg"],
                organization_required=options["org_required"],
                first_party=options["first_party"],
                access_token_format=Application.TokenFormat.OPAQUE
                if options["opaque_access_tokens"]
                else Application.TokenFormat.JWT,
                client_secret=options["secret"],
                backchannel_logout_uri=options["backchannel_logout_uri"],
                backchannel_logout_session_required=options["backchannel_logout_session_required"],
            )
        self.stdout.write(
            self.style.SUCCESS(f"Created {app.client_type} client '{app.client_id}' in tenant '{tenant.slug}'.")
        )
        if secret:
            self.stdout.write(f"client_secret: {secret}")
