"""The endpoints outside DRF in the OpenAPI document.

drf-spectacular documents DRF views only; the health checks and /metrics are plain Django views
(no DRF authentication or content negotiation in front of a probe). This postprocessing hook
(SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) adds them, so that the document lists every HTTP
endpoint a client can call (tests/core/http/test_openapi.py checks it against the URLconf).
"""

from __future__ import annotations


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_STATUS = {"type": "string", "enum": ["ok", "down"]}
_FORBIDDEN = _json(
    "Neither a staff session nor the metrics token",
    {"type": "object", "properties": {"code": {"type": "string"}, "detail": {"type": "string"}}},
)
_CHECKS = {
    "type": "object",
    "properties": {"status": _STATUS, "checks": {"type": "object", "additionalProperties": _STATUS}},
    "required": ["status", "checks"],
}

PATHS = {
    "/health/live": {
        "get": {
            "operationId": "health_live",
            "summary": "The process answers (liveness)",
            "tags": ["health"],
            "security": [{}],
            "responses": {"200": _json("Alive", {"type": "object", "properties": {"status": _STATUS}})},
        }
    },
    "/health/ready": {
        "get": {
            "operationId": "health_ready",
            "summary": "MongoDB and the channel layer answer (readiness)",
            "tags": ["health"],
            "security": [{}],
            "responses": {"200": _json("Ready", _CHECKS), "503": _json("A dependency is down", _CHECKS)},
        }
    },
    "/health/database": {
        "get": {
            "operationId": "health_database",
            "summary": "Staff only: active parties, stored messages, each collection's indexes",
            "tags": ["health"],
            "responses": {
                "200": _json("The report", {"type": "object", "additionalProperties": True}),
                "403": _FORBIDDEN,
                "503": _json("MongoDB did not answer", {"type": "object", "properties": {"status": _STATUS}}),
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics of this process (staff session or Authorization: Bearer <METRICS_TOKEN>)",
            "tags": ["health"],
            "responses": {
                "200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "403": _FORBIDDEN,
            },
        }
    },
}


def add_plain_django_endpoints(result, generator, request, public):
    result.setdefault("paths", {}).update(PATHS)
    return result
