"""Email domains an organization claims."""

from __future__ import annotations

from rest_framework import serializers


class OrganizationDomainSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    domain = serializers.CharField(max_length=253)
    verified = serializers.BooleanField(read_only=True)
    verified_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
