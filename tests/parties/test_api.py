import pytest
from rest_framework.test import APIClient

from parties import services
from parties.services import PartySettings

VALID_CREATE = {"content_id": "film-42", "content_type": "vod", "content_title": "Heat"}

# Objects an attacker sends where a string belongs, hoping they reach a query as operators.
OPERATOR_OBJECTS = [
    {"$ne": None},
    {"$gt": ""},
    {"$regex": ".*"},
    {"$where": "sleep(1000)"},
    {"$exists": True},
    {"$in": ["ABC123"]},
    {"$nin": []},
    {"$expr": {"$eq": [1, 1]}},
    {"$or": [{"a": 1}]},
    {"$function": {"body": "return true", "args": [], "lang": "js"}},
    {"$elemMatch": {"user_id": "1"}},
    ["$ne", None],
]


def create_party(user, **overrides):
    return services.party_create(user=user, data=PartySettings(content_id="film-1", content_type="vod", **overrides))


def test_create_returns_party(user, api_client):
    """POST /api/parties/ returns 201 with the whole Party shape and the caller as host."""
    response = api_client(user).post("/api/parties/", VALID_CREATE, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "room_code",
        "host_id",
        "host_name",
        "content_id",
        "content_type",
        "content_title",
        "max_participants",
        "chat_enabled",
        "sync_playback",
        "participants",
        "participant_count",
        "co_host_ids",
        "muted_ids",
        "playback",
        "created_at",
        "started_at",
        "ended_at",
        "current_item",
        "queue",
        "guests_may_queue",
        "skip_ratio",
        "skip_votes",
        "wait_for_all",
        "waiting",
        "played",
    }
    assert body["host_id"] == str(user.pk)
    assert body["participant_count"] == 1
    assert body["max_participants"] == 10
    assert body["created_at"].endswith("Z") and body["ended_at"] is None
    assert body["participants"][0]["user_name"] == "Alice"
    assert len(body["id"]) == 24
    assert body["playback"] == {"state": "paused", "position": 0.0, "rate": 1.0, "updated_at": body["created_at"]}


@pytest.mark.parametrize(
    "field,value",
    [
        ("content_id", ""),
        ("content_id", "x" * 101),
        ("content_id", 42),
        ("content_type", "dvd"),
        ("content_type", 1),
        ("content_title", "t" * 201),
        ("max_participants", 1),
        ("max_participants", 51),
        ("max_participants", "10"),
        ("max_participants", True),
        ("chat_enabled", 1),
    ],
)
def test_create_rejects_out_of_bounds(user, api_client, field, value):
    """Each create field is bounded; a bad value is a 400 naming the field."""
    response = api_client(user).post("/api/parties/", {**VALID_CREATE, field: value}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


def test_create_cleans_control_characters(user, api_client):
    """Control characters in the title are removed before storing."""
    response = api_client(user).post(
        "/api/parties/", {**VALID_CREATE, "content_title": "Heat\x00\u202e (1995)"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["content_title"] == "Heat (1995)"


def test_malformed_json_is_400(user, api_client):
    """A body that is not JSON is a 400 in the error format."""
    response = api_client(user).post("/api/parties/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_unauthenticated_is_401_not_redirect(api_client):
    """Anonymous API calls get 401, never a redirect to the login page."""
    response = api_client().get("/api/parties/")
    assert response.status_code == 401
    assert "Location" not in response.headers


def test_token_auth_flow(make_user):
    """A script gets a token with username and password and uses it on the API."""
    make_user(username="scripter")
    client = APIClient()
    token = client.post("/api/auth/token/", {"username": "scripter", "password": "pw-for-tests-1"}, format="json")
    assert token.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert client.get("/api/parties/").status_code == 200


def test_token_wrong_password_is_400(make_user):
    """Wrong credentials give no token."""
    make_user(username="scripter")
    response = APIClient().post("/api/auth/token/", {"username": "scripter", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert "token" not in response.json()


def test_get_party_member_only(user, make_user, api_client):
    """A member reads the party; an outsider gets 404."""
    party = create_party(user)
    assert api_client(user).get(f"/api/parties/{party.id}/").status_code == 200
    assert api_client(make_user()).get(f"/api/parties/{party.id}/").status_code == 404


def test_get_party_tells_a_removed_user_they_were_removed(user, make_user, api_client):
    """Someone the host removed gets 403 `banned` for the party, not 404; after an unban, 404 again."""
    party = create_party(user)
    guest = make_user()
    services.party_join(room_code=party.room_code, user=guest)
    services.participant_remove(party_id=party.id, user=user, target_id=str(guest.pk))
    response = api_client(guest).get(f"/api/parties/{party.id}/")
    assert response.status_code == 403
    assert response.json()["code"] == "banned"
    services.participant_unban(party_id=party.id, user=user, target_id=str(guest.pk))
    assert api_client(guest).get(f"/api/parties/{party.id}/").status_code == 404


@pytest.mark.parametrize(
    "bad_id", ["123", "zzzzzzzzzzzzzzzzzzzzzzzz", "507F1F77BCF86CD799439011", "507f1f77bcf86cd7994390111", "%24ne"]
)
def test_malformed_ids_are_400(user, api_client, bad_id):
    """Ids that are not 24 lowercase hex characters are a 400 on every party path."""
    client = api_client(user)
    for method, path in [
        ("get", f"/api/parties/{bad_id}/"),
        ("post", f"/api/parties/{bad_id}/leave/"),
        ("post", f"/api/parties/{bad_id}/end/"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 400, path
        assert response.json()["code"] == "invalid"


def test_join_flow(user, make_user, api_client):
    """Join by code (any case), join again without a second seat, then a full party is 409."""
    party = create_party(user, max_participants=2)
    guest = make_user()
    client = api_client(guest)
    first = client.post("/api/parties/join/", {"room_code": party.room_code.lower()}, format="json")
    assert first.status_code == 200 and first.json()["participant_count"] == 2
    again = client.post("/api/parties/join/", {"room_code": party.room_code}, format="json")
    assert again.status_code == 200 and again.json()["participant_count"] == 2
    full = api_client(make_user()).post("/api/parties/join/", {"room_code": party.room_code}, format="json")
    assert full.status_code == 409 and full.json()["code"] == "party_full"


def test_join_unknown_code_is_404(user, api_client):
    """A code no active party holds is a 404."""
    response = api_client(user).post("/api/parties/join/", {"room_code": "ZZZZZZ"}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("code", ["ABC", "ABCDEFG", "ABC-12", "ÄBC123", ""])
def test_join_bad_code_is_400(user, api_client, code):
    """A room code must be 6 letters and digits."""
    response = api_client(user).post("/api/parties/join/", {"room_code": code}, format="json")
    assert response.status_code == 400 and "room_code" in response.json()["errors"]


def test_join_rate_limited_is_429(user, make_user, api_client, settings):
    """Too many joins answer 429 with rate_limited and retry_after."""
    settings.JOIN_RATE_LIMIT = (2, 60)
    party = create_party(user)
    client = api_client(make_user())
    for _ in range(2):
        client.post("/api/parties/join/", {"room_code": party.room_code}, format="json")
    response = client.post("/api/parties/join/", {"room_code": party.room_code}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited" and response.json()["retry_after"] >= 1
    assert int(response.headers["Retry-After"]) >= 1


def test_create_past_the_active_party_cap_is_409(user, api_client, settings):
    """Creating one party more than PARTY_MAX_ACTIVE_PER_HOST answers 409 ``party_limit`` and creates nothing."""
    settings.PARTY_MAX_ACTIVE_PER_HOST = 2
    client = api_client(user)
    for _ in range(2):
        assert client.post("/api/parties/", VALID_CREATE, format="json").status_code == 201
    response = client.post("/api/parties/", VALID_CREATE, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "party_limit" and response.json()["detail"]
    assert len(client.get("/api/parties/").json()["results"]) == 2


def test_leave_and_end(user, make_user, api_client):
    """A guest leaves (204); a guest cannot end (403); the host ends (200 with ended_at)."""
    party = create_party(user)
    guest = make_user()
    services.party_join(room_code=party.room_code, user=guest)
    assert api_client(guest).post(f"/api/parties/{party.id}/end/").status_code == 403
    assert api_client(guest).post(f"/api/parties/{party.id}/leave/").status_code == 204
    ended = api_client(user).post(f"/api/parties/{party.id}/end/")
    assert ended.status_code == 200 and ended.json()["ended_at"].endswith("Z")


def test_list_parameters(user, api_client):
    """The list takes include_ended and a limit of 1-100."""
    for _ in range(3):
        create_party(user)
    client = api_client(user)
    assert len(client.get("/api/parties/?limit=2").json()["results"]) == 2
    assert client.get("/api/parties/?limit=0").status_code == 400
    assert client.get("/api/parties/?limit=101").status_code == 400
    assert client.get("/api/parties/?include_ended=maybe").status_code == 400


@pytest.mark.parametrize("payload", OPERATOR_OBJECTS, ids=lambda p: str(p)[:30])
def test_operator_objects_are_refused_everywhere(user, make_user, api_client, payload):
    """An operator object where a string belongs is a 400 on every endpoint that takes a string."""
    client = api_client(user)
    cases = [
        ("/api/parties/", {**VALID_CREATE, "content_id": payload}, "content_id"),
        ("/api/parties/", {**VALID_CREATE, "content_type": payload}, "content_type"),
        ("/api/parties/", {**VALID_CREATE, "content_title": payload}, "content_title"),
        ("/api/parties/join/", {"room_code": payload}, "room_code"),
    ]
    for path, body, field in cases:
        response = client.post(path, body, format="json")
        assert response.status_code == 400, (path, field)
        assert field in response.json()["errors"], (path, field)
    make_user(username="victim")
    for field in ("username", "password"):
        body = {"username": "victim", "password": "pw-for-tests-1", field: payload}
        response = APIClient().post("/api/auth/token/", body, format="json")
        assert response.status_code == 400, field


def test_schema_documents_party_endpoints(api_client):
    """GET /api/schema/ is the OpenAPI document with every party endpoint."""
    response = api_client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    import json

    import yaml

    content = response.content.decode()
    document = json.loads(content) if content.lstrip().startswith("{") else yaml.safe_load(content)
    paths = document["paths"]
    for path in [
        "/api/parties/",
        "/api/parties/{party_id}/",
        "/api/parties/join/",
        "/api/parties/{party_id}/leave/",
        "/api/parties/{party_id}/end/",
        "/api/auth/token/",
    ]:
        assert path in paths, path
    assert {"get", "post"} <= set(paths["/api/parties/"])


def test_removed_private_and_audio_flags_are_ignored_and_never_stored(user, api_client):
    """is_private and audio_enabled did nothing and are gone: an old client sending them still
    creates its party, and neither is stored nor returned."""
    from core.db.client import get_db

    response = api_client(user).post(
        "/api/parties/", {**VALID_CREATE, "is_private": False, "audio_enabled": False}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert "is_private" not in body and "audio_enabled" not in body
    stored = get_db()["parties"].find_one({"room_code": body["room_code"]})
    assert "is_private" not in stored and "audio_enabled" not in stored


def test_parties_stored_with_the_old_flags_still_read(user, api_client):
    """A party document written before the flags were removed still reads and renders."""
    from core.db.client import get_db

    party = create_party(user)
    get_db()["parties"].update_one(
        {"room_code": party.room_code}, {"$set": {"is_private": True, "audio_enabled": True}}
    )
    response = api_client(user).get(f"/api/parties/{party.id}/")
    assert response.status_code == 200 and "is_private" not in response.json()


def test_create_form_has_no_private_option(user, client):
    """The home page's create form no longer offers the Private checkbox (it did nothing)."""
    client.force_login(user)
    page = client.get("/").content.decode()
    assert 'name="chat_enabled"' in page and 'name="is_private"' not in page


def test_host_cannot_leave_over_http_until_they_hand_over(user, api_client, make_user):
    """POST leave by the host is 403 and keeps their seat; after host.transfer it is 204."""
    party = create_party(user)
    guest = make_user()
    services.party_join(room_code=party.room_code, user=guest)
    response = api_client(user).post(f"/api/parties/{party.id}/leave/")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    services.host_transfer(party_id=party.id, user=user, target_id=str(guest.pk))
    assert api_client(user).post(f"/api/parties/{party.id}/leave/").status_code == 204


def test_a_plain_http_video_on_this_site_itself_is_accepted_by_its_full_address(user, api_client):
    """'self' in media-src: an http:// address of the site the request came to plays, another http host does not."""
    client = api_client(user)
    ok = client.post(
        "/api/parties/", {"content_id": "http://testserver/static/e2e/clip.webm", "content_type": "vod"}, format="json"
    )
    assert ok.status_code == 201, ok.json()
    other = client.post(
        "/api/parties/", {"content_id": "http://other.example/clip.webm", "content_type": "vod"}, format="json"
    )
    assert other.status_code == 400 and "Content-Security-Policy" in other.json()["errors"]["content_id"][0]
