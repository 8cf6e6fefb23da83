import pytest

from chat import services as chat_services
from parties import services as party_services
from parties.services import PartySettings
from tests.parties.test_api import OPERATOR_OBJECTS

MID = "65a1b2c3d4e5f60718293a4b"


@pytest.fixture
def party(user):
    return party_services.party_create(user=user, data=PartySettings(content_id="film", content_type="vod"))


def test_post_and_page_messages(user, api_client, party):
    """Messages posted over HTTP come back newest page first, oldest first within it."""
    client = api_client(user)
    ids = []
    for i in range(5):
        response = client.post(
            f"/api/parties/{party.id}/messages/", {"message": f"m{i}", "client_id": f"c{i}"}, format="json"
        )
        assert response.status_code == 201
        ids.append(response.json()["id"])
    page = client.get(f"/api/parties/{party.id}/messages/?limit=3").json()
    assert [m["id"] for m in page["results"]] == ids[2:] and page["next_before"] == ids[2]
    older = client.get(f"/api/parties/{party.id}/messages/?limit=3&before={page['next_before']}").json()
    assert [m["id"] for m in older["results"]] == ids[:2] and older["next_before"] is None
    body = page["results"][0]
    assert set(body) == {
        "id",
        "party_id",
        "user_id",
        "user_name",
        "message",
        "message_type",
        "source_language",
        "translations",
        "reactions",
        "client_id",
        "timestamp",
        "edited_at",
        "reply_to",
        "mentions",
        "at",
    }
    assert body["timestamp"].endswith("Z")
    assert body["at"] is None  # a name ("film") plays no video: no moment in one


def test_repeated_client_id_over_http(user, api_client, party):
    """A repeated client_id answers 200 with the stored message and stores nothing new."""
    client = api_client(user)
    first = client.post(f"/api/parties/{party.id}/messages/", {"message": "hi", "client_id": "dup"}, format="json")
    second = client.post(f"/api/parties/{party.id}/messages/", {"message": "hi", "client_id": "dup"}, format="json")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert len(client.get(f"/api/parties/{party.id}/messages/").json()["results"]) == 1


def test_messages_are_for_members_only(make_user, api_client, party):
    """An outsider can neither read nor post messages (404)."""
    outsider = api_client(make_user())
    assert outsider.get(f"/api/parties/{party.id}/messages/").status_code == 404
    assert outsider.post(f"/api/parties/{party.id}/messages/", {"message": "hi"}, format="json").status_code == 404


def test_reactions_over_http(user, api_client, party):
    """POST adds a reaction, DELETE takes it back; both answer with the reactions."""
    client = api_client(user)
    message_id = client.post(f"/api/parties/{party.id}/messages/", {"message": "hi"}, format="json").json()["id"]
    url = f"/api/parties/{party.id}/messages/{message_id}/reactions/"
    added = client.post(url, {"emoji": "❤️"}, format="json")
    assert added.status_code == 200 and added.json() == {"message_id": message_id, "reactions": {"❤️": [str(user.pk)]}}
    removed = client.delete(url, {"emoji": "❤️"}, format="json")
    assert removed.status_code == 200 and removed.json()["reactions"] == {}
    assert client.post(url, {"emoji": "not emoji"}, format="json").status_code == 400
    assert (
        client.post(f"/api/parties/{party.id}/messages/{MID}/reactions/", {"emoji": "👍"}, format="json").status_code
        == 404
    )


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "before=xyz", "lang=english", "lang=en_US", "before=%7B%22%24ne%22%3Anull%7D"]
)
def test_bad_history_queries_are_400(user, api_client, party, query):
    """Bad paging parameters are a 400, never a query."""
    response = api_client(user).get(f"/api/parties/{party.id}/messages/?{query}")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_malformed_ids_are_400(user, api_client, party):
    """Malformed party or message ids are a 400 on every chat path."""
    client = api_client(user)
    assert client.get("/api/parties/nope/messages/").status_code == 400
    assert client.post("/api/parties/nope/messages/", {"message": "x"}, format="json").status_code == 400
    assert (
        client.post(f"/api/parties/{party.id}/messages/nope/reactions/", {"emoji": "👍"}, format="json").status_code
        == 400
    )


@pytest.mark.parametrize("payload", OPERATOR_OBJECTS, ids=lambda p: str(p)[:30])
def test_operator_objects_are_refused(user, api_client, party, payload):
    """Operator objects where chat strings belong are a 400."""
    client = api_client(user)
    message_id = chat_services.system_message_send(party_id=party.id, text="x").id
    cases = [
        (f"/api/parties/{party.id}/messages/", {"message": payload}, "message"),
        (f"/api/parties/{party.id}/messages/", {"message": "x", "message_type": payload}, "message_type"),
        (f"/api/parties/{party.id}/messages/", {"message": "x", "client_id": payload}, "client_id"),
        (f"/api/parties/{party.id}/messages/{message_id}/reactions/", {"emoji": payload}, "emoji"),
    ]
    for path, body, field in cases:
        response = client.post(path, body, format="json")
        assert response.status_code == 400, (path, field)
        assert field in response.json()["errors"], (path, field)


def test_schema_documents_chat_endpoints(api_client):
    """The OpenAPI document includes the message and reaction endpoints."""
    import yaml

    document = yaml.safe_load(api_client().get("/api/schema/").content)
    assert "/api/parties/{party_id}/messages/" in document["paths"]
    assert {"post", "delete"} <= set(document["paths"]["/api/parties/{party_id}/messages/{message_id}/reactions/"])


def test_post_a_reply_over_http(user, api_client, party):
    """The HTTP send takes reply_to as chat.send does: the reply quotes; a bad id is a 400."""
    client = api_client(user)
    url = f"/api/parties/{party.id}/messages/"
    original = client.post(url, {"message": "first"}, format="json").json()
    reply = client.post(url, {"message": "second", "reply_to": original["id"]}, format="json")
    assert reply.status_code == 201 and reply.json()["reply_to"]["text"] == "first"
    bad = client.post(url, {"message": "third", "reply_to": "nope"}, format="json")
    assert bad.status_code == 400 and "reply_to" in bad.json()["errors"]
