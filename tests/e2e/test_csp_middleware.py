"""core.http.csp without a browser: the policy, its WebSocket sources, and when it is left out."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory

from core.http.csp import HEADER, ContentSecurityPolicyMiddleware, build_policy


def _policy(response) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (part.split() for part in response[HEADER].split("; "))}


def _run(request, response):
    return ContentSecurityPolicyMiddleware(lambda _: response)(request)


def test_pages_get_the_strict_policy(client):
    response = client.get("/accounts/login/", HTTP_HOST="localhost:8000")
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == ["'self'", "ws://localhost:8000", "wss://localhost:8000"]
    assert policy["media-src"] == ["'self'", "https:"]


def test_a_host_outside_allowed_hosts_gets_self_only(rf: RequestFactory, settings):
    settings.ALLOWED_HOSTS = ["example.com"]
    request = rf.get("/", HTTP_HOST="evil.test")
    assert "connect-src 'self';" in build_policy(request)


def test_settings_extend_media_and_add_a_report_uri(rf: RequestFactory, settings):
    settings.CSP_MEDIA_SRC = ["'self'", "https://cdn.example.com"]
    settings.CSP_REPORT_URI = "/csp-report/"
    response = _run(rf.get("/", HTTP_HOST="localhost"), HttpResponse("ok"))
    policy = _policy(response)
    assert policy["media-src"] == ["'self'", "https://cdn.example.com"]
    assert policy["report-uri"] == ["/csp-report/"]


def test_an_existing_policy_is_kept(rf: RequestFactory):
    response = HttpResponse("ok")
    response[HEADER] = "default-src 'none'"
    assert _run(rf.get("/", HTTP_HOST="localhost"), response)[HEADER] == "default-src 'none'"


def test_debug_error_pages_are_left_alone_only_with_debug(rf: RequestFactory, settings):
    request = rf.get("/", HTTP_HOST="localhost")
    settings.DEBUG = True
    assert HEADER not in _run(request, HttpResponse("traceback", status=500))
    assert HEADER in _run(request, HttpResponse("fine", status=200))
    settings.DEBUG = False
    assert HEADER in _run(request, HttpResponse("not found", status=404))


def test_only_the_room_and_replay_pages_let_the_youtube_player_in(client, django_user_model):
    """The room page and its replay allow YouTube's player script and frame; other pages keep
    'self' only."""
    user = django_user_model.objects.create_user(username="yt", password="pw-for-tests-1")
    client.force_login(user)
    for path in (f"/parties/{'a' * 24}/", f"/parties/{'a' * 24}/replay/"):
        room = _policy(client.get(path, HTTP_HOST="localhost:8000"))
        assert room["script-src"] == ["'self'", "https://www.youtube.com"], path
        assert room["frame-src"] == ["'self'", "https://www.youtube.com", "https://www.youtube-nocookie.com"], path
        assert room["default-src"] == ["'self'"] and room["object-src"] == ["'none'"], path
        assert room["frame-ancestors"] == ["'none'"], path
    for path in ("/", "/accounts/login/"):
        policy = _policy(client.get(path, HTTP_HOST="localhost:8000"))
        assert policy["script-src"] == ["'self'"], path
        assert "frame-src" not in policy, path
