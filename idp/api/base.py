"""The one place where the API decides who reaches what.

Every API view derives from ``TenantAPIView``:

1. the tenant comes from the URL (unknown or inactive → 404);
2. the caller authenticates with a bearer token of *that* tenant (``CanopyBearerAuthentication``);
3. a view marked ``tenant_admin_only`` (clients, SAML SPs, …) answers 404 to anyone who is
   not an administrator of the tenant (or its machine client), as if it did not exist;
4. an organization in the URL is looked up only inside the caller's reach
   (``orgs.delegation.administered_organizations``): outside it answers 404, exactly like a
   missing one, so ids of other tenants or other subtrees reveal nothing; an object named by
   the view's ``object_kwarg`` is looked up only in ``reachable_objects()`` (built with
   ``in_reach``: the tenant's rows, and for delegated admins only those of organizations in
   their reach), likewise 404 outside;
5. the view's ``org_permissions`` (HTTP method → an ``orgs.permissions`` predicate) is checked
   here against that organization (or the object's), before any handler runs (403). The
   services check again when they write.

Handlers never decide authorization themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
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
    #: Only tenant administrators (and the tenant's machine client) reach this view; others: 404.
    tenant_admin_only: bool = False
    #: The URL kwarg naming an object of ``reachable_objects()`` (looked up here; 404 outside).
    object_kwarg: str | None = None

    tenant: Tenant
    actor: Actor
    organization: Organization
    policy: SharingPolicy
    object: Any

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        tenant = Tenant.objects.filter(slug=kwargs.get("tenant_slug", ""), is_active=True).first()
        if tenant is None:
            raise Http404
        self.tenant = tenant
        super().initial(request, *args, **kwargs)  # authentication, IsAuthenticated, throttles
        self.actor = request.user
        if self.tenant_admin_only and not is_tenant_admin(self.actor, self.tenant):
            raise Http404
        target: Organization | None = None
        guarded = False
        if "org" in kwargs:
            target = self.organization = self.reachable_organization(kwargs["org"])
            guarded = True
        elif "policy_id" in kwargs:
            self.policy = self.reachable_policy(kwargs["policy_id"])
            target = self.policy.organization  # None: an "all organizations" policy (tenant admins only)
            guarded = True
        if self.object_kwarg is not None and self.object_kwarg in kwargs:
            key = kwargs[self.object_kwarg]
            if isinstance(key, int) and not 0 < key < 2**63:
                raise Http404  # beyond any primary key (and beyond what the database accepts)
            self.object = self.reachable_objects().filter(pk=key).first()
            if self.object is None:
                raise Http404
            if not guarded:
                target = self.object_organization(self.object)  # None: tenant-wide (tenant admins only)
                guarded = True
        if guarded and (target is not None or not self.tenant_admin_only):
            # (A tenant-wide object of a tenant-admin-only view needs nothing more: the caller is one.)
            check = self.org_permissions.get(request.method or "GET")
            if check is None:
                check = reach_everything if request.method in ("GET", "HEAD", "OPTIONS") else None
            if check is None or (target is not None and not check(self.actor, target)):
                raise PermissionDenied("Your role does not allow this on this organization.")

    # --- reach ---------------------------------------------------------------

    def reach(self) -> Any:
        return administered_organizations(actor=self.actor, tenant=self.tenant)

    def in_reach(self, qs: QuerySet[Any], field: str = "organization") -> QuerySet[Any]:
        """The tenant's rows of ``qs``; for delegated admins only those owned by an organization in reach.

        Rows without an organization (tenant-wide) are for tenant administrators only.
        """
        qs = qs.filter(tenant=self.tenant)
        if is_tenant_admin(self.actor, self.tenant):
            return qs
        return qs.filter(**{f"{field}__in": self.reach()})

    def reachable_objects(self) -> QuerySet[Any]:
        """The rows ``object_kwarg`` may name (views with an object override this with ``in_reach``)."""
        raise NotImplementedError

    def object_organization(self, obj: Any) -> Organization | None:
        """The organization whose ``org_permissions`` govern an object named in the URL."""
        return getattr(obj, "organization", None)

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
