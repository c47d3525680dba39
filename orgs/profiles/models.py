"""Profile attributes per organization: user stores, their attribute mappings, and the values an
organization keeps for a user."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgs.tree.models import Organization, identifier_validator
from tenants.models import Tenant


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


# --- User sharing (see orgs/sharing/services.py) ----------------------------------------


class OrganizationProfileValue(models.Model):
    """An organization's own value of one profile attribute for a user (see orgs/profiles/services.py).

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
