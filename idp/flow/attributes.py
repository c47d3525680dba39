"""Custom attributes of users: the tenant root's definitions (``user_attributes.custom``), per-user values.

Values live on the user record (``User.custom_attributes``, a JSON object by attribute name) and
are checked against the definitions on every write: the type (string up to 500 characters,
boolean, integer, ISO date), one value or a list where ``multi_valued_supported``, and, on the
sign-up forms, ``required``. Unknown names are never stored; a definition removed later leaves
its old value unused (it is no longer shown or released).

The sign-up forms (self and invited registration, with their ``profile`` step) and the account
page show the same fields (``form_fields``). Release: OIDC claims named by the scope mapping
(``oidc_scopes``) under the ``dialects.oidc`` name of the attribute (else its own name); SAML
when the SP's ``attribute_release`` lists the attribute's name.

The ``terms`` step: a checkbox linking to the organization's effective ``branding.terms_url``;
its acceptance is recorded on the user (time and address) and in the audit event.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from orgs.inheritance.selectors import effective_section
from tenants.actors import Actor
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant, User

MAX_STRING = 500
MAX_ITEMS = 20
MAX_INTEGER = 2**53
PREFIX = "attr-"  # form field names: attr-<attribute name>
TERMS_FIELD = "accept_terms"
MSG_TERMS = "Tick the box to accept the terms of use: you cannot create an account without it."


@dataclass(frozen=True)
class Definition:
    name: str
    label: str
    type: str
    multi: bool
    required: bool

    @property
    def field(self) -> str:
        return PREFIX + self.name


def definitions(tenant: Tenant | int) -> list[Definition]:
    """The tenant root's custom attribute definitions (organizations inherit them unchanged)."""
    custom = effective_section(tenant=tenant, organization=None, section="user_attributes")["custom"] or []
    return [
        Definition(
            name=str(d["name"]),
            label=str(d["display_name"]),
            type=str(d["type"]),
            multi=bool(d.get("multi_valued_supported")),
            required=bool(d.get("required")),
        )
        for d in custom
    ]


def _one(definition: Definition, raw: str) -> Any:
    """One typed value from its text, or ValueError with a plain message."""
    label = definition.label
    if definition.type == "integer":
        try:
            number = int(raw)
        except ValueError:
            raise ValueError(f"{label}: enter a whole number, for example 42.") from None
        if abs(number) > MAX_INTEGER:
            raise ValueError(f"{label}: that number is too large.")
        return number
    if definition.type == "date":
        try:
            return datetime.date.fromisoformat(raw).isoformat()
        except ValueError:
            raise ValueError(f"{label}: enter a date as year-month-day, for example 2026-03-31.") from None
    if len(raw) > MAX_STRING:
        raise ValueError(f"{label}: use at most {MAX_STRING} characters.")
    return raw


def parse(definition: Definition, raw: str) -> Any:
    """The stored value of the form's text for ``definition`` (None = no value). Raises ValueError."""
    if definition.type == "boolean":
        return raw in ("on", "true", "1", "yes")
    if definition.multi:
        items = [line.strip() for line in raw.splitlines() if line.strip()]
        if len(items) > MAX_ITEMS:
            raise ValueError(f"{definition.label}: at most {MAX_ITEMS} values, one per line.")
        return [_one(definition, item) for item in items] or None
    text = raw.strip()
    return _one(definition, text) if text else None


def values_from_form(
    fields: list[Definition], data: QueryDict | dict[str, Any], *, enforce_required: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """(attribute → value for the filled fields, form field → message). Nothing is written."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for definition in fields:
        raw = str(data.get(definition.field, "") or "")[: MAX_STRING * MAX_ITEMS]
        try:
            value = parse(definition, raw)
        except ValueError as exc:
            errors[definition.field] = str(exc)
            continue
        missing = value is None or (definition.type == "boolean" and value is False)
        if missing and definition.required and enforce_required:
            errors[definition.field] = f"Enter your {definition.label.lower()}."
        elif value is not None:
            values[definition.name] = value
    return values, errors


def _display(definition: Definition, value: Any) -> str:
    if value is None:
        return ""
    if definition.type == "boolean":
        return "on" if value else ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def form_fields(
    fields: list[Definition], *, user: User | None = None, data: Any = None, errors: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """What the templates show: one entry per definition, with the value (posted, else stored) and error."""
    stored = dict(user.custom_attributes or {}) if user is not None else {}
    out = []
    for d in fields:
        value = str(data.get(d.field, "")) if data is not None else _display(d, stored.get(d.name))
        out.append(
            {
                "field": d.field,
                "label": d.label,
                "type": d.type,
                "multi": d.multi,
                "required": d.required,
                "value": value,
                "error": (errors or {}).get(d.field, ""),
            }
        )
    return out


def values_set(*, actor: Actor, tenant: Tenant, user: User, values: dict[str, Any], replace: bool = True) -> User:
    """Store checked values (known names only); with ``replace`` the fields left empty are cleared."""
    known = {d.name for d in definitions(tenant)}
    with transaction.atomic():
        current = {} if replace else dict(user.custom_attributes or {})
        current.update({k: v for k, v in values.items() if k in known})
        before = sorted((user.custom_attributes or {}).keys())
        user.custom_attributes = current
        user.save(update_fields=["custom_attributes"])
        audit_record(
            actor=actor,
            tenant=tenant,
            action=AuditAction.USER_ATTRIBUTES_UPDATE,
            target=user,
            data={"before": before, "after": sorted(current)},  # names only
        )
    return user


def released_values(user: User) -> dict[str, Any]:
    """Attribute → value for the user's values whose definition still exists."""
    if user.tenant_id is None:
        return {}
    stored = user.custom_attributes or {}
    return {d.name: stored[d.name] for d in definitions(user.tenant_id) if d.name in stored}


def oidc_claims(user: User) -> dict[str, Any]:
    """Claim name (``dialects.oidc``, else the attribute's name) → value, for the scope mapping to pick from."""
    values = released_values(user)
    if not values or user.tenant_id is None:
        return {}
    dialect = effective_section(tenant=user.tenant_id, organization=None, section="dialects")["oidc"] or {}
    return {str(dialect.get(name) or name): value for name, value in values.items()}


def custom_names(tenant: Tenant | int) -> list[str]:
    return [d.name for d in definitions(tenant)]


# --- the terms step -----------------------------------------------------------------------------


def terms_url(*, tenant: Tenant, organization: uuid.UUID | None) -> str:
    return str(effective_section(tenant=tenant, organization=organization, section="branding")["terms_url"] or "")


def terms_record(*, user: User, url: str) -> None:
    """Record the acceptance (the caller's transaction writes the user row's audit event)."""
    user.terms_accepted_at = timezone.now()
    user.terms_url_accepted = url[:500]
    user.save(update_fields=["terms_accepted_at", "terms_url_accepted"])
