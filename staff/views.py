"""The operations endpoints for monitors and staff: /metrics and /health/database."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import PyMongoError
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings

from core.http import metrics as app_metrics
from core.http.health import dependency_status
from parties import repository as party_repository
from staff.dbinfo import database_health

logger = logging.getLogger(__name__)

# --- Operations: staff (or the metrics token) only -----------------------------------------------


def _is_staff(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def _forbidden() -> JsonResponse:
    return JsonResponse({"code": "forbidden", "detail": "You are not allowed to see this."}, status=403)


def _has_metrics_token(request) -> bool:
    expected = settings.METRICS_TOKEN
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not token.strip():
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def _has_staff_api_token(request) -> bool:
    """An API token (whatever the API authenticates with: DRF's settings) of an active staff
    member. Session authentication is left out: a session is already ``request.user``."""
    if not request.headers.get("Authorization"):
        return False
    drf_request = Request(request)
    for authentication_class in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        if issubclass(authentication_class, SessionAuthentication):
            continue
        try:
            found = authentication_class().authenticate(drf_request)
        except APIException:
            return False
        if found is not None:
            user = found[0]
            return bool(user.is_active and user.is_staff)
    return False


def operator_allowed(request) -> bool:
    """Who may read the operations endpoints (/metrics, /health/database): the metrics token, a
    staff member's API token, or a staff browser session. A monitor polls with either token."""
    return _has_metrics_token(request) or _is_staff(request) or _has_staff_api_token(request)


@require_GET
@never_cache
def metrics(request):
    """Prometheus metrics of this process (each process serves its own)."""
    if not operator_allowed(request):
        return _forbidden()
    # The readiness checks, made at each scrape, so that an alert needs nothing but the scrape.
    for dependency, state in dependency_status().items():
        app_metrics.DEPENDENCY_UP.labels(dependency=dependency).set(1 if state == "ok" else 0)
    app_metrics.WEBSOCKETS_LIMIT.set(settings.WEBSOCKET_MAX_SOCKETS_PER_PROCESS)
    try:
        app_metrics.PARTIES_ACTIVE.set(party_repository.count_active())
    except PyMongoError:
        pass  # watchparty_dependency_up{dependency="mongodb"} says so; the gauge keeps its last value
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


@require_GET
@never_cache
def health_database(request):
    """Operators only (as /metrics): active parties, stored messages and each collection's indexes."""
    if not operator_allowed(request):
        return _forbidden()
    try:
        body = {"status": "ok", **database_health()}
    except PyMongoError:
        logger.warning("Database health report failed", exc_info=True)
        return JsonResponse(
            {"status": "down", "code": "unavailable", "detail": "The database is not available; try again shortly."},
            status=503,
        )
    return JsonResponse(body)
