"""The replay page, /parties/<id>/replay/: a shell for logged-in people (the history API decides
whose party it is, as for the room)."""

import pytest

pytestmark = pytest.mark.django_db

PARTY = "a" * 24


def test_the_replay_page_asks_for_a_login_first(client):
    """A visitor who is not logged in is sent to log in, and back here afterwards."""
    response = client.get(f"/parties/{PARTY}/replay/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/parties/{PARTY}/replay/"


@pytest.mark.parametrize("bad", ["not-an-id", "A" * 24, "a" * 23])
def test_a_malformed_party_id_is_404(client, user, bad):
    """Only a well-formed party id makes a replay page."""
    client.force_login(user)
    assert client.get(f"/parties/{bad}/replay/").status_code == 404


def test_the_replay_page_carries_the_party_and_its_script(client, user):
    """The page names the party for replay.js, links back to the room and runs no inline script."""
    client.force_login(user)
    response = client.get(f"/parties/{PARTY}/replay/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-party-id="{PARTY}"' in html and f'href="/parties/{PARTY}/"' in html
    assert "/static/watchparty/js/replay.js" in html
    assert client.post(f"/parties/{PARTY}/replay/").status_code == 405  # a page to read, nothing more
