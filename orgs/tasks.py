"""The face of the ``orgs`` app's Celery tasks: Celery's autodiscovery imports this module, and
it imports each feature's task module, so every task registers under the name it was published
with (``orgs.tasks.<name>``). Tasks take ids and are safe to repeat.

- ``orgs.inheritance.tasks``: ``propagate_settings``, ``resume_stalled_propagation_jobs``
- ``orgs.sharing.tasks``: ``run_sharing_job``, ``resume_stalled_sharing_jobs``, ``expand_sharing_policy``
- ``orgs.invitations.services``: ``send_invitation_email`` (defined beside its feature)
"""

from orgs.inheritance.tasks import propagate_settings, resume_stalled_propagation_jobs
from orgs.invitations.services import send_invitation_email
from orgs.sharing.tasks import expand_sharing_policy, resume_stalled_sharing_jobs, run_sharing_job

__all__ = [
    "expand_sharing_policy",
    "propagate_settings",
    "resume_stalled_propagation_jobs",
    "resume_stalled_sharing_jobs",
    "run_sharing_job",
    "send_invitation_email",
]
