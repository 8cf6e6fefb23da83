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

With several Redis servers (CHANNEL_LAYER_REDIS_URLS, channels-redis's ``hosts``) channels-redis
puts each channel and each group on one of them by a hash of its name. The watchdog then pings
every shard and keeps an outage per shard: a socket is affected by a lost shard only when that
shard carries its own channel or one of its groups (``shards_of``). Only its receive and its
``group_add`` fail, so only the affected sockets wait and catch up (chat.layer_resilience); the
others go on receiving from the shards that answer, and miss nothing, since what they listen to
is published there.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from channels_redis import pubsub
from channels_redis.utils import _close_redis, _consistent_hash, create_pool
from redis import asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PING_EVERY_SECONDS = 0.5
PING_TIMEOUT_SECONDS = 1.0
RECOVERED_AFTER_SECONDS = 1.5


class _Outage:
    """Per event loop and shard: a future that is done while that Redis is away (every waiting
    receive watches the futures of its shards, so the hot path creates no task for it)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.began = loop.create_future()

    @property
    def now(self) -> bool:
        return self.began.done()

    def start(self) -> None:
        if not self.now:
            self.began.set_result(None)

    def end(self) -> None:
        if self.now:
            self.began = self.loop.create_future()


class _LoopOutages:
    """An event loop's outage per shard, and the watchdog task that settles them (kept referenced,
    as asyncio holds only weak references to tasks)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, shards: int) -> None:
        self.shards = [_Outage(loop) for _ in range(shards)]
        self.watchdog: asyncio.Task | None = None


def _down(message: str = "The channel layer's Redis is not answering.") -> ConnectionError:
    return ConnectionError(message)


class RedisPubSubChannelLayer(pubsub.RedisPubSubChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._not_subscribed: set[str] = set()
        # A receive interrupted by an outage goes on in the background and is picked up again by
        # the channel's next receive, so no message already queued for it is lost.
        self._pending: dict[str, asyncio.Future] = {}
        self._outages: dict[asyncio.AbstractEventLoop, _LoopOutages] = {}
        # Per channel, the groups it is in (a socket has a few), for the shards it listens to.
        self._groups_of: dict[str, set[str]] = {}

    def shard_index(self, name: str, *, group: bool = False) -> int:
        """Which of the layer's Redis servers carries this channel (or, with ``group``, this group)."""
        layer = self._get_layer()
        if group:
            name = layer._get_group_channel_name(name)
        return _consistent_hash(name, len(layer._shards))

    def shards_of(self, channel: str) -> set[int]:
        """The shards a channel's messages come through: its own and its groups'."""
        return {
            self.shard_index(channel),
            *(self.shard_index(group, group=True) for group in self._groups_of.get(channel, ())),
        }

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
        outages = self._loop_outages()
        watched = [outages.shards[index] for index in self.shards_of(channel)]
        if any(outage.now for outage in watched):
            raise _down()
        if channel in self._not_subscribed:
            await layer._get_shard(channel).subscribe(channel)
            self._not_subscribed.discard(channel)
        message = self._pending.pop(channel, None) or asyncio.ensure_future(layer.receive(channel))
        try:
            await asyncio.wait({message, *(outage.began for outage in watched)}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            message.cancel()  # the consumer is closing: channels-redis unsubscribes the channel
            raise
        if not message.done():
            self._pending[channel] = message
            raise _down()
        return message.result()

    def forget_channel(self, channel: str) -> None:
        """The socket has closed during an outage: drop what this layer still holds for it."""
        pending = self._pending.pop(channel, None)
        if pending is not None:
            pending.cancel()  # channels-redis's receive then drops the channel and unsubscribes
        elif channel in self._not_subscribed:
            self._get_layer().channels.pop(channel, None)
        self._not_subscribed.discard(channel)
        self._groups_of.pop(channel, None)

    async def group_add(self, group: str, channel: str) -> None:
        # Joining a group this process already subscribed to never reaches Redis; refuse it while the
        # group's shard or the channel's own is away all the same, so that a socket's rejoin tells it
        # when everything it listens to answers again.
        outages = self._loop_outages()
        if outages.shards[self.shard_index(group, group=True)].now or outages.shards[self.shard_index(channel)].now:
            raise _down()
        await self._get_layer().group_add(group, channel)
        self._groups_of.setdefault(channel, set()).add(group)

    async def group_discard(self, group: str, channel: str) -> None:
        groups = self._groups_of.get(channel)
        if groups is not None:
            groups.discard(group)
            if not groups:
                del self._groups_of[channel]
        await self._get_layer().group_discard(group, channel)

    async def shards_answering(self) -> list[bool]:
        """Ping every shard once (the readiness check): True for each that answers."""
        clients = [aioredis.Redis(connection_pool=create_pool(shard.host)) for shard in self._get_layer()._shards]
        try:
            results = await asyncio.gather(
                *(asyncio.wait_for(client.ping(), PING_TIMEOUT_SECONDS) for client in clients), return_exceptions=True
            )
        finally:
            for client in clients:
                await _close_redis(client)
        return [result is True for result in results]

    def _loop_outages(self) -> _LoopOutages:
        loop = asyncio.get_running_loop()
        outages = self._outages.get(loop)
        if outages is None:
            outages = self._outages[loop] = _LoopOutages(loop, len(self._get_layer()._shards))
            outages.watchdog = loop.create_task(self._watch(outages), name="channel-layer-watchdog")
        return outages

    async def _watch(self, outages: _LoopOutages) -> None:
        shards = self._get_layer()._shards
        clients = [aioredis.Redis(connection_pool=create_pool(shard.host)) for shard in shards]
        answering_since: list[float | None] = [None] * len(clients)
        loop = asyncio.get_running_loop()

        async def ping(client) -> bool:
            try:
                await asyncio.wait_for(client.ping(), PING_TIMEOUT_SECONDS)
            except (RedisError, OSError, asyncio.TimeoutError):
                return False
            return True

        try:
            while loop in self._layers:  # channels-redis drops a loop's layer when the loop closes
                answers = await asyncio.gather(*(ping(client) for client in clients))
                for index, (answered, outage) in enumerate(zip(answers, outages.shards)):
                    name = f"shard {index} ({_where(shards[index].host)})" if len(shards) > 1 else "Redis"
                    if not answered:
                        answering_since[index] = None
                        if not outage.now:
                            logger.warning("Channel layer %s is not answering", name)
                            outage.start()
                    else:
                        answering_since[index] = answering_since[index] or loop.time()
                        if outage.now and loop.time() - answering_since[index] >= RECOVERED_AFTER_SECONDS:
                            logger.warning("Channel layer %s answers again", name)
                            outage.end()
                await asyncio.sleep(PING_EVERY_SECONDS)
        finally:
            self._outages.pop(loop, None)
            for client in clients:
                await _close_redis(client)


def _where(host: dict) -> str:
    """A shard's address for the log, without its password."""
    address = host.get("address")
    if isinstance(address, str):
        return address.rsplit("@", 1)[-1]
    if isinstance(address, (tuple, list)):
        return ":".join(str(part) for part in address)
    return "?"
