"""Sliding-window rate limits ("at most N in any T seconds").

With REDIS_URL set the window lives in Redis, so that every server process shares it; the check and
the record happen in one Lua script, so concurrent requests cannot both slip under the limit.
Without Redis, one process's memory holds it (the embedded default runs one process).

``acheck_rate`` is the same check for async code (a socket's frames): on Redis it waits on the
event loop rather than on a thread, which on the chat path cost a thread hop and the handovers of
the GIL around a blocking round trip (docs/performance.md I).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable

from django.conf import settings

from core.errors import RateLimited

logger = logging.getLogger(__name__)

# KEYS: the action's windows; ARGV: a unique member, then (limit, window in ms) per key. Records the
# action in every window, or in none when one is full (then returns the longest wait in ms).
_SLIDING_WINDOWS = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait_ms = -1
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window_ms = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window_ms)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait_ms = math.max(wait_ms, tonumber(oldest[2]) + window_ms - now_ms)
  end
end
if wait_ms >= 0 then
  return wait_ms
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now_ms, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
end
return -1
"""

Window = tuple[str, int, float]  # key, limit, period in seconds
# How long a check waits for Redis before letting the action through (fail open).
_TIMEOUT_SECONDS = 2


class MemoryLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[tuple[float, str]]] = {}

    def hit(self, windows: list[Window], member: str | None = None) -> float | None:
        member = member or uuid.uuid4().hex
        now = time.monotonic()
        with self._lock:
            wait = None
            for key, limit, period in windows:
                hits = self._hits.setdefault(key, deque())
                while hits and hits[0][0] <= now - period:
                    hits.popleft()
                if len(hits) >= limit:
                    wait = max(wait or 0.0, hits[0][0] + period - now)
            if wait is not None:
                return wait
            for key, _, _ in windows:
                self._hits[key].append((now, member))
            return None

    async def ahit(self, windows: list[Window], member: str | None = None) -> float | None:
        return self.hit(windows, member)  # memory only: nothing to wait for

    def forget(self, keys: list[str], member: str) -> None:
        with self._lock:
            for key in keys:
                hits = self._hits.get(key)
                if hits is not None:
                    self._hits[key] = deque(hit for hit in hits if hit[1] != member)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class RedisLimiter:
    def __init__(self, url: str) -> None:
        import redis

        self._url = url
        self._client = redis.Redis.from_url(
            url, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS
        )
        self._script = self._client.register_script(_SLIDING_WINDOWS)
        self._loop_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def hit(self, windows: list[Window], member: str | None = None) -> float | None:
        import redis

        keys, args = self._script_call(windows, member)
        try:
            # One round trip for all of an action's windows. With one Redis server (REDIS_URL) every
            # key is on it; a Redis Cluster would need the keys in one hash slot.
            retry_ms = self._script(keys=keys, args=args)
        except redis.RedisError:
            return self._unavailable(windows)
        return None if int(retry_ms) < 0 else int(retry_ms) / 1000

    async def ahit(self, windows: list[Window], member: str | None = None) -> float | None:
        import redis

        keys, args = self._script_call(windows, member)
        try:
            # One deadline for the whole call: redis-py's own socket_timeout would wrap each write in
            # asyncio.wait_for, a task per command on Python 3.11.
            async with asyncio.timeout(_TIMEOUT_SECONDS):
                retry_ms = await self._loop_script()(keys=keys, args=args)
        except (redis.RedisError, TimeoutError):
            return self._unavailable(windows)
        return None if int(retry_ms) < 0 else int(retry_ms) / 1000

    def _loop_script(self):
        # An asyncio client's connections belong to the loop that opened them.
        loop = asyncio.get_running_loop()
        script = self._loop_scripts.get(loop)
        if script is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(self._url, socket_connect_timeout=_TIMEOUT_SECONDS)
            script = self._loop_scripts[loop] = client.register_script(_SLIDING_WINDOWS)
        return script

    @staticmethod
    def _script_call(windows: list[Window], member: str | None) -> tuple[list[str], list[object]]:
        args: list[object] = [member or uuid.uuid4().hex]
        for _, limit, period in windows:
            args += [limit, int(period * 1000)]
        return [f"watchparty:rl:{key}" for key, _, _ in windows], args

    @staticmethod
    def _unavailable(windows: list[Window]) -> None:
        # Fail open: while Redis is away, chat keeps working without limits rather than not at all.
        logger.warning("Rate limiter unavailable; allowing %s", ", ".join(key for key, _, _ in windows), exc_info=True)
        return None

    def forget(self, keys: list[str], member: str) -> None:
        import redis

        try:
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.zrem(f"watchparty:rl:{key}", member)
            pipe.execute()
        except redis.RedisError:
            logger.warning("Rate limiter unavailable; could not refund %s", ", ".join(keys), exc_info=True)

    def reset(self) -> None:
        for key in self._client.scan_iter("watchparty:rl:*"):
            self._client.delete(key)


_limiters: dict[str, MemoryLimiter | RedisLimiter] = {}
_limiters_lock = threading.Lock()


def get_limiter() -> MemoryLimiter | RedisLimiter:
    url = settings.REDIS_URL
    with _limiters_lock:
        if url not in _limiters:
            _limiters[url] = RedisLimiter(url) if url else MemoryLimiter()
        return _limiters[url]


def check_rate(key: str, rate: tuple[int, int], *more: tuple[str, tuple[int, int]]) -> None:
    """Record one action under ``key``; raise RateLimited when it would pass ``rate`` (count, seconds).
    ``more`` names further (key, rate) windows the same action counts in: it is recorded in all of
    them or, when any one is full, in none (a refused action uses up no budget), in one round trip."""
    reserve_rate(key, rate, *more)


async def acheck_rate(key: str, rate: tuple[int, int], *more: tuple[str, tuple[int, int]]) -> None:
    """``check_rate`` for async code: the same windows and answer, awaited on the event loop."""
    await areserve_rate(key, rate, *more)


async def areserve_rate(key: str, rate: tuple[int, int], *more: tuple[str, tuple[int, int]]) -> Callable[[], None]:
    """``reserve_rate`` for async code. The refund it returns waits on Redis: call it off the loop."""
    windows = [(key, *rate), *((other, *other_rate) for other, other_rate in more)]
    member = uuid.uuid4().hex
    limiter = get_limiter()
    retry_after = await limiter.ahit(windows, member)
    if retry_after is not None:
        raise RateLimited(retry_after=max(1, math.ceil(retry_after)))
    return lambda: limiter.forget([window[0] for window in windows], member)


def reserve_rate(key: str, rate: tuple[int, int], *more: tuple[str, tuple[int, int]]) -> Callable[[], None]:
    """``check_rate``, returning a refund: calling it takes this one action back out of every
    window. For limits on failures (a login that turns out right is no guess) that must still be
    counted before the outcome is known, so that concurrent tries cannot all slip under them."""
    windows = [(key, *rate), *((other, *other_rate) for other, other_rate in more)]
    member = uuid.uuid4().hex
    limiter = get_limiter()
    retry_after = limiter.hit(windows, member)
    if retry_after is not None:
        raise RateLimited(retry_after=max(1, math.ceil(retry_after)))
    return lambda: limiter.forget([window[0] for window in windows], member)
