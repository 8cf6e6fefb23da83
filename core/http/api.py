"""Shared pieces of the HTTP API: the error format from PROTOCOL.md and strict JSON fields."""

from __future__ import annotations

import logging
import re

from django.http import Http404
from pymongo.errors import PyMongoError
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ServiceError

logger = logging.getLogger(__name__)

OBJECT_ID_RE = re.compile(r"^[0-9a-f]{24}$")


def _as_field_errors(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(field): [str(m) for m in (messages if isinstance(messages, list) else [messages])]
            for field, messages in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {"non_field_errors": [str(detail)]}


def exception_handler(exc, context):
    """Every API error as JSON with a ``code``; never a traceback, never a redirect."""
    if isinstance(exc, ServiceError):
        response = Response(exc.payload(), status=exc.http_status)
        if exc.http_status == status.HTTP_429_TOO_MANY_REQUESTS:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, exceptions.ValidationError):
        return Response(
            {"code": "invalid", "detail": "Invalid input.", "errors": _as_field_errors(exc.detail)},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, exceptions.ParseError):
        return Response(
            {"code": "invalid", "detail": "Malformed JSON.", "errors": {"body": [str(exc.detail)]}},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, PyMongoError):
        logger.exception("Database error while serving %s", context.get("request"))
        return Response(
            {"code": "unavailable", "detail": "The database is not available; try again shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    if isinstance(exc, Http404):
        return Response({"code": "not_found", "detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "code" not in response.data:
        code = getattr(exc, "default_code", "error")
        response.data = {"code": code, "detail": str(response.data.get("detail", ""))}
    return response


class StrictCharField(serializers.CharField):
    """A CharField that takes only JSON strings: numbers, booleans and objects such as
    ``{"$ne": null}`` are refused instead of being coerced or passed on to a query."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only (DRF's BooleanField would also take "yes", 1, "on")."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """JSON integers only (DRF's IntegerField would also take "10", 10.0 and true)."""

    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class ObjectIdField(StrictCharField):
    """A party or message id: 24 lowercase hex characters."""

    default_error_messages = {"invalid_id": "Must be a 24-character lowercase hex id."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not OBJECT_ID_RE.match(value):
            self.fail("invalid_id")
        return value


def validate_object_id(value: str, field: str) -> str:
    """Validate an id taken from the URL path; a 400 in the protocol's shape when malformed."""
    if not isinstance(value, str) or not OBJECT_ID_RE.match(value):
        raise exceptions.ValidationError({field: ["Must be a 24-character lowercase hex id."]})
    return value


class ErrorSerializer(serializers.Serializer):
    """The error body every API failure uses (for the OpenAPI document)."""

    code = serializers.CharField()
    detail = serializers.CharField(required=False)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)
    retry_after = serializers.IntegerField(required=False)


class CleanCharField(StrictCharField):
    """A single-line string with control characters and bidi overrides removed before the
    length bounds are checked."""

    def to_internal_value(self, data):
        from core.text import clean_single_line

        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(clean_single_line(data))


class UtcDateTimeField(serializers.Field):
    """ISO 8601, UTC, millisecond precision, Z suffix (read-only)."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        from core.timeutil import isoformat_z

        return isoformat_z(value)


try:
    from drf_spectacular.extensions import OpenApiSerializerFieldExtension
    from drf_spectacular.plumbing import build_basic_type
    from drf_spectacular.types import OpenApiTypes

    class UtcDateTimeFieldExtension(OpenApiSerializerFieldExtension):
        target_class = "core.http.api.UtcDateTimeField"

        def map_serializer_field(self, auto_schema, direction):
            return build_basic_type(OpenApiTypes.DATETIME)

except ImportError:  # pragma: no cover - drf-spectacular is a pinned dependency
    pass
