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

from tenants.models import ClaimedDomain, Tenant

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


class OrganizationDomain(ClaimedDomain):
    """An email domain claimed by an organization (used by domain-based IdP routing)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(ClaimedDomain.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "domain"],
                name="orgdomain_unique_per_tenant",
                violation_error_message="This domain is already claimed by an organization in this tenant.",
            )
        ]


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


# --- Inherited settings (see orgs/inheritance/schema.py, orgs/inheritance/propagation.py) ----
