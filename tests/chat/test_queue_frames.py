"""The shared queue's frames over the party WebSocket (docs/PROTOCOL.md, "The shared queue")."""

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from parties import services as party_services
from parties.services import PartySettings
from tests.chat.wsutil import open_socket, receive_type
from tests.support import api_token

pytestmark = pytest.mark.django_db(transaction=True)

YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture
def room(make_user):
    def make():
        host, guest = make_user(display_name="Host"), make_user(display_name="Guest")
        party = party_services.party_create(
            user=host, data=PartySettings(content_id="/static/e2e/clip.webm", content_type="vod")
        )
        party_services.party_join(room_code=party.room_code, user=guest)
        return {
            "party": party,
            "host": host,
            "guest": guest,
            "tokens": {"host": api_token(host), "guest": api_token(guest)},
        }

    return make


async def joined(s, who):
    communicator, connected = await open_socket(s["party"].id, s["tokens"][who])
    assert connected
    return communicator, await receive_type(communicator, "party.state")


async def test_every_socket_switches_together_and_latecomers_get_the_current_item(room):
    """queue.add then queue.play: both sockets hear queue.state with the new current item and its
    playback from 0; a socket opened afterwards gets it in party.state, content_id included."""
    s = await sync_to_async(room)()
    host, state = await joined(s, "host")
    guest, _ = await joined(s, "guest")
    try:
        assert state["party"]["queue"] == [] and state["party"]["current_item"]["content_id"] == "/static/e2e/clip.webm"
        await host.send_json_to({"type": "queue.add", "content_id": YOUTUBE, "title": "Song"})
        added = await receive_type(guest, "queue.state")
        assert added["action"] == "added" and [i["content_id"] for i in added["queue"]] == [YOUTUBE]
        await receive_type(host, "queue.state")
        await host.send_json_to({"type": "queue.play", "item_id": added["queue"][0]["id"]})
        for socket in (host, guest):
            played = await receive_type(socket, "queue.state")
            assert played["action"] == "played" and played["content_id"] == YOUTUBE
            assert played["current_item"] == {"id": added["queue"][0]["id"], "content_id": YOUTUBE, "title": "Song"}
            assert played["playback"]["position"] == 0.0 and played["queue"] == []
        late, late_state = await joined(s, "guest")
        await late.disconnect()
        assert late_state["party"]["content_id"] == YOUTUBE and late_state["party"]["current_item"]["title"] == "Song"
    finally:
        await host.disconnect()
        await guest.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "queue.add", "content_id": "javascript:alert(1)"},
        {"type": "queue.add", "content_id": "/\\evil.example/x.mp4"},
        {"type": "queue.add", "content_id": "https://example.com/page.html"},
        {"type": "queue.add", "content_id": {"$ne": None}},
        {"type": "queue.remove", "item_id": {"$ne": None}},
        {"type": "queue.move", "item_id": "0123456789ab", "to": "1"},
        {"type": "queue.next"},
        {"type": "queue.settings", "guests_may_queue": "yes"},
    ],
)
async def test_malformed_queue_frames_are_invalid(room, frame):
    """What creating a party refuses, and ill-typed fields, answer `invalid` and change nothing."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    try:
        await host.send_json_to(frame)
        error = await receive_type(host, "error")
        assert error["code"] == "invalid"
    finally:
        await host.disconnect()


async def test_guest_frames_are_refused_until_the_host_opens_the_queue(room):
    """A guest's queue.add is forbidden; after queue.settings opens the queue it is added."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    guest, _ = await joined(s, "guest")
    try:
        await guest.send_json_to({"type": "queue.add", "content_id": YOUTUBE})
        assert (await receive_type(guest, "error"))["code"] == "forbidden"
        await host.send_json_to({"type": "queue.settings", "guests_may_queue": True})
        assert (await receive_type(guest, "queue.state"))["guests_may_queue"] is True
        await receive_type(host, "queue.state")
        await guest.send_json_to({"type": "queue.add", "content_id": YOUTUBE})
        added = await receive_type(host, "queue.state")
        assert added["action"] == "added" and added["queue"][0]["added_by_name"] == "Guest"
        await guest.send_json_to({"type": "queue.play", "item_id": added["queue"][0]["id"]})
        assert (await receive_type(guest, "error"))["code"] == "forbidden"
    finally:
        await host.disconnect()
        await guest.disconnect()


@override_settings(PARTY_QUEUE_MAX_ITEMS=1)
async def test_a_full_queue_answers_queue_full(room):
    """One video past the bound answers `queue_full` with the bound in words."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    try:
        await host.send_json_to({"type": "queue.add", "content_id": YOUTUBE})
        await receive_type(host, "queue.state")
        await host.send_json_to({"type": "queue.add", "content_id": YOUTUBE})
        error = await receive_type(host, "error")
        assert error["code"] == "queue_full" and "at most 1" in error["detail"]
    finally:
        await host.disconnect()


@override_settings(QUEUE_RATE_LIMIT=(2, 60))
async def test_queue_frames_are_rate_limited(room):
    """The queue frames share QUEUE_RATE_LIMIT: the third in the window is rate_limited."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    try:
        for _ in range(2):
            await host.send_json_to({"type": "queue.add", "content_id": YOUTUBE})
            await receive_type(host, "queue.state")
        await host.send_json_to({"type": "queue.remove", "item_id": "0123456789ab"})
        assert (await receive_type(host, "error"))["code"] == "rate_limited"
    finally:
        await host.disconnect()


async def test_vote_to_skip_counts_then_skips_for_everyone(room):
    """At ratio 1 with two present, the guest's vote is heard as queue.votes (1 of 2); the host's
    vote then skips: both sockets switch to the next video."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    guest, state = await joined(s, "guest")
    try:
        current = state["party"]["current_item"]["id"]
        await host.send_json_to({"type": "queue.settings", "skip_ratio": 1})
        await host.send_json_to({"type": "queue.add", "content_id": YOUTUBE, "title": "Next"})
        for _ in range(2):
            await receive_type(guest, "queue.state")
        await guest.send_json_to({"type": "queue.vote_skip", "item_id": current})
        votes = await receive_type(host, "queue.votes")
        assert votes == {"type": "queue.votes", "item_id": current, "votes": [str(s["guest"].pk)], "needed": 2}
        await host.send_json_to({"type": "queue.vote_skip", "item_id": current})
        for socket in (host, guest):
            skipped = await receive_type(socket, "queue.state")
            while skipped["action"] != "vote_skipped":
                skipped = await receive_type(socket, "queue.state")
            assert skipped["current_item"]["title"] == "Next" and skipped["skip_votes"] == []
    finally:
        await host.disconnect()
        await guest.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "queue.vote_skip", "item_id": 5},
        {"type": "queue.settings", "skip_ratio": 1.5},
        {"type": "queue.settings", "skip_ratio": True},
        {"type": "queue.settings"},
    ],
)
async def test_malformed_vote_and_ratio_frames_are_invalid(room, frame):
    """A ratio outside 0-1, a non-number, no setting at all, or a non-string item id: `invalid`."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    try:
        await host.send_json_to(frame)
        assert (await receive_type(host, "error"))["code"] == "invalid"
    finally:
        await host.disconnect()


async def test_a_buffering_viewer_pauses_everyone_until_ready(room):
    """player.buffering from the guest: both sockets hear the party paused (by "wait") and who is
    buffering; player.ready: both hear it play on from the same position."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    guest, state = await joined(s, "guest")
    try:
        await host.send_json_to({"type": "playback.update", "state": "playing", "position": 5})
        for socket in (host, guest):
            await receive_type(socket, "playback.state")
        await guest.send_json_to({"type": "player.buffering", "item_id": state["party"]["current_item"]["id"]})
        for socket in (host, guest):
            paused = await receive_type(socket, "playback.state")
            assert paused["state"] == "paused" and paused["by"] == "wait"
            waiting = await receive_type(socket, "party.waiting")
            assert waiting["waiting"] == [{"user_id": str(s["guest"].pk), "user_name": "Guest"}] and waiting["until"]
        await guest.send_json_to({"type": "player.ready"})
        for socket in (host, guest):
            resumed = await receive_type(socket, "playback.state")
            assert resumed["state"] == "playing" and resumed["position"] == paused["position"]
            assert (await receive_type(socket, "party.waiting"))["waiting"] == []
    finally:
        await host.disconnect()
        await guest.disconnect()


@override_settings(PARTY_WAIT_TIMEOUT_SECONDS=1)
async def test_after_the_timeout_the_party_plays_on_without_the_slow_viewer(room):
    """A viewer who stays buffering is waited for PARTY_WAIT_TIMEOUT_SECONDS, then the party plays on."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    guest, state = await joined(s, "guest")
    try:
        await host.send_json_to({"type": "playback.update", "state": "playing", "position": 5})
        await receive_type(host, "playback.state")
        await guest.send_json_to({"type": "player.buffering", "item_id": state["party"]["current_item"]["id"]})
        assert (await receive_type(host, "playback.state"))["state"] == "paused"
        resumed = await receive_type(host, "playback.state", timeout=4)
        assert resumed["state"] == "playing" and resumed["by"] == "wait"
    finally:
        await host.disconnect()
        await guest.disconnect()
