"""The one place where the API decides who reaches what.

Every API view derives from ``TenantAPIView``:

1. the tenant comes from the URL (unknown or inactive → 404);
2. the caller authenticates with a bearer token of *that* tenant (``CanopyBearerAuthentication``);
3. an organization in the URL is looked up only inside the caller's reach
   (``orgs.delegation.administered_organizations``): outside it answers 404, exactly like a
   missing one, so ids of other tenants or other subtrees reveal nothing;
4. the view's ``org_permissions`` (HTTP method → an ``orgs.permissions`` predicate) is checked
   here, before any handler runs (403). The services check again when they write.

Handlers never decide authorization themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.http import Http404
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from idp.api.authentication import CanopyBearerAuthentication
from idp.api.problems import PreconditionFailed
from orgs.delegation import administered_organizations
from orgs.models import Organization, SharingPolicy
from orgs.selectors import organization_get
from tenants.actors import Actor, is_tenant_admin
from tenants.models import Tenant

OrgCheck = Callable[[Actor, Organization], bool]


def reach_everything(actor: Actor, organization: Organization) -> bool:
    return True


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def etag_of(data: Any) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return f'"{digest[:32]}"'


class TenantAPIView(GenericAPIView):
    authentication_classes = [CanopyBearerAuthentication]
    permission_classes = [IsAuthenticated]
    pagination_class = Pagination
    #: HTTP method → what the caller must be allowed on the organization named in the URL.
    org_permissions: dict[str, OrgCheck] = {}

    tenant: Tenant
    actor: Actor
    organization: Organization
    policy: SharingPolicy

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        tenant = Tenant.objects.filter(slug=kwargs.get("tenant_slug", ""), is_active=True).first()
        if tenant is None:
            raise Http404
        self.tenant = tenant
        super().initial(request, *args, **kwargs)  # authentication, IsAuthenticated, throttles
        self.actor = request.user
        target: Organization | None = None
        if "org" in kwargs:
            target = self.organization = self.reachable_organization(kwargs["org"])
        elif "policy_id" in kwargs:
            self.policy = self.reachable_policy(kwargs["policy_id"])
            target = self.policy.organization  # None: an "all organizations" policy (tenant admins only)
        if target is not None or "policy_id" in kwargs:
            check = self.org_permissions.get(request.method or "GET")
            if check is None:
                check = reach_everything if request.method in ("GET", "HEAD", "OPTIONS") else None
            if check is None or (target is not None and not check(self.actor, target)):
                raise PermissionDenied("Your role does not allow this on this organization.")

    # --- reach ---------------------------------------------------------------

    def reach(self) -> Any:
        return administered_organizations(actor=self.actor, tenant=self.tenant)

    def reachable_organization(self, key: str | None) -> Organization:
        """By id or identifier, inside the caller's reach; otherwise 404."""
        org = organization_get(tenant=self.tenant, key=key or "")
        if org is None or not self.reach().filter(pk=org.pk).exists():
            raise Http404
        return org

    def reachable_policy(self, policy_id: int) -> SharingPolicy:
        """A sharing policy whose organization is in reach; "all" policies for tenant admins only."""
        policy = (
            SharingPolicy.objects.select_related("organization", "user", "tenant")
            .filter(tenant=self.tenant, pk=policy_id)
            .first()
        )
        if policy is None:
            raise Http404
        if policy.organization is None:
            if not is_tenant_admin(self.actor, self.tenant):
                raise Http404
        elif not self.reach().filter(pk=policy.organization_id).exists():
            raise Http404
        return policy

    # --- ETag / If-Match -------------------------------------------------------

    def check_if_match(self, current: str) -> None:
        header = self.request.headers.get("If-Match")
        if not header:
            return
        wanted = {t.strip().removeprefix("W/") for t in header.split(",")}
        if "*" not in wanted and current not in wanted:
            raise PreconditionFailed()
