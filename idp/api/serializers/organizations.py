"""Organizations: the representation, the tree, create, update and move bodies."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class OrganizationSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    identifier = serializers.CharField(
        read_only=True, help_text="Short name, unique in the tenant; may be changed. The id never changes."
    )
    display_name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    logo_uri = serializers.URLField(read_only=True)
    parent = serializers.UUIDField(source="parent_id", read_only=True, allow_null=True)
    depth = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class OrganizationTreeSerializer(OrganizationSerializer):
    children = serializers.SerializerMethodField()

    def get_children(self, obj: Any) -> list[dict[str, Any]]:
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
