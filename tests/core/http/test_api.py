import pytest
from django.test import Client

from parties import services as party_services
from parties.services import PartySettings

NESTED_BODY = "[" * 1000 + "]" * 1000


@pytest.fixture
def production_client(settings):
    """A browser-less client against DEBUG off that sees 500s as responses, as a real client would."""
    settings.DEBUG = False
    return Client(raise_request_exception=False)


def test_nested_json_body_is_the_documented_400(user, production_client):
    """A deeply nested JSON body to any API endpoint is a JSON 400 ``invalid`` naming ``body``, not a 500."""
    party = party_services.party_create(user=user, data=PartySettings(content_id="film", content_type="vod"))
    production_client.force_login(user)
    for path in [
        "/api/parties/",
        "/api/parties/join/",
        f"/api/parties/{party.id}/messages/",
        "/api/auth/token/",
    ]:
        response = production_client.post(path, NESTED_BODY, content_type="application/json")
        assert response.status_code == 400, path
        body = response.json()
        assert body["code"] == "invalid" and body["detail"], path
        assert body["errors"]["body"], path


def test_nested_json_body_to_the_token_endpoint_anonymously(db, production_client):
    """The token endpoint, which has its own parsers, also answers an over-nested body with the JSON 400."""
    response = production_client.post("/api/auth/token/", NESTED_BODY, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "body" in response.json()["errors"]
