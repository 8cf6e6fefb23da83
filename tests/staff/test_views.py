"""/metrics: who may read it, and what the counters count."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from parties import services as party_services
from parties.services import PartySettings
from tests.chat.wsutil import open_socket, receive_type
from tests.support import api_token

TOKEN = "metrics-token-for-tests"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def sample(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """The value of one sample in a /metrics body (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in (labels or {}).items()):
                return s.value
    return 0.0


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> str:
    response = client.get("/metrics", **AUTH)
    assert response.status_code == 200
    return response.content.decode()


def test_metrics_with_the_token_is_prometheus_text(client):
    """With `Authorization: Bearer <METRICS_TOKEN>` /metrics answers 200 in the Prometheus text format."""
    response = client.get("/metrics", **AUTH)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    for name in (
        "watchparty_mongodb_command_duration_seconds",
        "watchparty_websockets_open",
        "watchparty_messages_stored_total",
        "watchparty_messages_delivered_total",
        "watchparty_websocket_frames_rejected_total",
        "watchparty_message_broadcast_seconds",
    ):
        assert f"# HELP {name.removesuffix('_total')}" in body, name
    assert 'watchparty_websocket_frames_rejected_total{code="invalid"}' in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", "Bearer", f"Token {TOKEN}", f"Bearer {TOKEN}x", "Bearer métrique"],
)
def test_metrics_without_the_right_token_is_403(client, header):
    """Anonymous callers and wrong or malformed tokens get a 403 JSON error, never a redirect."""
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 403
    assert response.json() == {"code": "forbidden", "detail": "You are not allowed to see this."}


@pytest.mark.django_db
def test_no_token_configured_means_no_token_works(client, settings):
    """With METRICS_TOKEN unset, no bearer token opens /metrics (not even an empty one)."""
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 403


def test_metrics_for_staff_and_not_for_other_users(client, make_user):
    """A logged-in staff user reads /metrics; a logged-in non-staff user gets 403."""
    client.force_login(make_user())
    assert client.get("/metrics").status_code == 403
    client.force_login(make_user(is_staff=True))
    assert client.get("/metrics").status_code == 200


def test_message_sent_over_http_is_counted_as_stored(client, user, api_client):
    """A message sent with POST /api/parties/{id}/messages/ adds 1 to watchparty_messages_stored_total;
    a repeat of its client_id adds nothing."""
    party = party_services.party_create(user=user, data=PartySettings(content_id="film", content_type="vod"))
    before = scrape(client)
    api = api_client(user)
    url = f"/api/parties/{party.id}/messages/"
    assert api.post(url, {"message": "hi", "client_id": "m1"}, format="json").status_code == 201
    assert api.post(url, {"message": "hi", "client_id": "m1"}, format="json").status_code == 200
    after = scrape(client)
    assert sample(after, "watchparty_messages_stored_total") == sample(before, "watchparty_messages_stored_total") + 1
    broadcasts = "watchparty_message_broadcast_seconds_count"
    assert sample(after, broadcasts) == sample(before, broadcasts) + 1


@pytest.mark.django_db(transaction=True)
async def test_websocket_metrics(async_client, make_user):
    """Over a WebSocket: the open-socket gauge rises and falls, a delivered chat.message and a rejected
    frame are counted."""
    host = await sync_to_async(make_user)()
    party = await sync_to_async(party_services.party_create)(
        user=host, data=PartySettings(content_id="film", content_type="vod")
    )
    token = await sync_to_async(api_token)(host)

    async def scrape_async() -> str:
        response = await async_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        return response.content.decode()

    before = await scrape_async()
    communicator, connected = await open_socket(party.id, token)
    assert connected
    try:
        await receive_type(communicator, "party.state")
        opened = await scrape_async()
        assert sample(opened, "watchparty_websockets_open") == sample(before, "watchparty_websockets_open") + 1
        await communicator.send_json_to({"type": "chat.send", "message": "hello", "client_id": "w1"})
        await receive_type(communicator, "chat.message")
        await communicator.send_json_to({"type": "launch.missiles"})
        assert (await receive_type(communicator, "error"))["code"] == "invalid"
        during = await scrape_async()
        delivered = "watchparty_messages_delivered_total"
        assert sample(during, delivered) == sample(before, delivered) + 1
        stored = "watchparty_messages_stored_total"
        assert sample(during, stored) == sample(before, stored) + 1
        rejected = ("watchparty_websocket_frames_rejected_total", {"code": "invalid"})
        assert sample(during, *rejected) == sample(before, *rejected) + 1
        latency = "watchparty_message_delivery_seconds_count"
        assert sample(during, latency) == sample(before, latency) + 1
    finally:
        await communicator.disconnect()
    closed = await scrape_async()
    assert sample(closed, "watchparty_websockets_open") == sample(before, "watchparty_websockets_open")


@pytest.mark.django_db(transaction=True)
async def test_refused_socket_is_not_counted_as_open():
    """A socket closed at once for lack of authentication never counts as open."""

    def open_sockets() -> float:
        return REGISTRY.get_sample_value("watchparty_websockets_open")

    before = open_sockets()
    communicator, _ = await open_socket("65a1b2c3d4e5f60718293a4b", None)
    output = await communicator.receive_output(timeout=3)
    assert output["type"] == "websocket.close" and output["code"] == 4401
    assert open_sockets() == before
    await communicator.disconnect()
    assert open_sockets() == before


def test_scrape_reports_readiness_active_parties_and_the_socket_cap(client, user, settings):
    """Each scrape makes the readiness checks (watchparty_dependency_up), counts active parties and shows the cap."""
    settings.WEBSOCKET_MAX_SOCKETS_PER_PROCESS = 1234
    before = sample(scrape(client), "watchparty_parties_active")
    party_services.party_create(user=user, data=PartySettings(content_id="film", content_type="vod"))
    text = scrape(client)
    assert sample(text, "watchparty_parties_active") == before + 1
    assert sample(text, "watchparty_websockets_limit") == 1234
    assert sample(text, "watchparty_dependency_up", {"dependency": "mongodb"}) == 1
    assert sample(text, "watchparty_dependency_up", {"dependency": "channel_layer"}) == 1
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6390/0"]},
        }
    }
    assert sample(scrape(client), "watchparty_dependency_up", {"dependency": "channel_layer"}) == 0
