"""User sharing policies."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from idp.api.serializers.jobs import SharingJobSerializer
from orgs.sharing.selectors import SharingMode
from orgs.tree.selectors import MembershipRole


class SharingPolicySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True, allow_null=True)
    mode = serializers.ChoiceField(choices=SharingMode.choices, read_only=True)
    role = serializers.ChoiceField(choices=MembershipRole.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class SharingPolicyCreateSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150, help_text="User id or username, in this tenant.")
    organization = serializers.CharField(
        max_length=64, allow_null=True, required=False, default=None, help_text="Id or identifier; null for mode all."
    )
    mode = serializers.ChoiceField(choices=SharingMode.choices, default=SharingMode.SELECTED)
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)


class SharingPolicyResultSerializer(SharingPolicySerializer):
    job = serializers.SerializerMethodField()

    def get_job(self, obj: Any) -> dict[str, Any] | None:
        job = self.context.get("job")
        return dict(SharingJobSerializer(job).data) if job is not None else None
