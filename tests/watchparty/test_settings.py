import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]

# What README's "Serving over HTTPS" and docker-compose.https.yml set.
HTTPS_ENV = {
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
}


def check_deploy(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k not in HTTPS_ENV and k != "DJANGO_SETTINGS_MODULE"},
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        **extra_env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_is_clean_with_the_https_settings():
    """`manage.py check --deploy` reports no issue with DEBUG off, a real key and the HTTPS settings from the environment."""
    result = check_deploy(HTTPS_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def compose_https_env() -> dict[str, str]:
    """The app's environment in docker-compose.https.yml, with each ``${VAR:-default}`` at its default."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!reset", lambda loader, node: None)
    document = yaml.load((ROOT / "docker-compose.https.yml").read_text(), Loader=Loader)
    environment = document["services"]["app"]["environment"]
    return {
        name: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
        for name, value in environment.items()
        if name != "SECRET_KEY"  # required there, given by the deployer
    }


def test_check_deploy_is_clean_with_the_compose_https_setup():
    """The documented HTTPS compose setup turns every setting on that check --deploy asks for."""
    environment = compose_https_env()
    assert set(HTTPS_ENV) <= set(environment)
    result = check_deploy(environment)
    assert result.returncode == 0, result.stdout + result.stderr


def test_https_settings_default_off():
    """Without them, check --deploy names what a deployer must turn on (so plain http://127.0.0.1 keeps working)."""
    result = check_deploy({})
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


def test_a_malformed_proxy_header_setting_is_refused():
    """SECURE_PROXY_SSL_HEADER must be a META name and a value; anything else stops the server from starting."""
    result = check_deploy({**HTTPS_ENV, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"})
    assert result.returncode != 0 and "SECURE_PROXY_SSL_HEADER" in result.stderr


@pytest.fixture
def https_settings(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    return settings


def test_health_checks_answer_plain_http_when_ssl_redirect_is_on(db, https_settings):
    """With SSL redirect on, /health/* still answers over plain HTTP (compose health checks) while pages redirect."""
    client = Client()
    assert client.get("/health/live").status_code == 200
    page = client.get("/accounts/login/")
    assert page.status_code == 301 and page["Location"].startswith("https://")


def test_the_proxy_header_marks_requests_secure(db, https_settings):
    """Behind the TLS proxy (X-Forwarded-Proto: https) pages are served, with HSTS."""
    response = Client().get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=3600")


@pytest.mark.parametrize(
    "key",
    [
        "change-me-in-production",
        "build-only",
        "short-but-random-Xq7",
        "a" * 60,
        "django-insecure-" + secrets.token_urlsafe(50),
    ],
)
def test_a_placeholder_or_weak_secret_key_stops_the_server_with_debug_off(key):
    """With DEBUG off, a known placeholder, a short key or a low-variety key refuses to start, naming SECRET_KEY."""
    result = check_deploy({**HTTPS_ENV, "SECRET_KEY": key})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "Traceback" in result.stderr  # ImproperlyConfigured at start-up
    assert "50 or more random characters" in result.stderr


def test_a_missing_secret_key_stops_the_server_with_debug_off():
    """With DEBUG off and no SECRET_KEY, the server refuses to start and says how to make one."""
    result = check_deploy({**HTTPS_ENV, "SECRET_KEY": ""})
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_compose_files_require_a_secret_key_rather_than_defaulting_one():
    """docker-compose.yml gives no default key: `docker compose up` without SECRET_KEY stops with a message."""
    import yaml

    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in document["services"].items():
        value = (service.get("environment") or {}).get("SECRET_KEY")
        if value is not None:
            assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", value), (name, value)


def _channel_layer_hosts(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "CHANNEL_LAYER_REDIS_URLS", "DJANGO_SETTINGS_MODULE"}
    }
    return subprocess.run(
        [sys.executable, "-c", "from watchparty import settings; print(settings.CHANNEL_LAYERS['default'].get('CONFIG'))"],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_channel_layer_spreads_over_every_redis_of_channel_layer_redis_urls():
    """CHANNEL_LAYER_REDIS_URLS lists the channel layer's Redis servers, in order; without it the layer uses REDIS_URL."""
    shards = "redis://a:6379/0, redis://b:6379/0"
    result = _channel_layer_hosts({"REDIS_URL": "redis://r:6379/0", "CHANNEL_LAYER_REDIS_URLS": shards})
    assert result.stdout.strip() == "{'hosts': ['redis://a:6379/0', 'redis://b:6379/0']}", result.stderr
    result = _channel_layer_hosts({"REDIS_URL": "redis://r:6379/0"})
    assert result.stdout.strip() == "{'hosts': ['redis://r:6379/0']}", result.stderr


@pytest.mark.parametrize(
    "env, message",
    [
        ({"CHANNEL_LAYER_REDIS_URLS": "redis://a:6379/0"}, "needs REDIS_URL too"),
        ({"REDIS_URL": "redis://r/0", "CHANNEL_LAYER_REDIS_URLS": "redis://a/0,redis://a/0"}, "names one Redis twice"),
    ],
)
def test_channel_layer_redis_urls_without_redis_url_or_with_a_repeat_refuse_to_start(env, message):
    """Shards without REDIS_URL (where rate limits and presence live), or one Redis listed twice, stop the server with why."""
    result = _channel_layer_hosts(env)
    assert result.returncode != 0 and message in result.stderr
