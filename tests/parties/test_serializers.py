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
    "https://example.com/clip.WEBM?token=abc",
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
]
NAMES = ["film-42", "channel-7", "Friday film night", "BBC One", "BBC One: live", "Mission: Impossible"]
# Another host to a browser, whatever they look like here.
OTHER_HOST_PATHS = ["/\\evil.example/x.mp4", "/\t/evil.example/x.mp4", "\\\\evil.example/x.mp4"]
SCRIPT_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(1)//.mp4",
    " java\tscript:alert(1)",
    "data:text/html,<b>hi</b>",
    "data:video/mp4;base64,AAAA",
    "vbscript:msgbox(1)",
    "javascript://example.com/%0Aalert(1)//.mp4",
]


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


@pytest.mark.parametrize("content_id", OTHER_HOST_PATHS)
def test_paths_a_browser_reads_as_another_host_are_refused(content_id):
    """A "site path" with a backslash (or a tab) after the slash is another host to a browser: refused."""
    errors = validate(content_id).errors["content_id"]
    assert len(errors) == 1 and "does not play" in errors[0]


@pytest.mark.parametrize("content_id", SCRIPT_URLS)
def test_script_urls_are_refused_and_never_taken_as_names(content_id):
    """javascript:, data: and vbscript: values are refused at create with a reason naming them."""
    errors = validate(content_id).errors["content_id"]
    assert errors == ["javascript:, data: and vbscript: addresses are not allowed; give a name or a video link."]


def test_a_plain_http_video_on_another_host_is_refused_as_the_csp_would_block_it():
    """With the default media-src ('self' https:), an http:// video elsewhere is refused, saying where videos may come from."""
    errors = validate("http://example.com/clip.webm").errors["content_id"]
    assert len(errors) == 1
    assert "Content-Security-Policy" in errors[0] and "any https:// address" in errors[0]


def test_the_create_rule_follows_the_csp_media_src_setting(settings):
    """CSP_MEDIA_SRC is the one source: naming a host there admits its videos (and the policy sends it)."""
    settings.CSP_MEDIA_SRC = ("'self'", "https://cdn.example.com", "http://*.lan.example:8080")
    assert validate("https://cdn.example.com/film.mp4").errors == {}
    assert validate("http://tv.lan.example:8080/film.mp4").errors == {}
    assert validate("/static/e2e/clip.webm").errors == {}
    assert "content_id" in validate("https://other.example.com/film.mp4").errors
    assert "content_id" in validate("http://tv.lan.example/film.mp4").errors
    settings.CSP_MEDIA_SRC = ("https:",)
    assert "content_id" in validate("/static/e2e/clip.webm").errors
