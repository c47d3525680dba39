"""The organizations app. ``ready()`` wires its features together, so that none imports another's
internals: the tree's hooks (``orgs.tree.hooks``), the job kinds (``orgs.jobs.leases.JOB_KINDS``), the cache
signals, the delegated admin and the lockout policy."""

from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orgs.inheritance.login_policy import lockout_policy_for
        from orgs.inheritance.models import PropagationJob
        from orgs.inheritance.services import settings_materialize_moved, settings_materialize_new
        from orgs.inheritance.tasks import propagate_settings
        from orgs.jobs.leases import job_kind_register
        from orgs.sharing.models import SharingJob
        from orgs.sharing.services import sharing_apply_to_new_organization
        from orgs.sharing.tasks import run_sharing_job
        from orgs.tree import hooks, permissions
        from orgs.tree.delegated_admin import register
        from orgs.tree.selectors import connect_cache_signals
        from tenants.lockout import register_policy_resolver

        register()  # owners and admins of organizations may use the admin for their subtree
        register_policy_resolver(lockout_policy_for)  # lockout thresholds of the home organization
        connect_cache_signals()  # the eligible-organizations cache, whoever writes

        # The tree tells the features that follow it (inside the writer's transaction, in this order).
        hooks.on_organization_created(settings_materialize_new)  # effective settings from the parent
        hooks.on_organization_created(sharing_apply_to_new_organization)  # users shared with the parent's subtree
        hooks.on_organization_moved(settings_materialize_moved)  # the moved subtree inherits from its new lineage

        # Job kinds: how a run is queued (the feature's Celery task) and who besides tenant
        # administrators may resume one.
        job_kind_register(
            PropagationJob,
            enqueue=lambda job_id: propagate_settings.delay(job_id),  # noqa: PLW0108 - .delay looked up per call
            may_resume=permissions.can_edit_organization,
        )
        job_kind_register(
            SharingJob,
            enqueue=lambda job_id: run_sharing_job.delay(job_id),  # noqa: PLW0108 - .delay looked up per call
            may_resume=permissions.can_manage_members,
        )
