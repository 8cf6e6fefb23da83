"""The real Redis: channel-layer fan-out and rate limits shared by every server process."""

import pytest
from asgiref.sync import sync_to_async

from core.errors import RateLimited
from core.ratelimit import RedisLimiter, check_rate
from parties import services as party_services
from parties.services import PartySettings
from tests.chat.wsutil import open_socket, receive_type
from tests.support import api_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


@pytest.fixture
def two_members(make_user):
    host, guest = make_user(display_name="Host"), make_user(display_name="Guest")
    party = party_services.party_create(user=host, data=PartySettings(content_id="film", content_type="live"))
    party_services.party_join(room_code=party.room_code, user=guest)
    return party, host, guest, api_token(host), api_token(guest)


async def test_two_sockets_receive_a_message_through_redis(redis_layer, two_members):
    """With each Redis channel layer both sockets of a party receive a message one of them sent."""
    from channels.layers import get_channel_layer

    layer = type(get_channel_layer())
    assert f"{layer.__module__}.{layer.__name__}" == redis_layer
    party, host, guest, host_token, guest_token = two_members
    a, connected_a = await open_socket(party.id, host_token)
    b, connected_b = await open_socket(party.id, guest_token)
    assert connected_a and connected_b
    try:
        await receive_type(a, "party.state")
        await receive_type(b, "party.state")
        await a.send_json_to({"type": "chat.send", "message": "through redis", "client_id": "r1"})
        for communicator in (a, b):
            assert (await receive_type(communicator, "chat.message"))["message"]["message"] == "through redis"
    finally:
        await a.disconnect()
        await b.disconnect()


async def test_http_message_reaches_sockets_through_redis(redis_layer, two_members, api_client):
    """A message posted over HTTP reaches the party's sockets through Redis, on each layer."""
    party, host, guest, host_token, _ = two_members
    socket, connected = await open_socket(party.id, host_token)
    assert connected
    try:
        await receive_type(socket, "party.state")
        response = await sync_to_async(api_client(guest).post)(
            f"/api/parties/{party.id}/messages/", {"message": "posted", "client_id": "p1"}, format="json"
        )
        assert response.status_code == 201
        assert (await receive_type(socket, "chat.message"))["message"]["id"] == response.json()["id"]
    finally:
        await socket.disconnect()


def test_rate_limit_is_shared_between_processes(redis_url):
    """Two limiters (as in two server processes) share one window in Redis."""
    first, second = RedisLimiter(redis_url), RedisLimiter(redis_url)
    assert first.hit([("shared-key", 2, 5)]) is None
    assert second.hit([("shared-key", 2, 5)]) is None
    retry = first.hit([("shared-key", 2, 5)])
    assert retry is not None and 0 < retry <= 5


def test_check_rate_uses_redis_when_configured(redis_url):
    """With REDIS_URL set, check_rate counts in Redis."""
    import redis

    check_rate("via-settings", (1, 10))
    with pytest.raises(RateLimited):
        check_rate("via-settings", (1, 10))
    assert redis.Redis.from_url(redis_url).exists("watchparty:rl:via-settings")
