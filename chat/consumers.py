"""The party WebSocket, ``/ws/parties/{party_id}/``.

The consumer checks input (chat.serializers) and hands every frame to a service, which checks the
user's place in the party again; nothing here talks to MongoDB. Events from the channel layer
carry a finished JSON frame, which is forwarded as it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework import serializers

from accounts.wsauth import AccountInactive, account_is_active
from chat import services as chat_services
from chat.layer_resilience import SurvivesLayerOutage
from chat.serializers import (
    ChatSendSerializer,
    HistoryFrameSerializer,
    MessageEditSerializer,
    MessageRefSerializer,
    PlaybackUpdateSerializer,
    ReactionFrameSerializer,
    ResumeFrameSerializer,
)
from core.errors import Forbidden, Invalid, NotFound, ServiceError, TooManySockets
from core.http import metrics
from core.http.api import OBJECT_ID_RE
from core.ratelimit import acheck_rate
from core.realtime.dbcalls import db_call
from core.realtime.fanout import (
    CLOSE_ENDED,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_BIG,
    CLOSE_TOO_MANY_SOCKETS,
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNAUTHENTICATED,
    party_group,
    token_group,
    user_group,
)
from core.realtime.localgroups import local_groups
from parties import services as party_services
from parties.serializers import (
    ParticipantRefSerializer,
    PartyBansSerializer,
    PartySerializer,
    QueueAddSerializer,
    QueueItemRefSerializer,
    QueueMoveSerializer,
    QueueNextSerializer,
    QueueSettingsSerializer,
)

logger = logging.getLogger(__name__)

# Timers ending a wait for buffering viewers (kept referenced until they finish).
_wait_timers: set[asyncio.Task] = set()


async def _expire_wait(party_id: str, since) -> None:
    """End the wait that began at ``since`` once it has lasted PARTY_WAIT_TIMEOUT_SECONDS. The wait
    is in the party document: if this process stops first, the host's play or pause ends it."""
    try:
        await asyncio.sleep(settings.PARTY_WAIT_TIMEOUT_SECONDS)
        await db_call(party_services.wait_expire)(party_id=party_id, since=since)
    except Exception:  # noqa: BLE001 - a timer has nobody to answer
        logger.exception("Ending the wait in party %s failed", party_id)


def _errors_of(exc: serializers.ValidationError) -> dict[str, list[str]]:
    detail = exc.detail
    if isinstance(detail, dict):
        return {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
    return {"non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


# One instance per frame serializer without context, its fields built once: DRF deep-copies every
# declared field for each new serializer, which was a tenth of a chat.send's CPU. Validation runs
# on the event loop thread only, and keeps nothing in the instance between calls.
_frame_serializers: dict[type, serializers.Serializer] = {}


@receiver(setting_changed)
def _forget_frame_serializers(**kwargs) -> None:
    # Some build a field from a setting (the history page limits): tests change settings.
    _frame_serializers.clear()


def _validated(serializer_class, frame: dict[str, Any], context: dict[str, Any] | None = None) -> dict[str, Any]:
    if context:
        serializer = serializer_class(data=frame, context=context)
        if not serializer.is_valid():
            raise Invalid(_errors_of(serializers.ValidationError(serializer.errors)))
        return serializer.validated_data
    serializer = _frame_serializers.get(serializer_class)
    if serializer is None:
        serializer = _frame_serializers[serializer_class] = serializer_class(context={})
    try:
        return serializer.run_validation(frame)
    except serializers.ValidationError as exc:
        raise Invalid(_errors_of(serializers.ValidationError(exc.detail))) from None


def _participant_frame(service, **options):
    """A handler for a frame that names one participant (``{"user_id"}``) for ``service``."""

    async def handler(self, frame):
        data = _validated(ParticipantRefSerializer, frame)
        await sync_to_async(service)(party_id=self.party_id, user=self.user, target_id=data["user_id"], **options)

    return handler


class PartyConsumer(SurvivesLayerOutage, AsyncJsonWebsocketConsumer):
    party_id: str = ""
    joined_group = False
    counted_open = False  # counted in metrics.WEBSOCKETS_OPEN and sockets_open
    sockets_open = 0  # of this process (the class attribute), for WEBSOCKET_MAX_SOCKETS_PER_PROCESS
    closed = False  # the server sent its close: nothing more is served or sent
    present = False  # recorded in the presence registry (core.realtime.presence)

    # --- connection -------------------------------------------------------------------------

    def socket_groups(self) -> list[str]:
        """The channel-layer groups this socket's own channel is in: its user's and its token's (through
        which a revoke, a password change or a deactivation closes it from any process)."""
        groups = [user_group(str(self.user.pk))]
        if self.scope.get("auth_token_id"):
            groups.append(token_group(self.scope["auth_token_id"]))
        return groups

    async def join_groups(self) -> None:
        """Join the socket's groups; again after a layer outage (a restarted Redis forgot them). The
        party's events come through the process's one subscription to the party's group
        (core.realtime.localgroups), not through this socket's channel."""
        await local_groups(self.channel_layer).join(party_group(self.party_id), self)
        for group in self.socket_groups():
            await self.channel_layer.group_add(group, self.channel_name)

    async def connect(self):
        self.early_events = deque()
        self.party_id = self.scope["url_route"]["kwargs"]["party_id"]
        self.user = self.scope.get("user")
        # Accept first, then close with a code: a refusal before accept reaches a browser only as
        # a failed handshake (1006), and clients need to tell these cases apart.
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not OBJECT_ID_RE.match(self.party_id):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if PartyConsumer.sockets_open >= settings.WEBSOCKET_MAX_SOCKETS_PER_PROCESS:
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        try:
            party = await db_call(party_services.party_socket_access)(party_id=self.party_id, user=self.user)
        except NotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        except Forbidden:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Join the group before reading the recent messages: a message stored in between then
        # arrives twice (clients drop repeats by id) rather than not at all.
        try:
            await self.join_groups()
        except Exception:  # noqa: BLE001 - Redis away: open all the same, join when it is back
            self.layer_failed("group_add")
        self.joined_group = True
        # After joining the group: whoever comes or goes after this count is heard as a frame.
        try:
            online = await db_call(chat_services.presence_connect)(
                party=party, user=self.user, channel_name=self.channel_name
            )
        except TooManySockets:
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        self.present = True
        metrics.WEBSOCKETS_OPEN.inc()
        PartyConsumer.sockets_open += 1
        self.counted_open = True
        try:
            messages, next_before = await db_call(chat_services.message_history)(
                party_id=self.party_id, user=self.user, before=None, limit=settings.CHAT_HISTORY_PAGE_SIZE
            )
        except ServiceError:  # the seat went away (removed, left, ended) while the socket opened
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.send_json(self.party_state_frame(party, messages, next_before, online))
        # The party's events that came while the socket opened follow its party.state, in order.
        while self.early_events:
            await self.handle_group_event(self.early_events.popleft())
        self.early_events = None

    def party_state_frame(self, party, messages, next_before: str | None, online: list[str]) -> dict[str, Any]:
        """The ``party.state`` frame: the party as it is now, its newest messages and who is online.
        Sent when the socket opens, and again after a channel-layer outage (chat.layer_resilience)."""
        payloads, next_before = chat_services.newest_messages_within(
            messages, next_before, max_bytes=settings.PARTY_STATE_MESSAGES_MAX_BYTES
        )
        return {
            "type": "party.state",
            "party": PartySerializer(party).data,
            "messages": payloads,
            "next_before": next_before,
            "online": online,
        }

    async def disconnect(self, code):
        if self.counted_open:
            metrics.WEBSOCKETS_OPEN.dec()
            PartyConsumer.sockets_open -= 1
            self.counted_open = False
        if self.joined_group:
            self.joined_group = False
            await local_groups(self.channel_layer).leave(party_group(self.party_id), self)
            try:
                for group in self.socket_groups():
                    await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # noqa: BLE001 - Redis away: the membership expires there by itself
                logger.warning("Channel layer group_discard failed for party %s", self.party_id)
        if self.present:
            self.present = False
            await db_call(chat_services.presence_disconnect)(
                party_id=self.party_id, user=self.user, channel_name=self.channel_name
            )

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A fault that ends the consumer before websocket.disconnect arrives (a bug anywhere)
            # must still give back what connect() took: the gauge, the group, the presence.
            # disconnect() does nothing twice, so after a normal close this is a no-op.
            try:
                await self.disconnect(None)
            except Exception:  # noqa: BLE001 - the original error, if any, is the one to report
                logger.exception("Releasing a socket of party %s failed", self.party_id)

    async def close(self, code=None, reason=None):
        if not self.closed:
            self.closed = True
            await super().close(code=code, reason=reason)

    async def send(self, text_data=None, bytes_data=None, close=False):
        # After the close, a send is an ASGI error (a RuntimeError in the server); frames that
        # were already on their way (a refused handshake, a party that ended) are dropped.
        if not self.closed:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    # --- frames from the client -------------------------------------------------------------

    async def websocket_receive(self, message):
        if self.closed:
            return  # sent after a refused handshake or a close: never processed
        text = message.get("text")
        if text is None:
            await self.send_error(Invalid({"frame": ["Frames are JSON text."]}))
            return
        if len(text.encode("utf-8", "surrogatepass")) > settings.WEBSOCKET_MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            frame = json.loads(text)
        except RecursionError:  # the C decoder's depth guard: a frame like "[" * 1000 + "]" * 1000
            await self.send_error(Invalid({"frame": ["JSON nested too deeply."]}))
            return
        except ValueError:
            await self.send_error(Invalid({"frame": ["Not valid JSON."]}))
            return
        await self.receive_json(frame)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self.send_error(Invalid({"frame": ["A frame is a JSON object."]}))
            return
        client_id = content.get("client_id") if isinstance(content.get("client_id"), str) else None
        handler = self.FRAME_HANDLERS.get(content.get("type")) if isinstance(content.get("type"), str) else None
        if handler is None:
            await self.send_error(Invalid({"type": ["Unknown frame type."]}), client_id=client_id)
            return
        try:
            await self.check_frame_rate(content["type"])
            if content["type"] not in self.ACCOUNT_CHECKED_BY_HANDLER and not await account_is_active(self.user.pk):
                # The close through the user's group may not have come yet (another process
                # deactivated the account, the layer is down): nothing is done for the account.
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            await handler(self, content)
        except AccountInactive:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        except ServiceError as exc:
            await self.send_error(exc, client_id=client_id)
        except Exception:  # noqa: BLE001 - a server fault answers the frame; the socket stays open
            logger.exception("Frame %s failed in party %s", content.get("type"), self.party_id)
            metrics.WEBSOCKET_FRAMES_REJECTED.labels(code="unavailable").inc()
            await self.send_json(
                {"type": "error", "code": "unavailable", "detail": "The server could not do that now; try again."}
                | ({"client_id": client_id} if client_id else {})
            )

    # Every frame type's rate limit, per user per party: the setting holding (count, seconds).
    # Types naming one setting share one window. chat.send and typing are limited by their
    # services instead (HTTP sends share that limit); a type missing here gets FRAME_RATE_LIMIT.
    FRAME_RATE_LIMITS = {
        "chat.send": None,
        "typing": None,
        "reaction.add": "REACTION_RATE_LIMIT",
        "reaction.remove": "REACTION_RATE_LIMIT",
        "playback.update": "PLAYBACK_RATE_LIMIT",
        "history": "HISTORY_RATE_LIMIT",
        "resume": "RESUME_RATE_LIMIT",
        "ping": "PING_RATE_LIMIT",
        "queue.add": "QUEUE_RATE_LIMIT",
        "queue.remove": "QUEUE_RATE_LIMIT",
        "queue.move": "QUEUE_RATE_LIMIT",
        "queue.play": "QUEUE_RATE_LIMIT",
        "queue.next": "QUEUE_RATE_LIMIT",
        "queue.settings": "QUEUE_RATE_LIMIT",
        "queue.vote_skip": "QUEUE_RATE_LIMIT",
        "player.buffering": "PLAYER_STATE_RATE_LIMIT",
        "player.ready": "PLAYER_STATE_RATE_LIMIT",
        # A seek to a message's moment moves the party's video as playback.update does.
        "message.seek": "PLAYBACK_RATE_LIMIT",
    }

    async def check_frame_rate(self, frame_type: str) -> None:
        """RateLimited when this frame would pass its limit. Counted before any other work, so a
        refused frame costs no database call. On the event loop: with Redis this waits on the
        network, and must not queue behind (or hold up) the party's chat sends."""
        setting = self.FRAME_RATE_LIMITS.get(frame_type, "FRAME_RATE_LIMIT")
        if setting is not None:
            key = f"frame:{setting}:{self.party_id}:{self.user.pk}"
            await acheck_rate(key, getattr(settings, setting))

    async def send_error(self, exc: ServiceError, *, client_id: str | None = None):
        frame = {"type": "error", **exc.payload()}
        metrics.WEBSOCKET_FRAMES_REJECTED.labels(code=frame["code"]).inc()
        if client_id:
            frame["client_id"] = client_id
        await self.send_json(frame)

    async def on_chat_send(self, frame):
        data = _validated(ChatSendSerializer, frame)
        result = await chat_services.message_send_from_socket(
            party_id=self.party_id,
            user=self.user,
            text=data["message"],
            message_type=data["message_type"],
            client_id=data.get("client_id"),
            reply_to=data.get("reply_to"),
        )
        if not (result.created and result.delivered) or self.layer_down_since is not None:
            # A repeat is answered to the sender alone; so is a message the layer could not fan out,
            # or fanned out while this socket was not back in the party's group yet.
            await self.send_json({"type": "chat.message", "message": chat_services.message_payload(result.message)})

    async def on_reaction_add(self, frame):
        data = _validated(ReactionFrameSerializer, frame)
        await db_call(chat_services.reaction_add)(
            party_id=self.party_id, message_id=data["message_id"], user=self.user, emoji=data["emoji"]
        )

    async def on_reaction_remove(self, frame):
        data = _validated(ReactionFrameSerializer, frame)
        await db_call(chat_services.reaction_remove)(
            party_id=self.party_id, message_id=data["message_id"], user=self.user, emoji=data["emoji"]
        )

    async def on_playback_update(self, frame):
        data = _validated(PlaybackUpdateSerializer, frame)
        await db_call(chat_services.playback_update)(
            party_id=self.party_id, user=self.user, state=data["state"], position=data["position"], rate=data["rate"]
        )

    async def on_typing(self, frame):
        await db_call(chat_services.typing_notify)(
            party_id=self.party_id, user=self.user, sender_channel=self.channel_name
        )

    async def on_history(self, frame):
        data = _validated(HistoryFrameSerializer, frame)
        messages, next_before = await db_call(chat_services.message_history)(
            party_id=self.party_id,
            user=self.user,
            before=data.get("before"),
            limit=data["limit"],
            lang=data.get("lang"),
        )
        await self.send_json(
            {
                "type": "history",
                "messages": chat_services.messages_payload(messages),
                "next_before": next_before,
            }
        )

    async def on_resume(self, frame):
        data = _validated(ResumeFrameSerializer, frame)
        messages = await db_call(chat_services.message_resume)(
            party_id=self.party_id, user=self.user, after=data["after"], lang=data.get("lang")
        )
        await self.send_json(
            {"type": "history", "messages": chat_services.messages_payload(messages), "next_before": None}
        )

    async def on_ping(self, frame):
        await self.send_json({"type": "pong"})

    # In-room moderation and authors' edits: the services authorize each frame and broadcast.

    async def on_message_edit(self, frame):
        data = _validated(MessageEditSerializer, frame)
        await sync_to_async(chat_services.message_edit)(
            party_id=self.party_id, user=self.user, message_id=data["message_id"], text=data["message"]
        )

    async def on_message_delete(self, frame):
        data = _validated(MessageRefSerializer, frame)
        await sync_to_async(chat_services.message_delete)(
            party_id=self.party_id, user=self.user, message_id=data["message_id"]
        )

    async def on_message_seek(self, frame):
        data = _validated(MessageRefSerializer, frame)
        await db_call(chat_services.message_seek)(party_id=self.party_id, user=self.user, message_id=data["message_id"])

    on_participant_remove = _participant_frame(party_services.participant_remove)
    on_participant_mute = _participant_frame(party_services.participant_mute, muted=True)
    on_participant_unmute = _participant_frame(party_services.participant_mute, muted=False)
    on_co_host_add = _participant_frame(party_services.co_host_set, co_host=True)
    on_co_host_remove = _participant_frame(party_services.co_host_set, co_host=False)
    on_host_transfer = _participant_frame(party_services.host_transfer)

    async def on_participant_unban(self, frame):
        # Bans are never sent to the party: only the moderator who lifted one hears the bans left.
        data = _validated(ParticipantRefSerializer, frame)
        banned = await sync_to_async(party_services.participant_unban)(
            party_id=self.party_id, user=self.user, target_id=data["user_id"]
        )
        await self.send_json({"type": "party.bans", **PartyBansSerializer({"banned": banned}).data})

    # The shared queue: the services authorize each frame and broadcast ``queue.state``.

    def site_origin(self) -> str | None:
        """The origin the room page came from ('self' in its media-src), as the socket reached us."""
        host = dict(self.scope.get("headers") or []).get(b"host")
        if not host:
            return None
        scheme = "https" if self.scope.get("scheme") == "wss" else "http"
        return f"{scheme}://{host.decode('latin-1')}"

    async def on_queue_add(self, frame):
        data = _validated(QueueAddSerializer, frame, {"site_origin": self.site_origin()})
        await db_call(party_services.queue_add)(
            party_id=self.party_id, user=self.user, content_id=data["content_id"], title=data["title"]
        )

    async def on_queue_remove(self, frame):
        data = _validated(QueueItemRefSerializer, frame)
        await db_call(party_services.queue_remove)(party_id=self.party_id, user=self.user, item_id=data["item_id"])

    async def on_queue_move(self, frame):
        data = _validated(QueueMoveSerializer, frame)
        await db_call(party_services.queue_move)(
            party_id=self.party_id, user=self.user, item_id=data["item_id"], to=data["to"]
        )

    async def on_queue_play(self, frame):
        data = _validated(QueueItemRefSerializer, frame)
        await db_call(party_services.queue_play)(party_id=self.party_id, user=self.user, item_id=data["item_id"])

    async def on_queue_next(self, frame):
        data = _validated(QueueNextSerializer, frame)
        await db_call(party_services.queue_next)(party_id=self.party_id, user=self.user, item_id=data["item_id"])

    async def on_queue_settings(self, frame):
        data = _validated(QueueSettingsSerializer, frame)
        await db_call(party_services.queue_settings)(party_id=self.party_id, user=self.user, **data)

    async def on_queue_vote_skip(self, frame):
        data = _validated(QueueNextSerializer, frame)
        await db_call(party_services.queue_vote_skip)(party_id=self.party_id, user=self.user, item_id=data["item_id"])

    # Wait for everyone: each player reports buffering and ready.

    async def on_player_buffering(self, frame):
        data = _validated(QueueNextSerializer, frame)
        since = await db_call(party_services.player_buffering)(
            party_id=self.party_id, user=self.user, item_id=data["item_id"]
        )
        if since is not None:
            task = asyncio.get_running_loop().create_task(_expire_wait(self.party_id, since))
            _wait_timers.add(task)
            task.add_done_callback(_wait_timers.discard)

    async def on_player_ready(self, frame):
        await db_call(party_services.player_ready)(party_id=self.party_id, user=self.user)

    # Frames that change nothing: served without re-reading the account (every other frame checks
    # that the account is still active first).
    READ_ONLY_FRAMES = frozenset({"history", "resume", "ping"})
    # Frames whose handler checks the account in the same database call as its service (the chat
    # path: one thread hop per message instead of two); and the read-only ones, which need no check.
    ACCOUNT_CHECKED_BY_HANDLER = READ_ONLY_FRAMES | {"chat.send"}

    FRAME_HANDLERS = {
        "chat.send": on_chat_send,
        "reaction.add": on_reaction_add,
        "reaction.remove": on_reaction_remove,
        "playback.update": on_playback_update,
        "typing": on_typing,
        "history": on_history,
        "resume": on_resume,
        "ping": on_ping,
        "message.edit": on_message_edit,
        "message.delete": on_message_delete,
        "message.seek": on_message_seek,
        "participant.remove": on_participant_remove,
        "participant.mute": on_participant_mute,
        "participant.unmute": on_participant_unmute,
        "co_host.add": on_co_host_add,
        "co_host.remove": on_co_host_remove,
        "host.transfer": on_host_transfer,
        "participant.unban": on_participant_unban,
        "queue.add": on_queue_add,
        "queue.remove": on_queue_remove,
        "queue.move": on_queue_move,
        "queue.play": on_queue_play,
        "queue.next": on_queue_next,
        "queue.settings": on_queue_settings,
        "queue.vote_skip": on_queue_vote_skip,
        "player.buffering": on_player_buffering,
        "player.ready": on_player_ready,
    }

    # --- events from the channel layer (each carries the finished frame) ----------------------

    async def dispatch(self, message):
        # Channels runs close_old_connections on the one shared sync thread before every handler: a
        # thread hop per event. Channel-layer events only forward a frame (or close the socket), and
        # a client's frame reaches the relational database only through account_is_active, which
        # closes old connections itself; so only connect and disconnect keep that hop.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        elif message["type"].startswith("websocket."):
            await super().dispatch(message)
        else:
            await self.handle_group_event(message)

    async def handle_group_event(self, event):
        handler = getattr(self, get_handler_name(event), None)
        if handler is None:  # a stray event must not end the socket
            logger.warning("No handler for channel-layer event %r in party %s", event["type"], self.party_id)
            return
        await handler(event)

    # Until its party.state is sent, a socket keeps the party's events here (then None).
    early_events: deque | None = None

    async def group_event(self, event):
        """An event of the party's group, from this process's subscription (core.realtime.localgroups)."""
        if self.closed:
            return
        if self.early_events is not None:
            self.early_events.append(event)
            return
        await self.handle_group_event(event)

    async def group_overflow(self):
        """The client has not read the party's last MAX_BACKLOG events: close; it reconnects and
        gets the party as it is now."""
        await self.close(code=CLOSE_TRY_AGAIN_LATER)

    async def forward(self, event):
        # The finished frame straight to the server (what self.send does, minus its layers).
        if not self.closed:
            await self.base_send({"type": "websocket.send", "text": event["frame"]})

    async def chat_message(self, event):
        metrics.MESSAGES_DELIVERED.inc()
        stored_at = event.get("stored_at")
        if isinstance(stored_at, float):
            # Wall clocks: across hosts this includes their skew (NTP keeps it to milliseconds).
            metrics.MESSAGE_DELIVERY_SECONDS.observe(max(0.0, time.time() - stored_at))
        await self.forward(event)

    reaction_update = forward
    playback_state = forward
    message_deleted = forward
    message_translated = forward
    message_edited = forward
    party_roles = forward
    queue_state = forward
    queue_votes = forward
    party_waiting = forward

    async def participant_joined(self, event):
        # A socket is not told that it connected itself.
        if event.get("sender") != self.channel_name:
            await self.forward(event)

    async def typing(self, event):
        if event.get("sender") != self.channel_name:
            await self.forward(event)

    async def participant_left(self, event):
        await self.forward(event)
        if event.get("user_id") == str(self.user.pk) and event.get("reason") in {"left", "removed"}:
            # This user no longer holds a seat: their sockets close too.
            await self.close(code=CLOSE_FORBIDDEN)

    async def session_close(self, event):
        """The user's token was revoked, their password changed or their account deactivated."""
        await self.close(code=event["code"])

    async def party_ended(self, event):
        await self.forward(event)
        await self.close(code=CLOSE_ENDED)

    async def health_probe(self, event):
        """Sent by /health/ready to a group nobody joins; present so a stray one is harmless."""
