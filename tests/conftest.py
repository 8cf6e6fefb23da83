"""Shared fixtures: a fresh MongoDB database per test, users, API clients, Redis.

Tests run on the in-process mongomock database unless MONGODB_TEST_URI names a real server;
then the very same tests run there (each in its own throwaway database).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from core import ratelimit
from core.db.client import get_client, get_db
from core.db.indexes import ensure_indexes
from core.realtime import presence
from tests.support import unavailable

MONGODB_TEST_URI = os.environ.get("MONGODB_TEST_URI", "")
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")

# The embedded database's file for this test session, never the developer's: set before anything
# (a test module importing watchparty.asgi) opens it.
_EMBEDDED_DB_DIR = tempfile.mkdtemp(prefix="watchparty-tests-")
django_settings.EMBEDDED_DB_PATH = os.path.join(_EMBEDDED_DB_DIR, "embedded-db.sqlite3")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_EMBEDDED_DB_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def mongo_db(settings):
    """A database of its own for each test, with the declared indexes, dropped afterwards."""
    # Tests create many users; the production hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MONGODB_URI = MONGODB_TEST_URI
    settings.MONGODB_DB = f"test_{uuid.uuid4().hex[:12]}"
    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    client, name = get_client(), settings.MONGODB_DB
    db = get_db()
    ensure_indexes(db)  # as `manage.py ensure_indexes` does before a deploy
    yield db
    client.drop_database(name)


SIMULATED_DB_LATENCY_MS = 2


@pytest.fixture
def db_latency(settings):
    """The embedded database waits SIMULATED_DB_LATENCY_MS before every operation, as a remote
    server's round trip would (EMBEDDED_DB_LATENCY_MS); a real MONGODB_TEST_URI server has its own."""
    settings.EMBEDDED_DB_LATENCY_MS = SIMULATED_DB_LATENCY_MS
    return SIMULATED_DB_LATENCY_MS / 1000


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    for limiter in ratelimit._limiters.values():
        if isinstance(limiter, ratelimit.MemoryLimiter):
            limiter.reset()
    yield


@pytest.fixture(autouse=True)
def _fresh_presence():
    for registry in presence._registries.values():
        if isinstance(registry, presence.MemoryPresence):
            registry.reset()
    yield


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 1_000_000))

    def make(username: str | None = None, display_name: str = "", **extra) -> User:
        name = username or f"user{next(counter)}_{uuid.uuid4().hex[:6]}"
        return User.objects.create_user(username=name, password="pw-for-tests-1", first_name=display_name, **extra)

    return make


@pytest.fixture
def user(make_user):
    return make_user(display_name="Alice")


@pytest.fixture
def api_client():
    """An API client authenticated as the given user (or anonymous with no user)."""

    def make(user: User | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make


def _redis_available(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url(settings):
    """The real Redis for tests that need it: skip without one, but fail under CI=true."""
    if not _redis_available(REDIS_TEST_URL):
        unavailable(f"Redis is not reachable at {REDIS_TEST_URL} (start one, or set REDIS_TEST_URL)", service="redis")
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    settings.REDIS_URL = REDIS_TEST_URL
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_TEST_URL], "prefix": f"test{uuid.uuid4().hex[:8]}"},
        }
    }
    yield REDIS_TEST_URL
    client.flushdb()


@pytest.fixture(
    params=["channels_redis.core.RedisChannelLayer", "core.realtime.channel_layers.RedisPubSubChannelLayer"]
)
def redis_layer(request, redis_url, settings):
    """Each Redis channel layer the app can run on (CHANNEL_LAYER_BACKEND core and pubsub); its class path."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": request.param,
            "CONFIG": {"hosts": [redis_url], "prefix": f"test{uuid.uuid4().hex[:8]}"},
        }
    }
    return request.param
