"""Sliding-window rate limits ("at most N in any T seconds").

With REDIS_URL set the window lives in Redis, so that every server process shares it; the check and
the record happen in one Lua script, so concurrent requests cannot both slip under the limit.
Without Redis, one process's memory holds it (the embedded default runs one process).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque

from django.conf import settings

from watchparty.errors import RateLimited

logger = logging.getLogger(__name__)

_SLIDING_WINDOW = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window_ms)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window_ms - now_ms
end
redis.call('ZADD', key, now_ms, ARGV[3])
redis.call('PEXPIRE', key, window_ms)
return -1
"""


class MemoryLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, limit: int, period: float) -> float | None:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - period:
                hits.popleft()
            if len(hits) >= limit:
                return hits[0] + period - now
            hits.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class RedisLimiter:
    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._client.register_script(_SLIDING_WINDOW)

    def hit(self, key: str, limit: int, period: float) -> float | None:
        import redis

        try:
            retry_ms = self._script(
                keys=[f"watchparty:rl:{key}"], args=[limit, int(period * 1000), uuid.uuid4().hex]
            )
        except redis.RedisError:
            # Fail open: while Redis is away, chat keeps working without limits rather than not at all.
            logger.warning("Rate limiter unavailable; allowing %s", key, exc_info=True)
            return None
        return None if int(retry_ms) < 0 else int(retry_ms) / 1000

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


def check_rate(key: str, rate: tuple[int, int]) -> None:
    """Record one action under ``key``; raise RateLimited when it would pass ``rate`` (count, seconds)."""
    limit, period = rate
    retry_after = get_limiter().hit(key, limit, period)
    if retry_after is not None:
        raise RateLimited(retry_after=max(1, math.ceil(retry_after)))
