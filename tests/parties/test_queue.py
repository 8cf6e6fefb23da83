"""The shared queue's use cases (parties.services queue_*): who may change it, what it stores,
its bound, and advancing once per item."""

import pytest
from django.test import override_settings

from core.errors import Forbidden, Muted, NotFound, QueueFull
from core.realtime import presence
from parties import repository, services
from parties.services import PartySettings

CLIP = "/static/e2e/clip.webm"
YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture
def room(user, make_user):
    party = services.party_create(user=user, data=PartySettings(content_id=CLIP, content_type="vod"))
    guest = make_user(display_name="Guest")
    services.party_join(room_code=party.room_code, user=guest)
    return party, user, guest


def test_host_adds_and_latecomers_read_the_queue(room):
    """Added videos are stored in order, with who added them, and read back with the party."""
    party, host, _guest = room
    services.queue_add(party_id=party.id, user=host, content_id=YOUTUBE, title="Song")
    services.queue_add(party_id=party.id, user=host, content_id="/media/b.mp4")
    stored = repository.get_party(party.id)
    assert [(i.content_id, i.title, i.added_by) for i in stored.queue] == [
        (YOUTUBE, "Song", str(host.pk)),
        ("/media/b.mp4", "", str(host.pk)),
    ]
    assert stored.content_id == CLIP and len(stored.current_item_id) == 12


def test_the_first_video_goes_by_the_partys_title(user):
    """The item a party is created with is named by the party's title."""
    party = services.party_create(
        user=user, data=PartySettings(content_id=CLIP, content_type="vod", content_title="Film night")
    )
    assert services.current_item_payload(party) == {
        "id": party.current_item_id,
        "content_id": CLIP,
        "title": "Film night",
    }


def test_guest_may_add_only_when_the_host_opens_the_queue(room):
    """A guest is refused until the host lets guests add; a muted guest is refused even then."""
    party, host, guest = room
    with pytest.raises(Forbidden):
        services.queue_add(party_id=party.id, user=guest, content_id=YOUTUBE)
    services.queue_settings(party_id=party.id, user=host, guests_may_queue=True)
    services.queue_add(party_id=party.id, user=guest, content_id=YOUTUBE)
    assert [i.added_by for i in repository.get_party(party.id).queue] == [str(guest.pk)]
    services.participant_mute(party_id=party.id, user=host, target_id=str(guest.pk), muted=True)
    with pytest.raises(Muted):
        services.queue_add(party_id=party.id, user=guest, content_id=YOUTUBE)


def test_guest_cannot_remove_move_play_skip_or_open_the_queue(room):
    """Only the host and co-hosts change the queue; only the host opens it to guests."""
    party, host, guest = room
    item = services.queue_add(party_id=party.id, user=host, content_id=YOUTUBE).queue[0]
    for call in (
        lambda: services.queue_remove(party_id=party.id, user=guest, item_id=item.id),
        lambda: services.queue_move(party_id=party.id, user=guest, item_id=item.id, to=0),
        lambda: services.queue_play(party_id=party.id, user=guest, item_id=item.id),
        lambda: services.queue_next(party_id=party.id, user=guest, item_id=party.current_item_id),
        lambda: services.queue_settings(party_id=party.id, user=guest, guests_may_queue=True),
    ):
        with pytest.raises(Forbidden):
            call()
    assert repository.get_party(party.id).queue == (item,)


def test_co_host_controls_the_queue(room):
    """A co-host the host named removes and plays queued videos."""
    party, host, guest = room
    services.co_host_set(party_id=party.id, user=host, target_id=str(guest.pk), co_host=True)
    first = services.queue_add(party_id=party.id, user=guest, content_id=YOUTUBE).queue[0]
    second = services.queue_add(party_id=party.id, user=guest, content_id="/media/b.mp4").queue[1]
    services.queue_remove(party_id=party.id, user=guest, item_id=first.id)
    played = services.queue_play(party_id=party.id, user=guest, item_id=second.id)
    assert played.content_id == "/media/b.mp4" and played.current_item_id == second.id and played.queue == ()


@override_settings(PARTY_QUEUE_MAX_ITEMS=2)
def test_queue_is_bounded_with_a_clear_error(room):
    """Past PARTY_QUEUE_MAX_ITEMS the next video is refused with queue_full, saying the bound."""
    party, host, _guest = room
    for _ in range(2):
        services.queue_add(party_id=party.id, user=host, content_id=YOUTUBE)
    with pytest.raises(QueueFull, match="at most 2"):
        services.queue_add(party_id=party.id, user=host, content_id=YOUTUBE)
    assert len(repository.get_party(party.id).queue) == 2


def test_move_reorders_and_clamps(room):
    """queue.move puts a video at the place asked; past the end means last."""
    party, host, _guest = room
    ids = [services.queue_add(party_id=party.id, user=host, content_id=f"/m/{n}.mp4").queue[-1].id for n in range(3)]
    services.queue_move(party_id=party.id, user=host, item_id=ids[2], to=0)
    services.queue_move(party_id=party.id, user=host, item_id=ids[1], to=99)
    assert [i.id for i in repository.get_party(party.id).queue] == [ids[2], ids[0], ids[1]]


def test_play_now_switches_content_and_plays_it_from_the_start(room):
    """Playing a queued video makes it the party's content_id, playing from 0 (also when the party
    was paused, as it is when the host's player reports an end)."""
    party, host, _guest = room
    from chat import services as chat_services

    chat_services.playback_update(party_id=party.id, user=host, state="paused", position=42.0)
    item = services.queue_add(party_id=party.id, user=host, content_id=YOUTUBE, title="Song").queue[0]
    played = services.queue_play(party_id=party.id, user=host, item_id=item.id)
    assert (played.content_id, played.current_title, played.current_item_id) == (YOUTUBE, "Song", item.id)
    assert (played.playback.state, played.playback.position) == ("playing", 0.0)


def test_next_advances_once_per_item(room):
    """Two reports of the same item's end advance once; the second is told it is stale."""
    party, host, _guest = room
    a = services.queue_add(party_id=party.id, user=host, content_id="/m/a.mp4").queue[0]
    b = services.queue_add(party_id=party.id, user=host, content_id="/m/b.mp4").queue[1]
    ended = party.current_item_id
    after = services.queue_next(party_id=party.id, user=host, item_id=ended)
    assert after.current_item_id == a.id and [i.id for i in after.queue] == [b.id]
    with pytest.raises(NotFound, match="no longer playing"):
        services.queue_next(party_id=party.id, user=host, item_id=ended)
    assert repository.get_party(party.id).current_item_id == a.id


def test_next_with_an_empty_queue_changes_nothing(room):
    """At the end of the last video nothing is skipped to."""
    party, host, _guest = room
    with pytest.raises(NotFound, match="Nothing is queued"):
        services.queue_next(party_id=party.id, user=host, item_id=party.current_item_id)
    assert repository.get_party(party.id).content_id == CLIP


def test_stale_version_write_is_refused_by_the_repository(room):
    """A change computed from an older queue never overwrites a newer one."""
    party, host, _guest = room
    services.queue_add(party_id=party.id, user=host, content_id=YOUTUBE)
    stale = repository.replace_queue(
        party.id,
        version=party.queue_version,
        actor_id=str(host.pk),
        queue=[],
        at=party.created_at,
    )
    assert stale is None and len(repository.get_party(party.id).queue) == 1


def test_queue_changes_in_an_ended_party_are_refused(room):
    """An ended party's queue is closed."""
    party, host, _guest = room
    services.party_end(party_id=party.id, user=host)
    with pytest.raises(Forbidden):
        services.queue_add(party_id=party.id, user=host, content_id=YOUTUBE)


# --- Vote to skip ------------------------------------------------------------------------------


def present(party, *users):
    """Open a socket for each user in the presence registry, as connecting does."""
    for n, member in enumerate(users):
        presence.get_registry().add(party.id, str(member.pk), f"test-channel-{party.id}-{n}", 5)


@pytest.fixture
def three(room, make_user):
    party, host, guest = room
    other = make_user(display_name="Other")
    services.party_join(room_code=party.room_code, user=other)
    services.queue_add(party_id=party.id, user=host, content_id=YOUTUBE, title="Next")
    yield party, host, guest, other
    for member in (host, guest, other):
        for n in range(3):
            presence.get_registry().remove(party.id, str(member.pk), f"test-channel-{party.id}-{n}")


def test_votes_skip_at_the_hosts_ratio_once_per_person(three):
    """Three present at ratio 0.5 need two votes; a repeated vote counts once; the second voter's
    vote plays the next video, and the votes start over for it."""
    party, host, guest, other = three
    present(party, host, guest, other)
    item = party.current_item_id
    after_one = services.queue_vote_skip(party_id=party.id, user=guest, item_id=item)
    again = services.queue_vote_skip(party_id=party.id, user=guest, item_id=item)
    assert after_one.current_item_id == item and again.skip_votes == (str(guest.pk),)
    skipped = services.queue_vote_skip(party_id=party.id, user=other, item_id=item)
    assert skipped.current_title == "Next" and skipped.skip_votes == () and skipped.queue == ()


def test_only_people_present_count(three):
    """Of the seats, only those with a socket open count: two present at 0.5 need one vote."""
    party, host, guest, _other = three
    present(party, host, guest)
    skipped = services.queue_vote_skip(party_id=party.id, user=guest, item_id=party.current_item_id)
    assert skipped.current_title == "Next"


def test_an_absent_persons_vote_does_not_count(three):
    """At ratio 1 with two present, a vote from someone with no socket open counts for nothing."""
    party, host, guest, other = three
    present(party, host, guest)
    services.queue_settings(party_id=party.id, user=host, skip_ratio=1.0)
    item = party.current_item_id
    services.queue_vote_skip(party_id=party.id, user=other, item_id=item)
    services.queue_vote_skip(party_id=party.id, user=guest, item_id=item)
    assert repository.get_party(party.id).current_item_id == item
    assert services.queue_vote_skip(party_id=party.id, user=host, item_id=item).current_title == "Next"


def test_the_host_sets_the_ratio_and_zero_turns_voting_off(three):
    """At ratio 1 every present person must vote; at 0 a vote is refused; a guest cannot set it."""
    party, host, guest, other = three
    present(party, host, guest, other)
    with pytest.raises(Forbidden):
        services.queue_settings(party_id=party.id, user=guest, skip_ratio=0.0)
    services.queue_settings(party_id=party.id, user=host, skip_ratio=1.0)
    for voter in (guest, other):
        services.queue_vote_skip(party_id=party.id, user=voter, item_id=party.current_item_id)
    assert repository.get_party(party.id).current_item_id == party.current_item_id
    assert services.queue_vote_skip(party_id=party.id, user=host, item_id=party.current_item_id).current_title == "Next"
    services.queue_settings(party_id=party.id, user=host, skip_ratio=0.0)
    with pytest.raises(Forbidden, match="off"):
        services.queue_vote_skip(party_id=party.id, user=guest, item_id=repository.get_party(party.id).current_item_id)


def test_a_muted_person_and_a_stale_item_cannot_vote(three):
    """A muted guest's vote is refused; so is a vote for a video that no longer plays."""
    party, host, guest, other = three
    present(party, host, guest, other)
    services.participant_mute(party_id=party.id, user=host, target_id=str(guest.pk), muted=True)
    with pytest.raises(Muted):
        services.queue_vote_skip(party_id=party.id, user=guest, item_id=party.current_item_id)
    with pytest.raises(NotFound):
        services.queue_vote_skip(party_id=party.id, user=other, item_id="0123456789ab")
    assert repository.get_party(party.id).skip_votes == ()
