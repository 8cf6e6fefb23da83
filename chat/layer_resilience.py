"""Keeping a party socket open through a channel-layer (Redis) outage.

channels reads the client and the channel layer in one loop and ends the connection (1011) as
soon as the layer's ``receive`` raises, which channels-redis does the moment Redis goes away: every
socket of the process would drop at once and every reconnect would fail until Redis is back.

With this mixin the socket stays open instead. Frames from the client are still served (a
``chat.send`` is stored and acknowledged to the sender; fan-out to the others waits for the layer).
Meanwhile the layer is retried with a capped, jittered back-off; once it answers, the socket joins
its party's group again (a restarted Redis has forgotten it) and catches up on everything its
group missed, whatever the event: it is sent a fresh ``party.state`` (the party with its playback
and seats as they are now, and a message list that holds every message stored since shortly before
the outage began, and at least the newest page, each with its current reactions; deleted ones are
simply absent), which clients take in place of what they had; then ``message.translated`` for the
messages of that list that have translations.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from pymongo.errors import PyMongoError

from chat import services as chat_services
from core.errors import Forbidden, NotFound
from core.http import metrics
from core.realtime.dbcalls import db_call
from core.realtime.fanout import CLOSE_ENDED, CLOSE_FORBIDDEN, encode_frame
from core.timeutil import utcnow
from parties import services as party_services

logger = logging.getLogger(__name__)

LAYER_RETRY_FIRST_SECONDS = 0.25
LAYER_RETRY_MAX_SECONDS = 2.0
# Messages fanned out just before the outage was noticed may have been lost with it.
CATCH_UP_MARGIN = timedelta(seconds=10)
CATCH_UP_MAX_PAGES = 10  # at most this many history pages (CHAT_HISTORY_MAX_LIMIT each)


class SurvivesLayerOutage:
    """For the party consumer: ``party_id``, ``user``, ``joined_group``, ``join_groups`` and ``party_state_frame``
    are its own."""

    layer_down_since = None  # datetime of the first failure of the current outage

    # channels assigns ``self.channel_receive`` (the layer's receive for this socket) and awaits it
    # in its loop; hand it a receive that waits an outage out instead of raising.
    @property
    def channel_receive(self):
        return self._receive_through_outages

    @channel_receive.setter
    def channel_receive(self, receive):
        self._layer_receive = receive

    def layer_failed(self, what: str) -> None:
        if self.layer_down_since is None:
            self.layer_down_since = utcnow()
            metrics.CHANNEL_LAYER_OUTAGE_SOCKETS.inc()
            logger.warning(
                "Channel layer %s failed for a socket of party %s; retrying", what, self.party_id, exc_info=True
            )

    async def _receive_through_outages(self):
        try:
            return await self._receive_waiting_out_outages()
        except asyncio.CancelledError:  # the socket is closing
            if self.layer_down_since is not None:
                self.layer_down_since = None
                metrics.CHANNEL_LAYER_OUTAGE_SOCKETS.dec()
            forget = getattr(self.channel_layer, "forget_channel", None)  # core.realtime.channel_layers
            if forget is not None:
                forget(self.channel_name)
            raise

    # The party's events come through the process's one subscription (core.realtime.localgroups);
    # when that fails (say the Redis shard holding the party's group is away while this socket's own
    # channel is on another), it is told here and goes through the same outage as for its own channel.
    _own_receive: asyncio.Future | None = None
    _group_lost: asyncio.Future | None = None

    def group_unreachable(self) -> None:
        if self._group_lost is not None and not self._group_lost.done():
            self._group_lost.set_result(None)

    async def _receive_or_group_lost(self):
        if self._own_receive is None:
            self._own_receive = asyncio.ensure_future(self._layer_receive())
        self._group_lost = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait({self._own_receive, self._group_lost}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            self._own_receive.cancel()
            raise
        if not self._own_receive.done():
            raise ConnectionError("The channel layer lost the party's group.")
        receive, self._own_receive = self._own_receive, None
        return receive.result()

    async def _receive_waiting_out_outages(self):
        delay = LAYER_RETRY_FIRST_SECONDS
        while True:
            if self.layer_down_since is None:
                try:
                    return await self._receive_or_group_lost()
                except Exception:  # noqa: BLE001 - any layer failure: wait, then try again
                    self.layer_failed("receive")
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, LAYER_RETRY_MAX_SECONDS)
            if self.joined_group:
                try:
                    await self.join_groups()
                except Exception:  # noqa: BLE001 - still down
                    continue
            since, self.layer_down_since = self.layer_down_since, None
            metrics.CHANNEL_LAYER_OUTAGE_SOCKETS.dec()
            # Handled in the consumer's own loop, in order with the client's frames.
            return {"type": "layer.recovered", "since": since - CATCH_UP_MARGIN}

    async def layer_recovered(self, event):
        """The layer is back: send the party's current state, or close if the party moved on meanwhile."""
        if not self.joined_group:
            return
        try:
            party = await db_call(party_services.party_get_for_member)(
                party_id=self.party_id, user=self.user, require_active=True
            )
            messages, next_before = await db_call(self._messages_since)(event["since"])
            translated = await db_call(chat_services.message_translations)(
                party_id=self.party_id, user=self.user, message_ids=[m.id for m in messages]
            )
            online = await db_call(chat_services.presence_online)(party_id=self.party_id)
        except NotFound:  # the seat went away during the outage
            await self.close(code=CLOSE_FORBIDDEN)
            return
        except Forbidden:  # the party ended during the outage
            await self.close(code=CLOSE_ENDED)
            return
        except PyMongoError:
            logger.warning("Catching up party %s after a channel layer outage failed", self.party_id, exc_info=True)
            return
        state = self.party_state_frame(party, messages, next_before, online)
        await self.send_json(state)
        metrics.CHANNEL_LAYER_CATCH_UPS.inc()
        sent = {message["id"] for message in state["messages"]}
        for payload in translated:
            if payload["message_id"] in sent:
                await self.send(text_data=encode_frame("message.translated", payload))

    def _messages_since(self, since: datetime) -> tuple[list, str | None]:
        """Every message stored since ``since`` (at most CATCH_UP_MAX_PAGES pages), and at least the
        newest page a new socket gets, oldest first; and the ``before`` for the page older than that."""
        messages, before = [], None
        for _ in range(CATCH_UP_MAX_PAGES):
            page, before = chat_services.message_history(
                party_id=self.party_id, user=self.user, before=before, limit=settings.CHAT_HISTORY_MAX_LIMIT
            )
            messages[:0] = page
            if before is None or not page or page[0].timestamp < since:
                break
        keep = max(settings.CHAT_HISTORY_PAGE_SIZE, sum(1 for m in messages if m.timestamp >= since))
        older_exist = before is not None or len(messages) > keep
        messages = messages[-keep:]
        return messages, (messages[0].id if older_exist and messages else None)
