"""Reads of invitations (for the API and the pages)."""

from __future__ import annotations

from django.db.models import QuerySet

from orgs.invitations.models import Invitation
from orgs.tree.models import Organization


def organization_invitations(*, organization: Organization) -> QuerySet[Invitation]:
    """The organization's invitations, newest first."""
    return Invitation.objects.filter(organization=organization).order_by("-created_at")
