import threading
from unittest import mock

import pytest

from core.db.client import get_db
from core.errors import Banned, Forbidden, NotFound, PartyFull, PartyLimit, RateLimited
from parties import repository, services
from parties.models import ModerationAction
from parties.services import PartySettings


def create(user, **overrides):
    return services.party_create(user=user, data=PartySettings(content_id="film-1", content_type="vod", **overrides))


def test_creator_is_host_and_first_participant(user):
    """The creator hosts the party and holds its first seat."""
    party = create(user)
    assert party.host_id == str(user.pk)
    assert [p.user_id for p in party.participants] == [str(user.pk)]
    assert party.host_name == "Alice"
    assert len(party.room_code) == 6 and party.room_code.isalnum() and party.room_code.isupper()


def test_join_takes_a_seat_once(user, make_user):
    """Joining twice keeps one seat."""
    party = create(user)
    guest = make_user()
    services.party_join(room_code=party.room_code, user=guest)
    again = services.party_join(room_code=party.room_code, user=guest)
    assert again.participant_count == 2
    assert [p.user_id for p in again.participants].count(str(guest.pk)) == 1


def test_join_full_party_is_refused(user, make_user):
    """A full party refuses a new participant."""
    party = create(user, max_participants=2)
    services.party_join(room_code=party.room_code, user=make_user())
    with pytest.raises(PartyFull):
        services.party_join(room_code=party.room_code, user=make_user())


def test_leaving_frees_the_seat(user, make_user):
    """After someone leaves a full party, another user can join."""
    party = create(user, max_participants=2)
    first = make_user()
    services.party_join(room_code=party.room_code, user=first)
    services.party_leave(party_id=party.id, user=first)
    joined = services.party_join(room_code=party.room_code, user=make_user())
    assert joined.participant_count == 2


def test_ended_party_cannot_be_joined(user, make_user):
    """An ended party is no longer found by its room code."""
    party = create(user)
    services.party_end(party_id=party.id, user=user)
    with pytest.raises(NotFound):
        services.party_join(room_code=party.room_code, user=make_user())


def test_only_host_can_end(user, make_user):
    """A participant who is not the host cannot end the party."""
    party = create(user)
    guest = make_user()
    services.party_join(room_code=party.room_code, user=guest)
    with pytest.raises(Forbidden):
        services.party_end(party_id=party.id, user=guest)
    assert services.party_end(party_id=party.id, user=user).ended_at is not None


def test_leave_when_not_participant_is_not_found(user, make_user):
    """Leaving a party you are not in is a not-found error."""
    party = create(user)
    with pytest.raises(NotFound):
        services.party_leave(party_id=party.id, user=make_user())


def test_outsider_cannot_see_party(user, make_user):
    """Someone who never joined cannot read the party."""
    party = create(user)
    with pytest.raises(NotFound):
        services.party_get_for_member(party_id=party.id, user=make_user())


@pytest.mark.parametrize("round_", range(20))
def test_concurrent_joins_never_exceed_capacity(user, make_user, round_):
    """20 users joining a party of 10 at the same moment never get more than 10 seats."""
    party = create(user, max_participants=10)
    guests = [make_user() for _ in range(20)]
    barrier = threading.Barrier(len(guests))
    outcomes: list[str] = []
    lock = threading.Lock()

    def join(guest):
        barrier.wait()
        try:
            services.party_join(room_code=party.room_code, user=guest)
            result = "joined"
        except PartyFull:
            result = "full"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=join, args=(g,)) for g in guests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    stored = repository.get_party(party.id)
    assert stored.participant_count == 10
    assert len({p.user_id for p in stored.participants}) == 10
    assert outcomes.count("joined") == 9 and outcomes.count("full") == 11


def test_concurrent_creations_never_share_an_active_room_code(make_user):
    """Two parties created at the same moment with the same drawn code end up with different codes."""
    hosts = [make_user(), make_user()]
    draws = iter(["SAME01", "SAME01", "OTHER2", "OTHER3"])
    draw_lock = threading.Lock()

    def draw():
        with draw_lock:
            return next(draws)

    barrier = threading.Barrier(2)
    created = []

    def run(host):
        barrier.wait()
        created.append(create(host))

    with mock.patch.object(services, "generate_room_code", side_effect=draw):
        threads = [threading.Thread(target=run, args=(h,)) for h in hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    codes = [p.room_code for p in created]
    assert len(codes) == 2 and len(set(codes)) == 2
    assert "SAME01" in codes


def test_ended_party_releases_its_room_code(user, make_user):
    """Once a party ends, a new party may take its room code."""
    first = create(user)
    services.party_end(party_id=first.id, user=user)
    with mock.patch.object(services, "generate_room_code", return_value=first.room_code):
        second = create(make_user())
    assert second.room_code == first.room_code


def test_join_rate_limit(user, make_user, settings):
    """More than 10 joins a minute by one user are rate limited with a retry time."""
    settings.JOIN_RATE_LIMIT = (3, 60)
    party = create(user)
    guest = make_user()
    for _ in range(3):
        services.party_join(room_code=party.room_code, user=guest)
    with pytest.raises(RateLimited) as excinfo:
        services.party_join(room_code=party.room_code, user=guest)
    assert 1 <= excinfo.value.retry_after <= 60


def test_active_parties_per_host_are_capped(user, make_user, settings):
    """A host at the cap of active parties cannot create another until one ends; others are unaffected."""
    settings.PARTY_MAX_ACTIVE_PER_HOST = 3
    first = create(user)
    create(user)
    create(user)
    with pytest.raises(PartyLimit):
        create(user)
    assert repository.count_active_hosted_by(str(user.pk)) == 3
    create(make_user())  # another host has a cap of their own
    services.party_end(party_id=first.id, user=user)
    assert create(user).host_id == str(user.pk)


def test_parties_joined_do_not_count_against_the_cap(user, make_user, settings):
    """Only parties a user hosts count: sitting in others' parties does not use the cap."""
    settings.PARTY_MAX_ACTIVE_PER_HOST = 1
    for _ in range(2):
        services.party_join(room_code=create(make_user()).room_code, user=user)
    assert create(user).host_id == str(user.pk)


def test_list_newest_first_and_include_ended(user, make_user):
    """My parties: newest first; ended ones only with include_ended."""
    older = create(user)
    other_host = make_user()
    joined = create(other_host)
    services.party_join(room_code=joined.room_code, user=user)
    create(make_user())  # someone else's party, not mine
    services.party_end(party_id=older.id, user=user)

    active = services.party_list_for_user(user=user, include_ended=False, limit=50)
    assert [p.id for p in active] == [joined.id]
    everything = services.party_list_for_user(user=user, include_ended=True, limit=50)
    assert [p.id for p in everything] == [joined.id, older.id]
    assert [p.id for p in services.party_list_for_user(user=user, include_ended=True, limit=1)] == [joined.id]


# --- In-room moderation ------------------------------------------------------------------------


@pytest.fixture
def room(user, make_user):
    """A party hosted by ``user`` with a co-host and two plain guests."""
    party = create(user)
    co_host, guest, other = make_user(display_name="Co"), make_user(display_name="Guest"), make_user()
    for member in (co_host, guest, other):
        services.party_join(room_code=party.room_code, user=member)
    services.co_host_set(party_id=party.id, user=user, target_id=str(co_host.pk), co_host=True)
    return {"party": party, "host": user, "co_host": co_host, "guest": guest, "other": other}


def logged(party_id, action):
    return list(ModerationAction.objects.filter(party_id=party_id, action=action))


def test_host_removes_a_guest_who_cannot_rejoin(room):
    """A removed guest loses their seat, is logged, and their room code no longer admits them."""
    party, guest = room["party"], room["guest"]
    updated = services.participant_remove(party_id=party.id, user=room["host"], target_id=str(guest.pk))
    assert not updated.has_participant(str(guest.pk))
    with pytest.raises(Banned):
        services.party_join(room_code=party.room_code, user=guest)
    with pytest.raises(NotFound):
        services.party_get_for_member(party_id=party.id, user=guest)
    [record] = logged(party.id, "remove_participant")
    assert record.moderator == room["host"] and record.target_user_id == str(guest.pk)
    assert "Guest" in record.detail and "host" in record.detail


def test_a_lifted_ban_lets_the_user_join_again_and_is_logged(room):
    """The host sees whom the room code refuses, by name; a co-host lifts the ban, which is logged,
    and the user may join with the room code again."""
    party, guest = room["party"], room["guest"]
    services.participant_remove(party_id=party.id, user=room["host"], target_id=str(guest.pk))
    assert services.party_bans(party_id=party.id, user=room["host"]) == [
        services.BannedUser(user_id=str(guest.pk), user_name="Guest")
    ]
    left = services.participant_unban(party_id=party.id, user=room["co_host"], target_id=str(guest.pk))
    assert left == [] and services.party_bans(party_id=party.id, user=room["host"]) == []
    [record] = logged(party.id, "unban_participant")
    assert record.moderator == room["co_host"] and record.target_user_id == str(guest.pk) and "Guest" in record.detail
    assert services.party_join(room_code=party.room_code, user=guest).has_participant(str(guest.pk))


def test_only_moderators_see_or_lift_bans(room):
    """A guest may neither list nor lift bans; lifting a ban nobody has is not_found; nothing is logged."""
    party, guest, other = room["party"], room["guest"], str(room["other"].pk)
    services.participant_remove(party_id=party.id, user=room["host"], target_id=other)
    with pytest.raises(Forbidden):
        services.party_bans(party_id=party.id, user=guest)
    with pytest.raises(Forbidden):
        services.participant_unban(party_id=party.id, user=guest, target_id=other)
    with pytest.raises(NotFound):
        services.participant_unban(party_id=party.id, user=room["host"], target_id=str(guest.pk))
    assert not logged(party.id, "unban_participant")
    with pytest.raises(Banned):
        services.party_join(room_code=party.room_code, user=room["other"])


def test_co_host_removes_a_guest_but_not_the_host_or_a_co_host(room, make_user):
    """A co-host may remove a plain guest; never the host, another co-host or themselves."""
    party, co_host = room["party"], room["co_host"]
    second = make_user()
    services.party_join(room_code=party.room_code, user=second)
    services.co_host_set(party_id=party.id, user=room["host"], target_id=str(second.pk), co_host=True)
    for target in (room["host"], second, co_host):
        with pytest.raises(Forbidden):
            services.participant_remove(party_id=party.id, user=co_host, target_id=str(target.pk))
    services.participant_remove(party_id=party.id, user=co_host, target_id=str(room["guest"].pk))
    current = repository.get_party(party.id)
    assert current.has_participant(str(room["host"].pk)) and current.has_participant(str(second.pk))
    assert not current.has_participant(str(room["guest"].pk))
    assert len(logged(party.id, "remove_participant")) == 1


def test_guest_can_moderate_nobody_and_nothing_is_logged(room):
    """A plain guest gets Forbidden for every moderation act, and the log stays empty."""
    party, guest, other = room["party"], room["guest"], str(room["other"].pk)
    acts = [
        lambda: services.participant_remove(party_id=party.id, user=guest, target_id=other),
        lambda: services.participant_mute(party_id=party.id, user=guest, target_id=other, muted=True),
        lambda: services.co_host_set(party_id=party.id, user=guest, target_id=other, co_host=True),
        lambda: services.host_transfer(party_id=party.id, user=guest, target_id=other),
    ]
    for act in acts:
        with pytest.raises(Forbidden):
            act()
    assert ModerationAction.objects.filter(party_id=party.id).exclude(action="add_co_host").count() == 0
    assert repository.get_party(party.id).muted_ids == ()


def test_only_the_host_names_co_hosts_and_hands_over_the_host_role(room):
    """Co-hosts cannot name co-hosts nor take or give the host role."""
    party, co_host, guest = room["party"], room["co_host"], str(room["guest"].pk)
    with pytest.raises(Forbidden):
        services.co_host_set(party_id=party.id, user=co_host, target_id=guest, co_host=True)
    with pytest.raises(Forbidden):
        services.host_transfer(party_id=party.id, user=co_host, target_id=guest)
    assert repository.get_party(party.id).co_host_ids == (str(co_host.pk),)


def test_mute_and_unmute_are_recorded(room):
    """Muting lists the user in muted_ids, unmuting takes them out; both are logged."""
    party, guest = room["party"], str(room["guest"].pk)
    muted = services.participant_mute(party_id=party.id, user=room["co_host"], target_id=guest, muted=True)
    assert muted.muted_ids == (guest,)
    unmuted = services.participant_mute(party_id=party.id, user=room["host"], target_id=guest, muted=False)
    assert unmuted.muted_ids == ()
    assert len(logged(party.id, "mute_participant")) == 1 and len(logged(party.id, "unmute_participant")) == 1


def test_a_mute_outlasts_leaving_and_joining_again(room):
    """Leaving and joining again does not lift a mute."""
    party, guest = room["party"], room["guest"]
    services.participant_mute(party_id=party.id, user=room["host"], target_id=str(guest.pk), muted=True)
    services.party_leave(party_id=party.id, user=guest)
    rejoined = services.party_join(room_code=party.room_code, user=guest)
    assert str(guest.pk) in rejoined.muted_ids


def test_unnamed_co_host_loses_their_powers(room):
    """After the host unnames a co-host, that user can no longer mute anyone."""
    party, co_host = room["party"], room["co_host"]
    services.co_host_set(party_id=party.id, user=room["host"], target_id=str(co_host.pk), co_host=False)
    with pytest.raises(Forbidden):
        services.participant_mute(party_id=party.id, user=co_host, target_id=str(room["guest"].pk), muted=True)
    assert logged(party.id, "remove_co_host")[0].target_user_id == str(co_host.pk)


def test_host_hands_over_the_role_and_then_may_leave(room):
    """The host cannot leave while hosting; after handing over, the new host rules and they may leave."""
    party, host, guest = room["party"], room["host"], room["guest"]
    with pytest.raises(Forbidden):
        services.party_leave(party_id=party.id, user=host)
    updated = services.host_transfer(party_id=party.id, user=host, target_id=str(guest.pk))
    assert updated.host_id == str(guest.pk) and updated.host_name == "Guest"
    with pytest.raises(Forbidden):
        services.party_end(party_id=party.id, user=host)
    services.party_leave(party_id=party.id, user=host)
    assert not repository.get_party(party.id).has_participant(str(host.pk))
    assert logged(party.id, "transfer_host")[0].moderator == host


def test_moderating_a_user_without_a_seat_is_not_found(room, make_user):
    """Naming someone who holds no seat is NotFound, and changes nothing."""
    party = room["party"]
    with pytest.raises(NotFound):
        services.participant_remove(party_id=party.id, user=room["host"], target_id=str(make_user().pk))
    with pytest.raises(NotFound):
        services.participant_mute(party_id=party.id, user=room["host"], target_id="not-a-user", muted=True)
    assert not logged(party.id, "remove_participant")


def test_the_update_refuses_a_role_lost_after_the_check(room):
    """The repository update re-checks the actor's role: a co-host unnamed after the service read
    the party cannot remove anyone, and nothing is logged."""
    party, co_host, guest = room["party"], room["co_host"], str(room["guest"].pk)
    real_get = repository.get_party

    def unnamed_just_after_the_read(party_id):
        current = real_get(party_id)
        repository.set_co_host(party_id, actor_id=str(room["host"].pk), target_id=str(co_host.pk), co_host=False)
        return current

    with mock.patch.object(repository, "get_party", side_effect=unnamed_just_after_the_read):
        with pytest.raises(Forbidden):
            services.participant_remove(party_id=party.id, user=co_host, target_id=guest)
    assert real_get(party.id).has_participant(guest)
    assert not logged(party.id, "remove_participant")


def test_a_ban_stops_a_join_that_had_already_read_the_party(room):
    """A join that read the party before the ban cannot take a seat after it (the update's filter)."""
    party, guest = room["party"], room["guest"]
    services.participant_remove(party_id=party.id, user=room["host"], target_id=str(guest.pk))
    seat = repository.Participant(user_id=str(guest.pk), user_name="Guest", joined_at=party.created_at)
    assert repository.add_participant(party.id, seat, party.max_participants) is None


def test_parties_stored_before_moderation_read_without_its_fields(user):
    """A party document without co_host_ids, muted_ids or banned_ids reads as having none."""
    party = create(user)
    get_db()[repository.COLLECTION].update_one(
        {"room_code": party.room_code}, {"$unset": {"co_host_ids": "", "muted_ids": "", "banned_ids": ""}}
    )
    old = repository.get_party(party.id)
    assert (old.co_host_ids, old.muted_ids, old.banned_ids) == ((), (), ())
