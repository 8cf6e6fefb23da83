"""Party input rules: which content links are accepted at creation (parties/media.py)."""

import pytest

from parties.serializers import PartyCreateSerializer

PLAYABLE = [
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
    "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://youtu.be/dQw4w9WgXcQ",
    "https://youtu.be/dQw4w9WgXcQ?si=abc",
    "https://www.youtube.com/embed/dQw4w9WgXcQ",
    "https://www.youtube.com/shorts/dQw4w9WgXcQ",
    "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    "https://cdn.example.com/films/night.mp4",
    "http://example.com/clip.WEBM?token=abc",
    "https://example.com/a.ogv",
    "https://example.com/a.m4v#t=10",
    "/static/e2e/clip.webm",
]
NOT_PLAYABLE = [
    "https://example.com/watch/some-film",  # a web page
    "https://example.com/",
    "https://www.youtube.com/@somechannel",  # a YouTube page that is not one video
    "https://www.youtube.com/watch?v=short",
    "https://youtu.be/",
    "https://vimeo.com/123456",
    "https://example.com/live/stream.m3u8",  # HLS: only Safari plays it in <video>
    "ftp://example.com/film.mp4",
    "//example.com/film.mp4",
    "www.example.com/film",
    "javascript://example.com/%0Aalert(1)//.mp4",
]
NAMES = ["film-42", "channel-7", "Friday film night", "BBC One"]


def validate(content_id: str) -> PartyCreateSerializer:
    serializer = PartyCreateSerializer(data={"content_id": content_id, "content_type": "vod"})
    serializer.is_valid()
    return serializer


@pytest.mark.parametrize("content_id", PLAYABLE + NAMES)
def test_playable_links_and_plain_names_are_accepted(content_id):
    """YouTube video links, direct video files and names (no link) make a party."""
    serializer = validate(content_id)
    assert serializer.errors == {}
    assert serializer.validated_data["content_id"] == content_id


@pytest.mark.parametrize("content_id", NOT_PLAYABLE)
def test_links_that_do_not_play_are_refused_naming_what_plays(content_id):
    """A link the room cannot play is refused with a message that says which links play."""
    errors = validate(content_id).errors["content_id"]
    assert len(errors) == 1
    assert "does not play" in errors[0]
    assert "YouTube" in errors[0] and ".mp4" in errors[0] and ".webm" in errors[0]


def test_the_api_refuses_a_page_link_with_a_clear_400(user, api_client):
    """POST /api/parties/ with a web page link is a 400 whose message names what plays."""
    body = {"content_id": "https://example.com/watch/some-film", "content_type": "vod"}
    response = api_client(user).post("/api/parties/", body, format="json")
    assert response.status_code == 400
    message = response.json()["errors"]["content_id"][0]
    assert message.startswith("This link does not play in the room.")
    assert "youtu.be" in message
