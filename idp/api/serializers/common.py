"""Shapes every part of the management API shares: problems and input checks."""

from __future__ import annotations

from typing import Any

from django.core.validators import URLValidator
from rest_framework import serializers


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


def refuse_nul(value: Any, field: str = "value") -> Any:
    """PostgreSQL cannot store NUL characters (in text or JSON): refuse them as a field error."""
    if isinstance(value, str) and "\x00" in value:
        raise serializers.ValidationError(f"The {field} must not contain NUL characters.")
    if isinstance(value, dict):
        for k, v in value.items():
            refuse_nul(k, field)
            refuse_nul(v, field)
    elif isinstance(value, list):
        for v in value:
            refuse_nul(v, field)
    return value


HTTP_URL = URLValidator(schemes=["http", "https"], message="Use an absolute http(s) URL.")
