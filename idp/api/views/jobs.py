"""Management API v1: propagation and sharing jobs — status, progress, errors, resume.

What a caller sees is cut in the base class (``in_reach``): tenant administrators see every
job of the tenant; delegated administrators the jobs of organizations in their reach
(tenant-wide jobs are not theirs). Resuming goes through ``orgs.jobs.leases.job_resume``, the same
rule and audit as the admin's action.

Both kinds have the same three endpoints (list, one job, resume), so the views are made once,
by ``job_views``, from a description of the kind (``JobKind``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from idp.api.base import OrgCheck, TenantAPIView
from idp.api.schema import doc_action, doc_list, doc_read
from idp.api.serializers.jobs import PropagationJobSerializer, SharingJobSerializer
from orgs.inheritance.selectors import propagation_jobs
from orgs.jobs.leases import job_resume
from orgs.jobs.selectors import LeasedJobStatus
from orgs.sharing.selectors import SharingJobKind, sharing_jobs
from orgs.tree import permissions
from orgs.tree.selectors import organization_get

STATUS_PARAM = OpenApiParameter("status", str, enum=LeasedJobStatus.values)
ORG_PARAM = OpenApiParameter("organization", str, description="Organization id or identifier.")


@dataclass(frozen=True)
class JobKind:
    """One kind of leased job as the API shows it."""

    name: str  # in URLs, URL kwargs and operation ids: "propagation" → propagation_jobs_list, propagation_job_id
    jobs: Callable[..., QuerySet[Any]]  # the tenant's jobs of this kind (an ``orgs.*.selectors`` function)
    serializer: type[Serializer]
    filter: OpenApiParameter  # the list's own filter besides status and organization
    resume: OrgCheck  # who may resume a job, on its organization
    resume_description: str


PROPAGATION = JobKind(
    name="propagation",
    jobs=propagation_jobs,
    serializer=PropagationJobSerializer,
    filter=OpenApiParameter("section", str),
    resume=permissions.can_edit_organization,
    resume_description="Resume a failed job, or one whose worker stopped; it continues from its cursor.",
)
SHARING = JobKind(
    name="sharing",
    jobs=sharing_jobs,
    serializer=SharingJobSerializer,
    filter=OpenApiParameter("kind", str, enum=SharingJobKind.values),
    resume=permissions.can_manage_members,
    resume_description="Resume a failed sharing job, or one whose worker stopped; it continues from its cursor.",
)


class _JobViews(TenantAPIView):
    kind: JobKind

    def reachable_objects(self) -> QuerySet[Any]:
        return self.in_reach(self.kind.jobs(tenant=self.tenant))


class _JobList(_JobViews):
    def get(self, request: Request, tenant_slug: str) -> Response:
        qs = self.reachable_objects().order_by("-created_at", "-pk")
        wanted = request.query_params.get("status")
        if wanted:
            qs = qs.filter(status=wanted)
        key = request.query_params.get("organization")
        if key:
            found = organization_get(tenant=self.tenant, key=key)
            qs = qs.filter(organization=found) if found else qs.none()
        own = request.query_params.get(self.kind.filter.name)
        if own:
            qs = qs.filter(**{self.kind.filter.name: own})
        return self.page_of(qs)


class _JobDetail(_JobViews):
    def get(self, request: Request, tenant_slug: str, **kwargs: Any) -> Response:
        return self.show(self.object)


class _JobResume(_JobViews):
    def post(self, request: Request, tenant_slug: str, **kwargs: Any) -> Response:
        job = job_resume(actor=self.actor, job=self.object)
        return Response(self.represent(job), status=status.HTTP_202_ACCEPTED)


def job_views(kind: JobKind) -> tuple[type[_JobList], type[_JobDetail], type[_JobResume]]:
    """The list, one-job and resume views of ``kind`` (``<Kind>JobListView``, …)."""
    title, ops = kind.name.capitalize(), f"{kind.name}_jobs"
    own = {"kind": kind, "serializer_class": kind.serializer, "__module__": __name__}
    one = {**own, "object_kwarg": f"{kind.name}_job_id"}
    listing = type(f"{title}JobListView", (_JobList,), own)
    detail = type(f"{title}JobDetailView", (_JobDetail,), one)
    resume = type(f"{title}JobResumeView", (_JobResume,), {**one, "org_permissions": {"POST": kind.resume}})
    return (
        extend_schema_view(get=doc_list(f"{ops}_list", kind.serializer, STATUS_PARAM, ORG_PARAM, kind.filter))(listing),
        extend_schema_view(get=doc_read(f"{ops}_retrieve", kind.serializer))(detail),
        extend_schema_view(
            post=doc_action(
                f"{ops}_resume", kind.serializer, status.HTTP_202_ACCEPTED, description=kind.resume_description
            )
        )(resume),
    )


PropagationJobListView, PropagationJobDetailView, PropagationJobResumeView = job_views(PROPAGATION)
SharingJobListView, SharingJobDetailView, SharingJobResumeView = job_views(SHARING)
