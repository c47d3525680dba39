"""The branding of the organization in context on the journey's pages.

Pages of the journey, the consent page and the account page render ``flow/_brand.html``
(one include: the colours, the header, the footer) with an :class:`orgs.inheritance.branding.Branding` as
``branding``, its texts in the request's languages (``Accept-Language``, in order of
preference). Emails take the same languages (``orgs.inheritance.branding.send_branded_mail``).
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest

from orgs.inheritance.branding import Branding, branding_for
from orgs.inheritance.schema import LOCALE_RE
from tenants.models import Tenant

__all__ = ["Branding", "page_branding", "request_languages"]

MAX_LANGUAGES = 8  # of an Accept-Language header: enough for any real browser


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


def page_branding(request: HttpRequest, *, tenant: Tenant, organization: uuid.UUID | None) -> Branding | None:
    return branding_for(tenant=tenant, organization=organization, languages=request_languages(request))
