"""Management API v1: an organization's email domains (``orgs.tree.services.domain_add/remove``)."""

from __future__ import annotations

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import OrganizationRowsView
from idp.api.schema import doc_create, doc_delete, doc_list, doc_read
from idp.api.serializers.domains import OrganizationDomainSerializer
from orgs.tree import permissions, services
from orgs.tree.selectors import organization_domains


class _DomainViews(OrganizationRowsView):
    rows = staticmethod(organization_domains)
    serializer_class = OrganizationDomainSerializer
    lock_related = ("organization__tenant",)


class OrganizationDomainListView(_DomainViews):
    org_permissions = {"GET": lambda actor, org: True, "POST": permissions.can_edit_organization}

    @doc_list("organization_domains_list", OrganizationDomainSerializer)
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self.page_of(self.reachable_objects())

    @doc_create("organization_domains_add", OrganizationDomainSerializer, OrganizationDomainSerializer)
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        """Claim an email domain (unverified; verification is a tenant administrator's, in the admin)."""
        domain = self.validated(OrganizationDomainSerializer)["domain"]
        row = services.domain_add(actor=self.actor, organization=self.organization, domain=domain)
        return Response(self.represent(row), status=status.HTTP_201_CREATED)


class OrganizationDomainDetailView(_DomainViews):
    object_kwarg = "domain_id"
    org_permissions = {"GET": lambda actor, org: True, "DELETE": permissions.can_edit_organization}

    @doc_read("organization_domains_retrieve", OrganizationDomainSerializer)
    def get(self, request: Request, tenant_slug: str, org: str, domain_id: int) -> Response:
        return self.show(self.object)

    @doc_delete("organization_domains_remove")
    def delete(self, request: Request, tenant_slug: str, org: str, domain_id: int) -> Response:
        return self.remove(self.object, lambda locked: services.domain_remove(actor=self.actor, domain=locked))
