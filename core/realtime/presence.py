"""Who has a socket open in which party: the presence registry, shared by every server process.

Each open socket is one entry ``(party, user, channel name)``. The registry answers the questions
presence needs: is this a user's first socket in the party (announce them), their last (announce
they went), how many do they hold (the per-user cap), and who is online.

With REDIS_URL set, a party is one sorted set in Redis whose members are ``"<user_id> <channel>"``,
scored by the Redis clock at their last refresh. A process refreshes its own sockets' entries
every PRESENCE_TTL_SECONDS / 3; an entry older than PRESENCE_TTL_SECONDS belongs to a process that
died without closing its sockets, and every call drops such entries before it counts, so a crash
can never hold a count (or a cap) for longer than that. The key itself expires once nobody
refreshes it. Each operation is one Lua script, so concurrent sockets of one user cannot both slip
under the cap. Without Redis, a dict in this process (the embedded default runs one process).
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

_PRUNE_AND_COUNT = """
local key, ttl_ms, prefix = KEYS[1], tonumber(ARGV[1]), ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - ttl_ms)
local count = 0
for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
  if string.sub(member, 1, #prefix) == prefix then count = count + 1 end
end
"""

# ARGV: ttl_ms, "<user_id> ", member, cap. The user's other sockets, or -1 when at the cap.
_ADD = (
    _PRUNE_AND_COUNT
    + """
if redis.call('ZSCORE', key, ARGV[3]) then count = count - 1 end
if count >= tonumber(ARGV[4]) then return -1 end
redis.call('ZADD', key, now, ARGV[3])
redis.call('PEXPIRE', key, ttl_ms)
return count
"""
)

# ARGV: ttl_ms, "<user_id> ", member. The user's sockets left.
_REMOVE = (
    """
redis.call('ZREM', KEYS[1], ARGV[3])
"""
    + _PRUNE_AND_COUNT
    + """
return count
"""
)

# ARGV: ttl_ms, "", then the members this process holds (brought back if Redis lost them: a
# restart, or a process that stalled past the TTL). The live members.
_REFRESH = """
local key, ttl_ms = KEYS[1], tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 3, #ARGV do redis.call('ZADD', key, now, ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - ttl_ms)
redis.call('PEXPIRE', key, ttl_ms)
return redis.call('ZRANGE', key, 0, -1)
"""


def _member(user_id: str, channel_name: str) -> str:
    return f"{user_id} {channel_name}"  # user ids never hold a space


def _users(members) -> list[str]:
    users: dict[str, None] = {}
    for member in members:
        text = member.decode() if isinstance(member, bytes) else member
        users[text.split(" ", 1)[0]] = None
    return list(users)


class MemoryPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parties: dict[str, dict[str, set[str]]] = {}  # party -> user -> channel names

    def add(self, party_id: str, user_id: str, channel_name: str, cap: int) -> bool | None:
        """Record a socket. True when it is the user's first in the party, False when they had
        others, None (nothing recorded) when they already hold ``cap``."""
        with self._lock:
            channels = self._parties.setdefault(party_id, {}).setdefault(user_id, set())
            if channel_name not in channels and len(channels) >= cap:
                if not channels:
                    del self._parties[party_id][user_id]
                return None
            channels.add(channel_name)
            return len(channels) == 1

    def remove(self, party_id: str, user_id: str, channel_name: str) -> bool:
        """Forget a socket. True when the user has no other socket left in the party."""
        with self._lock:
            users = self._parties.get(party_id, {})
            channels = users.get(user_id, set())
            channels.discard(channel_name)
            if channels:
                return False
            users.pop(user_id, None)
            if not users:
                self._parties.pop(party_id, None)
            return True

    def online(self, party_id: str) -> list[str]:
        with self._lock:
            return list(self._parties.get(party_id, {}))

    def reset(self) -> None:
        with self._lock:
            self._parties.clear()


class RedisPresence:
    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._add = self._client.register_script(_ADD)
        self._remove = self._client.register_script(_REMOVE)
        self._refresh = self._client.register_script(_REFRESH)
        self._lock = threading.Lock()
        self._local: dict[str, set[str]] = {}  # party -> members this process holds
        self._refresher: threading.Thread | None = None

    @staticmethod
    def _key(party_id: str) -> str:
        return f"watchparty:presence:{party_id}"

    @staticmethod
    def _ttl_ms() -> int:
        return int(settings.PRESENCE_TTL_SECONDS * 1000)

    def add(self, party_id: str, user_id: str, channel_name: str, cap: int) -> bool | None:
        import redis

        member = _member(user_id, channel_name)
        try:
            others = int(self._add(keys=[self._key(party_id)], args=[self._ttl_ms(), f"{user_id} ", member, cap]))
        except redis.RedisError:
            # Fail open, as the rate limits do: without Redis a socket opens uncapped and is
            # announced; the refresher records it once Redis answers again.
            logger.warning("Presence registry unavailable; socket of %s not counted yet", user_id, exc_info=True)
            others = 0
        if others < 0:
            return None
        with self._lock:
            self._local.setdefault(party_id, set()).add(member)
            self._start_refresher()
        return others == 0

    def remove(self, party_id: str, user_id: str, channel_name: str) -> bool:
        import redis

        member = _member(user_id, channel_name)
        # Under the lock that refresh_local holds throughout, so a refresh can never bring back
        # a socket that has just been removed.
        with self._lock:
            members = self._local.get(party_id, set())
            members.discard(member)
            if not members:
                self._local.pop(party_id, None)
            try:
                left = int(self._remove(keys=[self._key(party_id)], args=[self._ttl_ms(), f"{user_id} ", member]))
            except redis.RedisError:
                logger.warning("Presence registry unavailable; %s announced as gone", user_id, exc_info=True)
                return True
        return left == 0

    def online(self, party_id: str) -> list[str]:
        import redis

        try:
            return _users(self._refresh(keys=[self._key(party_id)], args=[self._ttl_ms(), ""]))
        except redis.RedisError:
            logger.warning("Presence registry unavailable; online list of %s empty", party_id, exc_info=True)
            return []

    def refresh_local(self) -> None:
        """Mark every socket this process holds as alive (the refresher thread calls this)."""
        with self._lock:
            pipe = self._client.pipeline(transaction=False)
            for party_id, members in self._local.items():
                self._refresh(keys=[self._key(party_id)], args=[self._ttl_ms(), "", *members], client=pipe)
            pipe.execute()

    def _start_refresher(self) -> None:
        """With self._lock held: one refresher thread while this process holds any socket."""
        if self._refresher is None:
            self._refresher = threading.Thread(target=self._refresh_while_held, name="presence-refresh", daemon=True)
            self._refresher.start()

    def _refresh_while_held(self) -> None:
        while True:
            time.sleep(settings.PRESENCE_TTL_SECONDS / 3)
            with self._lock:
                if not self._local:
                    self._refresher = None
                    return
            try:
                self.refresh_local()
            except Exception:  # noqa: BLE001 - Redis away: the next round tries again
                logger.warning("Refreshing presence failed", exc_info=True)

    def reset(self) -> None:
        with self._lock:
            self._local.clear()
        for key in self._client.scan_iter("watchparty:presence:*"):
            self._client.delete(key)


_registries: dict[str, MemoryPresence | RedisPresence] = {}
_registries_lock = threading.Lock()


def get_registry() -> MemoryPresence | RedisPresence:
    url = settings.REDIS_URL
    with _registries_lock:
        if url not in _registries:
            _registries[url] = RedisPresence(url) if url else MemoryPresence()
        return _registries[url]
