"""An organization's effective ``branding``, as pages and emails show it, and the one way emails go out.

The ``texts`` are per locale (``orgs.inheritance.schema.BRANDING_TEXTS`` says where each key
shows): each key comes from the first of the reader's languages (best first, a regional
``fr-CA`` before its ``fr``) that has it, else from English. Every email Canopy sends for an
organization goes through :func:`send_branded_mail`: its template in the reader's language
(``orgs.inheritance.texts.email_template``) ends with the organization's footer (:func:`mail_footer`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.mail import send_mail

from orgs.inheritance.schema import BRANDING_TEXTS
from orgs.inheritance.selectors import effective_section
from orgs.tree.models import Organization
from tenants.models import Tenant

FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class Branding:
    values: dict[str, Any]  # the effective branding section (display_name, logo_url, colours, links, terms_url)
    texts: dict[str, str]  # BRANDING_TEXTS key -> the text in the best language ("" when none is set)


def texts_for(texts: dict[str, dict[str, str]] | None, languages: Sequence[str]) -> dict[str, str]:
    """Each known text key in the first of ``languages`` (then English) that sets it."""
    texts = texts or {}
    order = [*languages, FALLBACK_LANGUAGE]
    out: dict[str, str] = {}
    for key in BRANDING_TEXTS:
        out[key] = next((str(texts[lang][key]) for lang in order if (texts.get(lang) or {}).get(key)), "")
    return out


def branding_for(
    *, tenant: Tenant | int, organization: Organization | uuid.UUID | None, languages: Sequence[str] = ()
) -> Branding | None:
    """The effective branding of ``organization`` (None: the tenant root); None if it is not of this tenant."""
    try:
        section = effective_section(tenant=tenant, organization=organization, section="branding")
    except LookupError:
        return None
    return Branding(values=section.values, texts=texts_for(section["texts"], languages))


def mail_footer(*, tenant: Tenant, branding: Branding | None) -> str:
    """The lines every email ends with: who sends it, the ``email_footer`` text, terms and footer links."""
    values = branding.values if branding is not None else {}
    lines = ["", "-- ", str(values.get("display_name") or tenant.display_name)]  # the signature separator
    if branding is not None and branding.texts.get("email_footer"):
        lines.append(branding.texts["email_footer"])
    if values.get("terms_url"):
        lines.append(f"Terms of use: {values['terms_url']}")
    lines.extend(f"{link['label']}: {link['url']}" for link in values.get("footer_links") or [])
    return "\n".join(lines)


def send_branded_mail(
    *,
    tenant: Tenant,
    organization: Organization | uuid.UUID | None,
    to: str,
    subject: str,
    body: str,
    languages: Sequence[str] = (),
) -> None:
    """Send ``body`` to ``to``, ending with ``organization``'s footer (the tenant root's when None).

    Delivery errors (``OSError``, ``smtplib.SMTPException``) reach the caller, which says so on its page.
    """
    branding = branding_for(tenant=tenant, organization=organization, languages=languages)
    send_mail(subject, body + "\n" + mail_footer(tenant=tenant, branding=branding), None, [to])
