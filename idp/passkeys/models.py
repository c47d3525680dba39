"""A passkey: one WebAuthn public-key credential of a user, in one tenant."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tenants.models import Tenant


class PasskeyCredential(models.Model):
    """The public half of a passkey. ``credential_id`` and ``user_handle`` are base64url text.

    Every tenant shares the relying-party id (the host), so a credential id is unique per
    tenant and every lookup names the tenant: another tenant's passkey is unknown here.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys")
    credential_id = models.CharField(max_length=1400)
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    user_handle = models.CharField(max_length=128)
    name = models.CharField(max_length=100)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True)
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "credential_id"], name="passkey_credential_unique_per_tenant")
        ]
        indexes = [models.Index(fields=["tenant", "user"], name="passkey_tenant_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"
