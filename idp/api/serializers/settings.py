"""Settings overrides of a level and effective settings with provenance."""

from __future__ import annotations

from rest_framework import serializers

from idp.api.serializers.jobs import PropagationJobSerializer


class SettingsOverridesSerializer(serializers.Serializer):
    organization = serializers.UUIDField(allow_null=True, help_text="Null: the tenant root.")
    sections = serializers.DictField(
        child=serializers.DictField(), help_text="Section → the fields this organization overrides (only those)."
    )


class SectionOverridesSerializer(serializers.Serializer):
    section = serializers.CharField()
    overrides = serializers.DictField(help_text="The fields this organization overrides in the section.")
    job = PropagationJobSerializer(allow_null=True, required=False, help_text="The propagation a change started.")


class EffectiveFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    source = serializers.CharField(help_text='"default", "root" or the id (hex) of the organization that set it.')
    source_organization = serializers.UUIDField(allow_null=True)
    source_label = serializers.CharField()
    overridden_here = serializers.BooleanField()
    editable = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why an organization cannot override it (empty when it can).")


class EffectiveSectionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    fields = EffectiveFieldSerializer(many=True)


class EffectiveSettingsSerializer(serializers.Serializer):
    organization = serializers.UUIDField(allow_null=True, help_text="Null: the tenant root.")
    sections = EffectiveSectionSerializer(many=True)
