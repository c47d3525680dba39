"""Jobs through the management API: propagation and sharing jobs, progress, errors, resume."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from orgs.inheritance.models import PropagationJob
from orgs.inheritance.services import settings_override_set
from orgs.jobs.models import JobStatus
from orgs.sharing.models import SharingJob, SharingPolicy
from orgs.sharing.services import sharing_job_run
from orgs.tree.models import Membership
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant, User
from tenants.services import user_create
from tests.support.api import ApiClient, api_token, assert_problem, client_for
from tests.support.lookups import org, user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def tess(demo: Tenant) -> User:
    """A tenant-level user (no home organization), so she can be shared anywhere."""
    return user_create(actor=SYSTEM, tenant=demo, username="tess", password="x" * 12, validate_password_strength=False)


def shared_in(u: User) -> set[str]:
    rows = Membership.objects.filter(user=u, origin=Membership.Origin.SHARED)
    return set(rows.values_list("organization__identifier", flat=True))


def test_propagation_jobs_are_listed_filtered_and_cut_to_the_reach(demo: Tenant) -> None:
    root_job = settings_override_set(actor=SYSTEM, tenant=demo, section="branding", values={"display_name": "MB"})
    sub_job = settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        organization=org(demo, "acme-bank"),
        section="login",
        values={"password_min_length": 10},
    )
    sam, alma = client_for(demo, "sam"), client_for(demo, "alma")
    ids = {j["id"] for j in sam.get("jobs/propagation/?page_size=200").json()["results"]}
    assert {root_job.pk, sub_job.pk} <= ids
    only_login = sam.get("jobs/propagation/?section=login&organization=acme-bank").json()["results"]
    assert [j["id"] for j in only_login] == [sub_job.pk]
    # alma (owner of mightybank-americas) sees the job of acme-bank, not the tenant-wide one.
    seen = {j["id"] for j in alma.get("jobs/propagation/?page_size=200").json()["results"]}
    assert sub_job.pk in seen and root_job.pk not in seen
    assert_problem(alma.get(f"jobs/propagation/{root_job.pk}/"), 404)
    assert_problem(alma.post(f"jobs/propagation/{root_job.pk}/resume/"), 404)
    detail = alma.get(f"jobs/propagation/{sub_job.pk}/")
    assert detail.status_code == 200 and detail.json()["section"] == "login" and detail["ETag"]
    assert_problem(client_for(demo, "barbara").post(f"jobs/propagation/{sub_job.pk}/resume/"), 403)  # admin, not owner


def test_a_failed_propagation_job_resumes_from_its_cursor(demo: Tenant, django_capture_on_commit_callbacks) -> None:
    job = settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        organization=org(demo, "mightybank-americas"),
        section="login",
        values={"password_min_length": 11},
    )
    errors = [{"at": "2026-01-01T00:00:00+00:00", "error": "OperationalError: the database went away"}]
    PropagationJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, errors=errors, lease_owner="dead")
    sam = client_for(demo, "sam")
    failed = sam.get(f"jobs/propagation/{job.pk}/").json()
    assert failed["status"] == "failed" and failed["errors"][0]["error"].startswith("OperationalError")
    with django_capture_on_commit_callbacks(execute=True):
        resumed = sam.post(f"jobs/propagation/{job.pk}/resume/")
    assert resumed.status_code == 202, resumed.content
    assert resumed.json()["status"] == "pending"
    done = sam.get(f"jobs/propagation/{job.pk}/").json()
    assert done["status"] == "done" and done["processed"] == done["total"] == 3
    assert AuditEvent.objects.filter(tenant=demo, action="propagationjob.resume", actor__username="sam").exists()
    # A finished job does not resume: a field error, and nothing changes.
    body = assert_problem(sam.post(f"jobs/propagation/{job.pk}/resume/"), 400)
    assert "status" in body["errors"]
    assert PropagationJob.objects.get(pk=job.pk).status == JobStatus.DONE


def test_large_sharing_answers_202_with_a_job_that_runs_and_unshares(
    demo: Tenant, tess: User, settings, django_capture_on_commit_callbacks
) -> None:
    settings.CANOPY_SHARING_INLINE_LIMIT = 1
    sam = client_for(demo, "sam")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = sam.post(
            "sharing-policies/", {"user": "tess", "organization": "mightybank-americas", "mode": "with-children"}
        )
    assert answer.status_code == 202, answer.content
    job = answer.json()["job"]
    assert job["kind"] == "share" and job["status"] == "pending" and job["total"] == 3 and job["processed"] == 0
    assert shared_in(tess) == set()  # the job runs after commit
    for callback in callbacks:
        callback()  # Celery is eager in the tests: the job runs now
    status = sam.get(f"jobs/sharing/{job['id']}/").json()
    assert status["status"] == "done" and status["processed"] == 3 and status["changed"] == 3
    assert status["progress"] == 100
    assert shared_in(tess) == {"mightybank-americas", "acme-bank", "mexbanco"}
    assert sharing_job_run(job["id"]) == "skipped"  # a redelivered message does nothing
    listed = sam.get("jobs/sharing/?kind=share&status=done").json()["results"]
    assert [j["id"] for j in listed] == [job["id"]]
    policy = SharingPolicy.objects.get(user=tess)
    with django_capture_on_commit_callbacks(execute=True):
        removed = sam.delete(f"sharing-policies/{policy.pk}/")
    assert removed.status_code == 202 and removed.json()["kind"] == "unshare"
    unshare = SharingJob.objects.get(pk=removed.json()["id"])
    assert unshare.status == JobStatus.DONE and unshare.changed == 3
    assert shared_in(tess) == set()


def test_a_failed_sharing_job_resumes_where_it_stopped_and_counts_once(
    demo: Tenant, tess: User, settings, django_capture_on_commit_callbacks
) -> None:
    settings.CANOPY_SHARING_INLINE_LIMIT = 1
    sam = client_for(demo, "sam")
    with django_capture_on_commit_callbacks(execute=False):
        job_id = sam.post(
            "sharing-policies/", {"user": "tess", "organization": "mightybank-americas", "mode": "with-children"}
        ).json()["job"]["id"]
    # A run that died after its first batch: cursor, counts and lease as it left them.
    first = org(demo, "mightybank-americas")
    Membership.objects.create(tenant=demo, user=tess, organization=first, origin=Membership.Origin.SHARED)
    SharingJob.objects.filter(pk=job_id).update(
        status=JobStatus.FAILED, cursor=first.path, processed=1, changed=1, lease_owner="dead", attempts=1
    )
    alma = client_for(demo, "alma")  # owner of the shared organization: may resume it
    with django_capture_on_commit_callbacks(execute=True):
        assert alma.post(f"jobs/sharing/{job_id}/resume/").status_code == 202
    job = SharingJob.objects.get(pk=job_id)
    assert job.status == JobStatus.DONE and job.processed == 3 and job.changed == 3 and job.attempts == 2
    assert shared_in(tess) == {"mightybank-americas", "acme-bank", "mexbanco"}
    assert_problem(client_for(demo, "bob").get(f"jobs/sharing/{job_id}/"), 404)  # a member reaches nothing


def test_a_newer_sharing_job_supersedes_an_active_one(demo: Tenant, tess: User, settings) -> None:
    settings.CANOPY_SHARING_INLINE_LIMIT = 1
    sam = client_for(demo, "sam")
    body = {"user": "tess", "organization": "mightybank-americas", "mode": "with-children"}
    first = sam.post("sharing-policies/", body).json()["job"]["id"]  # on_commit never fires here
    second = sam.post("sharing-policies/", {**body, "role": "admin"}).json()["job"]["id"]
    assert SharingJob.objects.get(pk=first).status == JobStatus.SUPERSEDED
    assert sharing_job_run(first) == "skipped"
    assert sharing_job_run(second) == JobStatus.DONE
    roles = set(Membership.objects.filter(user=tess).values_list("role", flat=True))
    assert roles == {"admin"}


def test_the_admin_lists_sharing_jobs_with_progress(demo: Tenant, tess: User, settings, admin_client_for) -> None:
    settings.CANOPY_SHARING_INLINE_LIMIT = 1
    sam = client_for(demo, "sam")
    sam.post("sharing-policies/", {"user": "tess", "organization": "mightybank-americas", "mode": "with-children"})
    page = admin_client_for(user(demo, "sam")).get("/admin/orgs/sharingjob/")
    assert page.status_code == 200
    assert b"<progress" in page.content and b"tess" in page.content


def wait_until_finished(client: ApiClient, path: str, timeout: float = 60) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(path).json()
        if body["status"] not in ("pending", "running"):
            return dict(body)
        time.sleep(0.2)
    raise AssertionError(f"{path} still active: {body}")


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_through_a_real_worker_settings_reach_children_and_a_large_share_completes(real_broker: str, settings) -> None:
    """The API's writes commit, enqueue on the Redis broker, and a separate worker process runs the jobs."""
    from orgs.tree.services import organization_create
    from tenants.services import tenant_create

    tenant = tenant_create(actor=SYSTEM, slug="api-worker")
    admin = user_create(
        actor=SYSTEM,
        tenant=tenant,
        username="ada",
        password="x" * 12,
        is_tenant_admin_flag=True,
        validate_password_strength=False,
    )
    top = organization_create(actor=SYSTEM, tenant=tenant, identifier="top", display_name="Top")
    for i in range(4):
        organization_create(actor=SYSTEM, tenant=tenant, identifier=f"kid{i}", display_name=f"Kid {i}", parent=top)
    api = ApiClient(api_token(tenant=tenant, user=admin), tenant.slug)
    changed = api.patch("organizations/top/settings/login/", {"lockout_minutes": 9})
    assert changed.status_code == 202, changed.content
    job = wait_until_finished(api, f"jobs/propagation/{changed.json()['job']['id']}/")
    assert job["status"] == "done" and job["processed"] == 5
    effective = api.get("organizations/kid3/effective-settings/?section=login").json()["sections"][0]["fields"]
    lockout = next(f for f in effective if f["name"] == "lockout_minutes")
    assert lockout["value"] == 9 and lockout["source_organization"] == str(top.pk)

    settings.CANOPY_SHARING_INLINE_LIMIT = 2
    user_create(actor=SYSTEM, tenant=tenant, username="tess", password="x" * 12, validate_password_strength=False)
    shared = api.post("sharing-policies/", {"user": "tess", "organization": "top", "mode": "with-children"})
    assert shared.status_code == 202, shared.content
    done = wait_until_finished(api, f"jobs/sharing/{shared.json()['job']['id']}/")
    assert done["status"] == "done" and done["processed"] == 5 and done["changed"] == 5
    listed = api.get("organizations/kid2/members/").json()["results"]
    assert [(m["username"], m["origin"]) for m in listed if m["username"] == "tess"] == [("tess", "shared")]
