"""Fixtures for the fault and abuse tests: one private Redis for the whole session, and a live
server for each stack in harness.STACKS (daphne with the core layer, as runserver; uvicorn with
the pub/sub layer, as docker-compose.yml), each started once; every test runs against both.

The live server uses the private Redis when ``redis-server`` is installed (its channel layer and
rate limits then live there, as in production). Tests that need Redis ask for ``private_redis``:
without ``redis-server`` they skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import shutil

import pytest

from tests.reliability.harness import STACKS, LiveServer, PrivateRedis
from tests.support import unavailable


@pytest.fixture(scope="session")
def _redis_process(tmp_path_factory):
    if shutil.which("redis-server") is None:
        yield None
        return
    redis = PrivateRedis(tmp_path_factory.mktemp("private-redis"))
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture(scope="session", params=sorted(STACKS))
def watchparty_server(request, tmp_path_factory, _redis_process):
    """A real server on a free loopback port, with a migrated SQLite file and test users."""
    server = LiveServer(
        tmp_path_factory.mktemp("live-server"), _redis_process.url if _redis_process else "", request.param
    )
    try:
        server.prepare()
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis(_redis_process):
    """The live server's own Redis, which a test may stop and start again (restarted if a test left
    it down)."""
    if _redis_process is None:
        unavailable("redis-server is not installed (apt-get install redis-server)", service="redis-server")
    if not _redis_process.answers():
        _redis_process.start()
    yield _redis_process
    if not _redis_process.answers():
        _redis_process.start()


@pytest.fixture
def server(watchparty_server):
    """The live server, which must still be running when the test ends."""
    yield watchparty_server
    assert watchparty_server.alive(), f"The server process died:\n{watchparty_server.log()}"
