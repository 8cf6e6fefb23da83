"""Chat use cases: store first, then broadcast. Interfaces validate input with chat.serializers and
call these; authorization against the party happens here, on every call."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Sequence

from asgiref.sync import SyncToAsync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from accounts.wsauth import AccountInactive, account_active
from chat import repository
from chat.archive import ArchiveFile
from chat.repository import Message, MessageAt, NewMessage
from chat.serializers import MAX_PLAYBACK_POSITION_SECONDS, MessageSerializer
from core.db.paging import LazyResults
from core.errors import ChatDisabled, Forbidden, Invalid, Muted, NotFound, RateLimited, ServiceError, TooManySockets
from core.http import metrics
from core.ratelimit import areserve_rate, check_rate
from core.realtime import presence
from core.realtime.dbcalls import calling_loop, db_call
from core.realtime.fanout import abroadcast, broadcast, party_group
from core.realtime.localgroups import local_groups
from core.text import user_display_name
from core.timeutil import isoformat_z, utcnow
from parties import repository as party_repository
from parties.media import is_link
from parties.models import ModerationAction
from parties.repository import Party
from parties.services import (
    moderation_record,
    party_get_for_member,
    party_seat_check,
    people_matching,
    playback_position,
    player_gone,
    presence_broadcast,
    queue_play,
)

logger = logging.getLogger(__name__)

RESUME_MAX_MESSAGES = 1000
# A reply quotes this many characters of its original (the client shows one line of it).
REPLY_SNIPPET_CHARS = 100
# At most this many people are mentioned by one message: a message naming the whole party
# notifies no more than this.
MENTIONS_MAX = 10


@dataclass(frozen=True)
class SendResult:
    message: Message
    created: bool  # False when client_id matched an already stored message
    delivered: bool = False  # True when the channel layer took the broadcast
    # time.time() when a new message was stored: the receiving sockets measure send-to-delivery from it
    stored_at: float | None = None


# One serializer for every message payload: DRF deep-copies a serializer's declared fields each
# time one is built, which was most of a message's payload cost on every chat.send (about 200 vs
# 27 us, docs/performance.md G). Turning a message into its public shape keeps no state on the
# serializer or its fields, so the database call pool's threads may share it; its fields are
# bound here, once, rather than by whichever thread came first.
_message_output = MessageSerializer()
_message_output.fields  # noqa: B018 - bind the fields now


def message_payload(message: Message) -> dict:
    """A message in its public shape (the ``MessageSerializer`` fields)."""
    return _message_output.to_representation(message)


def messages_payload(messages: Sequence[Message]) -> list[dict]:
    """A page of messages in their public shape, by the one shared serializer (building one per
    message cost 11x the CPU per page of 50, docs/performance.md)."""
    return [_message_output.to_representation(message) for message in messages]


def newest_messages_within(
    messages: Sequence[Message], next_before: str | None, *, max_bytes: int
) -> tuple[list[dict], str | None]:
    """The newest of ``messages`` (oldest first) whose payloads take at most ``max_bytes`` as JSON,
    and the ``before`` for the older page: what ``party.state`` carries.

    One message at most 500 characters, with 10 translations and 20 emoji of 100 reactors each, is
    about 125 KB as JSON, so a page of 50 could reach 6 MB: sent to every socket that opens. The
    budget bounds the frame by design; a client pages back from ``next_before`` as for any page.
    The newest message is always kept (one alone is well under the budget).
    """
    payloads = messages_payload(messages)
    total, kept = 0, 0
    for payload in reversed(payloads):
        # As channels encodes a frame (json.dumps, ASCII escapes), plus the separating comma.
        size = len(json.dumps(payload)) + 1
        if kept and total + size > max_bytes:
            break
        total += size
        kept += 1
    if kept == len(payloads):
        return payloads, next_before
    kept_payloads = payloads[len(payloads) - kept :]
    return kept_payloads, kept_payloads[0]["id"]


def _party_for_writing(*, party_id: str, user, known: Party | None = None) -> Party:
    """The active party, if ``user`` may write chat in it (send or edit): chat on, not muted.

    ``known`` is the party as this process last read it, while nothing can have changed it since
    (``message_send_from_socket``). The rules are applied to it all the same; a refusal is only
    ever given from the party as stored now, so it is read again first."""
    if known is not None:
        try:
            return _writable(party_seat_check(known, user=user, require_active=True), user)
        except ServiceError:
            pass
    return _writable(party_get_for_member(party_id=party_id, user=user, require_active=True), user)


def _writable(party: Party, user) -> Party:
    if not party.chat_enabled:
        raise ChatDisabled()
    if str(user.pk) in party.muted_ids:
        raise Muted()
    return party


def _check_chat_rate(*, party_id: str, user_id: str) -> None:
    """One chat write (a send or an edit) against the per-party and the per-user chat limits."""
    check_rate(*_chat_rate_windows(party_id=party_id, user_id=user_id))


def _chat_rate_windows(*, party_id: str, user_id: str) -> tuple:
    return (
        f"chat:{party_id}:{user_id}",
        settings.CHAT_SEND_RATE_LIMIT,
        # Across all of the user's parties: a per-party limit alone multiplies with every party joined.
        (f"chat-user:{user_id}", settings.CHAT_SEND_USER_RATE_LIMIT),
    )


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def mentioned_ids(text: str, party: Party, *, author_id: str) -> list[str]:
    """The participants an ``@name`` in ``text`` names (case-insensitively, by the name the party
    shows; the author excluded), in the order written, at most MENTIONS_MAX. A name must end at
    a non-name character, and the longest name wins: "@Ada Lovelace" names Ada Lovelace, not Ada."""
    if "@" not in text:
        return []
    folded = text.casefold()
    names = sorted(
        ((p.user_name.casefold(), p.user_id) for p in party.participants if p.user_name and p.user_id != author_id),
        key=lambda pair: -len(pair[0]),
    )
    found: list[tuple[int, str]] = []
    taken: set[int] = set()
    for name, user_id in names:
        start = folded.find("@" + name)
        while start != -1:
            end = start + 1 + len(name)
            before_ok = start == 0 or not _is_name_char(folded[start - 1])
            after_ok = end == len(folded) or not _is_name_char(folded[end])
            if before_ok and after_ok and start not in taken:
                taken.add(start)
                if all(user_id != seen for _, seen in found):
                    found.append((start, user_id))
                break
            start = folded.find("@" + name, start + 1)
    return [user_id for _, user_id in sorted(found)][:MENTIONS_MAX]


def _reply_quote(*, party_id: str, reply_to: str) -> dict:
    """The quote a reply keeps of its original, which must be a message of the same party."""
    original = repository.get_message(party_id, reply_to)
    if original is None:
        raise Invalid({"reply_to": ["The message you reply to is not in this party (it may have been deleted)."]})
    return {
        "id": original.id,
        "user_id": original.user_id,
        "user_name": original.user_name,
        "text": original.message[:REPLY_SNIPPET_CHARS],
    }


@functools.lru_cache(maxsize=4096)
def _plays_video(content_id: str) -> bool:
    # A party's content_id is checked when it is stored: a link is one the room's player plays.
    # Cached, since every send of a party asks about the same few links (is_link parses them).
    return is_link(content_id)


def _message_at(party: Party, now: datetime) -> MessageAt | None:
    """Where the party's video is as a message is stored: the item playing and its position now,
    worked out from the party that the send has just read to authorize it, so a send reads
    nothing more. None while the party shows a name (a live channel, a film watched elsewhere):
    no player plays it, so its playback never moves."""
    if not _plays_video(party.content_id):
        return None
    seconds = min(max(0.0, playback_position(party.playback, now)), MAX_PLAYBACK_POSITION_SECONDS)
    return MessageAt(item_id=party.current_item_id or None, seconds=round(seconds, 3))


def message_send(
    *,
    party_id: str,
    user,
    text: str,
    message_type: str,
    client_id: str | None,
    reply_to: str | None = None,
) -> SendResult:
    """Store a chat message, then deliver it to every socket of the party.

    A repeated ``client_id`` returns the stored message and stores nothing new, so a client may
    resend after a timeout without creating a duplicate. ``reply_to`` names a message of the
    party, which the new one quotes; ``@name`` mentions of participants are resolved here.
    """
    result, _ = _message_store(
        party_id=party_id,
        user=user,
        text=text,
        message_type=message_type,
        client_id=client_id,
        reply_to=reply_to,
    )
    if not result.created:
        return result
    with metrics.MESSAGE_BROADCAST_SECONDS.time():
        delivered = broadcast(party_id, "chat.message", _message_frame(result), stored_at=result.stored_at)
    _translate_later(result.message)
    return dataclasses.replace(result, delivered=delivered)


async def message_send_from_socket(
    *,
    party_id: str,
    user,
    text: str,
    message_type: str,
    client_id: str | None,
    reply_to: str | None = None,
) -> SendResult:
    """``message_send`` for a socket's ``chat.send``: the same rules and result, with the store on
    the database call pool and the broadcast from the event loop that awaits it, so that a message
    costs one thread hop rather than three, and the send limits are counted on the loop too
    (docs/performance.md I). The account is read first on the database thread: a socket's user was
    loaded when it connected, and may have been deactivated since (AccountInactive)."""
    try:
        refund = await areserve_rate(*_chat_rate_windows(party_id=party_id, user_id=str(user.pk)))
    except RateLimited:
        # A resend of a message that is already stored is answered, not refused.
        existing = client_id and await db_call(_stored_resend)(party_id=party_id, user=user, client_id=client_id)
        if existing:
            return SendResult(existing, created=False)
        raise
    layer = get_channel_layer()
    groups, group = (local_groups(layer), party_group(party_id)) if layer is not None else (None, "")
    token, known = groups.snapshot(group, max_age=settings.PARTY_SNAPSHOT_SECONDS) if groups else (None, None)
    result, read = await db_call(_message_store)(
        party_id=party_id,
        user=user,
        text=text,
        message_type=message_type,
        client_id=client_id,
        reply_to=reply_to,
        check_account=True,
        counted=refund,
        known_party=known,
    )
    if read is not None and groups is not None:
        groups.remember(group, token, read)
    if not result.created:
        return result
    with metrics.MESSAGE_BROADCAST_SECONDS.time():
        delivered = await abroadcast(party_id, "chat.message", _message_frame(result), stored_at=result.stored_at)
    _translate_later(result.message)
    return dataclasses.replace(result, delivered=delivered)


def _stored_resend(*, party_id: str, user, client_id: str | None, authorized: bool = False) -> Message | None:
    """The message this user already stored under ``client_id``, if any (and if they may still write here)."""
    if not client_id:
        return None
    if not authorized:
        if not account_active(user.pk):
            raise AccountInactive()
        _party_for_writing(party_id=party_id, user=user)
    return repository.find_by_client_id(party_id, str(user.pk), client_id)


def _message_frame(result: SendResult) -> dict:
    return {"message": message_payload(result.message)}


def _message_store(
    *,
    party_id: str,
    user,
    text: str,
    message_type: str,
    client_id: str | None,
    reply_to: str | None,
    check_account: bool = False,
    counted: Callable[[], None] | None = None,
    known_party: Party | None = None,
) -> tuple[SendResult, Party | None]:
    """What ``message_send`` does before its broadcast: authorize, limit, store. ``counted`` is the
    refund of a send the caller has already counted against the limits: taken back when the seat
    check refuses it, as a send refused there is counted nowhere. Also returns the party if it was
    read here (None when ``known_party`` passed the seat check)."""
    if check_account and not account_active(user.pk):
        raise AccountInactive()
    try:
        party = _party_for_writing(party_id=party_id, user=user, known=known_party)
    except ServiceError:
        if counted is not None:
            counted()
        raise
    read = None if party is known_party else party
    user_id = str(user.pk)
    if counted is None:
        try:
            _check_chat_rate(party_id=party_id, user_id=user_id)
        except RateLimited:
            # A resend of a message that is already stored is answered, not refused.
            existing = _stored_resend(party_id=party_id, user=user, client_id=client_id, authorized=True)
            if existing:
                return SendResult(existing, created=False), read
            raise
    existing = client_id and reply_to and repository.find_by_client_id(party_id, user_id, client_id)
    if existing:
        # A resend whose original has been deleted since is still the message that was stored.
        return SendResult(existing, created=False), read
    quote = _reply_quote(party_id=party_id, reply_to=reply_to) if reply_to else None
    now = utcnow()
    try:
        message = repository.insert_message(
            NewMessage(
                party_id=party_id,
                user_id=user_id,
                user_name=user_display_name(user),
                message=text,
                message_type=message_type,
                client_id=client_id,
                timestamp=now,
                reply_to=quote,
                mentions=mentioned_ids(text, party, author_id=user_id),
                at=_message_at(party, now),
            )
        )
    except repository.DuplicateClientId:
        existing = repository.find_by_client_id(party_id, user_id, client_id)
        if existing is None:  # deleted by a moderator in between
            raise NotFound("That message was removed.")
        return SendResult(existing, created=False), read
    metrics.MESSAGES_STORED.inc()
    return SendResult(message, created=True, stored_at=time.time()), read


def system_message_send(*, party_id: str, text: str) -> Message:
    """A message from the server itself (``message_type: system``); clients cannot send these."""
    message = repository.insert_message(
        NewMessage(
            party_id=party_id,
            user_id="system",
            user_name="Watch Party",
            message=text,
            message_type="system",
            client_id=None,
            timestamp=utcnow(),
        )
    )
    broadcast(party_id, "chat.message", {"message": message_payload(message)})
    return message


_background_tasks: set[asyncio.Task] = set()


def _translate_later(message: Message) -> None:
    """Translate in the background: the original message never waits for a translator."""
    if not settings.CHAT_TRANSLATION_LANGUAGES:
        return
    # Under the ASGI server this runs on the database call pool (or in a sync_to_async thread). The
    # translation then runs as a task of the server's event loop, so that its broadcast goes out from
    # that loop: the in-memory channel layer only wakes sockets waiting on the loop that sends.
    try:
        here = asyncio.get_running_loop()  # message_send_from_socket, on the server's loop
    except RuntimeError:
        here = None
    if here is not None:
        _start_translation_task(here, message)
        return
    loop = calling_loop() or getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(_start_translation_task, loop, message)
    else:
        threading.Thread(target=message_translate, kwargs={"message": message}, daemon=True).start()


def _start_translation_task(loop: asyncio.AbstractEventLoop, message: Message) -> None:
    task = loop.create_task(sync_to_async(message_translate, thread_sensitive=False)(message=message))
    _background_tasks.add(task)  # a reference, so the task is not collected half-way
    task.add_done_callback(_background_tasks.discard)


def message_translate(*, message: Message) -> None:
    """Translate a stored message and deliver the translations as ``message.translated``."""
    from chat.translation import translate_message_text

    try:
        source, translations = translate_message_text(message.message)
        if source is None and not translations:
            return
        if repository.set_translations(message.party_id, message.id, source_language=source, translations=translations):
            broadcast(message.party_id, "message.translated", _translated_payload(message.id, source, translations))
    except Exception:  # noqa: BLE001 - a translator failure must never affect chat
        logger.warning("Translating message %s failed", message.id, exc_info=True)


def _translated_payload(message_id: str, source_language: str | None, translations: dict[str, str]) -> dict:
    return {"message_id": message_id, "source_language": source_language, "translations": translations}


def message_translations(*, party_id: str, user, message_ids: list[str]) -> list[dict]:
    """``message.translated`` payloads (every language) for those of the listed messages that have
    translations, in the listed order: what a socket that missed their broadcast needs."""
    party_get_for_member(party_id=party_id, user=user)
    found = repository.translations_for(party_id, message_ids)
    return [_translated_payload(mid, *found[mid]) for mid in message_ids if mid in found]


def message_history(
    *, party_id: str, user, before: str | None, limit: int, lang: str | None = None
) -> tuple[list[Message], str | None]:
    """A page of messages just older than ``before`` (the newest page when None), oldest first,
    and the id to pass as ``before`` for the next older page (None at the start of the party)."""
    party_get_for_member(party_id=party_id, user=user)
    cursor = None
    if before is not None:
        cursor = repository.get_cursor(party_id, before)
        if cursor is None:
            raise NotFound("No such message in this party.")
    messages, has_more = repository.list_before(party_id, before=cursor, limit=limit, lang=lang)
    return messages, (messages[0].id if has_more and messages else None)


def message_history_by_position(
    *,
    party_id: str,
    user,
    item_id: str | None,
    from_seconds: float = 0.0,
    after: str | None = None,
    limit: int,
    lang: str | None = None,
) -> tuple[list[Message], str | None]:
    """A page of the messages written during the video ``item_id`` (None: the one video of a party
    stored before the queue), in the order of their moment in it: from ``from_seconds`` on, or
    just after the message ``after``. And the id to pass as ``after`` for the next page (None at
    the end). Whoever may read the party's history may read this (the replay's pages), within
    HISTORY_BY_POSITION_RATE_LIMIT."""
    check_rate(f"history-position:{party_id}:{user.pk}", settings.HISTORY_BY_POSITION_RATE_LIMIT)
    party_get_for_member(party_id=party_id, user=user)
    cursor = None
    if after is not None:
        cursor = repository.get_position_cursor(party_id, after)
        if cursor is None:
            raise NotFound("No such message in this party, or it has no moment in a video.")
        if cursor.item_id != item_id:
            raise Invalid({"after": ["That message was written during another video than item."]})
    messages, has_more = repository.list_by_position(
        party_id, item_id=item_id, from_seconds=from_seconds, after=cursor, limit=limit, lang=lang
    )
    return messages, (messages[-1].id if has_more and messages else None)


def message_resume(*, party_id: str, user, after: str, lang: str | None = None) -> list[Message]:
    """Every message newer than ``after``, oldest first (at most RESUME_MAX_MESSAGES), so that a
    client that reconnects misses nothing."""
    party_get_for_member(party_id=party_id, user=user, require_active=True)
    cursor = repository.get_cursor(party_id, after)
    if cursor is None:
        raise NotFound("No such message in this party.")
    return repository.list_after(party_id, after=cursor, limit=RESUME_MAX_MESSAGES, lang=lang)


def _reaction_reply(party_id: str, message_id: str, outcome) -> dict:
    if outcome is None:
        raise NotFound("No such message in this party.")
    if outcome.refused == "emoji_limit":
        raise Invalid({"emoji": [f"A message can have at most {settings.REACTIONS_MAX_EMOJI} different emoji."]})
    if outcome.refused == "user_limit":
        raise Invalid({"emoji": [f"At most {settings.REACTIONS_MAX_USERS_PER_EMOJI} people can react with one emoji."]})
    payload = {"message_id": message_id, "reactions": outcome.reactions}
    broadcast(party_id, "reaction.update", payload)
    return payload


def reaction_add(*, party_id: str, message_id: str, user, emoji: str) -> dict:
    party_get_for_member(party_id=party_id, user=user, require_active=True)
    outcome = repository.add_reaction(
        party_id,
        message_id,
        emoji=emoji,
        user_id=str(user.pk),
        max_emoji=settings.REACTIONS_MAX_EMOJI,
        max_users=settings.REACTIONS_MAX_USERS_PER_EMOJI,
    )
    return _reaction_reply(party_id, message_id, outcome)


def reaction_remove(*, party_id: str, message_id: str, user, emoji: str) -> dict:
    party_get_for_member(party_id=party_id, user=user, require_active=True)
    outcome = repository.remove_reaction(party_id, message_id, emoji=emoji, user_id=str(user.pk))
    return _reaction_reply(party_id, message_id, outcome)


def message_edit(*, party_id: str, user, message_id: str, text: str) -> Message:
    """The author replaces the text of their own text message, within CHAT_MESSAGE_EDIT_SECONDS
    of sending it; the party gets ``message.edited``. Edits count against both chat send limits."""
    party = _party_for_writing(party_id=party_id, user=user)
    user_id = str(user.pk)
    _check_chat_rate(party_id=party_id, user_id=user_id)
    now = utcnow()
    window = settings.CHAT_MESSAGE_EDIT_SECONDS
    edited = repository.edit_message(
        party_id,
        message_id,
        author_id=user_id,
        text=text,
        edited_at=now,
        sent_after=now - timedelta(seconds=window),
        mentions=mentioned_ids(text, party, author_id=user_id),
    )
    if edited is None:
        current = repository.get_message(party_id, message_id)
        if current is None:
            raise NotFound("No such message in this party.")
        if current.user_id != user_id:
            raise Forbidden("You can only edit your own messages.")
        if current.message_type != "text":
            raise Forbidden("Only text messages can be edited.")
        raise Forbidden(f"A message can be edited for {window // 60} minutes after it is sent.")
    broadcast(
        party_id,
        "message.edited",
        {
            "message_id": edited.id,
            "message": edited.message,
            "edited_at": isoformat_z(edited.edited_at),
            "mentions": edited.mentions,
        },
    )
    _translate_later(edited)
    return edited


def _deletion_detail(removed: Message) -> str:
    return (
        f"Deleted a {removed.message_type} message by {removed.user_name} (user {removed.user_id}) "
        f"sent {isoformat_z(removed.timestamp)}: {removed.message}"
    )


def message_delete(*, party_id: str, user, message_id: str) -> Message:
    """Remove a message for everyone; the party gets ``message.deleted``. Authors delete their
    own; the host deletes any, a co-host any but the host's and other co-hosts'. A deletion of
    someone else's message is recorded in the moderation log."""
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    user_id = str(user.pk)
    message = repository.get_message(party_id, message_id)
    if message is None:
        raise NotFound("No such message in this party.")
    if message.user_id == user_id:
        removed = repository.delete_message(party_id, message_id, author_id=user_id)
        if removed is None:
            raise NotFound("No such message in this party.")
    else:
        if not party.is_moderator(user_id):
            raise Forbidden("You can only delete your own messages.")
        if user_id != party.host_id and party.is_moderator(message.user_id):
            raise Forbidden("A co-host cannot delete the host's or another co-host's messages.")
        role = "host" if user_id == party.host_id else "co-host"
        with moderation_record(
            moderator=user,
            action=ModerationAction.Action.DELETE_MESSAGE,
            party_id=party_id,
            room_code=party.room_code,
            message_id=message_id,
            target_user_id=message.user_id,
        ) as record:
            # The author the check above was made against: a message never changes author.
            removed = repository.delete_message(party_id, message_id, author_id=message.user_id)
            if removed is None:
                raise NotFound("No such message in this party.")
            record.detail = f"In the room, as {role}: {_deletion_detail(removed)}"
    broadcast(party_id, "message.deleted", {"message_id": message_id})
    return removed


def message_delete_by_moderator(*, party_id: str, message_id: str, moderator, reason: str = "") -> Message:
    """Remove a message for everyone; sockets get ``message.deleted``. The caller checks staff
    permissions; the deletion is recorded as a ModerationAction naming the message's text and
    author, so nothing is deleted unrecorded."""
    with moderation_record(
        moderator=moderator,
        action=ModerationAction.Action.DELETE_MESSAGE,
        party_id=party_id,
        message_id=message_id,
        reason=reason,
    ) as record:
        removed = repository.delete_message(party_id, message_id)
        if removed is None:
            raise NotFound("No such message in this party.")
        record.target_user_id = removed.user_id
        record.detail = _deletion_detail(removed)
    broadcast(party_id, "message.deleted", {"message_id": message_id})
    return removed


def presence_connect(*, party: Party, user, channel_name: str) -> list[str]:
    """A socket of ``user`` opened in ``party`` (as ``party_socket_access`` just returned it):
    record it, and announce ``participant.joined`` (reason ``connected``) to the party's other
    sockets when it is the user's first. The ids of the users online in the party, ``user``
    included. TooManySockets when the user already holds WEBSOCKET_MAX_SOCKETS_PER_USER sockets
    there (nothing is recorded)."""
    user_id = str(user.pk)
    registry = presence.get_registry()
    first = registry.add(party.id, user_id, channel_name, settings.WEBSOCKET_MAX_SOCKETS_PER_USER)
    if first is None:
        raise TooManySockets(f"At most {settings.WEBSOCKET_MAX_SOCKETS_PER_USER} sockets per user in a party.")
    if first:
        presence_broadcast(
            party, user_id=user_id, user_name=user_display_name(user), reason="connected", sender=channel_name
        )
    online = presence_online(party_id=party.id)
    return online if user_id in online else [*online, user_id]  # listed even while Redis is away


def presence_online(*, party_id: str) -> list[str]:
    """The ids of the users with at least one socket open in the party (for ``party.state``)."""
    return presence.get_registry().online(party_id)


def presence_disconnect(*, party_id: str, user, channel_name: str) -> None:
    """A socket recorded by ``presence_connect`` closed. When it was the user's last in the party,
    the party hears ``participant.left`` (reason ``disconnected``), unless the user no longer holds a
    seat or the party has ended (then nobody needs to hear it)."""
    if not presence.get_registry().remove(party_id, str(user.pk), channel_name):
        return
    player_gone(party_id=party_id, user_id=str(user.pk))  # the party no longer waits for them
    try:
        party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    except (NotFound, Forbidden):
        return
    presence_broadcast(party, user_id=str(user.pk), user_name=user_display_name(user), reason="disconnected")


def typing_notify(*, party_id: str, user, sender_channel: str) -> None:
    """Tell the party's other sockets that ``user`` is typing. Never stored."""
    party_get_for_member(party_id=party_id, user=user, require_active=True)
    user_id = str(user.pk)
    check_rate(f"typing:{party_id}:{user_id}", settings.TYPING_RATE_LIMIT)
    broadcast(
        party_id,
        "typing",
        {"user_id": user_id, "user_name": user_display_name(user)},
        sender=sender_channel,
    )


def message_seek(*, party_id: str, user, message_id: str) -> dict:
    """The host or a co-host takes the party's video to the moment a message was written: the
    message's own position, never one the client names. Same video: the position changes and
    the party keeps playing or stays paused (``playback.state`` with ``message_id``). A video
    still in the queue: it plays now from that moment (``queue.state``, as Play now). Muted
    co-hosts may not; an earlier video that is no longer queued cannot be gone back to."""
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    user_id = str(user.pk)
    if not party.is_moderator(user_id):
        raise Forbidden("Only the host and co-hosts can take the party to a message's moment.")
    if user_id in party.muted_ids:
        raise Muted("The host has muted you: you cannot move the party's video for now.")
    message = repository.get_message(party_id, message_id)
    if message is None:
        raise NotFound("No such message in this party.")
    if message.at is None:
        raise Invalid(
            {
                "message_id": [
                    "That message has no moment in a video (sent before moments were kept, or with none playing)."
                ]
            }
        )
    item_id, seconds = message.at.item_id or "", message.at.seconds
    if item_id == party.current_item_id:
        playback = party.playback
        updated_at = utcnow()
        if not party_repository.set_playback(
            party_id,
            state=playback.state,
            position=seconds,
            updated_at=updated_at,
            rate=playback.rate,
            item_id=item_id,
            moderator_id=user_id,
        ):
            raise Forbidden("The party changed meanwhile (another video, or your role); try again.")
        payload = _playback_payload(playback.state, seconds, playback.rate, updated_at, by=user_id)
        payload["message_id"] = message_id
        broadcast(party_id, "playback.state", payload)
        return payload
    if any(item.id == item_id for item in party.queue):
        played = queue_play(party_id=party_id, user=user, item_id=item_id, position=seconds)
        now = played.playback
        return _playback_payload(now.state, now.position, now.rate, now.updated_at, by=user_id)
    raise NotFound("The video this message was written during is no longer playing or queued.")


def _playback_payload(state: str, position: float, rate: float, updated_at: datetime, *, by: str) -> dict:
    return {"state": state, "position": position, "rate": rate, "updated_at": isoformat_z(updated_at), "by": by}


def playback_update(*, party_id: str, user, state: str, position: float, rate: float = 1.0) -> dict:
    """The host sets play/pause, position and speed; every socket gets ``playback.state``."""
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    if party.host_id != str(user.pk):
        raise Forbidden("Only the host controls playback.")
    updated_at = utcnow()
    if not party_repository.set_playback(party_id, state=state, position=position, updated_at=updated_at, rate=rate):
        raise NotFound("No such party.")
    payload = _playback_payload(state, position, rate, updated_at, by=str(user.pk))
    broadcast(party_id, "playback.state", payload)
    return payload


# --- Archival (`manage.py archive_messages`) ---------------------------------------------------

ARCHIVE_BATCH_SIZE = 1000


@dataclass
class ArchiveProgress:
    """Running totals of an archive run, handed to the progress callback after each batch."""

    cutoff: datetime
    output: str
    phase: str = "archiving"  # "deleting" while removing messages an earlier run archived to the file
    batches: int = 0
    read: int = 0  # unarchived messages older than the cutoff, read from the database
    written: int = 0  # lines this run appended to the file
    recovered: int = 0  # already in the file (an interrupted run): marked, not written again
    marked: int = 0  # messages this run marked archived
    not_marked: int = 0  # deleted (or archived by another run) between reading and marking
    deleted: int = 0  # with delete: messages removed, each one read back from the file first
    discarded_bytes: int = 0  # an incomplete batch cut off the end of the file (an interrupted run)
    last_timestamp: datetime | None = None  # the newest message handled so far


def archive_records(messages: Sequence[Message], *, archived_at: str) -> list[dict]:
    """Messages as archive lines: the public Message shape plus ``archived_at``."""
    return [{**payload, "archived_at": archived_at} for payload in messages_payload(messages)]


def _parse_archived_at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def message_archive(
    *,
    older_than: timedelta,
    output: str,
    delete: bool,
    batch_size: int = ARCHIVE_BATCH_SIZE,
    on_batch: Callable[[ArchiveProgress], None] | None = None,
) -> ArchiveProgress:
    """Export every message older than ``older_than`` that is not archived yet to ``output``
    (gzipped JSON lines, appended to the file when it exists), and mark each one ``archived_at``.
    With ``delete``, remove the archived messages that were read back from the file: those
    exported now and those an earlier run exported to the same file. An unarchived message, or
    one that is not in the file, is never deleted.

    Batches go oldest first. Each is written and flushed to disk, read back, and only then
    marked; a run stopped at any point loses nothing, and running it again with the same
    ``output`` finishes the job without writing any message twice (a message found in the file
    but not marked is marked, not written again). Raises chat.archive.ArchiveError when the file
    cannot be used.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    progress = ArchiveProgress(cutoff=utcnow() - older_than, output=output)
    with ArchiveFile(output) as archive:
        progress.discarded_bytes = archive.discarded_bytes
        if delete and archive.ids:
            # Messages an earlier run wrote to this file and marked; each was just read from the file.
            progress.phase = "deleting"
            earlier = list(archive.ids)
            for start in range(0, len(earlier), batch_size):
                progress.deleted += repository.delete_archived(earlier[start : start + batch_size])
                if on_batch is not None:
                    on_batch(progress)
            progress.phase = "archiving"
        after: repository.Cursor | None = None
        while True:
            batch = repository.list_unarchived_before(progress.cutoff, after=after, limit=batch_size)
            if not batch:
                break
            after = repository.Cursor(timestamp=batch[-1].timestamp, id=batch[-1].id)
            progress.batches += 1
            progress.read += len(batch)
            progress.last_timestamp = batch[-1].timestamp
            archived_at = utcnow()
            fresh = [message for message in batch if message.id not in archive.ids]
            # In the file but not marked: an earlier run stopped between writing and marking.
            # Mark them with the time the file records, so the database and the file agree.
            earlier_by_time: dict[str, list[str]] = {}
            for message in batch:
                if message.id in archive.ids:
                    earlier_by_time.setdefault(archive.ids[message.id], []).append(message.id)
            if fresh:
                stamp = isoformat_z(archived_at)
                archive.append(archive_records(fresh, archived_at=stamp))
                progress.written += len(fresh)
                marked = repository.mark_archived([message.id for message in fresh], _parse_archived_at(stamp))
                progress.marked += marked
                progress.not_marked += len(fresh) - marked
            for stamp, ids in earlier_by_time.items():
                progress.recovered += len(ids)
                marked = repository.mark_archived(ids, _parse_archived_at(stamp))
                progress.marked += marked
                progress.not_marked += len(ids) - marked
            if delete:
                verified = [message.id for message in batch if message.id in archive.ids]
                progress.deleted += repository.delete_archived(verified)
            if on_batch is not None:
                on_batch(progress)
    return progress


# --- Staff moderation (the admin) ---------------------------------------------------------------


def message_search(*, party_id: str, text: str = "", user: str = "") -> LazyResults[Message]:
    """A party's messages for staff, newest first: those whose text contains ``text`` (any letter
    case) and those by ``user`` (a user id, or a user name in any letter case); all when both are
    empty. Terms are literal text, never patterns. Paged lazily: give it to a Paginator."""
    text, user = text.strip(), user.strip()
    return LazyResults(
        count=lambda: repository.count_matching(party_id, text=text, user=user),
        fetch=lambda *, offset, limit: repository.search_messages(
            party_id, text=text, user=user, offset=offset, limit=limit
        ),
    )


def message_search_by_author(*, user_id: str) -> LazyResults[Message]:
    """One user's messages in every party, for staff, newest first. Paged lazily."""
    return _messages_by_authors((user_id,))


def message_search_by_author_name(*, author: str) -> LazyResults[Message]:
    """Messages in every party by the users staff mean by ``author`` (a user id, or a username or
    display name in any letter case: ``people_matching``), newest first; none when nobody
    matches. The term is resolved to account ids first, so it never becomes a pattern or an
    operator, and the query is one index walk per id. Paged lazily."""
    return _messages_by_authors(people_matching(term=author.strip()) if author.strip() else ())


def _messages_by_authors(user_ids: tuple[str, ...]) -> LazyResults[Message]:
    return LazyResults(
        count=lambda: repository.count_user_messages(user_ids),
        fetch=lambda *, offset, limit: repository.search_user_messages(user_ids, offset=offset, limit=limit),
    )


def message_get_for_moderator(*, party_id: str, message_id: str) -> Message:
    """One message of a party, for staff. NotFound when the party has no such message."""
    message = repository.get_message(party_id, message_id)
    if message is None:
        raise NotFound("No such message in this party.")
    return message
