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
    # A federated sign-in: the upstream IdP and its own session (``sid``) and subject, so the partner's
    # back-channel logout (idp/federation/backchannel.py) can end exactly the sessions it started.
    upstream_idp = models.ForeignKey(
        "federation.UpstreamIdP", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    upstream_sid = models.CharField(max_length=255, blank=True)
    upstream_subject = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "user"], name="session_record_tenant_user"),
            models.Index(fields=["upstream_idp", "upstream_sid"], name="session_record_upstream_sid"),
        ]

    def __str__(self) -> str:
        return f"session of {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"
