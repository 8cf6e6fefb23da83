"""The ``chat_messages`` collection: every query and update on it, and the indexes they need.

Messages are ordered by ``(timestamp, _id)``: the timestamp is set by the server when storing, and
``_id`` breaks ties between messages stored in the same millisecond, so cursor paging never skips
or repeats a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from bson import ObjectId
from django.conf import settings
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from core.db.client import get_db
from core.db.indexes import IndexSpec, RetiredIndex

COLLECTION = "chat_messages"


def _ttl_seconds() -> int:
    return int(settings.CHAT_MESSAGE_TTL_DAYS) * 86_400


INDEXES = [
    # Staff: one user's (or a few users') messages across every party, newest first
    # (`search_user_messages`, `count_user_messages`: the admin's author search and a user's messages).
    IndexSpec(
        COLLECTION, "user_timestamp_id", (("user_id", ASCENDING), ("timestamp", DESCENDING), ("_id", DESCENDING))
    ),
    # History pages (newest first, _id breaks ties) and resume (the same index, walked forwards).
    IndexSpec(
        COLLECTION,
        "party_timestamp_id",
        (("party_id", ASCENDING), ("timestamp", DESCENDING), ("_id", DESCENDING)),
    ),
    # Idempotent sends: one message per (party, user, client_id). Partial, so that messages
    # without a client_id (system messages) never collide; an equality match on client_id
    # implies the filter, so the planner can use this index for the lookup too.
    IndexSpec(
        COLLECTION,
        "party_user_client_id_unique",
        (("party_id", ASCENDING), ("user_id", ASCENDING), ("client_id", ASCENDING)),
        unique=True,
        partial_filter={"client_id": {"$exists": True}},
    ),
    # Retention: a message is kept until `archive_messages` has written it to an archive file, then
    # deleted CHAT_MESSAGE_TTL_DAYS after its archived_at. Partial, so that unarchived messages are
    # not even in this index (and can never expire). `ensure_indexes` updates the lifetime in place.
    IndexSpec(
        COLLECTION,
        "archived_at_ttl",
        (("archived_at", ASCENDING),),
        partial_filter={"archived_at": {"$type": "date"}},
        expire_after_seconds=_ttl_seconds,
    ),
    # Replies to one message, found when it is deleted (`delete_message` blanks their quotes).
    # Partial, so that only replies are in it; an equality match on reply_to.id implies the filter.
    IndexSpec(
        COLLECTION,
        "party_reply_to_id",
        (("party_id", ASCENDING), ("reply_to.id", ASCENDING)),
        partial_filter={"reply_to.id": {"$exists": True}},
    ),
    # The replay and history by position (`list_by_position`): one video's messages in the order
    # of their moment in it, _id breaking ties, so that cursor paging never skips or repeats one.
    # Messages without a position (sent before positions were recorded, or while a name rather
    # than a video played) sit under null and are never in a page.
    IndexSpec(
        COLLECTION,
        "party_at_item_seconds_id",
        (("party_id", ASCENDING), ("at.item_id", ASCENDING), ("at.seconds", ASCENDING), ("_id", ASCENDING)),
    ),
    # Archival (`archive_messages`): messages not yet archived (archived_at missing or null) older
    # than a cutoff, oldest first, _id breaking ties so that batches never skip or repeat one.
    IndexSpec(
        COLLECTION,
        "archived_timestamp_id",
        (("archived_at", ASCENDING), ("timestamp", ASCENDING), ("_id", ASCENDING)),
    ),
]


RETIRED_INDEXES = [
    RetiredIndex(
        COLLECTION, "timestamp_ttl", "it deleted messages CHAT_MESSAGE_TTL_DAYS after sending, archived or not"
    ),
]


@dataclass(frozen=True)
class MessageAt:
    """Where the party's video was when a message was stored: the item playing (None for the one
    video of a party stored before the queue) and the seconds into it."""

    item_id: str | None
    seconds: float


@dataclass(frozen=True)
class Message:
    id: str
    party_id: str
    user_id: str
    user_name: str
    message: str
    message_type: str
    source_language: str | None
    translations: dict[str, str]
    reactions: dict[str, list[str]]
    client_id: str | None
    timestamp: datetime
    edited_at: datetime | None = None
    # The quoted original of a reply, as it was when replied to: {id, user_id, user_name, text};
    # text "" (and deleted True) once the original is deleted.
    reply_to: dict[str, Any] | None = None
    mentions: list[str] = field(default_factory=list)  # the user ids an @name in the text names
    at: MessageAt | None = None  # None: sent before positions were recorded, or with no video playing


@dataclass(frozen=True)
class NewMessage:
    party_id: str
    user_id: str
    user_name: str
    message: str
    message_type: str
    client_id: str | None
    timestamp: datetime
    reply_to: dict[str, Any] | None = None
    mentions: list[str] = field(default_factory=list)
    at: MessageAt | None = None


@dataclass(frozen=True)
class ReactionOutcome:
    """The message's reactions after an add or remove; ``refused`` names a limit that stopped an
    add (``"emoji_limit"`` or ``"user_limit"``), None when the change applied or changed nothing."""

    reactions: dict[str, list[str]]
    refused: str | None = None


@dataclass(frozen=True)
class Cursor:
    timestamp: datetime
    id: str


@dataclass(frozen=True)
class PositionCursor:
    """A message's place in the order by position: its video, its second in it, its id."""

    item_id: str | None
    seconds: float
    id: str


class DuplicateClientId(Exception):
    """A message with this (party, user, client_id) is already stored."""


def _messages() -> Collection:
    return get_db()[COLLECTION]


def _to_message(doc: dict[str, Any]) -> Message:
    return Message(
        id=str(doc["_id"]),
        party_id=doc["party_id"],
        user_id=doc["user_id"],
        user_name=doc["user_name"],
        message=doc["message"],
        message_type=doc["message_type"],
        source_language=doc.get("source_language"),
        translations=dict(doc.get("translations") or {}),
        reactions={emoji: list(users) for emoji, users in (doc.get("reactions") or {}).items()},
        client_id=doc.get("client_id"),
        timestamp=doc["timestamp"],
        edited_at=doc.get("edited_at"),
        reply_to=dict(doc["reply_to"]) if doc.get("reply_to") else None,
        mentions=list(doc.get("mentions") or []),
        at=_to_at(doc.get("at")),
    )


def _to_at(at: Any) -> MessageAt | None:
    if not isinstance(at, dict) or not isinstance(at.get("seconds"), (int, float)):
        return None
    return MessageAt(item_id=at.get("item_id"), seconds=float(at["seconds"]))


def _projection(lang: str | None) -> dict[str, int]:
    """Every field a client sees, with only the requested language's translation.

    ``lang`` becomes part of a field path, so callers must pass a validated language code.
    """
    projection = {
        "party_id": 1,
        "user_id": 1,
        "user_name": 1,
        "message": 1,
        "message_type": 1,
        "source_language": 1,
        "reactions": 1,
        "client_id": 1,
        "timestamp": 1,
        "edited_at": 1,
        "reply_to": 1,
        "mentions": 1,
        "at": 1,
    }
    if lang:
        projection[f"translations.{lang}"] = 1
    return projection


def insert_message(new: NewMessage) -> Message:
    """Store a message. Raises DuplicateClientId when its client_id was already used."""
    doc: dict[str, Any] = {
        "party_id": new.party_id,
        "user_id": new.user_id,
        "user_name": new.user_name,
        "message": new.message,
        "message_type": new.message_type,
        "source_language": None,
        "translations": {},
        "reactions": {},
        "reaction_emoji_count": 0,
        "timestamp": new.timestamp,
    }
    if new.client_id is not None:
        doc["client_id"] = new.client_id
    if new.reply_to is not None:
        doc["reply_to"] = dict(new.reply_to)
    if new.mentions:
        doc["mentions"] = list(new.mentions)
    if new.at is not None:
        doc["at"] = {"item_id": new.at.item_id, "seconds": new.at.seconds}
    try:
        _messages().insert_one(doc)
    except DuplicateKeyError as exc:
        raise DuplicateClientId(new.client_id) from exc
    return _to_message(doc)


def find_by_client_id(party_id: str, user_id: str, client_id: str) -> Message | None:
    doc = _messages().find_one({"party_id": party_id, "user_id": user_id, "client_id": client_id})
    return _to_message(doc) if doc else None


def get_message(party_id: str, message_id: str, *, lang: str | None = None) -> Message | None:
    if not ObjectId.is_valid(message_id):
        return None
    doc = _messages().find_one({"_id": ObjectId(message_id), "party_id": party_id}, _projection(lang))
    return _to_message(doc) if doc else None


def get_cursor(party_id: str, message_id: str) -> Cursor | None:
    """The position of a message in its party's order, for paging relative to it."""
    if not ObjectId.is_valid(message_id):
        return None
    doc = _messages().find_one({"_id": ObjectId(message_id), "party_id": party_id}, {"timestamp": 1})
    return Cursor(timestamp=doc["timestamp"], id=message_id) if doc else None


def list_before(party_id: str, *, before: Cursor | None, limit: int, lang: str | None) -> tuple[list[Message], bool]:
    """The ``limit`` messages just older than ``before`` (the newest ones when None), oldest first,
    and whether older messages remain."""
    query: dict[str, Any] = {"party_id": party_id}
    if before is not None:
        oid = ObjectId(before.id)
        query["$or"] = [
            {"timestamp": {"$lt": before.timestamp}},
            {"timestamp": before.timestamp, "_id": {"$lt": oid}},
        ]
    cursor = (
        _messages()
        .find(query, _projection(lang))
        .sort([("timestamp", DESCENDING), ("_id", DESCENDING)])
        .limit(limit + 1)
    )
    docs = list(cursor)
    has_more = len(docs) > limit
    return [_to_message(doc) for doc in reversed(docs[:limit])], has_more


def list_after(party_id: str, *, after: Cursor, limit: int, lang: str | None = None) -> list[Message]:
    """Up to ``limit`` messages newer than ``after``, oldest first (resume after a reconnect)."""
    oid = ObjectId(after.id)
    query = {
        "party_id": party_id,
        "$or": [
            {"timestamp": {"$gt": after.timestamp}},
            {"timestamp": after.timestamp, "_id": {"$gt": oid}},
        ],
    }
    cursor = (
        _messages().find(query, _projection(lang)).sort([("timestamp", ASCENDING), ("_id", ASCENDING)]).limit(limit)
    )
    return [_to_message(doc) for doc in cursor]


def get_position_cursor(party_id: str, message_id: str) -> PositionCursor | None:
    """A message's place in the order by position, for paging after it; None when the party has
    no such message or it has no position."""
    if not ObjectId.is_valid(message_id):
        return None
    doc = _messages().find_one({"_id": ObjectId(message_id), "party_id": party_id}, {"at": 1})
    at = _to_at(doc.get("at")) if doc else None
    return PositionCursor(item_id=at.item_id, seconds=at.seconds, id=message_id) if at else None


def list_by_position(
    party_id: str,
    *,
    item_id: str | None,
    from_seconds: float = 0.0,
    after: PositionCursor | None = None,
    limit: int,
    lang: str | None = None,
) -> tuple[list[Message], bool]:
    """Up to ``limit`` messages written during the video ``item_id`` (None: the one video of a
    party stored before the queue), in the order of their moment in it (``_id`` breaking ties):
    from ``from_seconds`` on, or just after ``after`` (a message of the same video). And whether
    more follow. Index party_at_item_seconds_id."""
    query: dict[str, Any] = {"party_id": party_id, "at.item_id": item_id}
    if after is None:
        # A range on seconds also leaves out the messages without a position: a missing at.item_id
        # would match item_id None, a missing at.seconds matches no range.
        query["at.seconds"] = {"$gte": from_seconds}
    else:
        query["$or"] = [
            {"at.seconds": {"$gt": after.seconds}},
            {"at.seconds": after.seconds, "_id": {"$gt": ObjectId(after.id)}},
        ]
    cursor = (
        _messages()
        .find(query, _projection(lang))
        .sort([("at.seconds", ASCENDING), ("_id", ASCENDING)])
        .limit(limit + 1)
    )
    docs = list(cursor)
    return [_to_message(doc) for doc in docs[:limit]], len(docs) > limit


def latest_timestamp(party_id: str) -> datetime | None:
    doc = _messages().find_one({"party_id": party_id}, {"timestamp": 1}, sort=[("timestamp", DESCENDING)])
    return doc["timestamp"] if doc else None


def set_translations(
    party_id: str, message_id: str, *, source_language: str | None, translations: dict[str, str]
) -> bool:
    if not ObjectId.is_valid(message_id):
        return False
    update: dict[str, Any] = {"source_language": source_language}
    # Set each language on its own path, so that concurrent translators never erase each other's work.
    update.update({f"translations.{lang}": text for lang, text in translations.items()})
    result = _messages().update_one({"_id": ObjectId(message_id), "party_id": party_id}, {"$set": update})
    return result.matched_count == 1


def delete_message(party_id: str, message_id: str, *, author_id: str | None = None) -> Message | None:
    """Remove a message. With ``author_id``, only if that user wrote it (the author the caller
    authorized the deletion against). Returns what was removed, or None when there was nothing."""
    if not ObjectId.is_valid(message_id):
        return None
    query: dict[str, Any] = {"_id": ObjectId(message_id), "party_id": party_id}
    if author_id is not None:
        query["user_id"] = author_id
    doc = _messages().find_one_and_delete(query)
    if doc is None:
        return None
    # A reply keeps who it answered but no longer quotes what was removed (a moderator's deletion
    # must not live on in the quotes).
    _messages().update_many(
        {"party_id": party_id, "reply_to.id": message_id},
        {"$set": {"reply_to.text": "", "reply_to.deleted": True}},
    )
    return _to_message(doc)


def edit_message(
    party_id: str,
    message_id: str,
    *,
    author_id: str,
    text: str,
    edited_at: datetime,
    sent_after: datetime,
    mentions: Sequence[str] = (),
) -> Message | None:
    """Replace the text of a text message by ``author_id`` sent after ``sent_after``, in one
    conditional update; its translations, now stale, are cleared. None when no message matches
    (missing, someone else's, not text, or too old: the caller tells these apart)."""
    if not ObjectId.is_valid(message_id):
        return None
    doc = _messages().find_one_and_update(
        {
            "_id": ObjectId(message_id),
            "party_id": party_id,
            "user_id": author_id,
            "message_type": "text",
            "timestamp": {"$gt": sent_after},
        },
        {
            "$set": {
                "message": text,
                "edited_at": edited_at,
                "source_language": None,
                "translations": {},
                "mentions": list(mentions),
            }
        },
        projection=_projection(None),
        return_document=ReturnDocument.AFTER,
    )
    return _to_message(doc) if doc else None


def _reactions_of(party_id: str, oid: ObjectId) -> dict[str, list[str]] | None:
    doc = _messages().find_one({"_id": oid, "party_id": party_id}, {"reactions": 1})
    if doc is None:
        return None
    return {emoji: list(users) for emoji, users in (doc.get("reactions") or {}).items()}


def add_reaction(
    party_id: str, message_id: str, *, emoji: str, user_id: str, max_emoji: int, max_users: int
) -> ReactionOutcome | None:
    """Add the user's reaction, atomically within both limits. None when the message is missing.

    ``emoji`` becomes part of a field path; callers pass a validated emoji (no ``.`` or ``$``).
    Two conditional updates cover the two cases, each one atomic on the server:
    an emoji already on the message gains a user while it has fewer than ``max_users``; a new
    emoji is added while the message has fewer than ``max_emoji``.
    """
    if not ObjectId.is_valid(message_id):
        return None
    oid = ObjectId(message_id)
    path = f"reactions.{emoji}"
    messages = _messages()
    for _attempt in range(3):
        doc = messages.find_one_and_update(
            {"_id": oid, "party_id": party_id, path: {"$exists": True}, f"{path}.{max_users - 1}": {"$exists": False}},
            {"$addToSet": {path: user_id}},
            projection={"reactions": 1},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            return ReactionOutcome(reactions=doc["reactions"])
        doc = messages.find_one_and_update(
            {"_id": oid, "party_id": party_id, path: {"$exists": False}, "reaction_emoji_count": {"$lt": max_emoji}},
            {"$set": {path: [user_id]}, "$inc": {"reaction_emoji_count": 1}},
            projection={"reactions": 1},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            return ReactionOutcome(reactions=doc["reactions"])
        reactions = _reactions_of(party_id, oid)
        if reactions is None:
            return None
        users = reactions.get(emoji)
        if users is not None and user_id in users:
            return ReactionOutcome(reactions=reactions)
        if users is not None and len(users) >= max_users:
            return ReactionOutcome(reactions=reactions, refused="user_limit")
        if users is None and len(reactions) >= max_emoji:
            return ReactionOutcome(reactions=reactions, refused="emoji_limit")
        # The emoji appeared or vanished between our two updates: try again.
    return ReactionOutcome(reactions=_reactions_of(party_id, oid) or {}, refused="emoji_limit")


def remove_reaction(party_id: str, message_id: str, *, emoji: str, user_id: str) -> ReactionOutcome | None:
    """Remove the user's reaction; an emoji nobody uses any more is dropped. None when the message
    is missing."""
    if not ObjectId.is_valid(message_id):
        return None
    oid = ObjectId(message_id)
    path = f"reactions.{emoji}"
    messages = _messages()
    messages.update_one({"_id": oid, "party_id": party_id, path: user_id}, {"$pull": {path: user_id}})
    # Conditional, so that a user who reacted in between keeps the emoji.
    messages.update_one(
        {"_id": oid, "party_id": party_id, path: {"$size": 0}},
        {"$unset": {path: ""}, "$inc": {"reaction_emoji_count": -1}},
    )
    reactions = _reactions_of(party_id, oid)
    return None if reactions is None else ReactionOutcome(reactions=reactions)


def translations_for(party_id: str, message_ids: list[str]) -> dict[str, tuple[str | None, dict[str, str]]]:
    """The source language and every translation of each listed message that has any, in one query."""
    oids = [ObjectId(mid) for mid in message_ids if ObjectId.is_valid(mid)]
    docs = _messages().find({"_id": {"$in": oids}, "party_id": party_id}, {"source_language": 1, "translations": 1})
    return {
        str(doc["_id"]): (doc.get("source_language"), dict(doc.get("translations") or {}))
        for doc in docs
        if doc.get("translations")
    }


def count_for_party(party_id: str) -> int:
    return _messages().count_documents({"party_id": party_id})


def count_all() -> int:
    """How many messages are stored, from the collection's metadata (no query, no scan)."""
    return _messages().estimated_document_count()


# --- Archival (`manage.py archive_messages`) ---------------------------------------------------


def list_unarchived_before(cutoff: datetime, *, after: Cursor | None, limit: int) -> list[Message]:
    """Up to ``limit`` messages older than ``cutoff`` that are not archived yet (``archived_at``
    missing or null), oldest first by ``(timestamp, _id)``, starting just after ``after``.
    Every field is returned, translations in every language."""
    query: dict[str, Any] = {"archived_at": None}
    if after is None:
        query["timestamp"] = {"$lt": cutoff}
    else:
        query["$or"] = [
            {"timestamp": {"$gt": after.timestamp, "$lt": cutoff}},
            {"timestamp": after.timestamp, "_id": {"$gt": ObjectId(after.id)}},
        ]
    projection = {**_projection(None), "translations": 1}
    cursor = _messages().find(query, projection).sort([("timestamp", ASCENDING), ("_id", ASCENDING)]).limit(limit)
    return [_to_message(doc) for doc in cursor]


def mark_archived(message_ids: list[str], at: datetime) -> int:
    """Set ``archived_at`` on the listed messages that are not archived yet. Returns how many changed
    (fewer than listed when some were deleted or archived meanwhile)."""
    oids = [ObjectId(mid) for mid in message_ids if ObjectId.is_valid(mid)]
    if not oids:
        return 0
    result = _messages().update_many({"_id": {"$in": oids}, "archived_at": None}, {"$set": {"archived_at": at}})
    return result.modified_count


def delete_archived(message_ids: list[str]) -> int:
    """Delete the listed messages that are marked archived; an unarchived one is never deleted.
    Returns how many were deleted."""
    oids = [ObjectId(mid) for mid in message_ids if ObjectId.is_valid(mid)]
    if not oids:
        return 0
    return _messages().delete_many({"_id": {"$in": oids}, "archived_at": {"$ne": None}}).deleted_count


# --- Staff moderation (the admin) --------------------------------------------------------------


def _search_filter(party_id: str, *, text: str, user: str) -> dict[str, Any]:
    """One party's messages, optionally those whose text contains ``text`` and those by ``user``
    (a user id, or a user name in any letter case).

    Both terms are escaped into literal patterns (``re.escape``), so no operator or pattern ever
    comes from what a moderator typed. The index scan is on party_id (party_timestamp_id, in
    timestamp order); the terms filter that scan, within the one party only.
    """
    query: dict[str, Any] = {"party_id": party_id}
    conditions: list[dict[str, Any]] = []
    if text:
        conditions.append({"message": {"$regex": re.escape(text), "$options": "i"}})
    if user:
        conditions.append(
            {"$or": [{"user_id": user}, {"user_name": {"$regex": f"^{re.escape(user)}$", "$options": "i"}}]}
        )
    if conditions:
        query["$and"] = conditions
    return query


def search_messages(party_id: str, *, text: str = "", user: str = "", offset: int, limit: int) -> list[Message]:
    """One page of a party's messages matching the terms, newest first."""
    if limit <= 0:
        return []  # a limit of 0 would mean "no limit" to the server
    cursor = (
        _messages()
        .find(_search_filter(party_id, text=text, user=user), _projection(None))
        .sort([("timestamp", DESCENDING), ("_id", DESCENDING)])
        .skip(max(offset, 0))
        .limit(limit)
    )
    return [_to_message(doc) for doc in cursor]


def _authors_filter(user_ids: Sequence[str]) -> dict[str, Any]:
    # Values only, never operators: each id is compared as a string (index user_timestamp_id; on
    # MongoDB an $in is walked per id and merged in timestamp order, with no in-memory sort).
    ids = [str(user_id) for user_id in user_ids]
    return {"user_id": ids[0]} if len(ids) == 1 else {"user_id": {"$in": ids}}


def search_user_messages(user_ids: Sequence[str], *, offset: int, limit: int) -> list[Message]:
    """One page of the messages by any of ``user_ids``, in every party, newest first (staff)."""
    if limit <= 0 or not user_ids:
        return []  # a limit of 0 would mean "no limit" to the server
    cursor = (
        _messages()
        .find(_authors_filter(user_ids), _projection(None))
        .sort([("timestamp", DESCENDING), ("_id", DESCENDING)])
        .skip(max(offset, 0))
        .limit(limit)
    )
    return [_to_message(doc) for doc in cursor]


def count_user_messages(user_ids: Sequence[str]) -> int:
    """How many messages any of ``user_ids`` has stored, in every party."""
    if not user_ids:
        return 0
    return _messages().count_documents(_authors_filter(user_ids))


def count_matching(party_id: str, *, text: str = "", user: str = "") -> int:
    """How many of a party's messages match the terms (``search_messages``)."""
    return _messages().count_documents(_search_filter(party_id, text=text, user=user))
