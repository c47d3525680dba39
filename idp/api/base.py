"""The one place where the API decides who reaches what.

Every API view derives from ``TenantAPIView``:

1. the tenant comes from the URL (unknown or inactive → 404);
2. the caller authenticates with a bearer token of *that* tenant (``CanopyBearerAuthentication``);
3. a view marked ``tenant_admin_only`` (clients, SAML SPs, …) answers 404 to anyone who is
   not an administrator of the tenant (or its machine client), as if it did not exist;
4. an organization in the URL is looked up only inside the caller's reach
   (``orgs.tree.delegation.administered_organizations``): outside it answers 404, exactly like a
   missing one, so ids of other tenants or other subtrees reveal nothing; an object named by
   the view's ``object_kwarg`` is looked up only in ``reachable_objects()`` (built with
   ``in_reach``: the tenant's rows, and for delegated admins only those of organizations in
   their reach), likewise 404 outside;
5. requests are counted against the rate limits: per client address for requests without
   valid credentials (``check_address_rate``, before any authentication work when there are
   none), then per principal, per principal for writes and per tenant (``check_throttles``);
   over a limit the answer is a 429 problem with ``Retry-After``;
6. the view's ``org_permissions`` (HTTP method → an ``orgs.tree.permissions`` predicate) is checked
   here against that organization (or the object's), before any handler runs (403). The
   services check again when they write.

Handlers never decide authorization themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import QuerySet
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import (
    AuthenticationFailed,
    NotAuthenticated,
    PermissionDenied,
    Throttled,
    ValidationError,
)
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from idp.api.authentication import CanopyBearerAuthentication
from idp.flow.services import client_ip
from orgs.sharing.selectors import sharing_policy_get
from orgs.tree.delegation import administered_organizations
from orgs.tree.selectors import organization_administered, organization_get
from tenants.actors import Actor, is_tenant_admin
from tenants.lockout import rate_exceeded
from tenants.models import Tenant, User
from tenants.preconditions import ExpectedETag, write_if_unchanged
from tenants.routing import tenant_of

if TYPE_CHECKING:
    from orgs.sharing.models import SharingPolicy
    from orgs.tree.models import Organization

OrgCheck = Callable[[Actor, "Organization"], bool]
M = TypeVar("M", bound=models.Model)
R = TypeVar("R")


def reach_everything(actor: Actor, organization: Organization) -> bool:
    return True


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def etag_of(data: Any) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return f'"{digest[:32]}"'


def tagged(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An answer carrying its body's ETag."""
    return Response(body, status=status, headers={"ETag": etag_of(body), **(headers or {})})


@dataclass(frozen=True)
class RateLimit:
    """``limit`` requests per fixed window of ``window_seconds``."""

    limit: int
    window_seconds: int


def rate_limit_setting(name: str, default: str) -> RateLimit:
    """Parse a setting such as ``"600/60"`` (600 requests per 60 seconds)."""
    raw = str(getattr(settings, name, default) or default)
    count, _, seconds = raw.partition("/")
    return RateLimit(limit=int(count), window_seconds=max(int(seconds or 60), 1))


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _refuse_when_exceeded(*, scope: str, tenant: Tenant, key: str, rate: RateLimit, what: str) -> None:
    """Count one request in the shared cache (``tenants.lockout.rate_exceeded``); 429 beyond the limit.

    The window is fixed and starts at the first request, so ``Retry-After`` is an upper bound.
    """
    if rate_exceeded(scope=scope, tenant=tenant, key=key, limit=rate.limit, window_seconds=rate.window_seconds):
        refusal = Throttled(detail=f"{what} Try again in {rate.window_seconds} seconds.")
        refusal.wait = rate.window_seconds  # after init: DRF would append its own sentence to the detail
        raise refusal


def _client_address(request: Request) -> str:

    return client_ip(request) or "unknown"


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

    #: How this view shows its objects when not as ``serializer_class`` (which reads the body).
    shown_as: type[BaseSerializer] | None = None
    #: Related rows a write needs, read with the row it locks.
    lock_related: tuple[str, ...] = ()

    tenant: Tenant
    actor: Actor
    organization: Organization
    policy: SharingPolicy
    object: Any

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.tenant = tenant_of(request)  # resolved once by tenants.routing; 404 (problem+json) when none
        has_credentials = bool(request.META.get("HTTP_AUTHORIZATION"))
        if not has_credentials:  # nothing to authenticate: count the address before any other work
            self.check_address_rate(request)
        try:
            super().initial(request, *args, **kwargs)  # authentication, IsAuthenticated, check_throttles
        except (NotAuthenticated, AuthenticationFailed):
            if has_credentials:  # a wrong or expired token counts against the address too
                self.check_address_rate(request)
            raise
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

    # --- rate limits ---------------------------------------------------------

    def check_address_rate(self, request: Request) -> None:
        """Requests without valid credentials, per client address in this tenant (``CANOPY_API_ANON_RATE_LIMIT``)."""
        rate = rate_limit_setting("CANOPY_API_ANON_RATE_LIMIT", "300/60")
        _refuse_when_exceeded(
            scope="api-anon",
            tenant=self.tenant,
            key=_client_address(request),
            rate=rate,
            what="Too many requests without valid credentials came from your address.",
        )

    def check_throttles(self, request: Request) -> None:
        """Once authenticated: per principal (user or API client) and per tenant; writes also on their own limit.

        DRF calls this from ``initial`` after authentication and before any handler, so every
        view of the API is limited here and none does it itself.
        """
        token = request.auth
        user_id = getattr(request.user, "pk", None)
        principal = f"user:{user_id}" if user_id is not None else f"client:{getattr(token, 'application_id', '-')}"
        rate = rate_limit_setting("CANOPY_API_RATE_LIMIT", "600/60")
        _refuse_when_exceeded(
            scope="api", tenant=self.tenant, key=principal, rate=rate, what="You sent too many requests."
        )
        if request.method not in SAFE_METHODS:
            write = rate_limit_setting("CANOPY_API_WRITE_RATE_LIMIT", "120/60")
            _refuse_when_exceeded(
                scope="api-write", tenant=self.tenant, key=principal, rate=write, what="You sent too many changes."
            )
        tenant_rate = rate_limit_setting("CANOPY_API_TENANT_RATE_LIMIT", "6000/60")
        _refuse_when_exceeded(
            scope="api-tenant",
            tenant=self.tenant,
            key="tenant",
            rate=tenant_rate,
            what="This tenant's API received too many requests.",
        )

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

    def administers(self, organization: Organization) -> bool:
        return organization_administered(actor=self.actor, tenant=self.tenant, organization=organization)

    def reachable_organization(self, key: str | None) -> Organization:
        """By id or identifier, inside the caller's reach; otherwise 404."""
        org = organization_get(tenant=self.tenant, key=key or "")
        if org is None or not self.administers(org):
            raise Http404
        return org

    def organization_in_body(self, key: str | None, field: str) -> Organization | None:
        """An organization named in the request body (id or identifier) inside the caller's reach; else 400."""
        if not key:
            return None
        found = organization_get(tenant=self.tenant, key=key)
        if found is None or not self.administers(found):
            raise ValidationError({field: ["No such organization."]})
        return found

    def user_in_body(self, key: str) -> User:
        """A user of this tenant named in the request body by id or username; else 400."""
        users = User.objects.filter(tenant=self.tenant)
        key = key.strip()
        user = users.filter(pk=int(key)).first() if key.isdigit() and len(key) < 12 else None
        user = user or users.filter(username__iexact=key).first()
        if user is None:
            raise ValidationError({"user": ["No such user in this tenant."]})
        return user

    def reachable_policy(self, policy_id: int) -> SharingPolicy:
        """A sharing policy whose organization is in reach; "all" policies for tenant admins only."""
        policy = sharing_policy_get(tenant=self.tenant, pk=policy_id)
        if policy is None:
            raise Http404
        if policy.organization is None:
            if not is_tenant_admin(self.actor, self.tenant):
                raise Http404
        elif not self.administers(policy.organization):
            raise Http404
        return policy

    # --- answers, ETag / If-Match ---------------------------------------------
    # Handlers read the body with ``validated``, answer with ``tagged`` / ``page_of``, and change
    # or remove a row with ``change`` / ``remove``: the service side locks it and compares the
    # request's If-Match with the ETag of the row's current representation (412 otherwise).

    def validated(self, serializer_class: type[BaseSerializer], *, partial: bool = False) -> Any:
        """The request body, checked by ``serializer_class`` (400 with errors per field otherwise)."""
        data = serializer_class(data=self.request.data, partial=partial)
        data.is_valid(raise_exception=True)
        return data.validated_data

    def represent(self, obj: Any) -> Any:
        """How this view shows an object (``shown_as``, else ``serializer_class``); its ETag is this body's."""
        return (self.shown_as or self.get_serializer_class())(obj).data

    def show(self, obj: Any, *, status: int = 200) -> Response:
        """``obj`` as ``represent`` shows it, with its ETag."""
        return tagged(self.represent(obj), status=status)

    def matching(self, qs: QuerySet[Any], name: str) -> QuerySet[Any]:
        """``qs`` narrowed to the exact value of the query parameter ``name``, when one is given."""
        value = self.request.query_params.get(name)
        return qs.filter(**{name: value.strip()}) if value else qs

    def page_of(self, qs: QuerySet[Any]) -> Response:
        """One page of ``qs``, each row shown as ``represent`` shows it."""
        page = self.paginate_queryset(qs)
        return self.get_paginated_response((self.shown_as or self.get_serializer_class())(page, many=True).data)

    def expected_etag(self, body_of: Callable[[Any], Any]) -> ExpectedETag | None:
        """The request's ``If-Match`` for a service: it compares with ``etag_of(body_of(current state))``."""
        header = self.request.headers.get("If-Match")
        if not header:
            return None
        return ExpectedETag.from_header(header, lambda current: etag_of(body_of(current)))

    def change(self, row: M, write: Callable[[M], R]) -> R:
        """``write(locked row)`` if the row still has the ETag If-Match names (412 otherwise)."""
        return write_if_unchanged(
            row, write, expected_etag=self.expected_etag(self.represent), related=self.lock_related
        )

    def remove(self, row: M, write: Callable[[M], object]) -> Response:
        """``change`` for a removal: 204."""
        self.change(row, write)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationRowsView(TenantAPIView):
    """Objects of the organization in the URL (looked up after it, so outside the reach is 404)."""

    #: The organization's rows of this kind (an ``orgs.tree.selectors`` function).
    rows: Callable[..., QuerySet[Any]]

    def reachable_objects(self) -> QuerySet[Any]:
        return self.rows(organization=self.organization)


class TenantRowsView(TenantAPIView):
    # The tenant's rows of ``model`` (OIDC clients, SAML SPs), for tenant administrators only.
    # (Comments, not a docstring: a base's docstring would describe every subclass's operations.)
    tenant_admin_only = True
    lock_related = ("tenant",)
    model: type[models.Model]

    def reachable_objects(self) -> QuerySet[Any]:
        return self.model._default_manager.filter(tenant=self.tenant).select_related("tenant")
