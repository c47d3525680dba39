"""Tenants (realms), their users, signing keys and the audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

SLUG_RE = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
slug_validator = RegexValidator(
    SLUG_RE,
    "Use 1-50 lowercase letters, digits or hyphens, starting and ending with a letter or digit.",
    code="invalid_slug",
)

USERNAME_RE = r"^[\w.@+-]{1,150}$"
username_validator = RegexValidator(
    USERNAME_RE,
    "Use at most 150 letters, digits and the characters @ . + - _",
    code="invalid_username",
)


class Tenant(models.Model):
    """A realm: its own users, organizations, clients and keys, under ``/t/<slug>/``."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    display_name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.display_name or self.slug


class ClaimedDomain(models.Model):
    """An email domain something of a tenant claims (an organization, an upstream identity provider):
    the fields, order and label they share; each adds its owner, verification and unique constraint."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    domain = models.CharField(max_length=253)
    verified = models.BooleanField(default=False)

    class Meta:
        abstract = True
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class TenantUserManager(UserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        # Natural keys (createsuperuser, fixtures) name platform staff, who have no tenant.
        return self.get(tenant__isnull=True, username__iexact=username)


class User(AbstractUser):
    """A person. Belongs to exactly one tenant; platform staff have none.

    Usernames and emails are unique per tenant (case-insensitive): the same address
    in two tenants is two people.
    """

    username = models.CharField(
        "username",
        max_length=150,
        validators=[username_validator],
        help_text="Unique within the tenant. Letters, digits and @ . + - _ only.",
    )
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="users",
        help_text="Empty for platform staff.",
    )
    is_tenant_admin = models.BooleanField(
        "tenant administrator",
        default=False,
        help_text="May administer everything in this tenant (the Django admin and the API).",
    )

    phone_number = models.CharField(
        "mobile number",
        max_length=32,
        blank=True,
        default="",
        help_text="International format (+ and digits), for sign-in codes by text message.",
    )
    # Values of the tenant root's custom attributes (``user_attributes.custom``), by attribute name;
    # checked against the definitions by ``idp.flow.attributes`` on every write.
    custom_attributes = models.JSONField("custom attributes", default=dict, blank=True)
    terms_accepted_at = models.DateTimeField(
        "terms accepted", null=True, blank=True, help_text="When the user accepted the terms at sign-up."
    )
    terms_url_accepted = models.URLField("terms accepted (address)", max_length=500, blank=True, default="")

    objects: ClassVar[TenantUserManager] = TenantUserManager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "tenant",
                Lower("username"),
                name="user_username_unique_per_tenant",
                violation_error_message="A user with this username already exists in this tenant.",
            ),
            models.UniqueConstraint(
                Lower("username"),
                condition=models.Q(tenant__isnull=True),
                name="user_username_unique_platform",
                violation_error_message="A platform user with this username already exists.",
            ),
            models.UniqueConstraint(
                "tenant",
                Lower("email"),
                condition=~models.Q(email=""),
                name="user_email_unique_per_tenant",
                violation_error_message="A user with this email already exists in this tenant.",
            ),
            models.CheckConstraint(
                condition=models.Q(is_tenant_admin=False) | models.Q(tenant__isnull=False),
                name="user_tenant_admin_has_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.username if self.tenant_id is None else f"{self.username} ({self.tenant_slug})"

    @property
    def tenant_slug(self) -> str:
        tenant = self.tenant  # no query when tenant_id is None
        return tenant.slug if tenant is not None else ""

    @property
    def is_platform_staff(self) -> bool:
        return self.tenant_id is None and self.is_superuser

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = (self.email or "").strip().lower()
        super().save(*args, **kwargs)


class SigningKey(models.Model):
    """A tenant's token-signing key. The private half is stored encrypted."""

    class Algorithm(models.TextChoices):
        RS256 = "RS256", "RS256 (RSA 2048, SHA-256)"
        ES256 = "ES256", "ES256 (ECDSA P-256, SHA-256)"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active (signs new tokens)"
        RETIRED = "retired", "Retired (published for verification only)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="signing_keys")
    kid = models.CharField("key id", max_length=64, unique=True)
    algorithm = models.CharField(max_length=8, choices=Algorithm.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    public_jwk = models.JSONField()
    private_key_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tenant", "algorithm", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "algorithm"],
                condition=models.Q(status="active"),
                name="signingkey_one_active_per_alg",
            )
        ]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.kid} ({self.status})"


class AuditEvent(models.Model):
    """Who changed what. Written by every service that changes state."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    actor = models.ForeignKey("tenants.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_tenant_time")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"
