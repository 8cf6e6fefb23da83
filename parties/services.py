"""Party use cases. Interfaces (views, consumers, admin, commands) check input and call these;
these apply the change and broadcast it."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from django.conf import settings

from parties import repository
from parties.repository import NewParty, Participant, Party
from watchparty.errors import Forbidden, NotFound, PartyFull
from watchparty.ratelimit import check_rate
from watchparty.realtime import broadcast
from watchparty.text import user_display_name
from watchparty.timeutil import isoformat_z, utcnow

ROOM_CODE_ALPHABET = string.ascii_uppercase + string.digits
ROOM_CODE_LENGTH = 6
ROOM_CODE_ATTEMPTS = 20


@dataclass(frozen=True)
class PartySettings:
    content_id: str
    content_type: str
    content_title: str = ""
    is_private: bool = True
    max_participants: int = 10
    audio_enabled: bool = True
    chat_enabled: bool = True
    sync_playback: bool = True


def generate_room_code() -> str:
    return "".join(secrets.choice(ROOM_CODE_ALPHABET) for _ in range(ROOM_CODE_LENGTH))


def party_create(*, user, data: PartySettings) -> Party:
    """Create a party hosted by ``user``, who takes the first seat.

    The unique partial index on active room codes decides collisions, so two parties created
    at the same moment can never share a code; on a collision we draw again.
    """
    user_id, user_name = str(user.pk), user_display_name(user)
    for _attempt in range(ROOM_CODE_ATTEMPTS):
        try:
            return repository.insert_party(
                NewParty(
                    room_code=generate_room_code(),
                    host_id=user_id,
                    host_name=user_name,
                    content_id=data.content_id,
                    content_type=data.content_type,
                    content_title=data.content_title,
                    is_private=data.is_private,
                    max_participants=data.max_participants,
                    audio_enabled=data.audio_enabled,
                    chat_enabled=data.chat_enabled,
                    sync_playback=data.sync_playback,
                    created_at=utcnow(),
                )
            )
        except repository.RoomCodeTaken:
            continue
    raise RuntimeError(f"No free room code after {ROOM_CODE_ATTEMPTS} attempts")


def party_list_for_user(*, user, include_ended: bool, limit: int) -> list[Party]:
    return repository.list_for_user(str(user.pk), include_ended=include_ended, limit=limit)


def party_get_for_member(*, party_id: str, user, require_active: bool = False) -> Party:
    """The party, if ``user`` hosts it or sits in it; NotFound otherwise, so that outsiders
    cannot tell a private party from a missing one. Every request and every WebSocket frame goes
    through here, so a user removed from the party can do nothing more.
    With ``require_active``, an ended party is Forbidden."""
    party = repository.get_party(party_id)
    user_id = str(user.pk)
    if party is None or not (party.host_id == user_id or party.has_participant(user_id)):
        raise NotFound("No such party.")
    if require_active and not party.is_active:
        raise Forbidden("The party has ended.")
    return party


def presence_broadcast(party: Party, *, user_id: str, user_name: str, reason: str, sender: str | None = None) -> None:
    """``participant.joined`` (reason ``joined``, ``connected``) or ``participant.left`` (``left``,
    ``removed``, ``disconnected``) to the party. A socket whose user left or was removed closes."""
    frame_type = "participant.joined" if reason in {"joined", "connected"} else "participant.left"
    payload = {
        "user_id": user_id,
        "user_name": user_name,
        "participant_count": party.participant_count,
        "reason": reason,
    }
    broadcast(party.id, frame_type, payload, user_id=user_id, reason=reason, sender=sender)


def party_socket_access(*, party_id: str, user) -> Party:
    """The party a WebSocket may open on. NotFound when there is no active party with this id,
    Forbidden when there is one but ``user`` neither hosts it nor holds a seat (the protocol's
    4404 and 4403)."""
    party = repository.get_party(party_id)
    if party is None or not party.is_active:
        raise NotFound("No active party with this id.")
    user_id = str(user.pk)
    if not (party.host_id == user_id or party.has_participant(user_id)):
        raise Forbidden("You hold no seat in this party.")
    return party


def party_join(*, room_code: str, user) -> Party:
    """Take a seat in the active party with this code. Joining twice keeps the one seat."""
    user_id = str(user.pk)
    check_rate(f"join:{user_id}", settings.JOIN_RATE_LIMIT)
    party = repository.find_active_by_room_code(room_code)
    if party is None:
        raise NotFound("No active party with that room code.")
    if party.has_participant(user_id):
        return party
    user_name = user_display_name(user)
    joined = repository.add_participant(
        party.id,
        Participant(user_id=user_id, user_name=user_name, joined_at=utcnow()),
        party.max_participants,
    )
    if joined is not None:
        presence_broadcast(joined, user_id=user_id, user_name=user_name, reason="joined")
        return joined
    # The conditional update refused: find out why, from the party as it is now.
    current = repository.get_party(party.id)
    if current is None or not current.is_active:
        raise NotFound("No active party with that room code.")
    if current.has_participant(user_id):
        return current
    raise PartyFull()


def party_leave(*, party_id: str, user) -> None:
    user_id = str(user.pk)
    left = repository.remove_participant(party_id, user_id, utcnow())
    if left is None:
        raise NotFound("You are not in this party.")
    presence_broadcast(left, user_id=user_id, user_name=user_display_name(user), reason="left")


def party_end(*, party_id: str, user) -> Party:
    """End the party (host only); every socket gets ``party.ended`` and is closed."""
    party = party_get_for_member(party_id=party_id, user=user)
    if party.host_id != str(user.pk):
        raise Forbidden("Only the host can end the party.")
    return party_end_by_system(party_id=party_id)


def party_end_by_system(*, party_id: str) -> Party:
    """End a party on behalf of the host, a moderator or the stale-party sweep."""
    ended = repository.end_party(party_id, utcnow())
    if ended is None:
        current = repository.get_party(party_id)
        if current is None:
            raise NotFound("No such party.")
        return current  # already ended: ending again changes nothing
    broadcast(ended.id, "party.ended", {"party_id": ended.id, "ended_at": isoformat_z(ended.ended_at)})
    return ended
