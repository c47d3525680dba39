"""Email invitations to an organization."""

from __future__ import annotations

from rest_framework import serializers

from orgs.tree.selectors import MembershipRole


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    email = serializers.EmailField(read_only=True)
    role = serializers.ChoiceField(choices=MembershipRole.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True, allow_null=True)
    accepted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.CharField(
        max_length=254,
        help_text="The address to invite. A person without an account here creates one from the emailed link "
        "(password and profile), and joins the organization.",
    )
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)
