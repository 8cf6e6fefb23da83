"""core.realtime.channel_layers' pub/sub layer against a real redis-server that goes away and comes back."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.realtime.channel_layers import RedisPubSubChannelLayer
from tests.reliability.harness import PrivateRedis, free_port_in


async def _until_group_add_works(layer, group, channel, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await layer.group_add(group, channel)
            return
        except Exception:  # noqa: BLE001 - still down
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.mark.redis
async def test_receive_fails_during_an_outage_and_delivers_after_it(private_redis):
    """A waiting receive raises when Redis goes away; once it is back a group message arrives again."""
    layer = RedisPubSubChannelLayer(hosts=[private_redis.url], prefix="pubsubtest")
    channel = await layer.new_channel()
    await layer.group_add("party.a", channel)
    waiting = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.2)
    private_redis.stop()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(waiting, 5)
    with pytest.raises(ConnectionError):
        await layer.group_add("party.a", channel)
    private_redis.start()
    await _until_group_add_works(layer, "party.a", channel, timeout=10)
    await layer.group_send("party.a", {"type": "chat.message", "frame": "{}"})
    assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "chat.message"
    layer.forget_channel(channel)
    await layer.flush()


@pytest.mark.redis
async def test_a_socket_closed_during_an_outage_leaves_nothing_behind(private_redis):
    """forget_channel drops the receive an outage left running, and the channel's queue."""
    layer = RedisPubSubChannelLayer(hosts=[private_redis.url], prefix="pubsubtest")
    channel = await layer.new_channel()
    waiting = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.2)
    private_redis.stop()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(waiting, 5)
    layer.forget_channel(channel)
    await asyncio.sleep(0.1)  # the cancelled receive cleans up
    assert channel not in layer._get_layer().channels
    private_redis.start()
    await layer.flush()


@pytest.fixture
def second_shard(tmp_path, private_redis):
    """Another redis-server (ports 6391-6399), beside private_redis: the layer's shard 1."""
    redis = PrivateRedis(tmp_path, port=free_port_in(range(6391, 6400)))
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


async def _channel_on(layer, shard: int) -> str:
    """A new channel that channels-redis puts on that shard (names are random: draw until one lands)."""
    for _ in range(100):
        channel = await layer.new_channel()
        if layer.shard_index(channel) == shard:
            return channel
        layer.forget_channel(channel)
        layer._get_layer().channels.pop(channel, None)
        await layer._get_layer()._get_shard(channel).unsubscribe(channel)
    raise AssertionError(f"no channel on shard {shard} in 100 draws")


def _group_on(layer, shard: int) -> str:
    return next(f"party.{i}" for i in range(1000) if layer.shard_index(f"party.{i}", group=True) == shard)


@pytest.mark.redis
async def test_losing_one_shard_fails_only_the_channels_that_listen_on_it(private_redis, second_shard):
    """With the layer on two Redis servers, killing one fails the receive of a channel whose group lives there,
    while a channel whose own name and group live on the other keeps receiving; both work once it is back."""
    layer = RedisPubSubChannelLayer(hosts=[private_redis.url, second_shard.url], prefix="shardtest")
    safe, hit = await _channel_on(layer, 0), await _channel_on(layer, 0)
    safe_group, lost_group = _group_on(layer, 0), _group_on(layer, 1)
    await layer.group_add(safe_group, safe)
    await layer.group_add(lost_group, hit)
    assert layer.shards_of(safe) == {0} and layer.shards_of(hit) == {0, 1}
    waiting = {channel: asyncio.ensure_future(layer.receive(channel)) for channel in (safe, hit)}
    await asyncio.sleep(0.2)

    second_shard.stop()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(waiting[hit], 5)
    with pytest.raises(ConnectionError):
        await layer.group_add(lost_group, hit)
    await layer.group_send(safe_group, {"type": "chat.message", "frame": "during"})
    assert (await asyncio.wait_for(waiting[safe], 5))["frame"] == "during"
    await layer.group_add(safe_group, safe)  # its shards answer: not refused
    assert await layer.shards_answering() == [True, False]

    second_shard.start()
    await _until_group_add_works(layer, lost_group, hit, timeout=10)
    await layer.group_send(lost_group, {"type": "chat.message", "frame": "after"})
    assert (await asyncio.wait_for(layer.receive(hit), 5))["frame"] == "after"
    assert await layer.shards_answering() == [True, True]
    for channel in (safe, hit):
        layer.forget_channel(channel)
    await layer.flush()
