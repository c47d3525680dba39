"""Members of an organization, users created in one, and members' profile values there."""

from __future__ import annotations

from rest_framework import serializers

from orgs.tree.selectors import MembershipOrigin, MembershipRole


class MembershipSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    role = serializers.ChoiceField(choices=MembershipRole.choices, read_only=True)
    origin = serializers.ChoiceField(choices=MembershipOrigin.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class MembershipAddSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150, help_text="User id or username, in this tenant.")
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)


class MembershipRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=MembershipRole.choices)


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=256, required=False, allow_null=True, default=None, write_only=True, style={"input_type": "password"}
    )
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)


class MemberProfileSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    organization = serializers.UUIDField()
    resolved = serializers.DictField(
        child=serializers.CharField(allow_blank=True), help_text="Values with this organization selected."
    )
    own_values = serializers.DictField(
        child=serializers.CharField(), help_text="The values this organization set for the user."
    )
    modes = serializers.DictField(child=serializers.CharField(), help_text="Attribute → source mode (tenant root).")


class MemberProfilePatchSerializer(serializers.Serializer):
    given_name = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True)
    family_name = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True)
    name = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True)
    email = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True)
