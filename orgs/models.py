"""Organizations, their hierarchy, domains, acts-for links and memberships.

The hierarchy is a materialized path: ``path`` is the concatenation of the
hex ids of every ancestor and the organization itself, each followed by ``/``.
Descendants are one indexed prefix query; ancestors are parsed from the path.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

from tenants.models import Tenant

IDENTIFIER_RE = r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$"
identifier_validator = RegexValidator(
    IDENTIFIER_RE,
    "Use 1-64 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit.",
    code="invalid_identifier",
)

PATH_SEGMENT_LENGTH = 33  # 32 hex characters and "/"
MAX_DEPTH = 40


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="organizations")
    identifier = models.CharField(
        max_length=64,
        validators=[identifier_validator],
        help_text="Short name, unique in the tenant; may be changed. The id never changes.",
    )
    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    logo_uri = models.URLField(blank=True, max_length=500)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    path = models.CharField(max_length=PATH_SEGMENT_LENGTH * MAX_DEPTH, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "path"]
        constraints = [
            models.UniqueConstraint(
                "tenant",
                Lower("identifier"),
                name="org_identifier_unique_per_tenant",
                violation_error_message="An organization with this identifier already exists in this tenant.",
            ),
            models.UniqueConstraint(fields=["path"], name="org_path_unique"),
            models.CheckConstraint(condition=~models.Q(parent=models.F("id")), name="org_not_own_parent"),
        ]
        indexes = [
            # LIKE 'prefix%' on PostgreSQL needs the pattern operator class.
            models.Index(fields=["path"], name="org_path_prefix", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return self.display_name or self.identifier

    @property
    def ancestor_ids(self) -> list[uuid.UUID]:
        """Ids from the root down to the parent (the organization itself excluded)."""
        segments = [s for s in self.path.split("/") if s]
        return [uuid.UUID(hex=s) for s in segments[:-1]]

    @property
    def lineage_ids(self) -> list[uuid.UUID]:
        """Ids from the root down to and including this organization."""
        return [uuid.UUID(hex=s) for s in self.path.split("/") if s]

    def is_descendant_of(self, other: Organization) -> bool:
        return self.path != other.path and self.path.startswith(other.path)


class OrganizationDomain(models.Model):
    """An email domain claimed by an organization (used by domain-based IdP routing)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253)
    verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "domain"],
                name="orgdomain_unique_per_tenant",
                violation_error_message="This domain is already claimed by an organization in this tenant.",
            )
        ]

    def __str__(self) -> str:
        return self.domain


class ActsForLink(models.Model):
    """Members of ``organization`` may act on behalf of ``on_behalf_of``."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="acts_for_links")
    on_behalf_of = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="represented_by_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "acts-for link"
        constraints = [
            models.UniqueConstraint(fields=["organization", "on_behalf_of"], name="actsfor_unique_pair"),
            models.CheckConstraint(condition=~models.Q(organization=models.F("on_behalf_of")), name="actsfor_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} acts for {self.on_behalf_of}"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Administrator"
        MEMBER = "member", "Member"

    class Origin(models.TextChoices):
        DIRECT = "direct", "Added directly"
        CREATED_HERE = "created-here", "Created in this organization"
        SHARED = "shared", "Shared from a parent"
        INVITED = "invited", "Invited"
        JIT = "jit", "Just-in-time provisioned"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.DIRECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__path", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"],
                name="membership_unique",
                violation_error_message="This user is already a member of this organization.",
            ),
            # The organization a profile was created in is its home: at most one.
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(origin="created-here"), name="membership_one_home"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "user"], name="membership_tenant_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


ROLE_RANK = {Membership.Role.MEMBER: 1, Membership.Role.ADMIN: 2, Membership.Role.OWNER: 3}


# --- Inherited settings (see orgs/settings_schema.py, orgs/propagation.py) ----


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


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    SUPERSEDED = "superseded", "Superseded by a newer change"
    FAILED = "failed", "Failed"


class LeasedJob(models.Model):
    """A resumable background job: path-ordered cursor, counts, a lease, bounded error list.

    A run takes the lease (``orgs.jobs.job_claim``), commits its progress with each batch and
    may be resumed after a crash once the lease has expired; see ``orgs.propagation``.
    """

    Status = JobStatus

    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.PENDING)
    cursor = models.CharField(max_length=PATH_SEGMENT_LENGTH * MAX_DEPTH, blank=True, help_text="Last path done.")
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def progress(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.processed / self.total))

    @property
    def is_active(self) -> bool:
        return self.status in (JobStatus.PENDING, JobStatus.RUNNING)


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


class UserStore(models.Model):
    """A user store an organization onboarded, with its own attribute mappings."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="user_stores")
    name = models.CharField(max_length=64, validators=[identifier_validator])
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="userstore_unique_name")]

    def __str__(self) -> str:
        return self.name


class UserStoreAttributeMapping(models.Model):
    """How a user store holds one (system or root custom) attribute."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(UserStore, on_delete=models.CASCADE, related_name="mappings")
    attribute = models.CharField(max_length=64)
    mapped_to = models.CharField(max_length=128, help_text="The store's own attribute name.")
    multi_valued = models.BooleanField(default=False)
    disabled = models.BooleanField(default=False)

    class Meta:
        ordering = ["store", "attribute"]
        constraints = [models.UniqueConstraint(fields=["store", "attribute"], name="userstoremapping_unique")]

    def __str__(self) -> str:
        return f"{self.attribute} → {self.mapped_to}"


# --- User sharing (see orgs/sharing.py) ----------------------------------------


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
    ``CANOPY_SHARING_INLINE_LIMIT``; ``orgs.sharing.sharing_job_run`` works through the targets in
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


class Invitation(models.Model):
    """An email invitation to join an organization (see orgs/invitations.py)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    nonce = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization}"


class OrganizationProfileValue(models.Model):
    """An organization's own value of one profile attribute for a user (see orgs/profiles.py).

    Read only where the tenant's ``user_attributes.shared_value_sources`` mode for the
    attribute is ``from-shared-profile`` (this organization's row) or
    ``first-found-in-hierarchy`` (the nearest row up the lineage).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="profile_values")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile_values")
    attribute = models.CharField(max_length=32)
    value = models.CharField(max_length=500)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization__path", "user__username", "attribute"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "attribute"],
                name="org_profile_value_unique",
                violation_error_message="This organization already has a value of this attribute for this user.",
            ),
        ]
        indexes = [models.Index(fields=["user", "attribute"], name="org_profile_value_user")]

    def __str__(self) -> str:
        return f"{self.attribute} of {self.user} in {self.organization}"
