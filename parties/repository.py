"""The ``parties`` collection: every query and update on it, and the indexes they need.

Functions take and return plain values (str ids, dataclasses); ObjectIds and pymongo results
never leave this module.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from core.db.client import get_db
from core.db.indexes import IndexSpec

COLLECTION = "parties"

INDEXES = [
    # "My parties" (include_ended=true): the $or branch on host_id, newest first.
    IndexSpec(COLLECTION, "host_created", (("host_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING))),
    # "My parties" (include_ended=true): the $or branch on participants, newest first.
    IndexSpec(
        COLLECTION,
        "participant_created",
        (("participants.user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
    ),
    # "My parties" (active only), both $or branches, newest first. The first also serves counting a
    # host's active parties (`count_active_hosted_by`, the per-host cap), by its prefix.
    IndexSpec(
        COLLECTION,
        "ended_host_created",
        (("ended_at", ASCENDING), ("host_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
    ),
    IndexSpec(
        COLLECTION,
        "ended_participant_created",
        (("ended_at", ASCENDING), ("participants.user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
    ),
    # Active parties for a film or channel, newest first (admin search by content).
    IndexSpec(
        COLLECTION,
        "content_ended_created",
        (("content_id", ASCENDING), ("ended_at", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
    ),
    # A room code is unique among active parties: the database enforces it, so two parties
    # created at the same moment can never share one. Ended parties release their code.
    IndexSpec(
        COLLECTION,
        "room_code_active_unique",
        (("room_code", ASCENDING),),
        unique=True,
        partial_filter={"ended_at": None},
    ),
    # The stale-party sweep (`end_stale_parties`): active parties idle since before a cutoff,
    # least recently active first, _id breaking ties for paging.
    IndexSpec(
        COLLECTION,
        "ended_activity_id",
        (("ended_at", ASCENDING), ("last_activity_at", ASCENDING), ("_id", ASCENDING)),
    ),
    # Staff moderation (`search_parties`, `count_parties`), newest first. Every parties, and the
    # ended ones (ended_at is filtered within the index), then the active ones (and the counts of
    # active and ended parties). By host: host_created and ended_host_created serve it.
    IndexSpec(COLLECTION, "created_ended", (("created_at", DESCENDING), ("_id", DESCENDING), ("ended_at", ASCENDING))),
    IndexSpec(COLLECTION, "ended_created", (("ended_at", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING))),
    IndexSpec(
        COLLECTION, "room_code_created", (("room_code", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING))
    ),
    # Also serves joining by room code (the active party with that code): (room_code, ended_at)
    # is its prefix, so no separate index is kept for it.
    IndexSpec(
        COLLECTION,
        "room_code_ended_created",
        (("room_code", ASCENDING), ("ended_at", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
    ),
    # Also serves any lookup by content_id alone (its prefix).
    IndexSpec(
        COLLECTION, "content_created", (("content_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING))
    ),
    # Staff search by title words in any letter case (`search_parties`): `title_words` holds the
    # title's words case-folded (title_words()), so an equality per word, on a multikey index, finds
    # "The Matrix" from "matrix" on MongoDB and on the embedded store alike, with no pattern at all.
    IndexSpec(
        COLLECTION, "title_words_created", (("title_words", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING))
    ),
    # Staff search by a person the host or a co-host removed and banned (`search_parties`): bans
    # are the one trace a removed person leaves in the party (a seat that is left is pulled).
    IndexSpec(
        COLLECTION, "banned_created", (("banned_ids", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING))
    ),
    IndexSpec(
        COLLECTION,
        "banned_ended_created",
        (("banned_ids", ASCENDING), ("ended_at", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
    ),
    IndexSpec(
        COLLECTION,
        "title_words_ended_created",
        (("title_words", ASCENDING), ("ended_at", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
    ),
]

TITLE_WORDS_MAX = 32
_WORD_RE = re.compile(r"\w+")


def title_words(text: str) -> list[str]:
    """The distinct words of ``text``, case-folded and NFKC-normalised, in order (at most
    TITLE_WORDS_MAX): what a party stores for its title, and what a staff search term becomes."""
    words: list[str] = []
    for word in _WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold()):
        if word not in words:
            words.append(word)
        if len(words) == TITLE_WORDS_MAX:
            break
    return words


@dataclass(frozen=True)
class Participant:
    user_id: str
    user_name: str
    joined_at: datetime


@dataclass(frozen=True)
class Playback:
    state: str
    position: float
    updated_at: datetime
    rate: float = 1.0  # playback speed; parties stored before it existed play at 1


@dataclass(frozen=True)
class QueueItem:
    """A video in the party's shared queue (or the one playing now)."""

    id: str
    content_id: str
    title: str
    added_by: str
    added_by_name: str
    added_at: datetime


@dataclass(frozen=True)
class PlayedItem:
    """A video the party has played (or plays now), for the replay: in the order they began."""

    id: str  # "" for the first video of a party stored before the queue
    content_id: str
    title: str
    started_at: datetime


# The replay lists at most this many of the videos a party played, the most recent ones (the
# queue holds at most PARTY_QUEUE_MAX_ITEMS waiting; this bounds the Party the same way).
PLAYED_MAX = 50


@dataclass(frozen=True)
class Party:
    id: str
    room_code: str
    host_id: str
    host_name: str
    content_id: str
    content_type: str
    content_title: str
    max_participants: int
    chat_enabled: bool
    sync_playback: bool
    participants: list[Participant]
    playback: Playback
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    last_activity_at: datetime | None = None
    # In-room moderation (absent from documents written before it: read as empty).
    co_host_ids: tuple[str, ...] = ()
    muted_ids: tuple[str, ...] = ()
    banned_ids: tuple[str, ...] = ()
    # The shared queue (absent from documents written before it): what plays after the current
    # item, in order; the current item's id and title (its link is content_id); whether guests may
    # add; and the version every queue change compares and increments.
    queue: tuple[QueueItem, ...] = ()
    current_item_id: str = ""
    current_title: str = ""
    guests_may_queue: bool = False
    queue_version: int = 0
    # Vote to skip: who voted to skip the current item (cleared when it changes), and the share of
    # the people present whose votes skip it (0: voting is off).
    skip_votes: tuple[str, ...] = ()
    skip_ratio: float = 0.5
    # Wait for everyone: whether the party waits for buffering viewers (the host may turn it off),
    # who is buffering now, since when the party waits for them (None: it does not), and who it
    # went on without after the timeout (for the current item: they then catch up on their own).
    wait_for_all: bool = True
    waiting: tuple[str, ...] = ()
    wait_since: datetime | None = None
    wait_skipped: tuple[str, ...] = ()
    # The videos played so far, oldest first, the current one last (at most PLAYED_MAX).
    played: tuple[PlayedItem, ...] = ()

    @property
    def participant_count(self) -> int:
        return len(self.participants)

    @property
    def is_active(self) -> bool:
        return self.ended_at is None

    def has_participant(self, user_id: str) -> bool:
        return any(p.user_id == user_id for p in self.participants)

    def participant(self, user_id: str) -> Participant | None:
        return next((p for p in self.participants if p.user_id == user_id), None)

    def is_moderator(self, user_id: str) -> bool:
        """The host, or a co-host the host named."""
        return user_id == self.host_id or user_id in self.co_host_ids


@dataclass(frozen=True)
class NewParty:
    room_code: str
    host_id: str
    host_name: str
    content_id: str
    content_type: str
    content_title: str
    max_participants: int
    chat_enabled: bool
    sync_playback: bool
    created_at: datetime
    current_item_id: str = ""


class RoomCodeTaken(Exception):
    """Another active party holds this room code."""


def _parties() -> Collection:
    return get_db()[COLLECTION]


def _to_party(doc: dict[str, Any]) -> Party:
    playback = doc.get("playback") or {}
    return Party(
        id=str(doc["_id"]),
        room_code=doc["room_code"],
        host_id=doc["host_id"],
        host_name=doc["host_name"],
        content_id=doc["content_id"],
        content_type=doc["content_type"],
        content_title=doc.get("content_title", ""),
        max_participants=doc["max_participants"],
        chat_enabled=doc["chat_enabled"],
        sync_playback=doc["sync_playback"],
        participants=[
            Participant(user_id=p["user_id"], user_name=p["user_name"], joined_at=p["joined_at"])
            for p in doc.get("participants", [])
        ],
        playback=Playback(
            state=playback.get("state", "paused"),
            position=float(playback.get("position", 0.0)),
            updated_at=playback.get("updated_at", doc["created_at"]),
            rate=float(playback.get("rate", 1.0)),
        ),
        created_at=doc["created_at"],
        started_at=doc.get("started_at"),
        ended_at=doc.get("ended_at"),
        last_activity_at=doc.get("last_activity_at"),
        co_host_ids=tuple(doc.get("co_host_ids") or ()),
        muted_ids=tuple(doc.get("muted_ids") or ()),
        banned_ids=tuple(doc.get("banned_ids") or ()),
        queue=tuple(_to_item(item) for item in doc.get("queue") or ()),
        current_item_id=doc.get("current_item_id") or "",
        current_title=doc.get("current_title") or "",
        guests_may_queue=bool(doc.get("guests_may_queue", False)),
        queue_version=int(doc.get("queue_version") or 0),
        skip_votes=tuple(doc.get("skip_votes") or ()),
        skip_ratio=float(doc.get("skip_ratio", 0.5)),
        # Parties stored before the wait existed do not wait: their host never chose it.
        wait_for_all=bool(doc.get("wait_for_all", False)),
        waiting=tuple(doc.get("waiting") or ()),
        wait_since=doc.get("wait_since"),
        wait_skipped=tuple(doc.get("wait_skipped") or ()),
        played=_played(doc),
    )


def _played(doc: dict[str, Any]) -> tuple[PlayedItem, ...]:
    """The videos played; a party stored before they were recorded has played its current one."""
    if doc.get("played"):
        return tuple(
            PlayedItem(
                id=item["id"], content_id=item["content_id"], title=item.get("title", ""), started_at=item["started_at"]
            )
            for item in doc["played"]
        )
    if "content_id" not in doc:  # a projection without the party's content
        return ()
    return (
        PlayedItem(
            id=doc.get("current_item_id") or "",
            content_id=doc["content_id"],
            title=doc.get("current_title") or doc.get("content_title", ""),
            started_at=doc.get("started_at") or doc["created_at"],
        ),
    )


def _played_doc(item_id: str, content_id: str, title: str, started_at: datetime) -> dict[str, Any]:
    return {"id": item_id, "content_id": content_id, "title": title, "started_at": started_at}


def _to_item(doc: dict[str, Any]) -> QueueItem:
    return QueueItem(
        id=doc["id"],
        content_id=doc["content_id"],
        title=doc.get("title", ""),
        added_by=doc["added_by"],
        added_by_name=doc.get("added_by_name", ""),
        added_at=doc["added_at"],
    )


def _item_doc(item: QueueItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "content_id": item.content_id,
        "title": item.title,
        "added_by": item.added_by,
        "added_by_name": item.added_by_name,
        "added_at": item.added_at,
    }


def _oid(party_id: str) -> ObjectId | None:
    return ObjectId(party_id) if ObjectId.is_valid(party_id) else None


def insert_party(new: NewParty) -> Party:
    """Insert a party whose host is its first participant. Raises RoomCodeTaken on a code collision."""
    doc = {
        "room_code": new.room_code,
        "host_id": new.host_id,
        "host_name": new.host_name,
        "content_id": new.content_id,
        "content_type": new.content_type,
        "content_title": new.content_title,
        "title_words": title_words(new.content_title),
        "max_participants": new.max_participants,
        "chat_enabled": new.chat_enabled,
        "sync_playback": new.sync_playback,
        "participants": [{"user_id": new.host_id, "user_name": new.host_name, "joined_at": new.created_at}],
        "participant_count": 1,
        "playback": {"state": "paused", "position": 0.0, "rate": 1.0, "updated_at": new.created_at},
        "created_at": new.created_at,
        "started_at": new.created_at,
        "ended_at": None,
        "last_activity_at": new.created_at,
        "co_host_ids": [],
        "muted_ids": [],
        "banned_ids": [],
        "queue": [],
        "current_item_id": new.current_item_id,
        "current_title": new.content_title,  # the first video goes by the party's title
        "guests_may_queue": False,
        "queue_version": 0,
        "skip_votes": [],
        "skip_ratio": 0.5,
        "wait_for_all": True,
        "waiting": [],
        "wait_since": None,
        "wait_skipped": [],
        "played": [_played_doc(new.current_item_id, new.content_id, new.content_title, new.created_at)],
    }
    try:
        _parties().insert_one(doc)
    except DuplicateKeyError as exc:
        # _id is a fresh ObjectId, so the only unique key that can collide is the room code.
        raise RoomCodeTaken(new.room_code) from exc
    return _to_party(doc)


def room_codes_of(party_ids: list[str]) -> dict[str, tuple[str, str]]:
    """``{party id: (room code, content title)}`` for the ids that name a party (staff lists)."""
    oids = [oid for oid in (_oid(party_id) for party_id in set(party_ids)) if oid is not None]
    if not oids:
        return {}
    docs = _parties().find({"_id": {"$in": oids}}, {"room_code": 1, "content_title": 1})
    return {str(doc["_id"]): (doc["room_code"], doc.get("content_title", "")) for doc in docs}


def get_party(party_id: str) -> Party | None:
    oid = _oid(party_id)
    if oid is None:
        return None
    doc = _parties().find_one({"_id": oid})
    return _to_party(doc) if doc else None


def find_active_by_room_code(room_code: str) -> Party | None:
    doc = _parties().find_one({"room_code": room_code, "ended_at": None})
    return _to_party(doc) if doc else None


def add_participant(party_id: str, participant: Participant, max_participants: int) -> Party | None:
    """Take a seat in one atomic update. Returns the updated party, or None when the party is
    ended, full, missing, or already has this user (the caller tells these apart).

    The filter holds every condition, so concurrent joins can never pass ``max_participants``.
    ``max_participants`` never changes after creation, so the caller may read it beforehand.
    """
    oid = _oid(party_id)
    if oid is None:
        return None
    doc = _parties().find_one_and_update(
        {
            "_id": oid,
            "ended_at": None,
            "participants.user_id": {"$ne": participant.user_id},
            "banned_ids": {"$ne": participant.user_id},
            "participant_count": {"$lt": max_participants},
        },
        {
            "$push": {
                "participants": {
                    "user_id": participant.user_id,
                    "user_name": participant.user_name,
                    "joined_at": participant.joined_at,
                }
            },
            "$inc": {"participant_count": 1},
            "$set": {"last_activity_at": participant.joined_at},
        },
        return_document=ReturnDocument.AFTER,
    )
    return _to_party(doc) if doc else None


def remove_participant(party_id: str, user_id: str, at: datetime) -> Party | None:
    """Free the user's seat (they leave). Returns the updated party, or None when the user held no
    seat or is the host (who hands the role over, or ends the party, first)."""
    oid = _oid(party_id)
    if oid is None:
        return None
    doc = _parties().find_one_and_update(
        {"_id": oid, "participants.user_id": user_id, "host_id": {"$ne": user_id}},
        {
            # A mute outlasts the seat, so that leaving and joining again does not lift it.
            "$pull": {"participants": {"user_id": user_id}, "co_host_ids": user_id},
            "$inc": {"participant_count": -1},
            "$set": {"last_activity_at": at},
        },
        return_document=ReturnDocument.AFTER,
    )
    return _to_party(doc) if doc else None


# --- In-room moderation (the host and co-hosts) -----------------------------------------------
# Each update carries its whole authorization in its filter: the actor's role, the target's seat
# and role, the party being active. A role changed by a concurrent update makes the filter miss
# (None), never act on stale permissions. User ids are only ever compared as values.


def _moderated_by(actor_id: str, target_id: str) -> dict[str, Any]:
    """The party is active, ``target_id`` holds a seat and is not the host, and ``actor_id`` is the
    host, or a co-host acting on someone who is not a co-host."""
    return {
        "ended_at": None,
        "participants.user_id": target_id,
        "$and": [
            {"host_id": {"$ne": target_id}},
            {"$or": [{"host_id": actor_id}, {"co_host_ids": {"$all": [actor_id], "$nin": [target_id]}}]},
        ],
    }


def _hosted_by(actor_id: str, target_id: str) -> dict[str, Any]:
    """The party is active, ``actor_id`` is its host and ``target_id`` holds another seat."""
    return {
        "ended_at": None,
        "host_id": {"$eq": actor_id, "$ne": target_id},
        "participants.user_id": target_id,
    }


def _update_party(party_id: str, query: dict[str, Any], update: dict[str, Any]) -> Party | None:
    oid = _oid(party_id)
    if oid is None:
        return None
    doc = _parties().find_one_and_update({"_id": oid, **query}, update, return_document=ReturnDocument.AFTER)
    return _to_party(doc) if doc else None


def ban_participant(party_id: str, *, actor_id: str, target_id: str, at: datetime) -> Party | None:
    """Free the target's seat and ban them from the party's room code, in one update. None when
    the filter of ``_moderated_by`` refuses."""
    return _update_party(
        party_id,
        _moderated_by(actor_id, target_id),
        {
            "$pull": {"participants": {"user_id": target_id}, "co_host_ids": target_id, "muted_ids": target_id},
            "$addToSet": {"banned_ids": target_id},
            "$inc": {"participant_count": -1},
            "$set": {"last_activity_at": at},
        },
    )


def unban_participant(party_id: str, *, actor_id: str | None, target_id: str) -> Party | None:
    """Lift the target's ban, so that the room code admits them again. None unless the party is
    active, ``target_id`` is banned and ``actor_id`` is its host or a co-host (``None``: staff,
    whom the caller authorized)."""
    query: dict[str, Any] = {"ended_at": None, "banned_ids": target_id}
    if actor_id is not None:
        query["$or"] = [{"host_id": actor_id}, {"co_host_ids": actor_id}]
    return _update_party(party_id, query, {"$pull": {"banned_ids": target_id}})


def set_muted(party_id: str, *, actor_id: str, target_id: str, muted: bool) -> Party | None:
    """Mute or unmute the target's chat. None when the filter of ``_moderated_by`` refuses."""
    change = {"$addToSet": {"muted_ids": target_id}} if muted else {"$pull": {"muted_ids": target_id}}
    return _update_party(party_id, _moderated_by(actor_id, target_id), change)


def set_co_host(party_id: str, *, actor_id: str, target_id: str, co_host: bool) -> Party | None:
    """Name (and unmute) or unname a co-host. None unless ``actor_id`` hosts the active party and
    ``target_id`` holds another seat."""
    change = (
        {"$addToSet": {"co_host_ids": target_id}, "$pull": {"muted_ids": target_id}}
        if co_host
        else {"$pull": {"co_host_ids": target_id}}
    )
    return _update_party(party_id, _hosted_by(actor_id, target_id), change)


def transfer_host(party_id: str, *, actor_id: str, target_id: str, target_name: str) -> Party | None:
    """Make ``target_id`` the host (no longer a co-host, nor muted); the former host keeps a plain
    seat. None unless ``actor_id`` hosts the active party and ``target_id`` holds another seat."""
    return _update_party(
        party_id,
        _hosted_by(actor_id, target_id),
        {
            "$set": {"host_id": target_id, "host_name": target_name},
            "$pull": {"co_host_ids": target_id, "muted_ids": target_id},
        },
    )


def end_party(party_id: str, ended_at: datetime) -> Party | None:
    """Mark an active party ended. Returns the ended party, or None when it was not active."""
    oid = _oid(party_id)
    if oid is None:
        return None
    doc = _parties().find_one_and_update(
        {"_id": oid, "ended_at": None},
        {"$set": {"ended_at": ended_at, "last_activity_at": ended_at}},
        return_document=ReturnDocument.AFTER,
    )
    return _to_party(doc) if doc else None


def set_playback(
    party_id: str,
    *,
    state: str,
    position: float,
    updated_at: datetime,
    rate: float = 1.0,
    item_id: str | None = None,
    moderator_id: str | None = None,
) -> bool:
    """Record the host's play/pause, position and speed on an active party. With ``item_id``, only
    while that item plays ("" for a party stored before the queue); with ``moderator_id``, only
    while that user is the host or a co-host (a seek to a message's moment)."""
    oid = _oid(party_id)
    if oid is None:
        return False
    query: dict[str, Any] = {"_id": oid, "ended_at": None}
    if item_id is not None:
        query["current_item_id"] = item_id if item_id else {"$in": ["", None]}
    if moderator_id is not None:
        query["$or"] = _queue_moderator(moderator_id)["$or"]
    result = _parties().update_one(
        query,
        {
            "$set": {
                "playback": {"state": state, "position": position, "rate": rate, "updated_at": updated_at},
                "last_activity_at": updated_at,
                # The host's own play, pause or seek ends any wait for buffering viewers.
                "waiting": [],
                "wait_since": None,
            }
        },
    )
    return result.matched_count == 1


# --- The shared queue ----------------------------------------------------------------------------
# Every change reads the party, computes the new queue (and current item), and writes it back only
# if queue_version is still the one read and the actor may still make it: a concurrent change
# makes the filter miss (None) and the caller reads again, so no change is ever lost or applied
# twice (two reports of the same item's end advance once). All by _id: no index needed.


def _queue_moderator(actor_id: str) -> dict[str, Any]:
    """The actor is the host or a co-host."""
    return {"$or": [{"host_id": actor_id}, {"co_host_ids": actor_id}]}


def _queue_adder(actor_id: str) -> dict[str, Any]:
    """The actor is the host or a co-host, or holds an unmuted seat and guests may add."""
    return {
        "$or": [
            {"host_id": actor_id},
            {"co_host_ids": actor_id},
            {"participants.user_id": actor_id, "guests_may_queue": True, "muted_ids": {"$ne": actor_id}},
        ]
    }


def _version_filter(version: int) -> dict[str, Any]:
    # Parties stored before the queue have no queue_version: they are at version 0.
    return {"queue_version": {"$in": [0, None]}} if version == 0 else {"queue_version": version}


def replace_queue(
    party_id: str,
    *,
    version: int,
    actor_id: str | None,
    adder: bool = False,
    queue: list[QueueItem],
    current: QueueItem | None = None,
    content_type: str | None = None,
    playback: Playback | None = None,
    played: Sequence[PlayedItem] = (),
    at: datetime,
) -> Party | None:
    """Store the new queue (and, with ``current``, the item playing now: its link becomes
    content_id, ``playback`` restarts it, and it is added to ``played``, the party's list as
    read). None unless the party is active, still at
    ``version`` and ``actor_id`` is the host or a co-host (with ``adder``: or a guest who may add;
    ``None``: the party itself, when the votes to skip reach the threshold)."""
    change: dict[str, Any] = {"queue": [_item_doc(item) for item in queue], "last_activity_at": at}
    if current is not None:
        change.update(
            {
                "content_id": current.content_id,
                "current_item_id": current.id,
                "current_title": current.title,
                "skip_votes": [],
                # A new item: nobody is waited for yet, and nobody was left behind.
                "waiting": [],
                "wait_since": None,
                "wait_skipped": [],
            }
        )
        if content_type is not None:
            change["content_type"] = content_type
    if playback is not None:
        change["playback"] = {
            "state": playback.state,
            "position": playback.position,
            "rate": playback.rate,
            "updated_at": playback.updated_at,
        }
    if current is not None:
        # What played, for the replay: the list as read plus the new item, the most recent
        # PLAYED_MAX. Written whole (a party stored before the list has it only as read), which the
        # version condition makes safe: only a queue change alters it, and each bumps the version.
        change["played"] = [
            _played_doc(item.id, item.content_id, item.title, item.started_at)
            for item in (*played, PlayedItem(current.id, current.content_id, current.title, at))
        ][-PLAYED_MAX:]
    update: dict[str, Any] = {"$set": change, "$inc": {"queue_version": 1}}
    conditions = [_version_filter(version)]
    if actor_id is not None:
        conditions.append(_queue_adder(actor_id) if adder else _queue_moderator(actor_id))
    return _update_party(party_id, {"ended_at": None, "$and": conditions}, update)


def set_queue_settings(
    party_id: str,
    *,
    actor_id: str,
    guests_may_queue: bool | None = None,
    skip_ratio: float | None = None,
    wait_for_all: bool | None = None,
) -> Party | None:
    """The host opens or locks the queue to guests, and sets the share of votes that skips. None
    unless ``actor_id`` hosts the active party."""
    change: dict[str, Any] = {}
    if guests_may_queue is not None:
        change["guests_may_queue"] = guests_may_queue
    if skip_ratio is not None:
        change["skip_ratio"] = skip_ratio
    if wait_for_all is not None:
        change["wait_for_all"] = wait_for_all
    return _update_party(
        party_id, {"ended_at": None, "host_id": actor_id}, {"$set": change, "$inc": {"queue_version": 1}}
    )


def add_skip_vote(party_id: str, *, user_id: str, item_id: str) -> Party | None:
    """Count ``user_id``'s vote to skip ``item_id`` (once: a set). None unless the party is
    active, ``item_id`` still plays, voting is on and the user holds an unmuted seat."""
    return _update_party(
        party_id,
        {
            "ended_at": None,
            "current_item_id": item_id,
            "skip_ratio": {"$gt": 0},
            "participants.user_id": user_id,
            "muted_ids": {"$ne": user_id},
        },
        {"$addToSet": {"skip_votes": user_id}},
    )


# --- Wait for everyone -------------------------------------------------------------------------
# The wait lives in the party document (waiting, wait_since), so every server process sees it and
# any of them may end it; wait_since names one wait, so that ending it twice ends it once.


def _playback_doc(playback: Playback) -> dict[str, Any]:
    return {
        "state": playback.state,
        "position": playback.position,
        "rate": playback.rate,
        "updated_at": playback.updated_at,
    }


def _waitable(user_id: str, item_id: str) -> dict[str, Any]:
    """The party waits for buffering viewers, ``item_id`` plays, and ``user_id`` holds an unmuted
    seat and was not already left behind on this item."""
    return {
        "ended_at": None,
        "wait_for_all": True,
        "current_item_id": item_id,
        "participants.user_id": user_id,
        "$and": [{"muted_ids": {"$ne": user_id}}, {"wait_skipped": {"$ne": user_id}}],
    }


def wait_start(party_id: str, *, user_id: str, item_id: str, paused: Playback, at: datetime) -> Party | None:
    """The first buffering viewer: the party pauses (``paused``) and waits for them. None unless
    the party is playing and not yet waiting (and ``_waitable``)."""
    return _update_party(
        party_id,
        {**_waitable(user_id, item_id), "playback.state": "playing", "wait_since": None},
        {"$set": {"waiting": [user_id], "wait_since": at, "playback": _playback_doc(paused)}},
    )


def wait_join(party_id: str, *, user_id: str, item_id: str) -> Party | None:
    """Another buffering viewer joins a wait under way. None unless the party is waiting."""
    return _update_party(
        party_id,
        {**_waitable(user_id, item_id), "wait_since": {"$ne": None}},
        {"$addToSet": {"waiting": user_id}},
    )


def wait_leave(party_id: str, *, user_id: str) -> Party | None:
    """The viewer is ready (or gone): no longer waited for. None unless they were."""
    return _update_party(party_id, {"ended_at": None, "waiting": user_id}, {"$pull": {"waiting": user_id}})


def wait_end(
    party_id: str, *, since: datetime, resume: Playback, left_behind: list[str], everyone_ready: bool
) -> Party | None:
    """End the wait that began at ``since``: the party plays on (``resume``). With
    ``everyone_ready`` only if nobody is buffering any more; otherwise (the timeout) those still
    buffering are left behind for this item. None when that wait is over already."""
    query: dict[str, Any] = {"ended_at": None, "wait_since": since}
    if everyone_ready:
        query["waiting.0"] = {"$exists": False}
    update: dict[str, Any] = {"$set": {"waiting": [], "wait_since": None, "playback": _playback_doc(resume)}}
    if left_behind:
        update["$addToSet"] = {"wait_skipped": {"$each": left_behind}}
    return _update_party(party_id, query, update)


_LIST_PROJECTION = {
    "room_code": 1,
    "host_id": 1,
    "host_name": 1,
    "content_id": 1,
    "content_type": 1,
    "content_title": 1,
    "max_participants": 1,
    "chat_enabled": 1,
    "sync_playback": 1,
    "participants": 1,
    "playback": 1,
    "created_at": 1,
    "started_at": 1,
    "ended_at": 1,
    "co_host_ids": 1,
    "muted_ids": 1,
    "queue": 1,
    "current_item_id": 1,
    "current_title": 1,
    "guests_may_queue": 1,
    "skip_votes": 1,
    "skip_ratio": 1,
    "wait_for_all": 1,
    "waiting": 1,
    "wait_since": 1,
    "wait_skipped": 1,
    "played": 1,
}


# _id breaks ties between parties created in the same millisecond.
_NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]


def list_for_user(user_id: str, *, include_ended: bool, limit: int) -> list[Party]:
    """Parties the user hosts or sits in, newest first."""
    query: dict[str, Any] = {"$or": [{"host_id": user_id}, {"participants.user_id": user_id}]}
    if not include_ended:
        query["ended_at"] = None
    cursor = _parties().find(query, _LIST_PROJECTION).sort(_NEWEST_FIRST).limit(limit)
    return [_to_party(doc) for doc in cursor]


def list_active_for_content(content_id: str, *, limit: int) -> list[Party]:
    """Active parties watching one film or channel, newest first."""
    cursor = (
        _parties().find({"content_id": content_id, "ended_at": None}, _LIST_PROJECTION).sort(_NEWEST_FIRST).limit(limit)
    )
    return [_to_party(doc) for doc in cursor]


def count_active() -> int:
    """How many parties have not ended (served by the indexes that start with ended_at)."""
    return _parties().count_documents({"ended_at": None})


def count_active_hosted_by(host_id: str) -> int:
    """How many active parties this user hosts (index ended_host_created, by its prefix)."""
    return _parties().count_documents({"ended_at": None, "host_id": host_id})


# --- The stale-party sweep (`manage.py end_stale_parties`) ------------------------------------


def list_idle_active(cutoff: datetime, *, after: tuple[datetime, str] | None = None, limit: int) -> list[Party]:
    """Up to ``limit`` active parties whose last activity (create, join, leave, playback) is older
    than ``cutoff``, least recently active first, starting just after ``after`` (the
    ``(last_activity_at, id)`` of the last party of the previous page)."""
    query: dict[str, Any] = {"ended_at": None}
    if after is None:
        query["last_activity_at"] = {"$lt": cutoff}
    else:
        after_at, after_id = after
        query["$or"] = [
            {"last_activity_at": {"$gt": after_at, "$lt": cutoff}},
            {"last_activity_at": after_at, "_id": {"$gt": ObjectId(after_id)}},
        ]
    cursor = (
        _parties()
        .find(query, {**_LIST_PROJECTION, "last_activity_at": 1})
        .sort([("last_activity_at", ASCENDING), ("_id", ASCENDING)])
        .limit(limit)
    )
    return [_to_party(doc) for doc in cursor]


def end_idle_party(party_id: str, *, idle_before: datetime, ended_at: datetime) -> Party | None:
    """End an active party only if its last activity is still older than ``idle_before``, in one
    atomic update, so that a party someone joined a moment ago is never ended by the sweep.
    Returns the ended party, or None when it is missing, already ended or active again."""
    oid = _oid(party_id)
    if oid is None:
        return None
    doc = _parties().find_one_and_update(
        {"_id": oid, "ended_at": None, "last_activity_at": {"$lt": idle_before}},
        {"$set": {"ended_at": ended_at, "last_activity_at": ended_at}},
        return_document=ReturnDocument.AFTER,
    )
    return _to_party(doc) if doc else None


# --- Backfill (`manage.py backfill_title_words`) -----------------------------------------------


def list_missing_title_words(*, after: tuple[datetime, str] | None, limit: int) -> list[tuple[str, str, datetime]]:
    """Up to ``limit`` parties stored before ``title_words`` existed (no such field), newest
    first, starting just after ``after`` (the ``(created_at, id)`` of the previous page's last),
    as ``(id, content_title, created_at)``. ``title_words: None`` matches a missing field; the
    ``title_words_created`` index holds those parties under null, so this walks only them."""
    query: dict[str, Any] = {"title_words": None}
    if after is not None:
        after_at, after_id = after
        query["$or"] = [
            {"created_at": {"$lt": after_at}},
            {"created_at": after_at, "_id": {"$lt": ObjectId(after_id)}},
        ]
    cursor = _parties().find(query, {"content_title": 1, "created_at": 1}).sort(_NEWEST_FIRST).limit(limit)
    return [(str(doc["_id"]), doc.get("content_title", ""), doc["created_at"]) for doc in cursor]


def set_title_words(titles: dict[str, str]) -> int:
    """Store the title words of each ``{party id: content title}`` that has none yet. Returns how
    many parties changed (a party filled meanwhile is left as it is). One update per party: the
    embedded store (mongomock) cannot run pymongo's bulk_write."""
    changed = 0
    for party_id, title in titles.items():
        oid = _oid(party_id)
        if oid is not None:
            result = _parties().update_one(
                {"_id": oid, "title_words": None}, {"$set": {"title_words": title_words(title)}}
            )
            changed += result.modified_count
    return changed


# --- Staff moderation (the admin) --------------------------------------------------------------

PARTY_STATUSES = ("all", "active", "ended")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class PartySearch:
    """What the admin's party list asks for. A party matches when it has any of the room codes,
    hosts, content ids, seated participants or banned users, or every one of the title words (all exact values:
    no operator and no pattern ever comes from a term), and the status (``all``, ``active`` or ``ended``). No terms at all: every party."""

    room_codes: tuple[str, ...] = ()
    host_ids: tuple[str, ...] = ()
    content_ids: tuple[str, ...] = ()
    participant_ids: tuple[str, ...] = ()  # anyone holding a seat (the host included)
    banned_ids: tuple[str, ...] = ()  # anyone removed and banned by the host or a co-host
    title_words: tuple[str, ...] = ()  # every one of these words is in the title (title_words())
    status: str = "all"

    @property
    def has_terms(self) -> bool:
        return bool(
            self.room_codes
            or self.host_ids
            or self.content_ids
            or self.participant_ids
            or self.banned_ids
            or self.title_words
        )


def _search_filter(search: PartySearch) -> dict[str, Any]:
    if search.status not in PARTY_STATUSES:
        raise ValueError(f"Unknown party status {search.status!r}")
    if not search.has_terms:
        if search.status == "active":
            return {"ended_at": None}
        if search.status == "ended":
            # A range, so that created_ended filters on its keys and ended_created counts.
            return {"ended_at": {"$gte": _EPOCH}}
        return {}
    # Each $or branch is complete on its own (term and status), so the server walks one index
    # per branch in created_at order and merges them: no in-memory sort. Within one room code,
    # host or content id most parties have ended, so "ended" is a residual filter of that walk;
    # "active" is selective, and an equality that the *_ended_* indexes serve.
    status: dict[str, Any] = {}
    if search.status == "active":
        status = {"ended_at": None}
    elif search.status == "ended":
        status = {"ended_at": {"$ne": None}}
    branches: list[dict[str, Any]] = (
        [{"room_code": code} for code in search.room_codes]
        + [{"host_id": host_id} for host_id in search.host_ids]
        + [{"content_id": content_id} for content_id in search.content_ids]
        + [{"participants.user_id": user_id} for user_id in search.participant_ids]
        + [{"banned_ids": user_id} for user_id in search.banned_ids]
        + ([{"$and": [{"title_words": word} for word in search.title_words]}] if search.title_words else [])
    )
    return {"$or": [{**branch, **status} for branch in branches]}


def search_parties(search: PartySearch, *, offset: int, limit: int) -> list[Party]:
    """One page of the parties matching ``search``, newest first."""
    if limit <= 0:
        return []  # a limit of 0 would mean "no limit" to the server
    cursor = (
        _parties().find(_search_filter(search), _LIST_PROJECTION).sort(_NEWEST_FIRST).skip(max(offset, 0)).limit(limit)
    )
    return [_to_party(doc) for doc in cursor]


def count_parties(search: PartySearch) -> int:
    """How many parties match ``search``. Without terms or status, the collection's metadata count
    (no scan; an estimate only after an unclean shutdown)."""
    query = _search_filter(search)
    if not query:
        return _parties().estimated_document_count()
    return _parties().count_documents(query)
