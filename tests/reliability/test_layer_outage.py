"""The party socket through a channel-layer outage, in-process: a stand-in layer that fails the way
channels-redis does when Redis goes away (and forgets its groups, as a restarted Redis does)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from prometheus_client import REGISTRY

from accounts.tokens import user_for_token
from chat import repository as chat_repository
from chat import services as chat_services
from core.timeutil import utcnow
from parties import services as party_services
from parties.services import PartySettings
from tests.chat.wsutil import close_code, open_socket, receive, receive_type
from tests.support import api_token

pytestmark = pytest.mark.django_db(transaction=True)


class FlakyLayer(InMemoryChannelLayer):
    """An in-memory layer that can be taken down: every call then raises ConnectionError, a
    pending receive included; back up, it has forgotten every group membership."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.down = False
        self._went_down = asyncio.Event()

    def go_down(self):
        self.down = True
        self.groups.clear()
        self._went_down.set()

    def come_back(self):
        self.down = False
        self._went_down = asyncio.Event()

    def _check(self):
        if self.down:
            raise ConnectionError("Error 111 connecting to the layer. Connection refused.")

    async def receive(self, channel):
        self._check()
        receiving = asyncio.ensure_future(super().receive(channel))
        went_down = asyncio.ensure_future(self._went_down.wait())
        done, _ = await asyncio.wait({receiving, went_down}, return_when=asyncio.FIRST_COMPLETED)
        if receiving in done:
            went_down.cancel()
            return receiving.result()
        receiving.cancel()
        raise ConnectionError("Connection closed by server.")

    async def send(self, channel, message):
        self._check()
        await super().send(channel, message)

    async def group_add(self, group, channel):
        self._check()
        await super().group_add(group, channel)

    async def group_discard(self, group, channel):
        self._check()
        await super().group_discard(group, channel)

    async def group_send(self, group, message):
        self._check()
        await super().group_send(group, message)


@pytest.fixture
def flaky_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "tests.reliability.test_layer_outage.FlakyLayer"}}
    return get_channel_layer()


@pytest.fixture
def members(make_user):
    host, guest = make_user(display_name="Host"), make_user(display_name="Guest")
    party = party_services.party_create(user=host, data=PartySettings(content_id="film", content_type="vod"))
    party_services.party_join(room_code=party.room_code, user=guest)
    return party, host, api_token(host), api_token(guest)


def _client_ids(frame) -> set[str]:
    """The client_ids of the messages a frame carries (chat.message or party.state)."""
    messages = [frame["message"]] if frame["type"] == "chat.message" else frame.get("messages", [])
    return {m.get("client_id") for m in messages}


async def _joined(party_id, token):
    communicator, connected = await open_socket(party_id, token)
    assert connected
    await receive_type(communicator, "party.state")
    return communicator


async def test_messages_sent_during_an_outage_reach_everyone_once_the_layer_is_back(flaky_layer, members):
    """Messages sent while the channel layer is down reach everyone once it is back, with no reconnect."""
    party, _, host_token, guest_token = members
    host, guest = await _joined(party.id, host_token), await _joined(party.id, guest_token)
    try:
        await receive_type(host, "participant.joined")  # the guest's socket, announced before the outage
        flaky_layer.go_down()
        await guest.send_json_to({"type": "chat.send", "message": "anyone?", "client_id": "o1"})
        ack = await receive_type(guest, "chat.message", timeout=3)
        assert ack["message"]["client_id"] == "o1"
        assert await host.receive_nothing(timeout=0.5)
        late = await _joined(party.id, host_token)  # a socket opens during the outage too

        flaky_layer.come_back()
        for communicator in (host, late):
            caught_up = await receive_type(communicator, "party.state", timeout=5)
            assert ack["message"]["id"] in [m["id"] for m in caught_up["messages"]]
        await host.send_json_to({"type": "chat.send", "message": "back", "client_id": "o2"})
        for communicator in (host, guest, late):
            # The guest's socket may not be back in the group yet: its catch-up then brings "o2".
            while "o2" not in _client_ids(await receive(communicator, timeout=5)):
                pass
        assert await sync_to_async(chat_repository.count_for_party)(party.id) == 2
        await late.disconnect()
    finally:
        await host.disconnect()
        await guest.disconnect()


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_outage_metrics_show_sockets_waiting_and_their_catch_up(flaky_layer, members):
    """During an outage watchparty_channel_layer_outage_sockets counts the waiting socket; after it, the
    gauge is back to where it was and watchparty_channel_layer_catch_ups_total rose by one."""
    party, _, host_token, _ = members
    waiting, catch_ups = (
        _sample("watchparty_channel_layer_outage_sockets"),
        _sample("watchparty_channel_layer_catch_ups_total"),
    )
    host = await _joined(party.id, host_token)
    try:
        flaky_layer.go_down()
        for _ in range(50):
            if _sample("watchparty_channel_layer_outage_sockets") == waiting + 1:
                break
            await asyncio.sleep(0.02)
        assert _sample("watchparty_channel_layer_outage_sockets") == waiting + 1
        flaky_layer.come_back()
        await receive_type(host, "party.state", timeout=5)
        assert _sample("watchparty_channel_layer_outage_sockets") == waiting
        assert _sample("watchparty_channel_layer_catch_ups_total") == catch_ups + 1
        flaky_layer.go_down()
        await asyncio.sleep(0.1)
    finally:
        await host.disconnect()
    # A socket closed during an outage stops counting.
    assert _sample("watchparty_channel_layer_outage_sockets") == waiting
    flaky_layer.come_back()


async def test_a_party_that_ended_during_an_outage_closes_its_sockets_4000(flaky_layer, members):
    """A party ended while the channel layer was down closes its sockets with 4000 once the layer is back."""
    party, host_user, host_token, guest_token = members
    guest = await _joined(party.id, guest_token)
    try:
        flaky_layer.go_down()
        await asyncio.sleep(0.1)
        await sync_to_async(party_services.party_end)(party_id=party.id, user=host_user)
        flaky_layer.come_back()
        assert await close_code(guest, timeout=5) == 4000
    finally:
        await guest.disconnect()


async def test_closing_a_socket_during_an_outage_is_clean(flaky_layer, members):
    """A socket that closes while the channel layer is down closes without a server error."""
    party, _, host_token, _ = members
    host = await _joined(party.id, host_token)
    flaky_layer.go_down()
    await asyncio.sleep(0.1)
    await host.disconnect()  # re-raises any exception of the consumer
    flaky_layer.come_back()


@pytest.fixture
def people(members):
    """The members fixture with the users as well: (party, host, guest, host token)."""
    party, host, host_token, guest_token = members
    return party, host, user_for_token(guest_token)[0], host_token


async def test_the_catch_up_after_an_outage_carries_every_kind_of_change(flaky_layer, people):
    """After an outage a socket gets a fresh party.state with the playback, seats, reactions and deletions it
    missed, then the translations it missed."""
    party, host_user, guest_user, host_token = people
    send = sync_to_async(chat_services.message_send)
    kept = (await send(party_id=party.id, user=guest_user, text="keep", message_type="text", client_id="k")).message
    doomed = (await send(party_id=party.id, user=guest_user, text="doomed", message_type="text", client_id="d")).message
    host = await _joined(party.id, host_token)
    try:
        flaky_layer.go_down()
        await asyncio.sleep(0.1)
        await sync_to_async(chat_services.playback_update)(
            party_id=party.id, user=host_user, state="playing", position=42.0
        )
        await sync_to_async(chat_services.reaction_add)(
            party_id=party.id, message_id=kept.id, user=guest_user, emoji="👍"
        )
        await sync_to_async(chat_repository.set_translations)(
            party.id, kept.id, source_language="en", translations={"he": "לשמור", "fr": "garder"}
        )
        await sync_to_async(chat_services.message_delete_by_moderator)(
            party_id=party.id, message_id=doomed.id, moderator=host_user
        )
        during = await send(party_id=party.id, user=guest_user, text="during", message_type="text", client_id="x")
        await sync_to_async(party_services.party_leave)(party_id=party.id, user=guest_user)
        assert await host.receive_nothing(timeout=0.3)

        flaky_layer.come_back()
        state = await receive_type(host, "party.state", timeout=5)
        assert state["party"]["playback"]["state"] == "playing" and state["party"]["playback"]["position"] == 42.0
        assert [p["user_id"] for p in state["party"]["participants"]] == [str(host_user.pk)]
        by_id = {m["id"]: m for m in state["messages"]}
        assert list(by_id) == [kept.id, during.message.id]  # the deleted message is gone
        assert by_id[kept.id]["reactions"] == {"👍": [str(guest_user.pk)]}
        assert state["next_before"] is None
        translated = await receive(host, timeout=5)
        assert translated == {
            "type": "message.translated",
            "message_id": kept.id,
            "source_language": "en",
            "translations": {"he": "לשמור", "fr": "garder"},
        }
    finally:
        await host.disconnect()


def _store(party_id: str, count: int, *, at, prefix: str) -> list[str]:
    ids = []
    for i in range(count):
        message = chat_repository.insert_message(
            chat_repository.NewMessage(
                party_id=party_id, user_id="system", user_name="Watch Party", message=f"{prefix}{i}",
                message_type="system", client_id=None, timestamp=at + timedelta(milliseconds=i),
            )
        )  # fmt: skip
        ids.append(message.id)
    return ids


@pytest.mark.parametrize("during_outage", [3, 120])
async def test_the_catch_up_list_holds_the_outage_and_at_least_a_page(flaky_layer, members, settings, during_outage):
    """The catch-up's messages are every message stored since the outage began and at least the newest page,
    with next_before to page further back."""
    party, _, host_token, _ = members
    old = await sync_to_async(_store)(party.id, 60, at=utcnow() - timedelta(hours=1), prefix="old")
    host = await _joined(party.id, host_token)
    try:
        flaky_layer.go_down()
        await asyncio.sleep(0.1)
        new = await sync_to_async(_store)(party.id, during_outage, at=utcnow(), prefix="new")
        flaky_layer.come_back()
        state = await receive_type(host, "party.state", timeout=5)
        ids = [m["id"] for m in state["messages"]]
        expected = (old + new)[-max(settings.CHAT_HISTORY_PAGE_SIZE, during_outage) :]
        assert ids == expected
        assert state["next_before"] == expected[0]
    finally:
        await host.disconnect()
