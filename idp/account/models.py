"""A browser session of a tenant user, as the account page lists it."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tenants.models import Tenant


class SessionRecord(models.Model):
    """Written when a user signs in; keyed on the Django session key (the session itself holds the rest).

    Ending a session deletes the Django session row; a record whose session is gone or expired
    is not listed and is pruned when the page is read.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_records")
    session_key = models.CharField(max_length=40, unique=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "user"], name="session_record_tenant_user")]

    def __str__(self) -> str:
        return f"session of {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"
