"""Shapes of the management API. Validation of content stays in ``orgs.services``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from orgs.models import Invitation, Membership, Organization, SharingPolicy


class OrganizationSerializer(serializers.ModelSerializer):
    parent = serializers.UUIDField(source="parent_id", read_only=True, allow_null=True)

    class Meta:
        model = Organization
        fields = [
            "id",
            "identifier",
            "display_name",
            "description",
            "logo_uri",
            "parent",
            "depth",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrganizationTreeSerializer(OrganizationSerializer):
    children = serializers.SerializerMethodField()

    class Meta(OrganizationSerializer.Meta):
        fields = [*OrganizationSerializer.Meta.fields, "children"]
        read_only_fields = fields

    def get_children(self, obj: Organization) -> list[dict[str, Any]]:
        kids = self.context["children"].get(obj.pk, [])
        return [OrganizationTreeSerializer(k, context=self.context).data for k in kids]


class OrganizationCreateSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=64)
    display_name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)
    logo_uri = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    parent = serializers.CharField(
        required=False, allow_null=True, default=None, max_length=64, help_text="Parent organization id or identifier."
    )
    become_admin = serializers.BooleanField(
        required=False,
        default=False,
        help_text="A tenant-level user (no home organization) is shared into the new organization as its admin.",
    )


class OrganizationUpdateSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=64, required=False)
    display_name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    logo_uri = serializers.CharField(required=False, allow_blank=True, max_length=500)


class OrganizationMoveSerializer(serializers.Serializer):
    parent = serializers.CharField(
        allow_null=True, max_length=64, help_text="New parent id or identifier; null for top level."
    )


class OrganizationDeleteQuerySerializer(serializers.Serializer):
    cascade = serializers.BooleanField(required=False, default=False)


class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)

    class Meta:
        model = Membership
        fields = [
            "user",
            "username",
            "email",
            "first_name",
            "last_name",
            "organization",
            "role",
            "origin",
            "created_at",
        ]
        read_only_fields = fields


class MembershipAddSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150, help_text="User id or username, in this tenant.")
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class MembershipRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=256, required=False, allow_null=True, default=None, write_only=True, style={"input_type": "password"}
    )
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class SharingPolicySerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True, allow_null=True)

    class Meta:
        model = SharingPolicy
        fields = ["id", "user", "username", "organization", "mode", "role", "created_at"]
        read_only_fields = fields


class SharingPolicyCreateSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150, help_text="User id or username, in this tenant.")
    organization = serializers.CharField(
        max_length=64, allow_null=True, required=False, default=None, help_text="Id or identifier; null for mode all."
    )
    mode = serializers.ChoiceField(choices=SharingPolicy.Mode.choices, default=SharingPolicy.Mode.SELECTED)
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class InvitationSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "organization", "email", "role", "created_at", "expires_at", "sent_at", "accepted_at"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)
