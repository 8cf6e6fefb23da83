"""A strict Content-Security-Policy on every response.

No inline script, no eval, scripts and styles only from the site itself. The browser client
(watchparty/static/watchparty/js/) is written for this: every script is an external ES module,
every style is in app.css, and chat text is only ever put into the page as text.

Django 5.2 has no CSP support of its own (it arrives in 6.0), hence this small middleware. The
admin works under the same policy (its scripts are all external files). The one exemption:
Django's own debug error pages while DEBUG is on, which are styled and scripted inline.

Settings (all optional):

- ``CSP_MEDIA_SRC``: sources for ``media-src`` (default ``'self' https:``, so that a party's
  video may come from this site or any HTTPS host).
- ``CSP_REPORT_URI``: when set, a ``report-uri`` directive is added.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils.deprecation import MiddlewareMixin

HEADER = "Content-Security-Policy"
DEFAULT_MEDIA_SRC = ("'self'", "https:")


def _websocket_sources(request) -> list[str]:
    """ws:// and wss:// of the host the page was served from.

    CSP Level 3 lets 'self' match same-host WebSockets and current browsers do so; older ones
    (Safari before 15.4, Chromium before 76) need the explicit sources.
    """
    try:
        host = request.get_host()  # validated against ALLOWED_HOSTS and a strict host pattern
    except DisallowedHost:
        return []
    return [f"ws://{host}", f"wss://{host}"]


def build_policy(request) -> str:
    media_src = getattr(settings, "CSP_MEDIA_SRC", DEFAULT_MEDIA_SRC)
    directives = [
        ("default-src", ["'self'"]),
        ("script-src", ["'self'"]),
        ("style-src", ["'self'"]),
        ("img-src", ["'self'"]),
        ("font-src", ["'self'"]),
        ("media-src", list(media_src)),
        ("connect-src", ["'self'", *_websocket_sources(request)]),
        ("object-src", ["'none'"]),
        ("base-uri", ["'none'"]),
        ("form-action", ["'self'"]),
        ("frame-ancestors", ["'none'"]),
    ]
    report_uri = getattr(settings, "CSP_REPORT_URI", "")
    if report_uri:
        directives.append(("report-uri", [report_uri]))
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives)


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds the policy to every response that does not already carry one. (MiddlewareMixin makes
    it work in both the sync and the async request path, with no thread hop under ASGI.)"""

    def process_response(self, request, response):
        if HEADER in response:
            return response
        if settings.DEBUG and response.status_code >= 400:
            # Django's debug error pages (tracebacks, URL lists) are styled and scripted inline;
            # they exist only while DEBUG is on, never in production.
            return response
        response[HEADER] = build_policy(request)
        return response
