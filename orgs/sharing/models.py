"""Sharing policies (a user shared down a subtree) and the job that applies a large one."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgs.jobs.models import LeasedJob
from orgs.tree.models import Membership, Organization
from tenants.models import Tenant


class SharingPolicy(models.Model):
    """Share one user's profile with organizations below where it lives.

    Expanded by ``orgs.sharing`` into memberships with origin ``shared``; the
    "with children" and "all" modes also cover organizations created later.
    """

    class Mode(models.TextChoices):
        SELECTED = "selected", "This organization only"
        WITH_CHILDREN = "with-children", "This organization and its existing and future children"
        ALL = "all", "All organizations (existing and future)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sharing_policies")
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sharing_policies",
        help_text="The organization shared with (empty for 'all').",
    )
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.SELECTED)
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "sharing policies"
        ordering = ["tenant", "user_id", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="sharing_unique_user_org"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(organization__isnull=True), name="sharing_unique_user_all"
            ),
            models.CheckConstraint(
                condition=models.Q(mode="all", organization__isnull=True)
                | (~models.Q(mode="all") & models.Q(organization__isnull=False)),
                name="sharing_all_has_no_organization",
            ),
        ]

    def __str__(self) -> str:
        where = self.organization.identifier if self.organization else "all organizations"
        return f"{self.user} shared with {where} ({self.get_mode_display()})"


class SharingJob(LeasedJob):
    """Sharing (or unsharing) one policy over a large set of organizations, tracked and resumable.

    ``sharing_policy_set`` / ``sharing_policy_unshare`` create one when the targets exceed
    ``CANOPY_SHARING_INLINE_LIMIT``; ``orgs.sharing.services.sharing_job_run`` works through the targets in
    path order from ``cursor``. The policy's user, organization, mode and role are copied here:
    an unshare job outlives its (deleted) policy.
    """

    class Kind(models.TextChoices):
        SHARE = "share", "Share"
        UNSHARE = "unshare", "Unshare"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    policy = models.ForeignKey(
        SharingPolicy,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="jobs",
        help_text="Empty once removed.",
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The organization shared with; empty = all organizations.",
    )
    mode = models.CharField(max_length=16, choices=SharingPolicy.Mode.choices)
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    changed = models.PositiveIntegerField(default=0, help_text="Memberships added (share) or removed (unshare).")
    requested_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "status"], name="sharingjob_active")]

    def __str__(self) -> str:
        return f"{self.kind} {self.user_id} ({self.status})"
