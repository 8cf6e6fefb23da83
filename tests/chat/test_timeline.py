"""Timeline chat (issue 20, item 6): each message keeps the moment of the party's video it was
written at, history pages by that moment, and the host or a co-host takes the party to a message's
moment (docs/PROTOCOL.md, "Timeline chat and replay")."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat import repository, services
from chat.repository import MessageAt, NewMessage
from core.db.client import get_db
from core.errors import Forbidden, Invalid, Muted, NotFound, RateLimited
from core.realtime.fanout import party_group
from core.timeutil import utcnow
from parties import repository as party_repository
from parties import services as party_services
from parties.repository import PLAYED_MAX
from parties.services import PartySettings
from tests.querycheck import RecordingDatabase

FILM = "/static/e2e/clip.webm"
YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture
def room(make_user):
    """A party playing a video, its host, a guest and a co-host."""
    host, guest, co_host = make_user(display_name="Host"), make_user(display_name="Guest"), make_user()
    party = party_services.party_create(user=host, data=PartySettings(content_id=FILM, content_type="vod"))
    for person in (guest, co_host):
        party_services.party_join(room_code=party.room_code, user=person)
    party_services.co_host_set(party_id=party.id, user=host, target_id=str(co_host.pk), co_host=True)
    return {"party": party, "host": host, "guest": guest, "co_host": co_host}


def send(room, text, who="guest"):
    return services.message_send(
        party_id=room["party"].id, user=room[who], text=text, message_type="text", client_id=text
    ).message


def set_playback(party_id, *, state, position, ago=0.0, rate=1.0):
    """The party's playback as the host's player last reported it, ``ago`` seconds ago."""
    assert party_repository.set_playback(
        party_id, state=state, position=position, updated_at=utcnow() - timedelta(seconds=ago), rate=rate
    )


def listen(party_id):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(party_group(party_id), channel)

    async def receive():
        import asyncio

        return await asyncio.wait_for(layer.receive(channel), 2)

    return lambda: async_to_sync(receive)()


# --- the moment each message records ------------------------------------------------------------


def test_a_message_sent_while_playing_records_where_the_video_is_now(room):
    """Playing from 10 s, reported 5 s ago at 1x: a message sent now is at about 15 s of the item."""
    party = room["party"]
    set_playback(party.id, state="playing", position=10.0, ago=5.0)
    message = send(room, "now")
    assert message.at.item_id == party.current_item_id
    assert message.at.seconds == pytest.approx(15.0, abs=0.5)
    assert repository.get_message(party.id, message.id).at == message.at  # stored, not only returned


def test_the_position_advances_at_the_party_speed(room):
    """At 2x, 5 s after the report at 10 s, the video is at 20 s."""
    set_playback(room["party"].id, state="playing", position=10.0, ago=5.0, rate=2.0)
    assert send(room, "fast").at.seconds == pytest.approx(20.0, abs=1.0)


def test_a_message_sent_while_paused_records_the_paused_position(room):
    """Paused at 42.5 s a minute ago: the message is at 42.5 s exactly."""
    set_playback(room["party"].id, state="paused", position=42.5, ago=60.0)
    assert send(room, "paused").at.seconds == 42.5


def test_a_message_after_the_host_seeks_records_the_new_position(room):
    """The host seeks to 300 s (playback.update): the next message is at 300 s, not where it was."""
    set_playback(room["party"].id, state="playing", position=10.0, ago=1.0)
    services.playback_update(party_id=room["party"].id, user=room["host"], state="paused", position=300.0)
    assert send(room, "after seek").at.seconds == 300.0


def test_a_message_during_a_queued_video_names_that_item(room):
    """After Play now, a message names the new item, from its start."""
    party = room["party"]
    item = party_services.queue_add(party_id=party.id, user=room["host"], content_id=YOUTUBE).queue[0]
    party_services.queue_play(party_id=party.id, user=room["host"], item_id=item.id)
    message = send(room, "second video")
    assert message.at.item_id == item.id and message.at.item_id != party.current_item_id
    assert 0.0 <= message.at.seconds < 2.0


def test_a_party_showing_a_name_records_no_moment(make_user):
    """A live channel or a film watched elsewhere has no player: its messages have no position."""
    host = make_user()
    party = party_services.party_create(user=host, data=PartySettings(content_id="Channel 5", content_type="live"))
    message = services.message_send(party_id=party.id, user=host, text="hi", message_type="text", client_id=None)
    assert message.message.at is None
    assert services.message_payload(message.message)["at"] is None


def test_a_party_stored_before_the_queue_records_a_null_item(room):
    """A party without a current item id (stored before the queue): item_id is null."""
    get_db()["parties"].update_one({"room_code": room["party"].room_code}, {"$unset": {"current_item_id": ""}})
    set_playback(room["party"].id, state="paused", position=7.0)
    message = send(room, "old party")
    assert message.at == MessageAt(item_id=None, seconds=7.0)
    assert services.message_payload(message)["at"] == {"item_id": None, "seconds": 7.0}


def test_sending_reads_only_the_party_it_already_read(room, monkeypatch):
    """The moment comes from the party the send reads to authorize it: no other database read."""
    log = []
    real_db = get_db()
    for module in (repository, party_repository):
        monkeypatch.setattr(module, "get_db", lambda: RecordingDatabase(real_db, log))
    set_playback(room["party"].id, state="playing", position=3.0)
    log.clear()
    assert send(room, "cheap").at is not None
    assert [(query.collection, query.operation) for query in log] == [("parties", "find_one")]


def test_messages_stored_before_moments_are_still_read(room):
    """An older document without ``at`` reads as at None, in every page."""
    get_db()["chat_messages"].insert_one(
        {
            "party_id": room["party"].id,
            "user_id": str(room["guest"].pk),
            "user_name": "Guest",
            "message": "from before",
            "message_type": "text",
            "timestamp": utcnow(),
        }
    )
    messages, _ = services.message_history(party_id=room["party"].id, user=room["guest"], before=None, limit=10)
    assert [services.message_payload(m)["at"] for m in messages] == [None]


# --- history by position -------------------------------------------------------------------------


def store(party_id, text, *, item_id, seconds, user_id="7"):
    """A message at a chosen moment (stored directly, so the test decides the positions)."""
    at = None if seconds is None else MessageAt(item_id=item_id, seconds=seconds)
    return repository.insert_message(
        NewMessage(
            party_id=party_id,
            user_id=user_id,
            user_name="Someone",
            message=text,
            message_type="text",
            client_id=None,
            timestamp=utcnow(),
            at=at,
        )
    )


def texts(messages):
    return [message.message for message in messages]


def test_pages_by_position_follow_the_video_not_the_time_of_sending(room):
    """Messages stored out of order come back in the order of their moment, ties by id, page after
    page with the cursor, none repeated or skipped; other videos and unplaced messages stay out."""
    party, item = room["party"], room["party"].current_item_id
    for text, seconds in [("c", 30.0), ("a", 5.0), ("d", 30.0), ("b", 12.25), ("e", 90.0)]:
        store(party.id, text, item_id=item, seconds=seconds)
    store(party.id, "other video", item_id="0123456789ab", seconds=1.0)
    store(party.id, "no moment", item_id=None, seconds=None)
    read = lambda **kw: services.message_history_by_position(  # noqa: E731
        party_id=party.id, user=room["guest"], item_id=item, limit=2, **kw
    )
    page, next_after = read()
    assert texts(page) == ["a", "b"] and next_after == page[-1].id
    page, next_after = read(after=next_after)
    assert texts(page) == ["c", "d"]  # the tie at 30 s, by id
    page, next_after = read(after=next_after)
    assert texts(page) == ["e"] and next_after is None
    page, _ = read(from_seconds=12.25)
    assert texts(page) == ["b", "c"]


def test_pages_by_position_for_a_party_stored_before_the_queue(room):
    """item None reads the messages of the one video of an old party, not the unplaced ones."""
    store(room["party"].id, "placed", item_id=None, seconds=3.0)
    store(room["party"].id, "unplaced", item_id=None, seconds=None)
    page, _ = services.message_history_by_position(
        party_id=room["party"].id, user=room["guest"], item_id=None, limit=10
    )
    assert texts(page) == ["placed"]


def test_a_cursor_must_be_a_placed_message_of_the_same_video(room):
    """after: an unknown or unplaced message is not found; another video's message is invalid."""
    party, item = room["party"], room["party"].current_item_id
    elsewhere = store(party.id, "x", item_id="0123456789ab", seconds=1.0)
    unplaced = store(party.id, "y", item_id=None, seconds=None)
    read = lambda after: services.message_history_by_position(  # noqa: E731
        party_id=party.id, user=room["guest"], item_id=item, after=after, limit=5
    )
    with pytest.raises(Invalid) as refused:
        read(elsewhere.id)
    assert "after" in refused.value.payload()["errors"]
    for missing in (unplaced.id, "65a1b2c3d4e5f60718293a4b"):
        with pytest.raises(NotFound):
            read(missing)


def test_pages_by_position_are_for_members_as_history_is(room, make_user):
    """Outsiders, a removed (banned) guest and someone who left get NotFound; after the party ends
    its members still read it."""
    party, item = room["party"], room["party"].current_item_id
    store(party.id, "kept", item_id=item, seconds=1.0)
    outsider, leaver = make_user(), make_user()
    party_services.party_join(room_code=party.room_code, user=leaver)
    party_services.party_leave(party_id=party.id, user=leaver)
    party_services.participant_remove(party_id=party.id, user=room["host"], target_id=str(room["guest"].pk))
    for person in (outsider, leaver, room["guest"]):
        with pytest.raises(NotFound):
            services.message_history_by_position(party_id=party.id, user=person, item_id=item, limit=5)
    party_services.party_end(party_id=party.id, user=room["host"])
    page, _ = services.message_history_by_position(party_id=party.id, user=room["co_host"], item_id=item, limit=5)
    assert texts(page) == ["kept"]


def test_pages_by_position_are_rate_limited(room, settings):
    """Past HISTORY_BY_POSITION_RATE_LIMIT a reader is refused with the time to wait."""
    settings.HISTORY_BY_POSITION_RATE_LIMIT = (2, 60)
    read = lambda: services.message_history_by_position(  # noqa: E731
        party_id=room["party"].id, user=room["guest"], item_id=room["party"].current_item_id, limit=5
    )
    read()
    read()
    with pytest.raises(RateLimited):
        read()


# --- what played (the replay's list) ------------------------------------------------------------


def test_a_party_lists_the_videos_it_played_in_order(room):
    """Created with one video, then two played from the queue: played lists all three in order."""
    party, host = room["party"], room["host"]
    assert [(p.id, p.content_id) for p in party.played] == [(party.current_item_id, FILM)]
    for link in (YOUTUBE, FILM + "?2"):
        item = party_services.queue_add(party_id=party.id, user=host, content_id=link, title=link[-3:]).queue[0]
        party_services.queue_play(party_id=party.id, user=host, item_id=item.id)
    played = party_repository.get_party(party.id).played
    assert [p.content_id for p in played] == [FILM, YOUTUBE, FILM + "?2"]
    assert played[1].title == "XcQ" and played[0].started_at <= played[1].started_at <= played[2].started_at


def test_the_played_list_keeps_the_most_recent(room, settings):
    """At most PLAYED_MAX videos are kept, the most recent."""
    settings.PARTY_QUEUE_MAX_ITEMS = PLAYED_MAX + 5
    party, host = room["party"], room["host"]
    for n in range(PLAYED_MAX + 1):
        item = party_services.queue_add(party_id=party.id, user=host, content_id=f"{FILM}?{n}").queue[0]
        party_services.queue_play(party_id=party.id, user=host, item_id=item.id)
    played = party_repository.get_party(party.id).played
    assert len(played) == PLAYED_MAX and played[-1].content_id == f"{FILM}?{PLAYED_MAX}"


def test_a_party_stored_before_the_list_played_its_current_video(room):
    """Without a stored list, what played is the current video; the next one is added to it."""
    party = room["party"]
    get_db()["parties"].update_one({"room_code": party.room_code}, {"$unset": {"played": ""}})
    assert [p.id for p in party_repository.get_party(party.id).played] == [party.current_item_id]
    item = party_services.queue_add(party_id=party.id, user=room["host"], content_id=YOUTUBE).queue[0]
    party_services.queue_play(party_id=party.id, user=room["host"], item_id=item.id)
    assert [p.id for p in party_repository.get_party(party.id).played] == [party.current_item_id, item.id]


# --- taking the party to a message's moment ----------------------------------------------------


@pytest.mark.parametrize("who", ["host", "co_host"])
@pytest.mark.parametrize("state", ["playing", "paused"])
def test_the_host_or_a_co_host_takes_the_party_to_a_message(room, who, state):
    """The party's video goes to the message's moment and keeps playing (or stays paused); every
    socket hears playback.state naming the message."""
    party = room["party"]
    set_playback(party.id, state="paused", position=64.0)
    message = send(room, "look at this")
    set_playback(party.id, state=state, position=200.0)
    receive = listen(party.id)
    payload = services.message_seek(party_id=party.id, user=room[who], message_id=message.id)
    event = receive()
    assert event["type"] == "playback.state" and f'"message_id":"{message.id}"' in event["frame"]
    assert payload["position"] == 64.0 and payload["state"] == state and payload["by"] == str(room[who].pk)
    stored = party_repository.get_party(party.id).playback
    assert (stored.state, stored.position) == (state, 64.0)


def test_a_guest_cannot_take_the_party_to_a_message(room):
    """A guest's seek from a message is refused, and the video stays where it is."""
    party = room["party"]
    set_playback(party.id, state="paused", position=5.0)
    message = send(room, "here")
    set_playback(party.id, state="paused", position=50.0)
    with pytest.raises(Forbidden):
        services.message_seek(party_id=party.id, user=room["guest"], message_id=message.id)
    assert party_repository.get_party(party.id).playback.position == 50.0


def test_a_muted_co_host_cannot_take_the_party_to_a_message(room):
    """Muted by the host, a co-host may not move the video from a message."""
    party = room["party"]
    message = send(room, "here")
    party_services.participant_mute(party_id=party.id, user=room["host"], target_id=str(room["co_host"].pk), muted=True)
    with pytest.raises(Muted):
        services.message_seek(party_id=party.id, user=room["co_host"], message_id=message.id)


def test_a_message_of_a_queued_video_plays_that_video_from_its_moment(room):
    """A message written during a video that is queued again plays it now, from that moment."""
    party, host = room["party"], room["host"]
    item = party_services.queue_add(party_id=party.id, user=host, content_id=YOUTUBE).queue[0]
    message = store(party.id, "queued one", item_id=item.id, seconds=33.5)
    receive = listen(party.id)
    services.message_seek(party_id=party.id, user=room["co_host"], message_id=message.id)
    assert receive()["type"] == "queue.state"
    now = party_repository.get_party(party.id)
    assert now.current_item_id == item.id and now.playback.position == 33.5 and now.playback.state == "playing"


def test_a_message_of_an_earlier_video_no_longer_queued_cannot_be_gone_back_to(room):
    """Once a video has played and left the queue, its messages' moments cannot be played."""
    party, host = room["party"], room["host"]
    earlier = send(room, "first video", who="host")
    item = party_services.queue_add(party_id=party.id, user=host, content_id=YOUTUBE).queue[0]
    party_services.queue_play(party_id=party.id, user=host, item_id=item.id)
    with pytest.raises(NotFound):
        services.message_seek(party_id=party.id, user=host, message_id=earlier.id)


def test_a_message_without_a_moment_cannot_be_gone_to(room):
    """A message with no moment (stored before they were kept) is refused as invalid."""
    message = store(room["party"].id, "old", item_id=None, seconds=None)
    with pytest.raises(Invalid):
        services.message_seek(party_id=room["party"].id, user=room["host"], message_id=message.id)
    with pytest.raises(NotFound):
        services.message_seek(party_id=room["party"].id, user=room["host"], message_id="65a1b2c3d4e5f60718293a4b")


def test_no_seek_from_a_message_after_the_party_ends(room):
    """An ended party's video is nobody's to move."""
    message = send(room, "bye")
    party_services.party_end(party_id=room["party"].id, user=room["host"])
    with pytest.raises(Forbidden):
        services.message_seek(party_id=room["party"].id, user=room["host"], message_id=message.id)


# --- the HTTP endpoint ---------------------------------------------------------------------------


def test_the_history_endpoint_pages_by_position(room, api_client):
    """?item=&from=&limit= then ?item=&after=: the pages in the order of the video, next_after."""
    party, item = room["party"], room["party"].current_item_id
    for text, seconds in [("b", 20.0), ("a", 10.0), ("c", 30.0)]:
        store(party.id, text, item_id=item, seconds=seconds)
    client = api_client(room["guest"])
    url = f"/api/parties/{party.id}/messages/"
    first = client.get(url, {"item": item, "from": "5", "limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert [m["message"] for m in body["results"]] == ["a", "b"] and set(body) == {"results", "next_after"}
    assert body["results"][0]["at"] == {"item_id": item, "seconds": 10.0}
    rest = client.get(url, {"item": item, "after": body["next_after"], "limit": 2}).json()
    assert [m["message"] for m in rest["results"]] == ["c"] and rest["next_after"] is None
    assert [m["message"] for m in client.get(url, {"item": item, "from": "20.5"}).json()["results"]] == ["c"]


@pytest.mark.parametrize(
    "query,field",
    [
        ({"item": "nope"}, "item"),
        ({"item": "{'$ne': None}"}, "item"),
        ({"item": "0123456789ab", "from": "nan"}, "from"),
        ({"item": "0123456789ab", "from": "inf"}, "from"),
        ({"item": "0123456789ab", "from": "-1"}, "from"),
        ({"item": "0123456789ab", "from": "1e3"}, "from"),
        ({"item": "0123456789ab", "from": "604801"}, "from"),
        ({"item": "0123456789ab", "after": "xyz"}, "after"),
        ({"item": "0123456789ab", "from": "1", "after": "65a1b2c3d4e5f60718293a4b"}, "after"),
        ({"item": "0123456789ab", "before": "65a1b2c3d4e5f60718293a4b"}, "before"),
        ({"from": "1"}, "from"),
        ({"after": "65a1b2c3d4e5f60718293a4b"}, "after"),
        ({"item": "0123456789ab", "limit": "0"}, "limit"),
    ],
)
def test_bad_position_parameters_are_400_with_the_field(room, api_client, query, field):
    """Every malformed parameter is a 400 naming it (never a 500, never a query operator)."""
    response = api_client(room["guest"]).get(f"/api/parties/{room['party'].id}/messages/", query)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid" and field in response.json()["errors"]


def test_the_endpoint_answers_404_and_429_as_history_does(room, api_client, make_user, settings):
    """An outsider gets 404; an unknown cursor 404; past the limit 429 with Retry-After."""
    party, item = room["party"], room["party"].current_item_id
    url = f"/api/parties/{party.id}/messages/"
    assert api_client(make_user()).get(url, {"item": item}).status_code == 404
    client = api_client(room["guest"])
    assert client.get(url, {"item": item, "after": "65a1b2c3d4e5f60718293a4b"}).status_code == 404
    settings.HISTORY_BY_POSITION_RATE_LIMIT = (1, 60)
    client.get(url, {"item": item})
    limited = client.get(url, {"item": item})
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited" and limited["Retry-After"]
    assert client.get(url).status_code == 200  # paging by time is not counted against it
