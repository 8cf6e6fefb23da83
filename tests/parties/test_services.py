import threading
from unittest import mock

import pytest

from parties import repository, services
from parties.services import PartySettings
from watchparty.errors import Forbidden, NotFound, PartyFull, PartyLimit, RateLimited


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
