"""Party use cases. Interfaces (views, consumers, admin, commands) check input and call these;
these apply the change and broadcast it."""

from __future__ import annotations

import math
import re
import secrets
import string
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from core.db.paging import LazyResults
from core.errors import Banned, Forbidden, Muted, NotFound, PartyFull, PartyLimit, QueueFull
from core.ratelimit import check_rate
from core.realtime import presence
from core.realtime.fanout import broadcast
from core.text import user_display_name
from core.timeutil import isoformat_z, utcnow
from parties import repository
from parties.media import is_link
from parties.models import ModerationAction
from parties.repository import NewParty, Participant, Party, PartySearch, Playback, QueueItem

ROOM_CODE_ALPHABET = string.ascii_uppercase + string.digits
ROOM_CODE_LENGTH = 6
ROOM_CODE_ATTEMPTS = 20


@dataclass(frozen=True)
class PartySettings:
    content_id: str
    content_type: str
    content_title: str = ""
    max_participants: int = 10
    chat_enabled: bool = True
    sync_playback: bool = True


def generate_room_code() -> str:
    return "".join(secrets.choice(ROOM_CODE_ALPHABET) for _ in range(ROOM_CODE_LENGTH))


def party_create(*, user, data: PartySettings) -> Party:
    """Create a party hosted by ``user``, who takes the first seat.

    The unique partial index on active room codes decides collisions, so two parties created
    at the same moment can never share a code; on a collision we draw again.

    PartyLimit when the user already hosts PARTY_MAX_ACTIVE_PER_HOST active parties. The count is
    read before the insert, so creates racing each other may pass the cap by the number in flight.
    """
    user_id, user_name = str(user.pk), user_display_name(user)
    if repository.count_active_hosted_by(user_id) >= settings.PARTY_MAX_ACTIVE_PER_HOST:
        raise PartyLimit()
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
                    max_participants=data.max_participants,
                    chat_enabled=data.chat_enabled,
                    sync_playback=data.sync_playback,
                    created_at=utcnow(),
                    current_item_id=new_item_id(),
                )
            )
        except repository.RoomCodeTaken:
            continue
    raise RuntimeError(f"No free room code after {ROOM_CODE_ATTEMPTS} attempts")


def party_list_for_user(*, user, include_ended: bool, limit: int) -> list[Party]:
    return repository.list_for_user(str(user.pk), include_ended=include_ended, limit=limit)


def party_get_for_member(*, party_id: str, user, require_active: bool = False, tell_banned: bool = False) -> Party:
    """The party, if ``user`` hosts it or sits in it; NotFound otherwise, so that outsiders
    cannot tell a private party from a missing one. Every request and every WebSocket frame goes
    through here, so a user removed from the party can do nothing more.
    With ``require_active``, an ended party is Forbidden. With ``tell_banned``, a user the host or
    a co-host removed gets Banned instead of NotFound: they knew the party, and learn why they
    cannot open it."""
    return party_seat_check(
        repository.get_party(party_id), user=user, require_active=require_active, tell_banned=tell_banned
    )


def party_seat_check(party: Party | None, *, user, require_active: bool = False, tell_banned: bool = False) -> Party:
    """``party_get_for_member``'s rules applied to a party already read (None: none was found)."""
    user_id = str(user.pk)
    if party is None or not (party.host_id == user_id or party.has_participant(user_id)):
        if tell_banned and party is not None and user_id in party.banned_ids:
            raise Banned()
        raise NotFound("No such party.")
    if require_active and not party.is_active:
        raise Forbidden("The party has ended.")
    return party


def presence_broadcast(
    party: Party, *, user_id: str, user_name: str, reason: str, sender: str | None = None, banned: bool = False
) -> None:
    """``participant.joined`` (reason ``joined``, ``connected``) or ``participant.left`` (``left``,
    ``removed``, ``disconnected``) to the party. A socket whose user left or was removed closes.
    ``banned`` goes with ``removed``: whether the room code still admits the user."""
    frame_type = "participant.joined" if reason in {"joined", "connected"} else "participant.left"
    payload = {
        "user_id": user_id,
        "user_name": user_name,
        "participant_count": party.participant_count,
        "reason": reason,
    }
    if reason == "removed":
        payload["banned"] = banned
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
    if user_id in party.banned_ids:
        raise Banned()
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
    if user_id in current.banned_ids:
        raise Banned()
    raise PartyFull()


def party_leave(*, party_id: str, user) -> None:
    """Give up the seat. The host cannot: they hand the host role over first, or end the party."""
    user_id = str(user.pk)
    left = repository.remove_participant(party_id, user_id, utcnow())
    if left is None:
        current = repository.get_party(party_id)
        if current is not None and current.host_id == user_id and current.has_participant(user_id):
            raise Forbidden("The host cannot leave: make another participant host first, or end the party.")
        raise NotFound("You are not in this party.")
    presence_broadcast(left, user_id=user_id, user_name=user_display_name(user), reason="left")


def party_end(*, party_id: str, user) -> Party:
    """End the party (host only); every socket gets ``party.ended`` and is closed."""
    party = party_get_for_member(party_id=party_id, user=user)
    if party.host_id != str(user.pk):
        raise Forbidden("Only the host can end the party.")
    return party_end_by_system(party_id=party_id)


def party_end_by_system(*, party_id: str, idle_before: datetime | None = None) -> Party:
    """End a party on behalf of the host, a moderator or the stale-party sweep.

    With ``idle_before`` (the sweep), end it only if its last activity is still older than that:
    a party that came back to life in the meantime is returned still active, and nothing is sent."""
    now = utcnow()
    if idle_before is None:
        ended = repository.end_party(party_id, now)
    else:
        ended = repository.end_idle_party(party_id, idle_before=idle_before, ended_at=now)
    if ended is None:
        current = repository.get_party(party_id)
        if current is None:
            raise NotFound("No such party.")
        return current  # already ended (ending again changes nothing), or active again
    broadcast(ended.id, "party.ended", {"party_id": ended.id, "ended_at": isoformat_z(ended.ended_at)})
    return ended


# --- Staff moderation (the admin) ---------------------------------------------------------------
# The staff check belongs to the interface (the admin site); these apply the change, broadcast it
# and record it as a ModerationAction: the record is written first, in a transaction that a failed
# change rolls back, so nothing is moderated unrecorded and nothing unmoderated is recorded.

PARTY_SEARCH_MAX_HOSTS = 20
_ROOM_CODE_RE = re.compile(rf"^[A-Za-z0-9]{{{ROOM_CODE_LENGTH}}}$")
_USER_ID_RE = re.compile(r"^[0-9]{1,19}$")


@contextmanager
def moderation_record(
    *,
    moderator,
    action: str,
    party_id: str,
    room_code: str = "",
    message_id: str = "",
    target_user_id: str = "",
    reason: str = "",
):
    """Record a moderation action around the change itself. The block fills in ``record.detail``;
    the moderator's ``reason``, when given, is appended to it. Without ``room_code`` the party's is
    read, so that every entry can be found by the code people quote."""
    if not room_code:
        party = repository.get_party(party_id)
        room_code = party.room_code if party is not None else ""
    with transaction.atomic():
        record = ModerationAction.objects.create(
            moderator=moderator,
            action=action,
            party_id=party_id,
            room_code=room_code,
            message_id=message_id,
            target_user_id=target_user_id,
        )
        yield record
        if reason:
            record.detail = f"{record.detail}\nReason: {reason}".strip()
        record.save(update_fields=["detail", "target_user_id"])


PARTY_SEARCH_MAX_TITLE_WORDS = 8


def people_matching(*, term: str) -> tuple[str, ...]:
    """The users a moderator may mean by ``term``: that user id, and users with that username or
    display name (any letter case), at most PARTY_SEARCH_MAX_HOSTS (staff searches of parties and
    of messages by author)."""
    condition = Q(username__iexact=term) | Q(first_name__iexact=term)
    if _USER_ID_RE.match(term):
        condition |= Q(pk=int(term))
    pks = get_user_model().objects.filter(condition).order_by("pk").values_list("pk", flat=True)
    return tuple(str(pk) for pk in pks[:PARTY_SEARCH_MAX_HOSTS])


def party_search(*, text: str, status: str) -> LazyResults[Party]:
    """Parties for staff, newest first: those whose room code (any letter case), host, seated
    participant or banned user (user id, username or display name, any letter case; a person who
    left, or whom staff removed without a ban, leaves no trace in the party) or content id is exactly
    ``text``, or whose title has every word of ``text`` (any letter case); every party when empty;
    with ``status`` ``all``, ``active`` or ``ended``. Paged lazily: give it to a Paginator."""
    if status not in repository.PARTY_STATUSES:
        raise ValueError(f"Unknown party status {status!r}")
    text = text.strip()
    search = PartySearch(status=status)
    if text:
        search = PartySearch(
            room_codes=(text.upper(),) if _ROOM_CODE_RE.match(text) else (),
            host_ids=(people := people_matching(term=text)),
            content_ids=(text,),
            participant_ids=people,
            banned_ids=people,
            title_words=tuple(repository.title_words(text)[:PARTY_SEARCH_MAX_TITLE_WORDS]),
            status=status,
        )
    return LazyResults(
        count=lambda: repository.count_parties(search),
        fetch=lambda *, offset, limit: repository.search_parties(search, offset=offset, limit=limit),
    )


TITLE_WORDS_BACKFILL_BATCH_SIZE = 500


def party_title_words_backfill(
    *, batch_size: int = TITLE_WORDS_BACKFILL_BATCH_SIZE, on_batch: Callable[[int, int], None] | None = None
) -> int:
    """Give every party stored before title words existed its ``title_words``, so that staff can
    find it by title; ``batch_size`` parties a read, newest first. Idempotent: a party
    that has them is never read or written again, so an interrupted run is finished by the next
    one. ``on_batch(read, filled)`` gets the running totals. Returns how many parties changed."""
    read = filled = 0
    after: tuple[datetime, str] | None = None
    while batch := repository.list_missing_title_words(after=after, limit=batch_size):
        _last_id, _title, last_created = batch[-1]
        after = (last_created, _last_id)
        filled += repository.set_title_words({party_id: title for party_id, title, _at in batch})
        read += len(batch)
        if on_batch is not None:
            on_batch(read, filled)
    return filled


def party_labels_for_staff(*, party_ids: list[str]) -> dict[str, tuple[str, str]]:
    """``{party id: (room code, title)}`` for staff lists that name parties by id."""
    return repository.room_codes_of(party_ids)


def party_get_for_moderator(*, party_id: str) -> Party:
    """Any party, active or ended, for staff. NotFound when there is none with this id."""
    party = repository.get_party(party_id)
    if party is None:
        raise NotFound("No such party.")
    return party


def party_end_by_moderator(*, party_id: str, moderator, reason: str = "") -> Party:
    """A moderator ends the party: sockets get ``party.ended`` and close. An already ended party is
    returned as it is, and nothing is recorded."""
    party = party_get_for_moderator(party_id=party_id)
    if not party.is_active:
        return party
    with moderation_record(
        moderator=moderator,
        action=ModerationAction.Action.END_PARTY,
        party_id=party_id,
        room_code=party.room_code,
        reason=reason,
    ) as record:
        ended = party_end_by_system(party_id=party_id)
        record.detail = (
            f"Ended party {party.room_code} ({party.content_type} {party.content_id!r}) hosted by "
            f"{party.host_name} (user {party.host_id}), {party.participant_count} participant(s) seated."
        )
    return ended


def party_remove_participant(*, party_id: str, user_id: str, moderator, reason: str = "") -> Party:
    """A moderator frees a participant's seat: the party gets ``participant.left`` with reason
    ``removed`` and that user's sockets close (4403). NotFound when the user holds no seat;
    Forbidden for the host (end the party instead) and in an ended party."""
    party = party_get_for_moderator(party_id=party_id)
    seat = next((p for p in party.participants if p.user_id == user_id), None)
    if seat is None:
        raise NotFound("That user holds no seat in this party.")
    if user_id == party.host_id:
        raise Forbidden("The host cannot be removed from their own party; end the party instead.")
    if not party.is_active:
        raise Forbidden("The party has ended.")
    with moderation_record(
        moderator=moderator,
        action=ModerationAction.Action.REMOVE_PARTICIPANT,
        party_id=party_id,
        room_code=party.room_code,
        target_user_id=user_id,
        reason=reason,
    ) as record:
        updated = repository.remove_participant(party_id, user_id, utcnow())
        if updated is None:  # left, or was removed, in the meantime
            raise NotFound("That user holds no seat in this party.")
        record.detail = f"Removed {seat.user_name} (user {user_id}) from party {party.room_code}."
    presence_broadcast(updated, user_id=user_id, user_name=seat.user_name, reason="removed")
    return updated


# --- In-room moderation (the host and the co-hosts the host names) -----------------------------
# Each act is authorized here from the party as read, for a clear refusal, and again by the
# repository update's own filter, so that a role or seat that changed in between is never acted
# on. Each act is recorded in the moderation log (moderation_record), the acting host or co-host
# as its moderator.


def _role(party: Party, user_id: str) -> str:
    return "host" if user_id == party.host_id else "co-host"


def _require_moderator(party: Party, actor_id: str) -> None:
    if not party.is_moderator(actor_id):
        raise Forbidden("Only the host and co-hosts can do that.")


def _in_room_detail(party: Party, user, what: str) -> str:
    """The moderation log's wording of an action taken in the room by ``user``."""
    actor_id = str(user.pk)
    return (
        f"In the room, {user_display_name(user)} (user {actor_id}, {_role(party, actor_id)}) "
        f"{what} in party {party.room_code}."
    )


def _check_moderation(party: Party, *, actor_id: str, target_id: str, host_only: bool) -> Participant:
    """The target's seat, if ``actor_id`` may act on ``target_id`` in ``party``; otherwise the
    error that says why. The host may act on anyone else; a co-host on anyone but the host and
    the other co-hosts; nobody on themselves (they leave instead)."""
    if not party.is_active:
        raise Forbidden("The party has ended.")
    if host_only and actor_id != party.host_id:
        raise Forbidden("Only the host can do that.")
    _require_moderator(party, actor_id)
    if target_id == actor_id:
        raise Forbidden("You cannot do that to yourself.")
    seat = party.participant(target_id)
    if seat is None:
        raise NotFound("That user holds no seat in this party.")
    if target_id == party.host_id:
        raise Forbidden("Nobody can do that to the host.")
    if actor_id != party.host_id and target_id in party.co_host_ids:
        raise Forbidden("A co-host cannot do that to another co-host.")
    return seat


def _moderate(
    *,
    party_id: str,
    user,
    target_id: str,
    host_only: bool,
    action: str,
    change: Callable[[Participant], Party | None],
    describe: Callable[[Participant], str],
) -> tuple[Party, Participant]:
    """Check, then apply ``change(seat)`` (a conditional repository update) inside a moderation
    record that ``describe(seat)`` words. Returns the updated party and the target's seat."""
    actor_id = str(user.pk)
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    seat = _check_moderation(party, actor_id=actor_id, target_id=target_id, host_only=host_only)
    with moderation_record(
        moderator=user, action=action, party_id=party_id, room_code=party.room_code, target_user_id=target_id
    ) as record:
        updated = change(seat)
        if updated is None:
            # The party changed between the read and the update: explain from the party as it is.
            current = party_get_for_member(party_id=party_id, user=user, require_active=True)
            _check_moderation(current, actor_id=actor_id, target_id=target_id, host_only=host_only)
            raise Forbidden("The party changed meanwhile; try again.")
        record.detail = _in_room_detail(party, user, describe(seat))
    return updated, seat


def party_roles_payload(party: Party, *, action: str, user_id: str, by: str) -> dict:
    """The ``party.roles`` frame: who hosts, co-hosts and is muted now, and what just changed."""
    return {
        "host_id": party.host_id,
        "host_name": party.host_name,
        "co_host_ids": list(party.co_host_ids),
        "muted_ids": list(party.muted_ids),
        "action": action,
        "user_id": user_id,
        "by": by,
    }


def participant_remove(*, party_id: str, user, target_id: str) -> Party:
    """The host or a co-host removes a participant and bans them from the room code: the party
    gets ``participant.left`` (reason ``removed``) and that user's sockets close with 4403."""
    actor_id = str(user.pk)
    updated, seat = _moderate(
        party_id=party_id,
        user=user,
        target_id=target_id,
        host_only=False,
        action=ModerationAction.Action.REMOVE_PARTICIPANT,
        change=lambda seat: repository.ban_participant(party_id, actor_id=actor_id, target_id=target_id, at=utcnow()),
        describe=lambda seat: f"removed and banned {seat.user_name} (user {seat.user_id})",
    )
    presence_broadcast(updated, user_id=target_id, user_name=seat.user_name, reason="removed", banned=True)
    return updated


@dataclass(frozen=True)
class BannedUser:
    user_id: str
    user_name: str


def _banned_users(party: Party) -> list[BannedUser]:
    """The party's banned users with their display names (from the accounts), in ban order."""
    pks = [int(user_id) for user_id in party.banned_ids if user_id.isdigit()]
    users = {str(user.pk): user for user in get_user_model().objects.filter(pk__in=pks)}
    return [
        BannedUser(
            user_id=user_id, user_name=user_display_name(users[user_id]) if user_id in users else "(deleted user)"
        )
        for user_id in party.banned_ids
    ]


def party_bans_for_staff(*, party: Party) -> list[BannedUser]:
    """The party's bans with names, for staff (the admin's party page); the caller checks staff."""
    return _banned_users(party)


def _moderator_party(*, party_id: str, user) -> Party:
    """The active party, if ``user`` is its host or a co-host; NotFound for outsiders (as
    party_get_for_member), Forbidden for the other participants and in an ended party."""
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    _require_moderator(party, str(user.pk))
    return party


def party_bans(*, party_id: str, user) -> list[BannedUser]:
    """Who is banned from the party's room code, for its host and co-hosts only (nobody else is
    ever told)."""
    return _banned_users(_moderator_party(party_id=party_id, user=user))


def _unban(*, party: Party, target_id: str, moderator, actor_id: str | None, reason: str, detail) -> list[BannedUser]:
    """Lift ``target_id``'s ban in ``party`` and log it: ``actor_id`` is the host or co-host the
    update is conditioned on (None for staff); ``detail(target)`` words the log entry. Nothing is
    broadcast, since bans are never sent to the party. Returns the bans left."""
    if target_id not in party.banned_ids:
        raise NotFound("That user is not banned from this party.")
    target = next(banned for banned in _banned_users(party) if banned.user_id == target_id)
    with moderation_record(
        moderator=moderator,
        action=ModerationAction.Action.UNBAN_PARTICIPANT,
        party_id=party.id,
        room_code=party.room_code,
        target_user_id=target_id,
        reason=reason,
    ) as record:
        updated = repository.unban_participant(party.id, actor_id=actor_id, target_id=target_id)
        if updated is None:  # lifted by someone else, the role lost, or the party ended meanwhile
            raise NotFound("That user is not banned from this party.")
        record.detail = detail(target)
    return _banned_users(updated)


def participant_unban(*, party_id: str, user, target_id: str) -> list[BannedUser]:
    """The host or a co-host lifts a ban: the room code admits the user again (they join as
    anyone does). Recorded in the moderation log. Returns the bans left."""
    party = _moderator_party(party_id=party_id, user=user)
    return _unban(
        party=party,
        target_id=target_id,
        moderator=user,
        actor_id=str(user.pk),
        reason="",
        detail=lambda target: _in_room_detail(party, user, f"lifted the ban on {target.user_name} (user {target_id})"),
    )


def party_unban_by_moderator(*, party_id: str, user_id: str, moderator, reason: str = "") -> list[BannedUser]:
    """Staff lift a ban from the admin: the room code admits the user again (they join as anyone
    does). Forbidden for anyone but active staff and in an ended party; NotFound when the user is
    not banned. Returns the bans left."""
    if not (moderator.is_active and moderator.is_staff):
        raise Forbidden("Only staff can do that.")
    party = party_get_for_moderator(party_id=party_id)
    if user_id not in party.banned_ids:
        raise NotFound("That user is not banned from this party.")
    if not party.is_active:
        raise Forbidden("The party has ended.")
    return _unban(
        party=party,
        target_id=user_id,
        moderator=moderator,
        actor_id=None,
        reason=reason,
        detail=lambda target: f"Lifted the ban on {target.user_name} (user {user_id}) in party {party.room_code}.",
    )


def participant_mute(*, party_id: str, user, target_id: str, muted: bool) -> Party:
    """The host or a co-host mutes (or unmutes) a participant's chat; the party gets ``party.roles``."""
    actor_id = str(user.pk)
    updated, _seat = _moderate(
        party_id=party_id,
        user=user,
        target_id=target_id,
        host_only=False,
        action=ModerationAction.Action.MUTE_PARTICIPANT if muted else ModerationAction.Action.UNMUTE_PARTICIPANT,
        change=lambda seat: repository.set_muted(party_id, actor_id=actor_id, target_id=target_id, muted=muted),
        describe=lambda seat: f"{'muted' if muted else 'unmuted'} {seat.user_name} (user {seat.user_id})",
    )
    action = "muted" if muted else "unmuted"
    broadcast(party_id, "party.roles", party_roles_payload(updated, action=action, user_id=target_id, by=actor_id))
    return updated


def co_host_set(*, party_id: str, user, target_id: str, co_host: bool) -> Party:
    """The host names (and unmutes) or unnames a co-host; the party gets ``party.roles``."""
    actor_id = str(user.pk)
    updated, _seat = _moderate(
        party_id=party_id,
        user=user,
        target_id=target_id,
        host_only=True,
        action=ModerationAction.Action.ADD_CO_HOST if co_host else ModerationAction.Action.REMOVE_CO_HOST,
        change=lambda seat: repository.set_co_host(party_id, actor_id=actor_id, target_id=target_id, co_host=co_host),
        describe=lambda seat: f"{'named' if co_host else 'unnamed'} {seat.user_name} (user {seat.user_id}) co-host",
    )
    action = "co_host_added" if co_host else "co_host_removed"
    broadcast(party_id, "party.roles", party_roles_payload(updated, action=action, user_id=target_id, by=actor_id))
    return updated


def host_transfer(*, party_id: str, user, target_id: str) -> Party:
    """The host hands the host role to another participant, and keeps a plain seat (and may then
    leave); the party gets ``party.roles``."""
    actor_id = str(user.pk)
    updated, _seat = _moderate(
        party_id=party_id,
        user=user,
        target_id=target_id,
        host_only=True,
        action=ModerationAction.Action.TRANSFER_HOST,
        change=lambda seat: repository.transfer_host(
            party_id,
            actor_id=actor_id,
            target_id=target_id,
            target_name=seat.user_name,
        ),
        describe=lambda seat: f"made {seat.user_name} (user {seat.user_id}) host",
    )
    broadcast(
        party_id, "party.roles", party_roles_payload(updated, action="host_transferred", user_id=target_id, by=actor_id)
    )
    return updated


# --- The shared queue (host and co-hosts; guests add when the host lets them) -------------------
# Each change is authorized here from the party as read, for a clear refusal, and again by the
# update's filter (repository.replace_queue), which also compares the queue's version: a change
# that lost a race is computed again from the party as it now is.

QUEUE_ATTEMPTS = 5


def new_item_id() -> str:
    return secrets.token_hex(6)


def queue_item_payload(item: QueueItem) -> dict:
    return {
        "id": item.id,
        "content_id": item.content_id,
        "title": item.title,
        "added_by": item.added_by,
        "added_by_name": item.added_by_name,
        "added_at": isoformat_z(item.added_at),
    }


def current_item_payload(party: Party) -> dict:
    """The item playing now; parties stored before the queue have the id ""."""
    return {"id": party.current_item_id, "content_id": party.content_id, "title": party.current_title}


def queue_payload(party: Party, *, action: str, item_id: str, by: str) -> dict:
    """The ``queue.state`` frame: the queue as it is now, what plays, and what just changed."""
    playback = party.playback
    return {
        "queue": [queue_item_payload(item) for item in party.queue],
        "current_item": current_item_payload(party),
        "content_id": party.content_id,
        "content_type": party.content_type,
        "guests_may_queue": party.guests_may_queue,
        "skip_ratio": party.skip_ratio,
        "skip_votes": list(party.skip_votes),
        "wait_for_all": party.wait_for_all,
        "playback": {
            "state": playback.state,
            "position": playback.position,
            "rate": playback.rate,
            "updated_at": isoformat_z(playback.updated_at),
        },
        "action": action,
        "item_id": item_id,
        "by": by,
    }


def _may_add(party: Party, user_id: str) -> None:
    if party.is_moderator(user_id):
        return
    if not party.guests_may_queue:
        raise Forbidden("Only the host and co-hosts can add videos to this party's queue.")
    if user_id in party.muted_ids:
        raise Muted("The host has muted you: you cannot add videos for now.")


def _change_queue(
    *,
    party_id: str,
    user,
    action: str,
    compute: Callable[[Party], tuple[list[QueueItem], QueueItem | None, str]],
    adder: bool = False,
    start_at: float = 0.0,
) -> Party:
    """Apply ``compute(party) -> (queue, new current item or None, item id)`` to the party as read,
    retrying when another change came first; broadcast ``queue.state``. A new current item plays
    from ``start_at`` seconds."""
    actor_id = str(user.pk)
    for _attempt in range(QUEUE_ATTEMPTS):
        party = party_get_for_member(party_id=party_id, user=user, require_active=True)
        if adder:
            _may_add(party, actor_id)
        else:
            _require_moderator(party, actor_id)
        queue, current, item_id = compute(party)
        now = utcnow()
        playback = None
        content_type = None
        if current is not None:
            # Every socket starts the new item from its beginning (or ``start_at``), playing: the
            # host's player has just reported the end (and paused), or the host asked for it to play now.
            playback = Playback(state="playing", position=start_at, updated_at=now, rate=party.playback.rate)
            content_type = "vod" if is_link(current.content_id) else None
        updated = repository.replace_queue(
            party_id,
            version=party.queue_version,
            actor_id=actor_id,
            adder=adder,
            queue=queue,
            current=current,
            content_type=content_type,
            playback=playback,
            played=party.played,
            at=now,
        )
        if updated is not None:
            broadcast(party_id, "queue.state", queue_payload(updated, action=action, item_id=item_id, by=actor_id))
            return updated
    raise Forbidden("The queue changed meanwhile; try again.")


def _queued(party: Party, item_id: str) -> QueueItem:
    item = next((item for item in party.queue if item.id == item_id), None)
    if item is None:
        raise NotFound("That video is not in the queue.")
    return item


def queue_add(*, party_id: str, user, content_id: str, title: str = "") -> Party:
    """Add a video (a link or name that creating a party accepts; the caller validated it) at the
    end of the queue. QueueFull past PARTY_QUEUE_MAX_ITEMS."""
    item = QueueItem(
        id=new_item_id(),
        content_id=content_id,
        title=title,
        added_by=str(user.pk),
        added_by_name=user_display_name(user),
        added_at=utcnow(),
    )

    def compute(party: Party):
        limit = settings.PARTY_QUEUE_MAX_ITEMS
        if len(party.queue) >= limit:
            raise QueueFull(f"The queue is full (at most {limit} videos); remove one first.")
        return [*party.queue, item], None, item.id

    return _change_queue(party_id=party_id, user=user, action="added", compute=compute, adder=True)


def queue_remove(*, party_id: str, user, item_id: str) -> Party:
    """Take a video out of the queue (host and co-hosts)."""

    def compute(party: Party):
        _queued(party, item_id)
        return [item for item in party.queue if item.id != item_id], None, item_id

    return _change_queue(party_id=party_id, user=user, action="removed", compute=compute)


def queue_move(*, party_id: str, user, item_id: str, to: int) -> Party:
    """Move a queued video to place ``to`` (0: next; past the end: last)."""

    def compute(party: Party):
        item = _queued(party, item_id)
        rest = [other for other in party.queue if other.id != item_id]
        rest.insert(min(max(to, 0), len(rest)), item)
        return rest, None, item_id

    return _change_queue(party_id=party_id, user=user, action="moved", compute=compute)


def queue_play(*, party_id: str, user, item_id: str, position: float = 0.0) -> Party:
    """Play a queued video now (from ``position`` seconds): it leaves the queue and every socket
    switches to it."""

    def compute(party: Party):
        item = _queued(party, item_id)
        return [other for other in party.queue if other.id != item_id], item, item_id

    return _change_queue(party_id=party_id, user=user, action="played", compute=compute, start_at=position)


def queue_next(*, party_id: str, user, item_id: str) -> Party:
    """Go on to the next queued video, if ``item_id`` still plays: the host's player reports the
    end of an item this way, and the host or a co-host skips. An older report (the item already
    changed) changes nothing and says so, so two reports of one end advance once."""

    def compute(party: Party):
        if party.current_item_id != item_id:
            raise NotFound("That video is no longer playing.")
        if not party.queue:
            raise NotFound("Nothing is queued after this video.")
        return list(party.queue[1:]), party.queue[0], item_id

    return _change_queue(party_id=party_id, user=user, action="advanced", compute=compute)


def queue_settings(
    *,
    party_id: str,
    user,
    guests_may_queue: bool | None = None,
    skip_ratio: float | None = None,
    wait_for_all: bool | None = None,
) -> Party:
    """The host lets guests add videos to the queue, or not (CyTube's open or locked playlist), and
    sets the share of the people present whose votes skip a video (CyTube's voteskip ratio; 0: off),
    and whether the party waits for buffering viewers (``wait_for_all``)."""
    actor_id = str(user.pk)
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    if party.host_id != actor_id:
        raise Forbidden("Only the host can change the queue's settings.")
    updated = repository.set_queue_settings(
        party_id,
        actor_id=actor_id,
        guests_may_queue=guests_may_queue,
        skip_ratio=skip_ratio,
        wait_for_all=wait_for_all,
    )
    if wait_for_all is False and updated is not None and updated.wait_since is not None:
        _end_wait(updated, everyone_ready=False, left_behind=False)
    if updated is None:
        raise Forbidden("Only the host can change the queue's settings.")
    broadcast(party_id, "queue.state", queue_payload(updated, action="settings", item_id="", by=actor_id))
    return updated


def skip_votes_needed(party: Party, online: list[str]) -> tuple[list[str], int]:
    """The votes that count (of people present: a socket open) and how many skip the item:
    the ratio of the people present, rounded up, at least one."""
    present = {user_id for user_id in online if party.has_participant(user_id)}
    votes = [user_id for user_id in party.skip_votes if user_id in present]
    return votes, max(1, math.ceil(party.skip_ratio * len(present) - 1e-9))


def queue_vote_skip(*, party_id: str, user, item_id: str) -> Party:
    """A participant votes to skip the video playing now, once per video. When the votes of the
    people present reach the host's ratio and something is queued, the next video plays
    (``queue.state``, action ``vote_skipped``); otherwise the party hears ``queue.votes``."""
    user_id = str(user.pk)
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    if user_id in party.muted_ids:
        raise Muted("The host has muted you: you cannot vote for now.")
    if party.skip_ratio <= 0:
        raise Forbidden("Voting to skip is off in this party.")
    if party.current_item_id != item_id:
        raise NotFound("That video is no longer playing.")
    voted = repository.add_skip_vote(party_id, user_id=user_id, item_id=item_id)
    if voted is None:
        raise NotFound("That video is no longer playing.")
    for _attempt in range(QUEUE_ATTEMPTS):
        votes, needed = skip_votes_needed(voted, presence.get_registry().online(party_id))
        if len(votes) < needed or not voted.queue or voted.current_item_id != item_id:
            broadcast(party_id, "queue.votes", {"item_id": item_id, "votes": votes, "needed": needed})
            return voted
        now = utcnow()
        skipped = repository.replace_queue(
            party_id,
            version=voted.queue_version,
            actor_id=None,  # the votes decided; the update still requires the queue as read
            queue=list(voted.queue[1:]),
            current=voted.queue[0],
            content_type="vod" if is_link(voted.queue[0].content_id) else None,
            playback=Playback(state="playing", position=0.0, updated_at=now, rate=voted.playback.rate),
            played=voted.played,
            at=now,
        )
        if skipped is not None:
            broadcast(
                party_id, "queue.state", queue_payload(skipped, action="vote_skipped", item_id=item_id, by=user_id)
            )
            return skipped
        voted = repository.get_party(party_id)
        if voted is None or not voted.is_active:
            raise NotFound("No such party.")
    raise Forbidden("The queue changed meanwhile; try again.")


# --- Wait for everyone (Syncplay's ready state, Jellyfin SyncPlay's waiting state) ---------------
# A viewer's player reports that it is buffering, then that it is ready. While anyone buffers, the
# party is paused for all (playback.state, by "wait") and waits; when the last one is ready it plays
# on from where it paused, for all. After PARTY_WAIT_TIMEOUT_SECONDS it plays on without those
# still buffering, who catch up on their own (their reports for this item no longer pause anyone).


def playback_position(playback: Playback, now: datetime) -> float:
    """Where the party's video is at ``now``: the stored position, advanced by the time since it
    was stored times the speed while it plays."""
    if playback.state != "playing":
        return playback.position
    return playback.position + max(0.0, (now - playback.updated_at).total_seconds()) * playback.rate


def _playback_frame(playback: Playback) -> dict:
    return {
        "state": playback.state,
        "position": playback.position,
        "rate": playback.rate,
        "updated_at": isoformat_z(playback.updated_at),
        "by": "wait",
    }


def waiting_payload(party: Party) -> dict:
    """The ``party.waiting`` frame: who is buffering, and until when the party waits for them."""
    names = {p.user_id: p.user_name for p in party.participants}
    until = None
    if party.wait_since is not None:
        until = isoformat_z(party.wait_since + timedelta(seconds=settings.PARTY_WAIT_TIMEOUT_SECONDS))
    return {
        "waiting": [{"user_id": user_id, "user_name": names.get(user_id, "")} for user_id in party.waiting],
        "until": until,
    }


def _end_wait(party: Party, *, everyone_ready: bool, left_behind: bool = True) -> Party | None:
    """Play on from where the wait paused, for everyone; None when that wait already ended."""
    now = utcnow()
    resume = Playback(state="playing", position=party.playback.position, updated_at=now, rate=party.playback.rate)
    ended = repository.wait_end(
        party.id,
        since=party.wait_since,
        resume=resume,
        left_behind=list(party.waiting) if left_behind else [],
        everyone_ready=everyone_ready,
    )
    if ended is not None:
        broadcast(ended.id, "playback.state", _playback_frame(ended.playback))
        broadcast(ended.id, "party.waiting", waiting_payload(ended))
    return ended


def player_buffering(*, party_id: str, user, item_id: str) -> datetime | None:
    """``user``'s player is buffering ``item_id``. If the party waits for everyone and is playing,
    it pauses for all and waits; returns when that wait began (the caller ends it after the
    timeout), or None when nothing changed (not waiting for everyone, already left behind on this
    item, paused, another item, muted)."""
    user_id = str(user.pk)
    party = party_get_for_member(party_id=party_id, user=user, require_active=True)
    if user_id in party.muted_ids:
        return None  # a muted viewer watches, but cannot pause everyone (their player catches up)
    if party.wait_since is not None and _wait_overdue(party):
        _end_wait(party, everyone_ready=False)  # its timer went with the process that began it
        return None
    if party.wait_since is not None:
        joined = repository.wait_join(party_id, user_id=user_id, item_id=item_id)
        if joined is not None and len(joined.waiting) != len(party.waiting):
            broadcast(party_id, "party.waiting", waiting_payload(joined))
        return None
    now = utcnow()
    paused = Playback(
        state="paused", position=playback_position(party.playback, now), updated_at=now, rate=party.playback.rate
    )
    started = repository.wait_start(party_id, user_id=user_id, item_id=item_id, paused=paused, at=now)
    if started is None:
        return None
    broadcast(party_id, "playback.state", _playback_frame(started.playback))
    broadcast(party_id, "party.waiting", waiting_payload(started))
    return started.wait_since


def player_ready(*, party_id: str, user) -> None:
    """``user``'s player can play again: no longer waited for; the last one ready resumes the party."""
    party_get_for_member(party_id=party_id, user=user, require_active=True)
    _leave_wait(party_id, str(user.pk))


def _wait_overdue(party: Party) -> bool:
    """The wait has outlasted PARTY_WAIT_TIMEOUT_SECONDS: the process that began it would have
    ended it by now, unless it stopped (its timer is in its memory). Any later report ends it."""
    return utcnow() - party.wait_since > timedelta(seconds=settings.PARTY_WAIT_TIMEOUT_SECONDS + 1)


def _leave_wait(party_id: str, user_id: str) -> None:
    left = repository.wait_leave(party_id, user_id=user_id)
    if left is None:
        return
    if left.waiting and left.wait_since is not None and _wait_overdue(left):
        _end_wait(left, everyone_ready=False)
        return
    if left.waiting or left.wait_since is None or _end_wait(left, everyone_ready=True) is None:
        broadcast(party_id, "party.waiting", waiting_payload(left))


def player_gone(*, party_id: str, user_id: str) -> None:
    """The user's last socket in the party closed: the party no longer waits for them."""
    _leave_wait(party_id, user_id)


def wait_expire(*, party_id: str, since: datetime) -> None:
    """The wait that began at ``since`` has lasted PARTY_WAIT_TIMEOUT_SECONDS: the party plays on
    without those still buffering. Nothing when that wait already ended (any process may call it)."""
    party = repository.get_party(party_id)
    if party is None or not party.is_active or party.wait_since != since:
        return
    _end_wait(party, everyone_ready=False)
