"""Writes on OIDC clients."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from oauth2_provider.generators import generate_client_secret

from idp.oidc.models import Application
from tenants.actors import Actor, is_tenant_admin
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant

GRANT_TYPES = {
    "authorization_code": Application.GRANT_AUTHORIZATION_CODE,
    "client_credentials": Application.GRANT_CLIENT_CREDENTIALS,
}


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a redirect URI, in plain words, or None when it can.

    The one rule for every way a client is registered (API, admin, ``create_oidc_client``):
    URIs are matched exactly (no wildcards, no fragment) and use https, or http only on the
    loopback interface (native apps and local development, RFC 8252 section 7.3).
    """
    if "\x00" in uri:
        return "The URI must not contain NUL characters."
    if "*" in uri:
        return f"'{uri}': redirect URIs are matched exactly; wildcards are not allowed."
    try:
        URLValidator(schemes=["https", "http"])(uri)
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except (ValidationError, ValueError):
        return f"'{uri}' is not an absolute http(s) URL."
    if parts.fragment or "#" in uri:
        return f"'{uri}' must not contain a fragment."
    allowed = (parts.scheme == "https" and host) or (parts.scheme == "http" and host in LOOPBACK_HOSTS)
    return None if allowed else f"'{uri}': use https, or http only on the loopback interface (127.0.0.1)."


def validate_redirect_uris(field: str, uris: Sequence[str]) -> list[str]:
    """The cleaned, non-empty URIs; every problem of the list as a field error."""
    cleaned, problems = [], []
    for raw in uris:
        uri = str(raw).strip()
        if not uri:
            continue
        problem = redirect_uri_problem(uri)
        if problem:
            problems.append(problem)
        cleaned.append(uri)
    if problems:
        raise ValidationError({field: problems})
    return cleaned


def clean_backchannel_logout_uri(uri: object) -> str:
    """The client's back-channel logout URI (blank: none), under the redirect-URI rule."""
    cleaned = str(uri or "").strip()
    if not cleaned:
        return ""
    problem = redirect_uri_problem(cleaned)
    if problem:
        raise ValidationError({"backchannel_logout_uri": [problem]})
    return cleaned


def application_create(
    *,
    actor: Actor,
    tenant: Tenant,
    client_id: str,
    name: str = "",
    client_type: str = Application.CLIENT_CONFIDENTIAL,
    grant_type: str = "authorization_code",
    redirect_uris: Sequence[str] = (),
    post_logout_redirect_uris: Sequence[str] = (),
    algorithm: str = "RS256",
    organization_required: bool = False,
    first_party: bool = False,
    access_token_format: str = Application.TokenFormat.JWT,
    client_secret: str | None = None,
    backchannel_logout_uri: str = "",
    backchannel_logout_session_required: bool = False,
) -> tuple[Application, str]:
    """Register a client. Returns it and its plain secret (shown once; stored hashed)."""
    if not is_tenant_admin(actor, tenant):
        raise PermissionDenied("Only a tenant administrator can register OIDC clients.")
    errors: dict[str, list[str]] = {}
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > 100 or any(c.isspace() for c in client_id):
        errors["client_id"] = ["Use 1-100 characters without spaces."]
    elif Application.objects.filter(client_id=client_id).exists():
        errors["client_id"] = [f"A client with id '{client_id}' already exists."]
    if client_type not in (Application.CLIENT_CONFIDENTIAL, Application.CLIENT_PUBLIC):
        errors["client_type"] = ["Use 'confidential' or 'public'."]
    if grant_type not in GRANT_TYPES:
        errors["grant_type"] = [f"Use one of: {', '.join(GRANT_TYPES)}."]
    elif grant_type == "client_credentials" and client_type == Application.CLIENT_PUBLIC:
        errors["grant_type"] = ["A public client cannot use client credentials."]
    if algorithm not in ("RS256", "ES256"):
        errors["algorithm"] = ["Use RS256 or ES256."]
    if access_token_format not in Application.TokenFormat.values:
        errors["access_token_format"] = ["Use 'jwt' or 'opaque'."]
    try:
        redirects = validate_redirect_uris("redirect_uris", redirect_uris)
        logouts = validate_redirect_uris("post_logout_redirect_uris", post_logout_redirect_uris)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        redirects, logouts = [], []
    try:
        backchannel_logout_uri = clean_backchannel_logout_uri(backchannel_logout_uri)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if grant_type == "authorization_code" and not redirects and "redirect_uris" not in errors:
        errors["redirect_uris"] = ["An authorization-code client needs at least one redirect URI."]
    if errors:
        raise ValidationError(errors)
    secret = client_secret or generate_client_secret()
    if client_type == Application.CLIENT_PUBLIC:
        secret = ""
    with transaction.atomic():
        app = Application(
            tenant=tenant,
            client_id=client_id,
            name=name or client_id,
            client_type=client_type,
            authorization_grant_type=GRANT_TYPES[grant_type],
            redirect_uris=" ".join(redirects),
            post_logout_redirect_uris=" ".join(logouts),
            algorithm=algorithm,
            organization_required=organization_required,
            skip_authorization=first_party,
            access_token_format=access_token_format,
            client_secret=secret,
            hash_client_secret=True,
            backchannel_logout_uri=backchannel_logout_uri,
            backchannel_logout_session_required=backchannel_logout_session_required,
        )
        app.full_clean(exclude=["client_secret", "user"])
        app.save()
        audit_record(
            actor=actor,
            tenant=tenant,
            action=AuditAction.OIDC_CLIENT_CREATE,
            target=app,
            data={"client_id": client_id, "client_type": client_type, "grant_type": grant_type},
        )
    return app, secret


UPDATABLE = (
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "organization_required",
    "first_party",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
)


def application_update(*, actor: Actor, app: Application, **fields: object) -> Application:
    """Change a client's name, redirect URIs and sign-in rules (its id, type and grant stay)."""
    if not is_tenant_admin(actor, app.tenant):
        raise PermissionDenied("Only a tenant administrator can change OIDC clients.")
    unknown = set(fields) - set(UPDATABLE)
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    for field in ("redirect_uris", "post_logout_redirect_uris"):
        if field in fields:
            try:
                setattr(app, field, " ".join(validate_redirect_uris(field, fields[field])))  # type: ignore[arg-type]
            except ValidationError as exc:
                errors.update(exc.message_dict)
    if "backchannel_logout_uri" in fields:
        try:
            app.backchannel_logout_uri = clean_backchannel_logout_uri(fields["backchannel_logout_uri"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if (
        app.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
        and not app.redirect_uris.split()
        and "redirect_uris" not in errors
    ):
        errors["redirect_uris"] = ["An authorization-code client needs at least one redirect URI."]
    if errors:
        raise ValidationError(errors)
    if "name" in fields:
        app.name = str(fields["name"]).strip() or app.client_id
    if "organization_required" in fields:
        app.organization_required = bool(fields["organization_required"])
    if "first_party" in fields:
        app.skip_authorization = bool(fields["first_party"])
    if "backchannel_logout_session_required" in fields:
        app.backchannel_logout_session_required = bool(fields["backchannel_logout_session_required"])
    with transaction.atomic():
        app.full_clean(exclude=["client_secret", "user"])
        app.save()
        audit_record(
            actor=actor,
            tenant=app.tenant,
            action=AuditAction.OIDC_CLIENT_UPDATE,
            target=app,
            data={"fields": sorted(fields)},
        )
    return app


def application_rotate_secret(*, actor: Actor, app: Application) -> str:
    """A new generated secret for a confidential client; the old one stops working. Returned once."""
    if not is_tenant_admin(actor, app.tenant):
        raise PermissionDenied("Only a tenant administrator can rotate client secrets.")
    if app.client_type != Application.CLIENT_CONFIDENTIAL:
        raise ValidationError({"client_type": ["A public client has no secret to rotate."]})
    secret = generate_client_secret()
    with transaction.atomic():
        app.client_secret = secret
        app.hash_client_secret = True
        app.save(update_fields=["client_secret", "hash_client_secret", "updated"])
        audit_record(actor=actor, tenant=app.tenant, action=AuditAction.OIDC_CLIENT_ROTATE_SECRET, target=app, data={})
    return secret


def application_delete(*, actor: Actor, app: Application) -> None:
    """Remove a client with its tokens and grants (they cascade)."""
    if not is_tenant_admin(actor, app.tenant):
        raise PermissionDenied("Only a tenant administrator can delete OIDC clients.")
    with transaction.atomic():
        audit_record(
            actor=actor,
            tenant=app.tenant,
            action=AuditAction.OIDC_CLIENT_DELETE,
            target=app,
            data={"client_id": app.client_id},
        )
        app.delete()
