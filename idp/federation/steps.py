"""The identifier-first step for ``user@<verified domain>``: straight to the IdP claiming it."""

from __future__ import annotations

from django.http import HttpRequest

from idp.federation.services import idp_for_identifier
from idp.federation.views import start_url
from idp.flow.steps import Step, register_step
from tenants.models import Tenant

UPSTREAM = "upstream"


@register_step(UPSTREAM)
class UpstreamStep(Step):
    priority = 10

    @classmethod
    def applies(cls, *, request: HttpRequest, tenant: Tenant, identifier: str) -> bool:
        idp = idp_for_identifier(tenant=tenant, identifier=identifier)
        if idp is None:
            return False
        request.canopy_upstream_idp = idp  # type: ignore[attr-defined]  # handed to url() below
        return True

    @classmethod
    def url(cls, *, request: HttpRequest, tenant: Tenant, next_url: str) -> str:

        idp = getattr(request, "canopy_upstream_idp", None)
        if idp is None:  # pragma: no cover - url() is only called after applies()
            raise LookupError("no upstream IdP chosen")
        return start_url(tenant, idp, next_url)
