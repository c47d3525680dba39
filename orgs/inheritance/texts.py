"""The effective email texts of an organization, and how values are put into them.

Tenant and organization administrators write these templates (the ``templates`` settings section,
inherited and overridable per organization), so values go in by plain replacement of ``{name}``,
never ``str.format``, which would let a template reach attributes of the values.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from orgs.inheritance.selectors import effective_section
from orgs.tree.models import Organization
from tenants.models import Tenant


def email_template(
    *,
    tenant: Tenant | int,
    organization: Organization | uuid.UUID | None,
    kind: str,
    default_subject: str,
    default_body: str,
    languages: Sequence[str] = (),
) -> tuple[str, str]:
    """(subject, body) of the effective ``email_<kind>`` template in the first of ``languages`` that
    has one (best first, as ``idp.flow.branding.request_languages`` gives them), else English, else any."""
    texts = effective_section(tenant=tenant, organization=organization, section="templates")[f"email_{kind}"] or {}
    found = next((texts[lang] for lang in (*languages, "en") if texts.get(lang)), None)
    chosen = found or next(iter(texts.values()), None) or {}
    return str(chosen.get("subject") or default_subject), str(chosen.get("body") or default_body)


def sms_template(
    *,
    tenant: Tenant | int,
    organization: Organization | uuid.UUID | None,
    kind: str,
    default: str,
    languages: Sequence[str] = (),
) -> str:
    """The effective ``sms_<kind>`` text in the first of ``languages`` that has one, else English, else any."""
    texts = effective_section(tenant=tenant, organization=organization, section="templates")[f"sms_{kind}"] or {}
    found = next((texts[lang] for lang in (*languages, "en") if texts.get(lang)), None)
    return str(found or next(iter(texts.values()), None) or default)


def render_text(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``{name}`` replaced by its value (plain replacement, see the module doc)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text
