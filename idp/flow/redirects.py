"""Where the browser may be sent afterwards: the ``next`` rules, and 303 redirects."""

from __future__ import annotations

from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from tenants.models import Tenant

MAX_NEXT_LENGTH = 4096


class HttpResponseSeeOther(HttpResponseRedirect):
    """The answer to a POST that moves on: the browser follows with a GET."""

    status_code = 303


def tenant_prefix(tenant: Tenant) -> str:
    return f"/t/{tenant.slug}/"


def home_url(tenant: Tenant) -> str:
    return reverse("flow:home", kwargs={"tenant_slug": tenant.slug})


def safe_next(*, tenant: Tenant, candidate: str | None) -> str | None:
    """``candidate`` if it is a relative path inside this tenant (``/t/<slug>/...``), else None.

    Refuses absolute and scheme-relative URLs (``https://evil``, ``//evil``, ``/\\evil``),
    other tenants' paths, control characters and dot segments that would climb out.
    """
    if not candidate or len(candidate) > MAX_NEXT_LENGTH:
        return None
    if "\\" in candidate or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in candidate):
        return None
    if not url_has_allowed_host_and_scheme(candidate, allowed_hosts=None):
        return None
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or not parts.path.startswith(tenant_prefix(tenant)):
        return None
    if any(segment in {".", ".."} for segment in unquote(parts.path).split("/")):
        return None
    return candidate


def with_query_param(url: str, *, name: str, value: str) -> str:
    """``url`` with ``name=value`` appended; the rest of the query is kept byte for byte.

    An earlier ``name=`` in the query is dropped so the new value is the only one.
    """
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] != name]
    kept.append(urlencode({name: value}))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))
