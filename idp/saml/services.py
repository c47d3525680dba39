"""Writes on service providers: register (by hand or from metadata), update."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from idp.flow.attributes import custom_names
from idp.saml import crypto
from idp.saml.models import BINDING_POST, BINDING_REDIRECT, OPT_IN_ATTRIBUTES, RELEASABLE_ATTRIBUTES, ServiceProvider
from idp.saml.protocol import SpMetadata, read_sp_metadata
from idp.saml.selectors import service_providers_with_metadata_url
from idp.saml.xml import MAX_METADATA_BYTES, XMLRejected
from orgs.tree.models import Organization
from tenants.actors import Actor, is_tenant_admin
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant

METADATA_TIMEOUT_SECONDS = 10
EDITABLE = (
    "name",
    "acs",
    "slo",
    "signing_certificates",
    "encryption_certificate",
    "nameid_format",
    "attribute_release",
    "attribute_names",
    "org_name_source",
    "sign_response",
    "sign_assertion",
    "encrypt_assertion",
    "want_authn_requests_signed",
    "idp_initiated",
    "organization_required",
    "default_organization",
)


def _url_ok(url: str) -> bool:
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        return False
    return "#" not in url


def service_provider_validate(sp: ServiceProvider) -> None:
    """Every rule on a registration, raised as one ValidationError keyed by field."""
    errors: dict[str, list[str]] = {}
    sp.entity_id = (sp.entity_id or "").strip()
    if not sp.entity_id or len(sp.entity_id) > 1024:
        errors["entity_id"] = ["An entity id is required (at most 1024 characters)."]
    elif ServiceProvider.objects.filter(tenant_id=sp.tenant_id, entity_id=sp.entity_id).exclude(pk=sp.pk).exists():
        errors["entity_id"] = [f"A service provider '{sp.entity_id}' already exists in this tenant."]
    acs = sp.acs if isinstance(sp.acs, list) else []
    if not any(isinstance(a, dict) and a.get("binding") == BINDING_POST for a in acs):
        errors["acs"] = ["At least one HTTP-POST assertion consumer service is required."]
    for entry in acs:
        if not isinstance(entry, dict) or not _url_ok(str(entry.get("url", ""))):
            errors.setdefault("acs", []).append(f"{entry!r}: each entry needs an absolute http(s) 'url'.")
        elif entry.get("binding") not in (BINDING_POST, BINDING_REDIRECT, None) and "artifact" not in str(
            entry.get("binding")
        ):
            errors.setdefault("acs", []).append(f"{entry['url']}: unknown binding.")
    for entry in sp.slo if isinstance(sp.slo, list) else []:
        if not isinstance(entry, dict) or not _url_ok(str(entry.get("url", ""))):
            errors.setdefault("slo", []).append(f"{entry!r}: each entry needs an absolute http(s) 'url'.")
    certs = sp.signing_certificates if isinstance(sp.signing_certificates, list) else None
    if certs is None:
        errors["signing_certificates"] = ["A list of PEM certificates."]
    else:
        try:
            sp.signing_certificates = [crypto.pem(crypto.load_certificate(c)) for c in certs if str(c).strip()]
        except (ValueError, TypeError):
            errors["signing_certificates"] = ["Not a PEM certificate."]
    if sp.encryption_certificate.strip():
        try:
            sp.encryption_certificate = crypto.pem(crypto.load_certificate(sp.encryption_certificate))
        except ValueError:
            errors["encryption_certificate"] = ["Not a PEM certificate."]
    if sp.encrypt_assertion and not sp.encryption_certificate.strip():
        errors["encrypt_assertion"] = ["Encrypting assertions needs the SP's encryption certificate."]
    if sp.want_authn_requests_signed and not sp.signing_certificates:
        errors["want_authn_requests_signed"] = ["Requiring signed requests needs the SP's signing certificate."]
    # The tenant's custom attributes (idp.flow.attributes) may be released too, by their names.
    known = (*RELEASABLE_ATTRIBUTES, *OPT_IN_ATTRIBUTES, *(custom_names(sp.tenant_id) if sp.tenant_id else []))
    unknown = [a for a in (sp.attribute_release or []) if a not in known]
    if unknown:
        errors["attribute_release"] = [f"Unknown attributes: {', '.join(map(str, unknown))}."]
    if not isinstance(sp.attribute_names, dict) or any(
        k not in known or not isinstance(v, dict | str) for k, v in (sp.attribute_names or {}).items()
    ):
        errors["attribute_names"] = ['Use {"<attribute>": {"name": "...", "friendly_name": "..."}}.']
    if sp.nameid_format not in ServiceProvider.NameIDFormat.values:
        errors["nameid_format"] = ["Unknown NameID format."]
    if sp.default_organization_id is not None and (
        sp.default_organization is None or sp.default_organization.tenant_id != sp.tenant_id
    ):
        errors["default_organization"] = ["The default organization must belong to this tenant."]
    if errors:
        raise ValidationError(errors)


def service_provider_create(*, actor: Actor, tenant: Tenant, entity_id: str, **fields: Any) -> ServiceProvider:
    if not is_tenant_admin(actor, tenant):
        raise PermissionDenied("Only a tenant administrator can register service providers.")
    unknown = set(fields) - set(EDITABLE) - {"metadata_source"}
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    sp = ServiceProvider(tenant=tenant, entity_id=entity_id, **fields)
    service_provider_validate(sp)
    with transaction.atomic():
        sp.save()
        audit_record(
            actor=actor, tenant=tenant, action=AuditAction.SAML_SP_CREATE, target=sp, data={"entity_id": sp.entity_id}
        )
    return sp


def service_provider_update(*, actor: Actor, sp: ServiceProvider, **fields: Any) -> ServiceProvider:
    if not is_tenant_admin(actor, sp.tenant):
        raise PermissionDenied("Only a tenant administrator can change service providers.")
    for name, value in fields.items():
        if name not in EDITABLE and name not in ("entity_id", "metadata_source"):
            raise TypeError(f"unknown field {name}")
        setattr(sp, name, value)
    service_provider_validate(sp)
    with transaction.atomic():
        sp.save()
        audit_record(
            actor=actor, tenant=sp.tenant, action=AuditAction.SAML_SP_UPDATE, target=sp, data={"fields": sorted(fields)}
        )
    return sp


def fields_from_metadata(meta: SpMetadata) -> dict[str, Any]:
    return {
        "acs": meta.acs,
        "slo": meta.slo,
        "signing_certificates": meta.signing_certificates,
        "encryption_certificate": meta.encryption_certificate,
        "want_authn_requests_signed": meta.authn_requests_signed and bool(meta.signing_certificates),
    }


def service_provider_from_metadata(
    *,
    actor: Actor,
    tenant: Tenant,
    metadata: bytes,
    source: str = "",
    default_organization: Organization | None = None,
    **fields: Any,
) -> tuple[ServiceProvider, bool]:
    """Register an SP from its metadata, or refresh the endpoints and keys of an existing one.

    Returns (sp, created).
    """
    try:
        meta = read_sp_metadata(metadata)
    except (XMLRejected, ValueError) as exc:
        raise ValidationError({"metadata": [f"Unusable SP metadata: {exc}"]}) from exc
    values = {**fields_from_metadata(meta), **fields, "metadata_source": source[:1024]}
    if default_organization is not None:
        values["default_organization"] = default_organization
    existing = ServiceProvider.objects.filter(tenant=tenant, entity_id=meta.entity_id).first()
    if existing is not None:
        return service_provider_update(actor=actor, sp=existing, **values), False
    return service_provider_create(actor=actor, tenant=tenant, entity_id=meta.entity_id, **values), True


def fetch_metadata(url: str, *, timeout: float = METADATA_TIMEOUT_SECONDS, limit: int = MAX_METADATA_BYTES) -> bytes:
    """GET SP metadata: http(s) only, no redirects, a timeout and a size cap."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"metadata_url": ["Use an absolute http(s) URL."]})
    try:
        response = requests.get(url, timeout=timeout, stream=True, allow_redirects=False)
    except requests.RequestException as exc:
        raise ValidationError({"metadata_url": [f"Could not fetch metadata: {exc.__class__.__name__}"]}) from exc
    with response:
        if response.status_code != 200:
            raise ValidationError({"metadata_url": [f"Metadata URL answered HTTP {response.status_code}."]})
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise ValidationError({"metadata_url": [f"Metadata larger than {limit} bytes."]})
            chunks.append(chunk)
    return b"".join(chunks)


def _metadata_values(sp: ServiceProvider) -> dict[str, Any]:
    """Fetch and read the SP's metadata URL; the fields it sets. Raises ValidationError in plain words."""
    url = sp.metadata_source.strip()
    if not url.startswith(("https://", "http://")):
        raise ValidationError({"metadata_source": ["Only service providers registered from an http(s) URL refresh."]})
    data = fetch_metadata(url, timeout=METADATA_TIMEOUT_SECONDS)
    try:
        meta = read_sp_metadata(data)
    except (XMLRejected, ValueError) as exc:
        raise ValidationError({"metadata": [f"Unusable SP metadata: {exc}"]}) from exc
    if meta.entity_id != sp.entity_id:
        raise ValidationError({"metadata": [f"The metadata describes '{meta.entity_id[:200]}', not this application."]})
    values = fields_from_metadata(meta)
    # A refresh never relaxes what an administrator required.
    values["want_authn_requests_signed"] = sp.want_authn_requests_signed or values["want_authn_requests_signed"]
    return values


def _plain(exc: ValidationError) -> str:
    return " ".join(exc.messages)[:300]


def service_provider_refresh_metadata(*, actor: Actor, sp: ServiceProvider) -> bool:
    """Fetch the SP's metadata URL again and apply its endpoints and keys.

    On any failure (network, HTTP status, size, XML, another entity, validation) the
    registration keeps its data and ``metadata_error`` says why, for the admin. Audited
    either way. Returns True when the metadata was applied.
    """
    if not is_tenant_admin(actor, sp.tenant):
        raise PermissionDenied("Only a tenant administrator can refresh service providers.")
    error = ""
    try:
        values = _metadata_values(sp)
    except ValidationError as exc:
        values, error = {}, _plain(exc)
    changed: list[str] = []
    with transaction.atomic():
        row = ServiceProvider.objects.select_for_update().get(pk=sp.pk, tenant_id=sp.tenant_id)
        before = {name: getattr(row, name) for name in values}
        if values:
            for name, value in values.items():
                setattr(row, name, value)
            try:
                service_provider_validate(row)
            except ValidationError as exc:
                error = _plain(exc)
                row = ServiceProvider.objects.get(pk=sp.pk)  # the unchanged registration
        if error:
            row.metadata_error = error
            row.save(update_fields=["metadata_error"])
        else:
            changed = sorted(name for name in values if before[name] != getattr(row, name))
            row.metadata_fetched_at, row.metadata_error = timezone.now(), ""
            row.save(update_fields=[*values, "metadata_fetched_at", "metadata_error"])
        audit_record(
            actor=actor,
            tenant=row.tenant,
            action=AuditAction.SAML_SP_METADATA,
            target=row,
            data={"ok": not error, "changed": changed, "error": error},
        )
    for name in (*values, "metadata_fetched_at", "metadata_error"):
        setattr(sp, name, getattr(row, name))
    return not error


def service_providers_refresh_metadata(*, actor: Actor, tenant: Tenant | None = None) -> dict[str, int]:
    """Refresh every SP registered from a metadata URL (one tenant, or all); one failure stops nothing."""
    counts = {"ok": 0, "failed": 0}
    for sp in service_providers_with_metadata_url(tenant=tenant).select_related("tenant"):
        counts["ok" if service_provider_refresh_metadata(actor=actor, sp=sp) else "failed"] += 1
    return counts


__all__: Sequence[str] = (
    "fetch_metadata",
    "service_provider_create",
    "service_provider_delete",
    "service_provider_from_metadata",
    "service_provider_refresh_metadata",
    "service_providers_refresh_metadata",
    "service_provider_update",
    "service_provider_validate",
)


def service_provider_delete(*, actor: Actor, sp: ServiceProvider) -> None:
    """Remove a service provider registration (its sessions end at their next request)."""
    if not is_tenant_admin(actor, sp.tenant):
        raise PermissionDenied("Only a tenant administrator can remove service providers.")
    with transaction.atomic():
        audit_record(
            actor=actor,
            tenant=sp.tenant,
            action=AuditAction.SAML_SP_DELETE,
            target=sp,
            data={"entity_id": sp.entity_id},
        )
        sp.delete()
