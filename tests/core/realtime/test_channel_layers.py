import asyncio

import pytest
from redis.exceptions import RedisError

from core.realtime.channel_layers import RedisPubSubChannelLayer
from tests.support import free_port


async def test_pubsub_layer_names_a_channel_while_redis_is_away():
    """With Redis unreachable a socket still gets its channel, and the layer's calls fail fast instead of hanging."""
    layer = RedisPubSubChannelLayer(hosts=[f"redis://127.0.0.1:{free_port()}/0"])
    channel = await asyncio.wait_for(layer.new_channel(), 5)
    assert channel.startswith("asgispecific.")
    with pytest.raises((ConnectionError, RedisError)):
        await asyncio.wait_for(layer.group_add("party.x", channel), 5)
    for _ in range(3):  # before and after the watchdog has noticed
        with pytest.raises((ConnectionError, RedisError)):
            await asyncio.wait_for(layer.receive(channel), 5)
        await asyncio.sleep(0.6)
