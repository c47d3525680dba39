"""Inherited settings: an organization's overrides, the effective settings computed from its
lineage, and the propagation job that recomputes a subtree."""

from __future__ import annotations

from django.db import models

from orgs.jobs.models import LeasedJob
from orgs.tree.models import Organization
from tenants.models import Tenant


class SettingsOverride(models.Model):
    """What one level sets for one section: the tenant root (``organization`` null) or an organization.

    Only the overridden fields are stored. The root row of each section also carries the
    section's ``clock``: every write in the section locks it and takes the next version, so
    versions follow commit order within a tenant and section.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="settings_overrides"
    )
    section = models.CharField(max_length=40)
    values = models.JSONField(default=dict, blank=True)
    version = models.BigIntegerField(default=0)
    clock = models.BigIntegerField(default=0, help_text="Root rows only: the section's last version.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["tenant", "section"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "section"],
                condition=models.Q(organization__isnull=False),
                name="settingsoverride_org_section",
            ),
            models.UniqueConstraint(
                fields=["tenant", "section"],
                condition=models.Q(organization__isnull=True),
                name="settingsoverride_root_section",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.section} @ {self.organization or 'root'}"


class EffectiveSettings(models.Model):
    """root ⊕ ancestors ⊕ own, materialized per organization and section, with provenance.

    ``data`` holds the effective values, ``sources`` the provenance of each field
    ("default", "root" or an organization id in hex), ``version`` the section version that
    computed it. The login path reads exactly one of these rows by (organization, section).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="effective_settings")
    section = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    sources = models.JSONField(default=dict)
    version = models.BigIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "effective settings"
        verbose_name_plural = "effective settings"
        ordering = ["organization", "section"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "section"], name="effectivesettings_org_section"),
        ]

    def __str__(self) -> str:
        return f"{self.section} for {self.organization_id} (v{self.version})"


class PropagationJob(LeasedJob):
    """Recomputing one section for an organization's subtree (or the whole tenant) after a change."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The subtree recomputed; empty = the whole tenant.",
    )
    section = models.CharField(max_length=40)
    version = models.BigIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    written = models.PositiveIntegerField(default=0, help_text="Rows changed (older-version rows only).")
    batches = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "section", "status"], name="propjob_active")]

    def __str__(self) -> str:
        return f"{self.section} v{self.version} ({self.status})"
