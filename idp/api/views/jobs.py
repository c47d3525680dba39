"""Management API v1: propagation and sharing jobs — status, progress, errors, resume.

What a caller sees is cut in the base class (``in_reach``): tenant administrators see every
job of the tenant; delegated administrators the jobs of organizations in their reach
(tenant-wide jobs are not theirs). Resuming goes through ``orgs.jobs.leases.job_resume``, the same
rule and audit as the admin's action.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, etag_of
from idp.api.schema import PROBLEMS
from idp.api.serializers.jobs import PropagationJobSerializer, SharingJobSerializer
from orgs.inheritance.selectors import propagation_jobs
from orgs.jobs.leases import job_resume
from orgs.jobs.selectors import LeasedJobStatus
from orgs.sharing.selectors import SharingJobKind, sharing_jobs
from orgs.tree import permissions
from orgs.tree.selectors import organization_get

STATUS_PARAM = OpenApiParameter("status", str, enum=LeasedJobStatus.values)


ORG_PARAM = OpenApiParameter("organization", str, description="Organization id or identifier.")


class _JobViews(TenantAPIView):
    #: The tenant's jobs of this kind (an ``orgs.tree.selectors`` function).
    jobs: Callable[..., QuerySet[Any]]

    def reachable_objects(self) -> QuerySet[Any]:
        return self.in_reach(self.jobs(tenant=self.tenant))

    # The list's own filter besides status and organization: "section" or "kind".
    extra_filter = ""

    def _filtered(self, request: Request) -> QuerySet[Any]:
        qs = self.reachable_objects().order_by("-created_at", "-pk")
        wanted = request.query_params.get("status")
        if wanted:
            qs = qs.filter(status=wanted)
        key = request.query_params.get("organization")
        if key:
            found = organization_get(tenant=self.tenant, key=key)
            qs = qs.filter(organization=found) if found else qs.none()
        extra = request.query_params.get(self.extra_filter) if self.extra_filter else None
        if extra:
            qs = qs.filter(**{self.extra_filter: extra})
        return qs

    def _list(self, request: Request) -> Response:
        page = self.paginate_queryset(self._filtered(request))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def _one(self) -> Response:
        body = self.get_serializer(self.object).data
        return Response(body, headers={"ETag": etag_of(body)})

    def _resume(self) -> Response:
        job = job_resume(actor=self.actor, job=self.object)
        return Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)


class PropagationJobListView(_JobViews):
    jobs = staticmethod(propagation_jobs)
    extra_filter = "section"
    serializer_class = PropagationJobSerializer

    @extend_schema(
        operation_id="propagation_jobs_list",
        parameters=[STATUS_PARAM, ORG_PARAM, OpenApiParameter("section", str)],
        responses={200: PropagationJobSerializer(many=True), **PROBLEMS},
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        return self._list(request)


class PropagationJobDetailView(_JobViews):
    jobs = staticmethod(propagation_jobs)
    object_kwarg = "propagation_job_id"
    serializer_class = PropagationJobSerializer

    @extend_schema(operation_id="propagation_jobs_retrieve", responses={200: PropagationJobSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, **kwargs: Any) -> Response:
        return self._one()


class PropagationJobResumeView(_JobViews):
    jobs = staticmethod(propagation_jobs)
    object_kwarg = "propagation_job_id"
    serializer_class = PropagationJobSerializer
    org_permissions = {"POST": permissions.can_edit_organization}

    @extend_schema(
        operation_id="propagation_jobs_resume",
        request=None,
        responses={202: PropagationJobSerializer, **PROBLEMS},
        description="Resume a failed job, or one whose worker stopped; it continues from its cursor.",
    )
    def post(self, request: Request, tenant_slug: str, **kwargs: Any) -> Response:
        return self._resume()


class SharingJobListView(_JobViews):
    jobs = staticmethod(sharing_jobs)
    extra_filter = "kind"
    serializer_class = SharingJobSerializer

    @extend_schema(
        operation_id="sharing_jobs_list",
        parameters=[STATUS_PARAM, ORG_PARAM, OpenApiParameter("kind", str, enum=SharingJobKind.values)],
        responses={200: SharingJobSerializer(many=True), **PROBLEMS},
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        return self._list(request)


class SharingJobDetailView(_JobViews):
    jobs = staticmethod(sharing_jobs)
    object_kwarg = "sharing_job_id"
    serializer_class = SharingJobSerializer

    @extend_schema(operation_id="sharing_jobs_retrieve", responses={200: SharingJobSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, **kwargs: Any) -> Response:
        return self._one()


class SharingJobResumeView(_JobViews):
    jobs = staticmethod(sharing_jobs)
    object_kwarg = "sharing_job_id"
    serializer_class = SharingJobSerializer
    org_permissions = {"POST": permissions.can_manage_members}

    @extend_schema(
        operation_id="sharing_jobs_resume",
        request=None,
        responses={202: SharingJobSerializer, **PROBLEMS},
        description="Resume a failed sharing job, or one whose worker stopped; it continues from its cursor.",
    )
    def post(self, request: Request, tenant_slug: str, **kwargs: Any) -> Response:
        return self._resume()
