"""Acts-for links between organizations."""

from __future__ import annotations

from rest_framework import serializers


class ActsForLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    on_behalf_of = serializers.UUIDField(source="on_behalf_of_id", read_only=True)
    on_behalf_of_identifier = serializers.CharField(source="on_behalf_of.identifier", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class ActsForCreateSerializer(serializers.Serializer):
    on_behalf_of = serializers.CharField(max_length=64, help_text="Id or identifier of the represented organization.")
