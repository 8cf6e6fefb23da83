"""A strict Content-Security-Policy on every response.

No inline script, no eval, scripts and styles only from the site itself. The browser client
(web/static/watchparty/js/) is written for this: every script is an external ES module,
every style is in app.css, and chat text is only ever put into the page as text.

Django 5.2 has no CSP support of its own (it arrives in 6.0), hence this small middleware. The
admin works under the same policy (its scripts are all external files). The one exemption:
Django's own debug error pages while DEBUG is on, which are styled and scripted inline.

Settings (all optional):

- ``CSP_MEDIA_SRC``: sources for ``media-src`` (default ``'self' https:``, so that a party's
  video may come from this site or any HTTPS host).
- ``CSP_REPORT_URI``: when set, a ``report-uri`` directive is added.

A view may widen the policy for its own page only, with ``allow_sources(response, ...)``: the
party room and its replay add YouTube (the IFrame Player API script and the player frame), no
other page does.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils.deprecation import MiddlewareMixin

HEADER = "Content-Security-Policy"
DEFAULT_MEDIA_SRC = ("'self'", "https:")
EXTRA_SOURCES_ATTR = "csp_extra_sources"

# The YouTube IFrame Player API: its script (iframe_api and the widget script it loads, both from
# www.youtube.com) and the player's frame (the privacy-enhanced host, or the plain one).
YOUTUBE_SOURCES = {
    "script-src": ("https://www.youtube.com",),
    "frame-src": ("https://www.youtube.com", "https://www.youtube-nocookie.com"),
}


def allow_sources(response, sources: dict[str, tuple[str, ...]]):
    """Widen this one response's policy: sources added to directives (a directive not in the
    base policy starts from 'self', as default-src would have it)."""
    setattr(response, EXTRA_SOURCES_ATTR, sources)
    return response


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


def media_sources() -> tuple[str, ...]:
    """The ``media-src`` sources: the policy sends them, and parties.media accepts a video link
    only if they allow it, so the two cannot drift."""
    return tuple(getattr(settings, "CSP_MEDIA_SRC", DEFAULT_MEDIA_SRC))


_DEFAULT_PORTS = {"http": 80, "https": 443}


def source_allows(source: str, url) -> bool:
    """Whether one CSP source expression allows an absolute http(s) URL (a urlsplit result) on a page
    of this site: a scheme source (``https:``), ``*``, or a host source (``[scheme://]host[:port][/path]``,
    ``*.`` for subdomains). ``'self'`` is handled by the caller (it needs the page's origin)."""
    source = source.strip()
    scheme = url.scheme.lower()
    if source == "*":
        return scheme in _DEFAULT_PORTS
    if source.endswith(":") and "/" not in source:
        wanted = source[:-1].lower()
        return scheme == wanted or (wanted == "http" and scheme == "https")  # CSP3: http: covers https
    if source.startswith("'"):
        return False  # keywords ('none', 'unsafe-inline', ...) allow no URL
    want_scheme, _, rest = source.rpartition("://")
    if want_scheme and not (scheme == want_scheme.lower() or (want_scheme.lower() == "http" and scheme == "https")):
        return False
    if not want_scheme and scheme not in _DEFAULT_PORTS:
        return False
    host_port, slash, path = rest.partition("/")
    host, _, port = host_port.partition(":")
    host, url_host = host.lower(), (url.hostname or "").lower()
    if host.startswith("*."):
        if not url_host.endswith(host[1:]):
            return False
    elif host != url_host:
        return False
    url_port = url.port or _DEFAULT_PORTS.get(scheme)
    if port and port != "*" and int(port) != url_port:
        return False
    if not port and url_port != _DEFAULT_PORTS.get(scheme):
        return False
    if slash and path:
        wanted_path = "/" + path
        return url.path == wanted_path if not wanted_path.endswith("/") else url.path.startswith(wanted_path)
    return True


def build_policy(request, extra: dict[str, tuple[str, ...]] | None = None) -> str:
    media_src = media_sources()
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
    for name, sources in (extra or {}).items():
        current = next((have for directive, have in directives if directive == name), None)
        if current is None:
            current = ["'self'"]
            at = next(i for i, (directive, _) in enumerate(directives) if directive == "object-src")
            directives.insert(at, (name, current))
        current.extend(source for source in sources if source not in current)
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
        response[HEADER] = build_policy(request, getattr(response, EXTRA_SOURCES_ATTR, None))
        return response
