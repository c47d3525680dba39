"""Propagation and sharing jobs: one base for what every leased job shows."""

from __future__ import annotations

from rest_framework import serializers

from orgs.jobs.selectors import LeasedJobStatus
from orgs.sharing.selectors import SharingJobKind, SharingMode
from orgs.tree.selectors import MembershipRole


class _LeasedJobSerializer(serializers.Serializer):
    """The fields every leased job (propagation, sharing) shows the same way."""

    id = serializers.IntegerField(read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=LeasedJobStatus.choices, read_only=True)
    total = serializers.IntegerField(read_only=True)
    processed = serializers.IntegerField(read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="Percent of the organizations done.")
    attempts = serializers.IntegerField(read_only=True)
    errors = serializers.ListField(child=serializers.DictField(), read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    #: Every field, in the order an answer shows them (the kind's own among the common ones).
    field_order: tuple[str, ...] = ()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {name: fields[name] for name in self.field_order}


class PropagationJobSerializer(_LeasedJobSerializer):
    section = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    reason = serializers.CharField(read_only=True)
    written = serializers.IntegerField(read_only=True, help_text="Rows changed (older-version rows only).")
    field_order = (
        "id",
        "section",
        "organization",
        "version",
        "reason",
        "status",
        "total",
        "processed",
        "written",
        "progress",
        "attempts",
        "errors",
        "created_at",
        "started_at",
        "finished_at",
    )


class SharingJobSerializer(_LeasedJobSerializer):
    kind = serializers.ChoiceField(choices=SharingJobKind.choices, read_only=True)
    policy = serializers.IntegerField(source="policy_id", read_only=True, allow_null=True)
    user = serializers.IntegerField(source="user_id", read_only=True)
    mode = serializers.ChoiceField(choices=SharingMode.choices, read_only=True)
    role = serializers.ChoiceField(choices=MembershipRole.choices, read_only=True)
    changed = serializers.IntegerField(read_only=True, help_text="Memberships added (share) or removed (unshare).")
    field_order = (
        "id",
        "kind",
        "policy",
        "user",
        "organization",
        "mode",
        "role",
        "status",
        "total",
        "processed",
        "changed",
        "progress",
        "attempts",
        "errors",
        "created_at",
        "started_at",
        "finished_at",
    )
