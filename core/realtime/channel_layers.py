"""channels-redis's pub/sub layer, made to report a Redis outage the way the core layer does.

chat.layer_resilience keeps a socket open through an outage and, once the layer answers again,
sends it what fan-out missed. It learns of an outage from the layer's ``receive`` raising, which
the core layer's does. channels-redis's pub/sub layer fails differently, so this subclass
changes two things:

- ``new_channel`` subscribes in Redis before the consumer even runs, so during an outage the
  handshake itself failed (HTTP 500). Here the name is handed out all the same and subscribed on
  the socket's first ``receive``.
- its ``receive`` (and ``group_add``, for a group already subscribed) never raises: the layer's reader task logs the error and retries, and whatever
  was published meanwhile is silently gone. Here one watchdog task per event loop pings Redis
  twice a second, and every pending ``receive`` (and every ``group_add``) raises ``ConnectionError``
  while it does not answer.
  The outage is over once Redis has answered for ``RECOVERED_AFTER_SECONDS``: by then the reader
  task, which retries every second, has subscribed again, so nothing published after the
  catch-up's read is missed either.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from channels_redis import pubsub
from channels_redis.utils import _close_redis, create_pool
from redis import asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PING_EVERY_SECONDS = 0.5
PING_TIMEOUT_SECONDS = 1.0
RECOVERED_AFTER_SECONDS = 1.5


class _Outage:
    """Per event loop: a future that is done while Redis is away (every waiting receive watches
    the same one, so the hot path creates no task for it), and the watchdog task that settles it
    (kept referenced, as asyncio holds only weak references to tasks)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.began = loop.create_future()
        self.watchdog: asyncio.Task | None = None

    @property
    def now(self) -> bool:
        return self.began.done()

    def start(self) -> None:
        if not self.now:
            self.began.set_result(None)

    def end(self) -> None:
        if self.now:
            self.began = self.loop.create_future()


class RedisPubSubChannelLayer(pubsub.RedisPubSubChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._not_subscribed: set[str] = set()
        # A receive interrupted by an outage goes on in the background and is picked up again by
        # the channel's next receive, so no message already queued for it is lost.
        self._pending: dict[str, asyncio.Future] = {}
        self._outages: dict[asyncio.AbstractEventLoop, _Outage] = {}

    async def new_channel(self, prefix: str = "specific.") -> str:
        layer = self._get_layer()
        channel = f"{layer.prefix}{prefix}{uuid.uuid4().hex}"
        layer.channels[channel] = asyncio.Queue()  # group_add needs the channel to exist here
        try:
            await layer._get_shard(channel).subscribe(channel)
        except (RedisError, OSError):
            logger.warning("Channel layer unreachable; channel %s will subscribe on its first receive", channel)
            self._not_subscribed.add(channel)
        return channel

    async def receive(self, channel: str):
        layer = self._get_layer()
        outage = self._outage()
        if outage.now:
            raise ConnectionError("The channel layer's Redis is not answering.")
        if channel in self._not_subscribed:
            await layer._get_shard(channel).subscribe(channel)
            self._not_subscribed.discard(channel)
        message = self._pending.pop(channel, None) or asyncio.ensure_future(layer.receive(channel))
        try:
            await asyncio.wait({message, outage.began}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            message.cancel()  # the consumer is closing: channels-redis unsubscribes the channel
            raise
        if not message.done():
            self._pending[channel] = message
            raise ConnectionError("The channel layer's Redis is not answering.")
        return message.result()

    def forget_channel(self, channel: str) -> None:
        """The socket has closed during an outage: drop what this layer still holds for it."""
        pending = self._pending.pop(channel, None)
        if pending is not None:
            pending.cancel()  # channels-redis's receive then drops the channel and unsubscribes
        elif channel in self._not_subscribed:
            self._get_layer().channels.pop(channel, None)
        self._not_subscribed.discard(channel)

    async def group_add(self, group: str, channel: str) -> None:
        # Joining a group this process already subscribed to never reaches Redis; refuse it during
        # an outage all the same, so that a socket's rejoin tells it when Redis is back.
        if self._outage().now:
            raise ConnectionError("The channel layer's Redis is not answering.")
        await self._get_layer().group_add(group, channel)

    def _outage(self) -> _Outage:
        loop = asyncio.get_running_loop()
        outage = self._outages.get(loop)
        if outage is None:
            outage = self._outages[loop] = _Outage(loop)
            outage.watchdog = loop.create_task(self._watch(outage), name="channel-layer-watchdog")
        return outage

    async def _watch(self, outage: _Outage) -> None:
        clients = [aioredis.Redis(connection_pool=create_pool(shard.host)) for shard in self._get_layer()._shards]
        answering_since = None
        loop = asyncio.get_running_loop()
        try:
            while loop in self._layers:  # channels-redis drops a loop's layer when the loop closes
                try:
                    await asyncio.wait_for(asyncio.gather(*(c.ping() for c in clients)), PING_TIMEOUT_SECONDS)
                except (RedisError, OSError, asyncio.TimeoutError):
                    answering_since = None
                    if not outage.now:
                        logger.warning("Channel layer Redis is not answering")
                        outage.start()
                else:
                    answering_since = answering_since or loop.time()
                    if outage.now and loop.time() - answering_since >= RECOVERED_AFTER_SECONDS:
                        logger.warning("Channel layer Redis answers again")
                        outage.end()
                await asyncio.sleep(PING_EVERY_SECONDS)
        finally:
            self._outages.pop(loop, None)
            for client in clients:
                await _close_redis(client)
