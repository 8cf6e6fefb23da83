"""The party socket through a channel-layer outage, in-process: a stand-in layer that fails the way
channels-redis does when Redis goes away (and forgets its groups, as a restarted Redis does)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from rest_framework.authtoken.models import Token

from chat import repository as chat_repository
from parties import services as party_services
from parties.services import PartySettings
from tests.chat.wsutil import close_code, open_socket, receive_type

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
    return party, host, Token.objects.create(user=host).key, Token.objects.create(user=guest).key


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
            caught_up = await receive_type(communicator, "chat.message", timeout=5)
            assert caught_up["message"]["id"] == ack["message"]["id"]
        await host.send_json_to({"type": "chat.send", "message": "back", "client_id": "o2"})
        for communicator in (host, guest, late):
            frame = await receive_type(communicator, "chat.message", timeout=5)
            while frame["message"]["client_id"] != "o2":  # the guest's own catch-up may come first
                frame = await receive_type(communicator, "chat.message", timeout=5)
        assert await sync_to_async(chat_repository.count_for_party)(party.id) == 2
        await late.disconnect()
    finally:
        await host.disconnect()
        await guest.disconnect()


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
