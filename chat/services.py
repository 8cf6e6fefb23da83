"""Chat use cases: store first, then broadcast. Interfaces validate input with chat.serializers and
call these; authorization against the party happens here, on every call."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from asgiref.sync import SyncToAsync, sync_to_async
from django.conf import settings

from chat import repository
from chat.repository import Message, NewMessage
from chat.serializers import MessageSerializer
from parties import repository as party_repository
from parties.services import party_get_for_member, presence_broadcast
from watchparty.errors import ChatDisabled, Forbidden, Invalid, NotFound, RateLimited
from watchparty.ratelimit import check_rate
from watchparty.realtime import broadcast
from watchparty.text import user_display_name
from watchparty.timeutil import isoformat_z, utcnow

logger = logging.getLogger(__name__)

RESUME_MAX_MESSAGES = 1000


@dataclass(frozen=True)
class SendResult:
    message: Message
    created: bool  # False when client_id matched an already stored message
    delivered: bool = False  # True when the channel layer took the broadcast


def message_payload(message: Message) -> dict:
    return MessageSerializer(message).data


def message_send(*, party_id: str, user, text: str, message_type: str, client_id: str | None) -> SendResult:
    """Store a chat message, then deliver it to every socket of the party.

    A repeated ``client_id`` returns the stored message and stores nothing new, so a client may
    resend after a timeout without creating a duplicate.
    """
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    if not party.chat_enabled:
        raise ChatDisabled()
    user_id = str(user.pk)
    try:
        check_rate(f"chat:{party_id}:{user_id}", settings.CHAT_SEND_RATE_LIMIT)
    except RateLimited:
        # A resend of a message that is already stored is answered, not refused.
        existing = client_id and repository.find_by_client_id(party_id, user_id, client_id)
        if existing:
            return SendResult(existing, created=False)
        raise
    try:
        message = repository.insert_message(
            NewMessage(
                party_id=party_id,
                user_id=user_id,
                user_name=user_display_name(user),
                message=text,
                message_type=message_type,
                client_id=client_id,
                timestamp=utcnow(),
            )
        )
    except repository.DuplicateClientId:
        existing = repository.find_by_client_id(party_id, user_id, client_id)
        if existing is None:  # deleted by a moderator in between
            raise NotFound("That message was removed.")
        return SendResult(existing, created=False)
    delivered = broadcast(party_id, "chat.message", {"message": message_payload(message)})
    _translate_later(message)
    return SendResult(message, created=True, delivered=delivered)


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
    # Under the ASGI server this runs in a sync_to_async thread. The translation then runs as a task
    # of the server's event loop, so that its broadcast goes out from that loop: the in-memory channel
    # layer only wakes sockets waiting on the loop that sends.
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
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
        if repository.set_translations(
            message.party_id, message.id, source_language=source, translations=translations
        ):
            broadcast(
                message.party_id,
                "message.translated",
                {"message_id": message.id, "source_language": source, "translations": translations},
            )
    except Exception:  # noqa: BLE001 - a translator failure must never affect chat
        logger.warning("Translating message %s failed", message.id, exc_info=True)


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
        raise Invalid(
            {"emoji": [f"A message can have at most {settings.REACTIONS_MAX_EMOJI} different emoji."]}
        )
    if outcome.refused == "user_limit":
        raise Invalid(
            {"emoji": [f"At most {settings.REACTIONS_MAX_USERS_PER_EMOJI} people can react with one emoji."]}
        )
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


def reaction_add_many(*, party_id: str, message_ids: list[str], user, emoji: str) -> int:
    """React to many messages at once (one update per case, not one per message)."""
    party_get_for_member(party_id=party_id, user=user, require_active=True)
    changed = repository.add_reaction_to_many(
        party_id,
        message_ids,
        emoji=emoji,
        user_id=str(user.pk),
        max_emoji=settings.REACTIONS_MAX_EMOJI,
        max_users=settings.REACTIONS_MAX_USERS_PER_EMOJI,
    )
    for message_id, reactions in repository.reactions_for(party_id, message_ids).items():
        broadcast(party_id, "reaction.update", {"message_id": message_id, "reactions": reactions})
    return changed


def message_delete_by_moderator(*, party_id: str, message_id: str) -> Message:
    """Remove a message for everyone; sockets get ``message.deleted``. The caller (the admin)
    checks staff permissions and records the action."""
    removed = repository.delete_message(party_id, message_id)
    if removed is None:
        raise NotFound("No such message in this party.")
    broadcast(party_id, "message.deleted", {"message_id": message_id})
    return removed


def presence_notify(*, party_id: str, user, reason: str, sender_channel: str | None = None) -> None:
    """A socket of ``user`` connected to or disconnected from the party."""
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    presence_broadcast(
        party, user_id=str(user.pk), user_name=user_display_name(user), reason=reason, sender=sender_channel
    )


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


def playback_update(*, party_id: str, user, state: str, position: float) -> dict:
    """The host sets play/pause and position; every socket gets ``playback.state``."""
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    if party.host_id != str(user.pk):
        raise Forbidden("Only the host controls playback.")
    updated_at = utcnow()
    if not party_repository.set_playback(party_id, state=state, position=position, updated_at=updated_at):
        raise NotFound("No such party.")
    payload = {"state": state, "position": position, "updated_at": isoformat_z(updated_at), "by": str(user.pk)}
    broadcast(party_id, "playback.state", payload)
    return payload
