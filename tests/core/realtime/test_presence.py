import time

import pytest

from core.realtime.presence import MemoryPresence, RedisPresence

PARTY = "65a1b2c3d4e5f60718293a4b"


@pytest.fixture(params=["memory", "redis"])
def make_registry(request):
    """Registries as separate server processes would hold them (in Redis, sharing one state)."""
    if request.param == "memory":
        registry = MemoryPresence()
        return lambda: registry
    url = request.getfixturevalue("redis_url")
    return lambda: RedisPresence(url)


def test_first_and_last_socket_of_a_user_are_told_apart(make_registry):
    """add says True only for a user's first socket; remove says True only for their last."""
    one, two = make_registry(), make_registry()
    assert one.add(PARTY, "1", "a", cap=5) is True
    assert two.add(PARTY, "1", "b", cap=5) is False
    assert two.add(PARTY, "2", "c", cap=5) is True
    assert sorted(one.online(PARTY)) == ["1", "2"]
    assert one.remove(PARTY, "1", "a") is False
    assert two.remove(PARTY, "1", "b") is True
    assert one.online(PARTY) == ["2"]


def test_the_cap_counts_sockets_in_every_process(make_registry):
    """Past the cap nothing is recorded, whichever process holds the other sockets."""
    one, two = make_registry(), make_registry()
    for channel in "abc":
        assert one.add(PARTY, "1", channel, cap=5) is not None
    assert two.add(PARTY, "1", "d", cap=5) is False
    assert two.add(PARTY, "1", "e", cap=5) is False
    assert two.add(PARTY, "1", "f", cap=5) is None
    assert one.add(PARTY, "2", "g", cap=5) is True  # another user is not affected
    one.remove(PARTY, "1", "a")
    assert two.add(PARTY, "1", "f", cap=5) is False


def test_a_dead_process_sockets_lapse_and_live_ones_are_kept(redis_url, settings):
    """Entries a process stops refreshing (it crashed) drop out after PRESENCE_TTL_SECONDS; refreshed ones stay."""
    settings.PRESENCE_TTL_SECONDS = 1
    dead, alive = RedisPresence(redis_url), RedisPresence(redis_url)
    for channel in "abcde":
        dead.add(PARTY, "1", channel, cap=5)
    alive.add(PARTY, "2", "z", cap=5)
    assert alive.add(PARTY, "1", "f", cap=5) is None
    dead._local.clear()  # the process is gone, and its refresher with it
    for _ in range(3):
        time.sleep(0.5)
        alive.refresh_local()
    assert alive.online(PARTY) == ["2"]
    assert alive.add(PARTY, "1", "f", cap=5) is True
    import redis

    assert 0 < redis.Redis.from_url(redis_url).pttl(f"watchparty:presence:{PARTY}") <= 1000


def test_sockets_come_back_after_redis_lost_them(redis_url):
    """After Redis forgot everything (a restart), the next refresh records every socket still open again."""
    import redis

    one, two = RedisPresence(redis_url), RedisPresence(redis_url)
    one.add(PARTY, "1", "a", cap=5)
    two.add(PARTY, "2", "b", cap=5)
    two.remove(PARTY, "2", "b")
    redis.Redis.from_url(redis_url).flushdb()
    assert one.online(PARTY) == []
    one.refresh_local()
    two.refresh_local()
    assert one.online(PARTY) == ["1"]
