"""The OpenAPI document against the URLconf (core/http/openapi.py)."""

from __future__ import annotations

import re

import yaml
from django.urls import URLPattern, URLResolver, get_resolver

# Routes that are not HTTP endpoints for an API client: HTML pages for a browser, the Django
# admin, and the document itself.
NOT_API = {
    "/",
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/signup/",
    "/parties/{party_id}/",
    "/parties/{party_id}/replay/",
    "/join/{code}/",
    "/api/schema/",
}


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith("admin/"):
                continue
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def test_every_routed_endpoint_is_in_the_openapi_document(client):
    """Every URL a client can call (health and /metrics included) is a path of the OpenAPI document."""
    document = yaml.safe_load(client.get("/api/schema/").content)
    routed = set(_routes(get_resolver().url_patterns)) - NOT_API
    assert {"/health/live", "/health/ready", "/api/parties/"} <= routed
    assert routed - set(document["paths"]) == set()


def test_health_endpoints_are_documented_without_authentication(client):
    """/health/live and /health/ready need no credentials, and the document says so."""
    paths = yaml.safe_load(client.get("/api/schema/").content)["paths"]
    for path in ("/health/live", "/health/ready"):
        assert paths[path]["get"]["security"] == [{}]
        assert client.get(path).status_code in (200, 503)
