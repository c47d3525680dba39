"""Profile attributes: the ones a tenant offers (system ones plus the root's custom ones, which every
organization inherits) and the user stores that map them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from orgs.inheritance.schema import SYSTEM_ATTRIBUTES
from orgs.inheritance.selectors import effective_section
from orgs.profiles.models import UserStore, UserStoreAttributeMapping
from orgs.tree import permissions
from orgs.tree.models import Organization, identifier_validator
from tenants.actors import Actor
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant


def available_attributes(*, tenant: Tenant, organization: Organization | None) -> dict[str, dict[str, Any]]:
    """System attributes plus the root's custom ones (every organization inherits them)."""
    attrs = {name: {"type": a["type"], "multi": a["multi"], "custom": False} for name, a in SYSTEM_ATTRIBUTES.items()}
    custom = effective_section(tenant=tenant, organization=organization, section="user_attributes").values["custom"]
    for a in custom:
        attrs[a["name"]] = {"type": a["type"], "multi": a["multi_valued_supported"], "custom": True}
    return attrs


def user_store_create(*, actor: Actor, organization: Organization, name: str, description: str = "") -> UserStore:
    if not permissions.can_edit_organization(actor, organization):
        raise PermissionDenied("Only an owner of this organization (or above) or a tenant administrator adds stores.")
    name = (name or "").strip().lower()
    try:
        identifier_validator(name)
    except ValidationError as exc:
        raise ValidationError({"name": list(exc.messages)}) from exc
    with transaction.atomic():
        try:
            store = UserStore.objects.create(
                tenant_id=organization.tenant_id, organization=organization, name=name, description=description.strip()
            )
        except IntegrityError as exc:
            raise ValidationError(
                {"name": [f"'{organization.identifier}' already has a store named '{name}'."]}
            ) from exc
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.USER_STORE_CREATE,
            target=store,
            data={"name": name},
        )
    return store


def user_store_mapping_set(
    *,
    actor: Actor,
    store: UserStore,
    attribute: str,
    mapped_to: str | None = None,
    multi_valued: bool = False,
    disabled: bool = False,
) -> UserStoreAttributeMapping:
    """Map an inherited attribute in one of the organization's stores (multi-valued where supported)."""
    organization = store.organization
    if not permissions.can_edit_organization(actor, organization):
        raise PermissionDenied("Only an owner of this organization (or above) or a tenant administrator maps stores.")
    attrs = available_attributes(tenant=organization.tenant, organization=organization)
    errors: dict[str, list[str]] = {}
    if attribute not in attrs:
        errors["attribute"] = [
            f"'{attribute}' is not a system attribute or a custom attribute of the root; "
            "only the root creates custom attributes."
        ]
    elif multi_valued and not attrs[attribute]["multi"]:
        errors["multi_valued"] = [f"'{attribute}' does not support multiple values."]
    mapped = (mapped_to or attribute).strip()
    if not mapped or len(mapped) > 128:
        errors["mapped_to"] = ["Name the store's attribute (at most 128 characters)."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        mapping, _ = UserStoreAttributeMapping.objects.update_or_create(
            store=store,
            attribute=attribute,
            defaults={
                "tenant_id": store.tenant_id,
                "mapped_to": mapped,
                "multi_valued": multi_valued,
                "disabled": disabled,
            },
        )
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.USER_STORE_MAPPING,
            target=mapping,
            data={"attribute": attribute, "mapped_to": mapped, "multi_valued": multi_valued, "disabled": disabled},
        )
    return mapping
