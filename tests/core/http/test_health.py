"""Health endpoints: /health/ready against real outages, and the staff-only /health/database."""

from __future__ import annotations

import pytest
from django.test import override_settings

from chat import services as chat_services
from core.db import client as mongo
from core.db.indexes import declared_indexes, describe_indexes
from parties import services as party_services
from parties.services import PartySettings

UNREACHABLE_MONGODB = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200"
UNREACHABLE_REDIS = "redis://127.0.0.1:6390/0"


@pytest.fixture
def mongodb_down():
    """Settings that point at a MongoDB nobody answers (restored, and its client closed, afterwards)."""
    with override_settings(MONGODB_URI=UNREACHABLE_MONGODB, MONGODB_SERVER_SELECTION_TIMEOUT_MS=200):
        yield
    client = mongo._clients.pop(UNREACHABLE_MONGODB, None)
    if client is not None:
        client.close()


def assert_no_error_text(response):
    text = response.content.decode()
    for fragment in ("Traceback", "Error", "Exception", "refused", "127.0.0.1", "6390"):
        assert fragment not in text, text


def test_live_answers_ok(client):
    """/health/live answers 200 {"status": "ok"}."""
    response = client.get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_follows_a_real_redis_going_away_and_coming_back(client, settings, redis_url):
    """/health/ready is 200 on a real Redis, 503 naming channel_layer when Redis is unreachable, 200 again after."""
    real_layers = settings.CHANNEL_LAYERS
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"mongodb": "ok", "channel_layer": "ok"}}

    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [UNREACHABLE_REDIS]}}
    }
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "down", "checks": {"mongodb": "ok", "channel_layer": "down"}}
    assert_no_error_text(response)

    settings.CHANNEL_LAYERS = real_layers
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"mongodb": "ok", "channel_layer": "ok"}


def test_ready_is_503_when_mongodb_does_not_answer(client, mongodb_down):
    """/health/ready is 503 naming mongodb when the MongoDB server is unreachable, without the error text."""
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "down", "checks": {"mongodb": "down", "channel_layer": "ok"}}
    assert_no_error_text(response)


@pytest.mark.django_db
def test_database_report_is_403_for_anonymous(client):
    """Anonymous callers get a 403 JSON error from /health/database, not a login redirect."""
    response = client.get("/health/database")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_database_report_is_403_for_non_staff(client, user):
    """A logged-in user who is not staff gets 403 from /health/database."""
    client.force_login(user)
    response = client.get("/health/database")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_database_report_for_staff(client, make_user):
    """Staff see the number of active parties, of stored messages, and each collection's index names."""
    host = make_user()
    active = party_services.party_create(user=host, data=PartySettings(content_id="a", content_type="vod"))
    ended = party_services.party_create(user=host, data=PartySettings(content_id="b", content_type="live"))
    party_services.party_end(party_id=ended.id, user=host)
    for i in range(3):
        chat_services.message_send(party_id=active.id, user=host, text=f"m{i}", message_type="text", client_id=f"c{i}")

    client.force_login(make_user(is_staff=True))
    response = client.get("/health/database")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["active_parties"] == 1
    assert body["total_messages"] == 3
    for spec in declared_indexes():
        names = [index["name"] for index in body["indexes"][spec.collection]]
        assert spec.name in names
        assert names[0] == "_id_"


def test_database_report_is_503_when_mongodb_does_not_answer(client, make_user, mongodb_down):
    """With MongoDB unreachable, /health/database answers 503 `unavailable` without the error text."""
    client.force_login(make_user(is_staff=True))
    response = client.get("/health/database")
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert_no_error_text(response)


def test_describe_indexes_lists_every_declared_index(mongo_db):
    """describe_indexes gives, per collection, each index's name, keys, unique, partial filter and TTL."""
    described = describe_indexes(mongo_db)
    for spec in declared_indexes():
        [entry] = [e for e in described[spec.collection] if e["name"] == spec.name]
        assert set(entry) == {"name", "keys", "unique", "partialFilterExpression", "expireAfterSeconds"}
        assert [tuple(pair) for pair in entry["keys"]] == list(spec.keys)
        assert entry["unique"] is spec.unique
        options = spec.options()
        assert entry["expireAfterSeconds"] == options.get("expireAfterSeconds")
        if spec.partial_filter is None:
            assert entry["partialFilterExpression"] is None
        else:
            assert entry["partialFilterExpression"] in (spec.partial_filter, {"ended_at": {"$eq": None}})


def _api_token(client, user) -> str:
    """An API token of ``user``, obtained as an app obtains one (POST /api/auth/token/)."""
    response = client.post(
        "/api/auth/token/", {"username": user.username, "password": "pw-for-tests-1"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


@pytest.mark.parametrize("path", ["/health/database", "/metrics"])
def test_operations_endpoints_answer_the_metrics_token_and_staff_api_tokens(client, make_user, settings, path):
    """A monitor can poll /health/database and /metrics with the metrics token or a staff member's API token;
    a non-staff API token, a wrong token and a deactivated staff member's token get 403."""
    settings.METRICS_TOKEN = "monitor-token-for-tests"
    assert client.get(path, HTTP_AUTHORIZATION="Bearer monitor-token-for-tests").status_code == 200
    staff = make_user(is_staff=True)
    staff_token = _api_token(client, staff)
    assert client.get(path, HTTP_AUTHORIZATION=f"Token {staff_token}").status_code == 200
    other_token = _api_token(client, make_user())
    response = client.get(path, HTTP_AUTHORIZATION=f"Token {other_token}")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert client.get(path, HTTP_AUTHORIZATION="Token not-a-token").status_code == 403
    assert client.get(path, HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    staff.is_active = False
    staff.save()
    assert client.get(path, HTTP_AUTHORIZATION=f"Token {staff_token}").status_code == 403
