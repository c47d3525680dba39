"""Writes for federation: upstream IdPs, their domains, and the sign-in of an upstream identity.

Every write takes ``actor=``, validates before writing, runs in one transaction and records an
audit event. Client secrets are encrypted at rest and never logged or audited.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import dns.exception
import dns.resolver
import requests
from cryptography.fernet import MultiFernet
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from idp.federation.models import UpstreamDomain, UpstreamIdentity, UpstreamIdP
from orgs.inheritance.selectors import effective_section
from orgs.profiles.services import PROFILE_ATTRIBUTES, profile_value_provision
from orgs.tree.selectors import (
    MembershipOrigin,
    MembershipRole,
    memberships_of,
    organization_identifiers,
    organizations_by_identifiers,
)
from orgs.tree.services import membership_create, normalize_domain
from tenants.actors import SYSTEM, Actor, is_tenant_admin
from tenants.audit import AuditAction, audit_record
from tenants.keys import multi_fernet
from tenants.models import Tenant, User
from tenants.services import user_create

if TYPE_CHECKING:
    from orgs.tree.models import Organization

CHALLENGE_PREFIX = "_canopy-challenge."
# Attribute mapping: user fields (with their lengths) an upstream claim may fill, and organization
# profile attributes ("profile:<name>": a profile or custom attribute, stored per JIT organization).
USER_FIELDS = {"first_name": 150, "last_name": 150, "email": 254, "phone_number": 32, "username": 150}
DEFAULT_ATTRIBUTE_MAP = {"first_name": "given_name", "last_name": "family_name"}
PROFILE_PREFIX = "profile:"
MAX_PROFILE_ATTRIBUTE = 32
PHONE_RE = re.compile(r"^\+[0-9]{6,20}$")


class FederationRefused(Exception):
    """An upstream sign-in that must not go on; ``message`` is shown to the user in plain words."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


# --- client secrets at rest ----------------------------------------------------


def _fernet() -> MultiFernet:
    return multi_fernet(b"canopy-upstream-secrets")


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode("ascii") if secret else ""


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode("ascii")).decode() if token else ""


# --- upstream IdPs ----------------------------------------------------------------


def _require_admin(actor: Actor, tenant: Tenant) -> None:
    if not is_tenant_admin(actor, tenant):
        raise PermissionDenied("Only a tenant administrator can configure upstream identity providers.")


def upstream_idp_validate(idp: UpstreamIdP, *, jit_organizations: Iterable[Organization] = ()) -> None:
    """Field errors for an IdP about to be saved (also run by the admin form)."""
    errors: dict[str, list[str]] = {}
    if idp.organization_id is not None and idp.organization is not None and idp.organization.tenant_id != idp.tenant_id:
        errors["organization"] = ["The owning organization belongs to another tenant."]
    if idp.kind == UpstreamIdP.Kind.OIDC:
        if not idp.discovery_url and not (idp.issuer and idp.authorization_endpoint and idp.token_endpoint):
            errors["discovery_url"] = ["Give a discovery URL, or the issuer, authorization, token and JWKS endpoints."]
        if not idp.discovery_url and not idp.jwks_uri:
            errors.setdefault("jwks_uri", []).append("The JWKS URL is needed to check ID token signatures.")
        if not idp.client_id:
            errors["client_id"] = ["The client id registered at the upstream provider is required."]
        if "openid" not in idp.scopes.split():
            errors["scopes"] = ["The scopes must include 'openid'."]
    elif idp.kind == UpstreamIdP.Kind.SAML and not idp.saml_metadata:
        errors["saml_metadata"] = ["The partner's SAML metadata is required (or a metadata URL to fetch it from)."]
    if idp.jit_role not in MembershipRole.values:
        errors["jit_role"] = [f"Unknown role '{idp.jit_role}'. Use one of: {', '.join(MembershipRole.values)}."]
    for org in jit_organizations:
        if org.tenant_id != idp.tenant_id:
            errors.setdefault("jit_organizations", []).append(f"'{org.identifier}' belongs to another tenant.")
    if not isinstance(idp.jit_claim_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in idp.jit_claim_map.items()
    ):
        errors["jit_claim_map"] = ['Give an object of claim value → organization identifier, e.g. {"sales": "acme"}.']
    else:
        known = organization_identifiers(tenant_id=idp.tenant_id)
        missing = sorted(v for v in idp.jit_claim_map.values() if v.lower() not in known)
        if missing:
            errors["jit_claim_map"] = [f"No organization of this tenant is called: {', '.join(missing)}."]
    map_errors = _attribute_map_errors(idp)
    if map_errors:
        errors["attribute_map"] = map_errors
    if errors:
        raise ValidationError(errors)


def _custom_attribute_names(tenant_id: int) -> set[str]:

    section = effective_section(tenant=tenant_id, organization=None, section="user_attributes").values
    return {str(a.get("name")) for a in section.get("custom") or [] if isinstance(a, dict)}


def _attribute_map_errors(idp: UpstreamIdP) -> list[str]:
    """What is wrong with ``attribute_map`` (user field or ``profile:<attribute>`` → upstream claim)."""
    mapping = idp.attribute_map
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        return [
            'Give an object of field → upstream claim, e.g. {"first_name": "given_name", "phone_number": "mobile"}.'
        ]
    errors = []
    known = None
    for target, claim in mapping.items():
        if not claim.strip():
            errors.append(f"'{target}': name the upstream claim or attribute.")
        if target.startswith(PROFILE_PREFIX):
            name = target[len(PROFILE_PREFIX) :]
            known = known if known is not None else _custom_attribute_names(idp.tenant_id) | set(PROFILE_ATTRIBUTES)
            if name not in known or len(name) > MAX_PROFILE_ATTRIBUTE:
                errors.append(f"'{name}' is not a profile or custom attribute of this tenant.")
        elif target not in USER_FIELDS:
            errors.append(
                f"'{target}' is not a user field. Use one of: {', '.join(USER_FIELDS)}, or profile:<attribute>."
            )
    return errors


def upstream_idp_create(
    *,
    actor: Actor,
    tenant: Tenant,
    slug: str,
    name: str,
    kind: str = UpstreamIdP.Kind.OIDC,
    client_secret: str = "",
    jit_organizations: Iterable[Organization] = (),
    domains: Iterable[str] = (),
    **fields: Any,
) -> UpstreamIdP:
    _require_admin(actor, tenant)
    orgs = list(jit_organizations)
    idp = UpstreamIdP(tenant=tenant, slug=slug, name=name, kind=kind, **fields)
    idp.client_secret_encrypted = encrypt_secret(client_secret)
    if kind == UpstreamIdP.Kind.SAML and idp.saml_metadata_url and not idp.saml_metadata:
        try:
            idp.saml_metadata, idp.saml_metadata_fetched_at = fetch_saml_metadata(idp.saml_metadata_url), timezone.now()
        except MetadataError as exc:
            raise ValidationError({"saml_metadata_url": [str(exc)]}) from exc
    upstream_idp_validate(idp, jit_organizations=orgs)
    with transaction.atomic():
        try:
            idp.save()
        except IntegrityError as exc:
            raise ValidationError({"slug": [f"An upstream identity provider '{slug}' already exists."]}) from exc
        idp.jit_organizations.set(orgs)
        audit_record(
            actor=actor,
            tenant=tenant,
            action=AuditAction.FEDERATION_IDP_CREATE,
            target=idp,
            data={"slug": slug, "kind": kind, "jit_organizations": [str(o.pk) for o in orgs]},
        )
        for domain in domains:
            domain_claim(actor=actor, idp=idp, domain=domain)
    return idp


def upstream_idp_set_secret(*, actor: Actor, idp: UpstreamIdP, client_secret: str) -> None:
    _require_admin(actor, idp.tenant)
    with transaction.atomic():
        idp.client_secret_encrypted = encrypt_secret(client_secret)
        idp.save(update_fields=["client_secret_encrypted"])
        audit_record(actor=actor, tenant=idp.tenant, action=AuditAction.FEDERATION_IDP_SECRET, target=idp, data={})


# --- SAML partner metadata by URL ----------------------------------------------------

METADATA_MAX_BYTES = 2_000_000
METADATA_TIMEOUT = (5, 10)  # connect, read (seconds)
MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"


class MetadataError(Exception):
    """The partner's metadata could not be fetched or is not usable; the message is for the admin."""


def fetch_saml_metadata(url: str) -> str:
    """GET ``url`` with a bounded time and size; parse without DTDs or entities; one IdP entity in it."""
    if not url.startswith(("https://", "http://")):
        raise MetadataError("The metadata URL must start with https:// or http://.")
    try:
        with requests.get(url, timeout=METADATA_TIMEOUT, stream=True, allow_redirects=False) as response:
            if response.status_code != 200:
                raise MetadataError(f"The metadata URL answered HTTP {response.status_code}.")
            body = b""
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > METADATA_MAX_BYTES:
                    raise MetadataError(f"The metadata is larger than {METADATA_MAX_BYTES // 1_000_000} MB.")
    except requests.RequestException as exc:
        raise MetadataError(f"The metadata could not be fetched ({type(exc).__name__}).") from exc
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError) as exc:
        raise MetadataError(f"The metadata is not acceptable XML ({type(exc).__name__}).") from exc
    entities = [root] if root.tag == f"{{{MD_NS}}}EntityDescriptor" else root.findall(f"{{{MD_NS}}}EntityDescriptor")
    idps = [e for e in entities if e.find(f"{{{MD_NS}}}IDPSSODescriptor") is not None]
    if len(idps) != 1:
        raise MetadataError(f"The metadata must describe exactly one identity provider; it describes {len(idps)}.")
    return body.decode("utf-8")


def saml_metadata_refresh(*, actor: Actor, idp: UpstreamIdP) -> bool:
    """Fetch the partner's metadata again; on failure keep the last good one and record why."""
    _require_admin(actor, idp.tenant)
    try:
        text = fetch_saml_metadata(idp.saml_metadata_url)
        error = ""
    except MetadataError as exc:
        text, error = "", str(exc)
    with transaction.atomic():
        row = UpstreamIdP.objects.select_for_update().get(pk=idp.pk, tenant_id=idp.tenant_id)
        changed = bool(text) and text != row.saml_metadata
        if text:
            row.saml_metadata, row.saml_metadata_fetched_at = text, timezone.now()
        row.saml_metadata_error = error[:300]
        row.save(update_fields=["saml_metadata", "saml_metadata_fetched_at", "saml_metadata_error"])
        audit_record(
            actor=actor,
            tenant=row.tenant,
            action=AuditAction.FEDERATION_IDP_METADATA,
            target=row,
            data={"ok": not error, "changed": changed, "error": error[:300]},
        )
    idp.saml_metadata, idp.saml_metadata_fetched_at = row.saml_metadata, row.saml_metadata_fetched_at
    idp.saml_metadata_error = row.saml_metadata_error
    return not error


# --- domains -----------------------------------------------------------------------


def domain_claim(*, actor: Actor, idp: UpstreamIdP, domain: str) -> UpstreamDomain:
    """Claim a domain for an IdP, unverified, with a fresh DNS challenge token."""
    _require_admin(actor, idp.tenant)
    name = normalize_domain(domain)
    with transaction.atomic():
        existing = UpstreamDomain.objects.filter(tenant_id=idp.tenant_id, domain=name).select_related("idp").first()
        if existing is not None:
            raise ValidationError({"domain": [f"'{name}' is already claimed by '{existing.idp.name}'."]})
        try:
            with transaction.atomic():
                row = UpstreamDomain.objects.create(
                    tenant_id=idp.tenant_id, idp=idp, domain=name, verification_token=secrets.token_urlsafe(24)
                )
        except IntegrityError as exc:
            raise ValidationError({"domain": [f"'{name}' is already claimed in this tenant."]}) from exc
        audit_record(
            actor=actor,
            tenant=idp.tenant,
            action=AuditAction.FEDERATION_DOMAIN_CLAIM,
            target=row,
            data={"domain": name},
        )
    return row


def domain_challenge(domain: UpstreamDomain) -> tuple[str, str]:
    """The TXT record to publish: (name, value)."""
    return f"{CHALLENGE_PREFIX}{domain.domain}", domain.verification_token


def _resolver() -> Any:

    configured = str(getattr(settings, "CANOPY_DNS_RESOLVER", "") or "")
    if not configured:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    host, _, port = configured.rpartition(":") if configured.count(":") == 1 else (configured, "", "")
    resolver.nameservers = [host]
    resolver.port = int(port) if port else 53
    return resolver


def _txt_values(name: str) -> list[str]:

    try:
        answer = _resolver().resolve(name, "TXT", lifetime=float(getattr(settings, "CANOPY_DNS_TIMEOUT", 5)))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise LookupError(f"The DNS lookup of {name} failed ({type(exc).__name__}). Try again later.") from exc
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


def domain_check_dns(*, actor: Actor, domain: UpstreamDomain) -> bool:
    """Look up ``_canopy-challenge.<domain>`` TXT; verified when one value equals the token."""
    _require_admin(actor, domain.idp.tenant)
    name, token = domain_challenge(domain)
    try:
        values = _txt_values(name)
        ok = any(secrets.compare_digest(v.strip(), token) for v in values)
        why = "" if ok else f"No TXT record {name} with the expected value was found."
    except LookupError as exc:
        ok, why = False, str(exc)
    with transaction.atomic():
        if ok and not domain.verified:
            domain.verified, domain.verified_at, domain.verified_how = True, timezone.now(), "dns"
        domain.last_check = why[:300]
        domain.save(update_fields=["verified", "verified_at", "verified_how", "last_check"])
        audit_record(
            actor=actor,
            tenant=domain.idp.tenant,
            action=AuditAction.FEDERATION_DOMAIN_CHECK,
            target=domain,
            data={"domain": domain.domain, "verified": domain.verified},
        )
    return ok


def domain_recheck(*, domain: UpstreamDomain) -> bool:
    """The periodic re-check of a DNS-verified domain: a record that disappeared ends the verification.

    A lookup that fails (timeout, server error) changes nothing but the note: a DNS outage must not
    stop partners signing in. Manually verified domains have no record to look for.
    """
    if not domain.verified or domain.verified_how != "dns":
        return domain.verified
    name, token = domain_challenge(domain)
    now = timezone.now()
    try:
        still = any(secrets.compare_digest(v.strip(), token) for v in _txt_values(name))
    except LookupError as exc:
        UpstreamDomain.objects.filter(pk=domain.pk).update(last_checked_at=now, last_check=f"Re-check: {exc}"[:300])
        return True
    with transaction.atomic():
        domain.last_checked_at = now
        if still:
            domain.last_check = ""
            domain.save(update_fields=["last_checked_at", "last_check"])
            return True
        domain.verified, domain.verified_at, domain.verified_how = False, None, ""
        domain.last_check = (
            f"Unverified by the re-check on {now:%Y-%m-%d %H:%M} UTC: no TXT record {name} with the expected value. "
            "Publish it again, then check."
        )[:300]
        domain.save(update_fields=["verified", "verified_at", "verified_how", "last_check", "last_checked_at"])
        audit_record(
            actor=SYSTEM,
            tenant=domain.idp.tenant,
            action=AuditAction.FEDERATION_DOMAIN_UNVERIFIED,
            target=domain,
            data={"domain": domain.domain, "reason": "txt-record-gone"},
        )
    return False


def domain_set_verified(*, actor: Actor, domain: UpstreamDomain, verified: bool) -> UpstreamDomain:
    """Manual verification (or revocation) by a tenant administrator."""
    _require_admin(actor, domain.idp.tenant)
    with transaction.atomic():
        domain.verified = verified
        domain.verified_at = timezone.now() if verified else None
        domain.verified_how = "manual" if verified else ""
        domain.last_check = "" if verified else "Marked unverified by an administrator."
        domain.save(update_fields=["verified", "verified_at", "verified_how", "last_check"])
        audit_record(
            actor=actor,
            tenant=domain.idp.tenant,
            action=AuditAction.FEDERATION_DOMAIN_VERIFY,
            target=domain,
            data={"domain": domain.domain, "verified": verified},
        )
    return domain


# --- selectors ---------------------------------------------------------------------


def idp_for_identifier(*, tenant: Tenant, identifier: str) -> UpstreamIdP | None:
    """The enabled IdP whose *verified* domain matches ``user@domain``, else None."""
    local, at, domain = identifier.strip().rpartition("@")
    if not at or not local or not domain:
        return None
    try:
        name = normalize_domain(domain)
    except ValidationError:
        return None
    row = (
        UpstreamDomain.objects.filter(tenant=tenant, domain=name, verified=True, idp__enabled=True)
        .select_related("idp")
        .first()
    )
    return row.idp if row is not None else None


def button_idps(*, tenant: Tenant) -> list[UpstreamIdP]:
    """IdPs offered as "Sign in with …" buttons: enabled, with a button, and no domain claim.

    A domain IdP is reached by typing an address in its (verified) domain; until it is verified
    it does nothing at all.
    """
    return list(
        UpstreamIdP.objects.filter(tenant=tenant, enabled=True, show_button=True)
        .filter(domains__isnull=True)
        .order_by("name")
    )


# --- upstream sign-in: link or provision ------------------------------------------


def _email_domain_verified(idp: UpstreamIdP, email: str) -> bool:
    _, _, domain = email.rpartition("@")
    try:
        name = normalize_domain(domain)
    except ValidationError:
        return False
    return UpstreamDomain.objects.filter(idp=idp, domain=name, verified=True).exists()


def _jit_organizations(idp: UpstreamIdP, claims: dict[str, Any]) -> list[Organization]:
    """The organizations this identity belongs in: the fixed ones and the mapped claim values.

    Anything outside the IdP's tenant refuses the sign-in (it can only come from a bad row).
    """
    orgs: dict[Any, Organization] = {o.pk: o for o in idp.jit_organizations.all()}
    if idp.jit_claim:
        raw = claims.get(idp.jit_claim)
        values = raw if isinstance(raw, list) else [raw] if raw is not None else []
        mapping = {str(k): str(v) for k, v in (idp.jit_claim_map or {}).items()}
        wanted = {mapping[str(v)].lower() for v in values if str(v) in mapping}
        if wanted:
            orgs.update({o.pk: o for o in organizations_by_identifiers(tenant_id=idp.tenant_id, identifiers=wanted)})
    for org in orgs.values():
        if org.tenant_id != idp.tenant_id:
            raise FederationRefused(
                "This sign-in is set up to add you to an organization that does not belong here. "
                "Ask your administrator to correct the identity provider's settings.",
                "jit-foreign-organization",
            )
    return sorted(orgs.values(), key=lambda o: o.path)


def _add_memberships(idp: UpstreamIdP, user: User, orgs: list[Organization]) -> list[str]:
    added = []
    have = {membership.organization_id for membership in memberships_of(user=user, tenant=idp.tenant)}
    for org in orgs:
        if org.pk in have:
            continue
        try:
            membership_create(organization=org, user=user, role=idp.jit_role, origin=MembershipOrigin.JIT)
        except ValidationError as exc:
            raise FederationRefused(
                "Your account could not be added to your organization. Ask your administrator to check "
                "the identity provider's organization settings.",
                "jit-membership",
            ) from exc
        have.add(org.pk)
        added.append(str(org.pk))
    return added


def _unique_username(tenant: Tenant, base: str) -> str:
    base = base[:140] or "user"
    candidate, n = base, 1
    while User.objects.filter(tenant=tenant, username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def mapped_attributes(idp: UpstreamIdP, claims: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(user field → value, profile attribute → value) from the claims, per the IdP's mapping.

    A multi-valued attribute gives its first value; empty or malformed values are left out, so a
    claim the upstream stopped sending never blanks a field.
    """
    mapping = {**DEFAULT_ATTRIBUTE_MAP, **(idp.attribute_map if isinstance(idp.attribute_map, dict) else {})}
    fields: dict[str, str] = {}
    profile: dict[str, str] = {}
    for target, claim in mapping.items():
        raw = claims.get(str(claim))
        raw = raw[0] if isinstance(raw, list) and raw else raw
        if not isinstance(raw, str | int) or isinstance(raw, bool) or not str(raw).strip():
            continue
        value = str(raw).strip()
        if target.startswith(PROFILE_PREFIX):
            profile[target[len(PROFILE_PREFIX) :][:MAX_PROFILE_ATTRIBUTE]] = value[:500]
        elif target in USER_FIELDS:
            if target == "phone_number" and not PHONE_RE.match(value):
                continue
            fields[target] = value[: USER_FIELDS[target]]
    return fields, profile


def _apply_user_fields(user: User, fields: dict[str, str], *, email_verified: bool) -> list[str]:
    """Set the mapped fields that changed; email only when the upstream verified it, username only if free."""
    changed = []
    others = User.objects.filter(tenant=user.tenant).exclude(pk=user.pk)
    for field, raw in fields.items():
        value = raw.lower() if field == "email" else raw
        if field == "email" and (not email_verified or others.filter(email__iexact=value).exists()):
            continue
        if field == "username" and others.filter(username__iexact=value).exists():
            continue
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
    return changed


def _apply_profile_values(user: User, orgs: list[Organization], values: dict[str, str]) -> list[str]:
    """The organization's own values of mapped profile/custom attributes, in each JIT organization."""
    changed = []
    for org in orgs:
        for attribute, value in values.items():
            if profile_value_provision(organization=org, user=user, attribute=attribute, value=value):
                changed.append(f"{org.identifier}:{attribute}")
    return changed


def upstream_sign_in_user(*, idp: UpstreamIdP, claims: dict[str, Any]) -> User:
    """The local user for validated upstream claims: linked, linked now, or provisioned.

    Raises :class:`FederationRefused`; nothing is written then (one transaction).
    """
    subject = str(claims.get("sub") or "")
    if not subject:
        raise FederationRefused("Your identity provider did not say who you are.", "no-subject")
    email = str(claims.get("email") or "").strip()
    email_verified = claims.get("email_verified") is True
    tenant = idp.tenant
    with transaction.atomic():
        orgs = _jit_organizations(idp, claims)
        link = (
            UpstreamIdentity.objects.select_for_update().filter(idp=idp, subject=subject).select_related("user").first()
        )
        if link is not None:
            user = link.user
            if not user.is_active or user.tenant_id != tenant.pk:
                raise FederationRefused("This account is disabled. Ask your administrator.", "inactive")
            added: list[str] = []
            updated: list[str] = []
            if idp.sync_on_login:  # only then may the upstream change what is stored here
                fields, profile = mapped_attributes(idp, claims)
                updated = _apply_user_fields(user, fields, email_verified=email_verified)
                added = _add_memberships(idp, user, orgs)
                updated += _apply_profile_values(user, orgs, profile)
            link.last_login_at = timezone.now()
            link.save(update_fields=["last_login_at"])
            audit_record(
                actor=SYSTEM,
                tenant=tenant,
                action=AuditAction.FEDERATION_LOGIN,
                target=user,
                data={"idp": idp.slug, "memberships_added": added, "attributes_updated": updated},
            )
            return user
        existing = User.objects.filter(tenant=tenant, email__iexact=email).first() if email else None
        if existing is not None:
            if idp.linking != UpstreamIdP.Linking.LINK_VERIFIED_EMAIL:
                raise FederationRefused(
                    "An account with your email address already exists here, and this identity provider may not "
                    "sign in to it. Ask your administrator.",
                    "linking-refused",
                )
            if not email_verified or not _email_domain_verified(idp, email):
                raise FederationRefused(
                    "An account with your email address already exists here, but your identity provider did not "
                    "confirm that the address is yours, so you cannot sign in to it this way. Ask your administrator.",
                    "email-unverified",
                )
            if not existing.is_active:
                raise FederationRefused("This account is disabled. Ask your administrator.", "inactive")
            user, action = existing, AuditAction.FEDERATION_LINK
        else:
            if not idp.jit_enabled:
                raise FederationRefused(
                    "There is no account for you here yet, and this identity provider does not create them. "
                    "Ask your administrator.",
                    "no-account",
                )
            fields, _ = mapped_attributes(idp, claims)
            base = fields.get("username") or (email if email and email_verified else f"{idp.slug}-{subject}")
            user = user_create(
                actor=SYSTEM,
                tenant=tenant,
                username=_unique_username(tenant, base),
                email=email if email_verified else "",
                password=None,
                first_name=fields.get("first_name", ""),
                last_name=fields.get("last_name", ""),
            )
            _apply_user_fields(
                user, {k: v for k, v in fields.items() if k == "phone_number"}, email_verified=email_verified
            )
            action = AuditAction.FEDERATION_JIT_CREATE
        UpstreamIdentity.objects.create(
            tenant=tenant,
            idp=idp,
            subject=subject,
            user=user,
            email=email if email_verified else "",
            last_login_at=timezone.now(),
        )
        added = _add_memberships(idp, user, orgs)
        if action == AuditAction.FEDERATION_JIT_CREATE:
            _apply_profile_values(user, orgs, mapped_attributes(idp, claims)[1])
        audit_record(
            actor=SYSTEM,
            tenant=tenant,
            action=action,
            target=user,
            data={"idp": idp.slug, "memberships_added": added},
        )
    return user


# --- updates and removals (management API) ----------------------------------------------

IDP_UPDATABLE = (
    "name",
    "enabled",
    "show_button",
    "issuer",
    "discovery_url",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "client_id",
    "scopes",
    "use_pkce",
    "saml_metadata",
    "jit_enabled",
    "jit_claim",
    "jit_claim_map",
    "jit_role",
    "sync_on_login",
    "linking",
    "organization",
    "end_session_endpoint",
    "saml_metadata_url",
    "saml_sign_requests",
    "attribute_map",
)


def upstream_idp_update(
    *,
    actor: Actor,
    idp: UpstreamIdP,
    client_secret: str | None = None,
    jit_organizations: Iterable[Organization] | None = None,
    **fields: Any,
) -> UpstreamIdP:
    """Change an IdP's settings; a given ``client_secret`` replaces the stored one (never returned)."""
    _require_admin(actor, idp.tenant)
    unknown = set(fields) - set(IDP_UPDATABLE)
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    new_url = "saml_metadata_url" in fields and fields["saml_metadata_url"] != idp.saml_metadata_url
    for name, value in fields.items():
        setattr(idp, name, value)
    if new_url and idp.kind == UpstreamIdP.Kind.SAML and idp.saml_metadata_url and "saml_metadata" not in fields:
        # A new metadata URL is fetched now: a wrong one is a field error, not a silent later failure.
        try:
            idp.saml_metadata = fetch_saml_metadata(idp.saml_metadata_url)
        except MetadataError as exc:
            raise ValidationError({"saml_metadata_url": [str(exc)]}) from exc
        idp.saml_metadata_fetched_at, idp.saml_metadata_error = timezone.now(), ""
    orgs = list(jit_organizations) if jit_organizations is not None else None
    upstream_idp_validate(idp, jit_organizations=orgs or ())
    with transaction.atomic():
        if client_secret is not None:
            idp.client_secret_encrypted = encrypt_secret(client_secret)
        idp.save()
        if orgs is not None:
            idp.jit_organizations.set(orgs)
        changed = sorted([*fields, *(["client_secret"] if client_secret is not None else [])])
        changed += ["jit_organizations"] if orgs is not None else []
        audit_record(
            actor=actor,
            tenant=idp.tenant,
            action=AuditAction.FEDERATION_IDP_UPDATE,
            target=idp,
            data={"fields": changed},
        )
    return idp


def _delete_audited(
    *, actor: Actor, tenant: Tenant, row: UpstreamIdP | UpstreamDomain, action: AuditAction, data: dict[str, Any]
) -> None:
    """Record ``action`` on ``row`` (while it still exists) and delete it, in one transaction."""
    _require_admin(actor, tenant)
    with transaction.atomic():
        audit_record(actor=actor, tenant=tenant, action=action, target=row, data=data)
        row.delete()


def upstream_idp_delete(*, actor: Actor, idp: UpstreamIdP) -> None:
    """Remove an IdP with its domains and linked identities (the users stay)."""
    _delete_audited(
        actor=actor, tenant=idp.tenant, row=idp, action=AuditAction.FEDERATION_IDP_DELETE, data={"slug": idp.slug}
    )


def domain_release(*, actor: Actor, domain: UpstreamDomain) -> None:
    """Stop claiming a domain for an IdP."""
    tenant, data = domain.idp.tenant, {"domain": domain.domain}
    _delete_audited(actor=actor, tenant=tenant, row=domain, action=AuditAction.FEDERATION_DOMAIN_RELEASE, data=data)
