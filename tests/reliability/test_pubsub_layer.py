"""core.realtime.channel_layers' pub/sub layer against a real redis-server that goes away and comes back."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.realtime.channel_layers import RedisPubSubChannelLayer


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
