"""The effective ``branding`` of the organization in context, as pages and emails show it.

Pages of the journey, the consent page and the account page render ``flow/_brand.html``
(one include: the colours, the header, the footer) with a :class:`Branding` as ``branding``;
emails end with :func:`mail_footer`. The ``texts`` are per locale
(``orgs.settings_schema.BRANDING_TEXTS`` says where each key shows): each key comes from the
first of the request's languages (``Accept-Language``, in order of preference, a regional
``fr-CA`` before its ``fr``) that has it, else from English.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from orgs.settings_schema import BRANDING_TEXTS, LOCALE_RE
from orgs.settings_selectors import effective_section
from tenants.models import Tenant

FALLBACK_LANGUAGE = "en"
MAX_LANGUAGES = 8  # of an Accept-Language header: enough for any real browser


@dataclass(frozen=True)
class Branding:
    values: dict[str, Any]  # the effective branding section (display_name, logo_url, colours, links, terms_url)
    texts: dict[str, str]  # BRANDING_TEXTS key -> the text in the best language ("" when none is set)


def request_languages(request: HttpRequest | None) -> list[str]:
    """The locales the request prefers, best first (``fr-CA`` then ``fr``), as the schema spells them."""
    if request is None:
        return []
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.META.get("HTTP_ACCEPT_LANGUAGE", "").split(",")[:MAX_LANGUAGES]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        lang, _, region = tag.strip().partition("-")
        locale = f"{lang.lower()}-{region.upper()}" if region else lang.lower()
        if quality > 0 and LOCALE_RE.match(locale):
            weighted.append((-quality, i, locale))
    out: list[str] = []
    for _, _, locale in sorted(weighted):
        for candidate in (locale, locale.split("-")[0]):
            if candidate not in out:
                out.append(candidate)
    return out


def texts_for(texts: dict[str, dict[str, str]] | None, languages: Sequence[str]) -> dict[str, str]:
    """Each known text key in the first of ``languages`` (then English) that sets it."""
    texts = texts or {}
    order = [*languages, FALLBACK_LANGUAGE]
    out: dict[str, str] = {}
    for key in BRANDING_TEXTS:
        out[key] = next((str(texts[lang][key]) for lang in order if (texts.get(lang) or {}).get(key)), "")
    return out


def branding_for(*, tenant: Tenant, organization: uuid.UUID | None, languages: Sequence[str] = ()) -> Branding | None:
    """The effective branding of ``organization`` (None: the tenant root); None if it is not of this tenant."""
    try:
        section = effective_section(tenant=tenant, organization=organization, section="branding")
    except LookupError:
        return None
    return Branding(values=section.values, texts=texts_for(section["texts"], languages))


def page_branding(request: HttpRequest, *, tenant: Tenant, organization: uuid.UUID | None) -> Branding | None:
    return branding_for(tenant=tenant, organization=organization, languages=request_languages(request))


def mail_footer(*, tenant: Tenant, branding: Branding | None) -> str:
    """The lines every email ends with: who sends it, the ``email_footer`` text, terms and footer links."""
    values = branding.values if branding is not None else {}
    lines = ["", "--", str(values.get("display_name") or tenant.display_name)]
    if branding is not None and branding.texts.get("email_footer"):
        lines.append(branding.texts["email_footer"])
    if values.get("terms_url"):
        lines.append(f"Terms of use: {values['terms_url']}")
    lines.extend(f"{link['label']}: {link['url']}" for link in values.get("footer_links") or [])
    return "\n".join(lines)


def branded_body(body: str, *, tenant: Tenant, organization: uuid.UUID | None, languages: Sequence[str] = ()) -> str:
    """``body`` with the footer of ``organization``'s branding (the tenant root's when it is None)."""
    branding = branding_for(tenant=tenant, organization=organization, languages=languages)
    return body + "\n" + mail_footer(tenant=tenant, branding=branding)
