"""Attribute values of (shared) users per organization, by the tenant's source mode.

A profile lives once (the ``User`` row: its managing, "origin" values). The tenant root
chooses per profile attribute (``user_attributes.shared_value_sources``, root-only) where the
value comes from when an organization is selected:

- ``from-origin`` (the default): the user record's value; organizations cannot set one.
- ``from-shared-profile``: the selected organization's own value
  (``OrganizationProfileValue``) if it set one, else the origin value.
- ``first-found-in-hierarchy``: the nearest value walking up from the selected organization
  through its ancestors, else the origin value.

``name`` is an attribute of its own; when it resolves to the origin, it is composed from the
resolved given and family names (so a shared-profile given name shows in ``name`` too).
Values are set per organization for any member of it (shared or not); ``resolved_profile``
costs one query for the values of the lineage plus the (cached) settings read.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from orgs.inheritance.selectors import effective_section
from orgs.profiles.models import OrganizationProfileValue
from orgs.tree import permissions
from orgs.tree.models import Membership, Organization
from tenants.actors import Actor
from tenants.audit import AuditAction, audit_record
from tenants.models import User
from tenants.preconditions import ExpectedETag, lock_unchanged

FROM_ORIGIN = "from-origin"
FROM_SHARED_PROFILE = "from-shared-profile"
FIRST_FOUND = "first-found-in-hierarchy"
PROFILE_ATTRIBUTES = ("given_name", "family_name", "name", "email")
MAX_VALUE_LENGTH = 500


def source_modes(*, tenant_id: int) -> dict[str, str]:
    """Attribute -> mode for every profile attribute (``from-origin`` where the root sets none)."""

    data = effective_section(tenant=tenant_id, organization=None, section="user_attributes").values
    chosen = data.get("shared_value_sources") or {}
    return {attr: chosen.get(attr, FROM_ORIGIN) for attr in PROFILE_ATTRIBUTES}


def origin_profile(*, user: User) -> dict[str, str]:
    return {
        "given_name": user.first_name,
        "family_name": user.last_name,
        "name": user.get_full_name(),
        "email": user.email,
    }


def resolved_profile(*, user: User, organization: Organization | None) -> dict[str, str]:
    """The profile attribute values for ``user`` with ``organization`` selected ("" = no value)."""
    origin = origin_profile(user=user)
    if organization is None or user.tenant_id is None or organization.tenant_id != user.tenant_id:
        return origin
    modes = source_modes(tenant_id=user.tenant_id)
    wanted = [attr for attr, mode in modes.items() if mode != FROM_ORIGIN]
    if not wanted:
        return origin
    lineage = organization.lineage_ids  # root first, the organization last
    rows = OrganizationProfileValue.objects.filter(
        user=user, organization_id__in=lineage, attribute__in=wanted
    ).values_list("organization_id", "attribute", "value")
    depth = {org_id: i for i, org_id in enumerate(lineage)}
    found: dict[str, tuple[int, str]] = {}  # attribute -> (depth, value), the deepest allowed
    for org_id, attr, value in rows:
        if modes[attr] == FROM_SHARED_PROFILE and org_id != organization.pk:
            continue
        if value and (attr not in found or depth[org_id] > found[attr][0]):
            found[attr] = (depth[org_id], value)
    out = dict(origin)
    for attr, (_, value) in found.items():
        out[attr] = value
    if "name" not in found:
        out["name"] = " ".join(v for v in (out["given_name"], out["family_name"]) if v).strip()
    return out


def _check(*, actor: Actor, organization: Organization, user: User, attribute: str, setting: bool = True) -> None:
    """Permission, tenant and attribute; for a set also membership and a mode that reads the value."""
    if not permissions.can_manage_members(actor, organization):
        raise PermissionDenied(f"You may not change profile values in '{organization.identifier}'.")
    if user.tenant_id != organization.tenant_id:
        raise ValidationError({"user": ["The user belongs to another tenant."]})
    if attribute not in PROFILE_ATTRIBUTES:
        raise ValidationError(
            {"attribute": [f"Unknown attribute '{attribute}'. Use one of: {', '.join(PROFILE_ATTRIBUTES)}."]}
        )
    if not setting:
        return  # clearing is always possible (e.g. after the mode went back to from-origin)
    if not Membership.objects.filter(user=user, organization=organization).exists():
        raise ValidationError({"user": [f"'{user.username}' is not a member of '{organization.identifier}'."]})
    mode = source_modes(tenant_id=organization.tenant_id)[attribute]
    if mode == FROM_ORIGIN:
        raise ValidationError(
            {
                "attribute": [
                    f"'{attribute}' comes from the user's origin profile (mode from-origin) and is read-only "
                    "in this organization. The tenant can change its source in user_attributes."
                ]
            }
        )


def profile_value_set(
    *, actor: Actor, organization: Organization, user: User, attribute: str, value: str
) -> OrganizationProfileValue:
    """Set the organization's own value of ``attribute`` for a member (``actor``: owner/admin or above)."""
    _check(actor=actor, organization=organization, user=user, attribute=attribute)
    value = (value or "").strip() if isinstance(value, str) else ""
    if not value or len(value) > MAX_VALUE_LENGTH:
        raise ValidationError({"value": [f"Give a value of 1 to {MAX_VALUE_LENGTH} characters (clear it instead)."]})
    with transaction.atomic():
        before = (
            OrganizationProfileValue.objects.filter(organization=organization, user=user, attribute=attribute)
            .values_list("value", flat=True)
            .first()
        )
        row, _ = OrganizationProfileValue.objects.update_or_create(
            organization=organization,
            user=user,
            attribute=attribute,
            defaults={"tenant_id": organization.tenant_id, "value": value},
        )
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.PROFILE_SET,
            target=row,
            data=_audit_data(organization, user, attribute, before, value),
        )
    return row


def profile_value_clear(*, actor: Actor, organization: Organization, user: User, attribute: str) -> bool:
    """Remove the organization's own value (the resolution falls back); False if there was none."""
    _check(actor=actor, organization=organization, user=user, attribute=attribute, setting=False)
    with transaction.atomic():
        row = (
            OrganizationProfileValue.objects.select_for_update()
            .filter(organization=organization, user=user, attribute=attribute)
            .first()
        )
        if row is None:
            return False
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.PROFILE_CLEAR,
            target=row,
            data=_audit_data(organization, user, attribute, row.value, None),
        )
        row.delete()
    return True


def _audit_data(
    organization: Organization, user: User, attribute: str, before: str | None, after: str | None
) -> dict[str, Any]:
    return {
        "organization": str(organization.pk),
        "user": user.pk,
        "attribute": attribute,
        "before": before,
        "after": after,
    }


def profile_values_apply(
    *, actor: Actor, membership: Membership, values: dict[str, str | None], expected_etag: ExpectedETag | None = None
) -> Membership:
    """Set (a value) or clear (empty or None) the organization's own profile values of a member. Profiles.

    All or nothing: a refusal names each refused attribute, and nothing is written then.
    ``expected_etag`` is checked against the locked membership.
    """
    organization = membership.organization
    errors: dict[str, list[str]] = {}
    with transaction.atomic():
        locked = lock_unchanged(membership, expected_etag=expected_etag, related=("user",))
        for attribute, value in values.items():
            try:
                if value:
                    profile_value_set(
                        actor=actor, organization=organization, user=locked.user, attribute=attribute, value=value
                    )
                else:
                    profile_value_clear(actor=actor, organization=organization, user=locked.user, attribute=attribute)
            except ValidationError as exc:
                errors[attribute] = [m for msgs in exc.message_dict.values() for m in msgs]
        if errors:
            transaction.set_rollback(True)
    if errors:
        raise ValidationError(errors)
    return locked


def profile_value_provision(*, organization: Organization, user: User, attribute: str, value: str) -> bool:
    """Store a value a sign-in's attribute mapping gave the organization for a member. Profiles.

    No permission check and no audit event of its own: the sign-in that maps it records one.
    Returns whether anything changed.
    """
    row, created = OrganizationProfileValue.objects.get_or_create(
        organization=organization,
        user=user,
        attribute=attribute,
        defaults={"tenant_id": organization.tenant_id, "value": value},
    )
    if created:
        return True
    if row.value == value:
        return False
    row.value = value
    row.save(update_fields=["value", "updated_at"])
    return True
