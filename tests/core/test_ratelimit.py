import asyncio
import time

import pytest

from core import ratelimit
from core.errors import RateLimited
from core.ratelimit import MemoryLimiter, RedisLimiter, acheck_rate, check_rate


@pytest.fixture(params=["memory", "redis"])
def limiter(request):
    """Each limiter the app can run with: one process's memory, or Redis shared by every process."""
    if request.param == "memory":
        return MemoryLimiter()
    limiter = RedisLimiter(request.getfixturevalue("redis_url"))
    limiter.reset()
    return limiter


def test_an_action_refused_by_one_window_uses_up_none_of_the_others(limiter):
    """A send refused by the per-user window leaves the per-party window as it was."""
    party, user = ("party-window", 2, 60), ("user-window", 1, 0.5)
    assert limiter.hit([party, user]) is None
    retry = limiter.hit([party, user])
    assert retry is not None and 0 < retry <= 0.5  # the full window says how long to wait
    time.sleep(0.6)  # the user window empties; the party window still holds the first send
    assert limiter.hit([party, user]) is None  # the refused send took none of the party's two
    assert limiter.hit([party, ("another-user-window", 5, 60)]) is not None  # and now the party's are used


def test_the_longest_wait_of_the_full_windows_is_the_answer(limiter):
    """When several windows are full, the action may go again only when all have room."""
    assert limiter.hit([("short", 1, 1), ("long", 1, 30)]) is None
    retry = limiter.hit([("short", 1, 1), ("long", 1, 30)])
    assert 1 < retry <= 30


def test_without_redis_the_limiter_lets_actions_through_and_says_so(caplog):
    """While Redis is unreachable, actions are allowed (chat keeps working) and a warning names the windows."""
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    with caplog.at_level("WARNING", logger="core.ratelimit"):
        assert limiter.hit([("party-window", 1, 60), ("user-window", 1, 60)]) is None
        assert limiter.hit([("party-window", 1, 60), ("user-window", 1, 60)]) is None
    assert "Rate limiter unavailable; allowing party-window, user-window" in caplog.text


def test_check_rate_counts_every_window_it_names(settings):
    """check_rate with several windows refuses once any of them is full, with a whole number of seconds to wait."""
    settings.REDIS_URL = ""
    check_rate("a-window", (5, 60), ("b-window", (1, 60)))
    with pytest.raises(RateLimited) as excinfo:
        check_rate("a-window", (5, 60), ("b-window", (1, 60)))
    assert excinfo.value.retry_after == 60
    check_rate("a-window", (5, 60))  # a refused action took nothing from "a-window"


def test_a_refunded_action_leaves_every_window_as_it_was(limiter):
    """An action taken back (a login that succeeded) frees its place in each window; the others stay counted."""
    windows = [("refund-a", 2, 60), ("refund-b", 2, 60)]
    assert limiter.hit(windows, "first") is None
    assert limiter.hit(windows, "second") is None
    assert limiter.hit(windows, "third") is not None
    limiter.forget(["refund-a", "refund-b"], "second")
    assert limiter.hit(windows, "fourth") is None
    assert limiter.hit(windows, "fifth") is not None


async def test_the_async_check_counts_in_the_same_windows_as_the_sync_one(limiter):
    """A socket's frames (awaited on the loop) and HTTP requests (on a thread) share one window."""
    windows = [("shared-window", 2, 60)]
    assert limiter.hit(windows) is None
    assert await limiter.ahit(windows) is None
    assert await limiter.ahit(windows) is not None
    assert limiter.hit(windows) is not None


async def test_the_async_check_lets_actions_through_without_redis(caplog):
    """While Redis is unreachable, the async check also allows the action and says so."""
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    with caplog.at_level("WARNING", logger="core.ratelimit"):
        assert await limiter.ahit([("async-window", 1, 60)]) is None
        assert await limiter.ahit([("async-window", 1, 60)]) is None
    assert "Rate limiter unavailable; allowing async-window" in caplog.text


async def test_acheck_rate_refuses_past_the_limit_with_seconds_to_wait(settings):
    """acheck_rate raises RateLimited with a whole number of seconds, as check_rate does."""
    settings.REDIS_URL = ""
    await acheck_rate("async-a", (1, 30), ("async-b", (5, 60)))
    with pytest.raises(RateLimited) as excinfo:
        await acheck_rate("async-a", (1, 30), ("async-b", (5, 60)))
    assert excinfo.value.retry_after == 30


async def test_a_redis_that_never_answers_lets_the_action_through_at_the_deadline(monkeypatch, caplog):
    """A Redis that takes the connection but never replies holds a frame up for the deadline only, then lets it through."""
    held = []
    server = await asyncio.start_server(lambda reader, writer: held.append(writer), "127.0.0.1", 0)
    monkeypatch.setattr(ratelimit, "_TIMEOUT_SECONDS", 0.2)
    limiter = RedisLimiter(f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0")
    try:
        start = time.monotonic()
        with caplog.at_level("WARNING", logger="core.ratelimit"):
            assert await limiter.ahit([("silent-window", 1, 60)]) is None
        assert time.monotonic() - start < 1.5
        assert "Rate limiter unavailable; allowing silent-window" in caplog.text
    finally:
        server.close()
