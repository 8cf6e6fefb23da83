"""The WebSocket handshake's Origin check: the origins Django's CSRF check accepts over HTTP.

channels' AllowedHostsOriginValidator compares only the Origin's host with ALLOWED_HOSTS, so any
scheme and any port passed (``http://localhost:9999`` for a site at ``http://localhost:8000``).
Here an Origin is accepted when it is, scheme, host and port:

- the handshake's own origin: ``https`` when the request is secure (``wss``, or
  SECURE_PROXY_SSL_HEADER behind a proxy), else ``http``, then the Host header (X-Forwarded-Host
  with USE_X_FORWARDED_HOST), which must itself be in ALLOWED_HOSTS; or
- one of CSRF_TRUSTED_ORIGINS (``https://*.example.com`` covers the subdomains).

Those are the two rules of django.middleware.csrf for a request's Origin, worked out with the
request's own methods (get_host, is_secure), so the two checks cannot drift apart.
"""

from __future__ import annotations

import io

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest


def allowed_origins(scope) -> list[str]:
    """The origins a handshake with this scope may come from, as channels OriginValidator patterns."""
    secure_transport = scope.get("scheme") in {"wss", "https"}
    request = ASGIRequest({**scope, "method": "GET", "scheme": "https" if secure_transport else "http"}, io.BytesIO())
    origins = []
    try:
        origins.append(f"{'https' if request.is_secure() else 'http'}://{request.get_host()}")
    except DisallowedHost:
        pass  # a Host outside ALLOWED_HOSTS is no origin of this site
    # OriginValidator writes "any subdomain" as a leading dot where Django writes "*.".
    origins.extend(origin.replace("://*.", "://.", 1) for origin in settings.CSRF_TRUSTED_ORIGINS)
    return origins


class _OriginValidator(OriginValidator):
    """OriginValidator that refuses an Origin it cannot parse instead of raising."""

    def valid_origin(self, parsed_origin):
        # urlparse reads "http://x:abc" or "http://127.0.0.1:8401.evil.example" lazily: its .port
        # raises ValueError inside the check, which became an HTTP 500 on uvicorn. An Origin that is
        # not a well-formed origin is no origin of this site.
        try:
            return super().valid_origin(parsed_origin)
        except ValueError:
            return False


class SameOriginValidator(OriginValidator):
    """OriginValidator whose allowed origins are worked out per handshake (``allowed_origins``)."""

    def __init__(self, application):
        super().__init__(application, allowed_origins=[])

    async def __call__(self, scope, receive, send):
        return await _OriginValidator(self.application, allowed_origins(scope))(scope, receive, send)
