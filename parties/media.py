"""What a party's content_id may link to: the links the room's player can play.

A content_id is either a name (a live channel, a film's title: the room shows it and people
watch on their own screens) or a link. A link must be one the player plays, so that a party is
never created for a page that then shows "could not be loaded":

- a YouTube video (played through the YouTube IFrame Player API);
- a direct video file, by its extension: a path on this site, or an address the page's
  Content-Security-Policy lets <video> load (media-src, core.http.csp.media_sources(): by
  default https:, so a plain-http video on another host is refused here rather than blocked in
  the room).

A value is read as a browser reads it (the URL standard): tab and newline characters dropped,
leading and trailing spaces and controls stripped, a backslash taken as a slash. So a "path"
such as ``/\\evil.example/x.mp4`` (another host to a browser) is refused, and so are
``javascript:``, ``data:`` and ``vbscript:`` values, which are never names.

web/static/watchparty/js/player.js reads links the same way (youtubeId, mediaUrl).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from core.http.csp import media_sources, source_allows

# What <video> plays in current Chromium, Firefox and Safari without a script library. HLS
# (.m3u8) plays natively only in Safari, so it is not on the list.
PLAYABLE_EXTENSIONS = (".mp4", ".m4v", ".webm", ".ogv", ".ogg")
YOUTUBE_HOSTS = frozenset(
    {
        "youtube.com",
        "www.youtube.com",
        "m.youtube.com",
        "music.youtube.com",
        "youtube-nocookie.com",
        "www.youtube-nocookie.com",
    }
)
YOUTUBE_SHORT_HOSTS = frozenset({"youtu.be", "www.youtu.be"})
YOUTUBE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")
YOUTUBE_PATH_RE = re.compile(r"^/(?:embed|shorts|live|v)/([^/]+)/?$")

WHAT_PLAYS = (
    "Links that play: YouTube videos (youtube.com/watch?v=…, youtu.be/…, youtube.com/embed/… or "
    "/shorts/…) and video files ending in " + ", ".join(PLAYABLE_EXTENSIONS) + ". "
    "For anything else, give a name instead of a link and watch on your own screens."
)


# What a browser's URL parser drops (tab, newline) or strips from the ends (controls, space).
_URL_IGNORED = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
SCRIPT_SCHEMES_RE = re.compile(r"^(?:javascript|data|vbscript):", re.IGNORECASE)


def _as_browser_reads(value: str) -> str:
    return _URL_IGNORED.sub("", value).strip(_C0_AND_SPACE)


def is_script_url(value: str) -> bool:
    """A javascript:, data: or vbscript: address: code or a document, whatever it claims to be."""
    return bool(SCRIPT_SCHEMES_RE.match(_as_browser_reads(value)))


def is_link(value: str) -> bool:
    """Whether a content_id is meant as a link (rather than a channel or film name)."""
    text = _as_browser_reads(value).lower()
    return (
        "://" in text
        or "\\" in text
        or text.startswith(("/", "www.", "youtube.com/", "youtu.be/"))
        or is_script_url(text)
    )


def youtube_video_id(value: str) -> str | None:
    """The 11-character video id of a YouTube video link, or None."""
    try:
        url = urlsplit(value.strip())
    except ValueError:
        return None
    if url.scheme not in ("http", "https"):
        return None
    host = (url.hostname or "").lower()
    candidate = None
    if host in YOUTUBE_SHORT_HOSTS:
        candidate = url.path.strip("/")
    elif host in YOUTUBE_HOSTS:
        if url.path.rstrip("/") == "/watch":
            candidate = (parse_qs(url.query).get("v") or [""])[0]
        else:
            match = YOUTUBE_PATH_RE.match(url.path)
            candidate = match.group(1) if match else None
    return candidate if candidate and YOUTUBE_ID_RE.match(candidate) else None


def is_video_file(value: str) -> bool:
    """An http(s) link, or a path on this site, to a file <video> plays (by its extension)."""
    text = _as_browser_reads(value)
    if "\\" in text:
        return False  # a browser reads it as "/": "/\\host/x.mp4" is //host/x.mp4, another site
    try:
        url = urlsplit(text)
    except ValueError:
        return False
    if url.scheme in ("http", "https"):
        if not url.hostname:
            return False
    elif url.scheme or url.netloc or not text.startswith("/"):
        return False  # other schemes, protocol-relative (//host/...) and bare names
    return url.path.lower().endswith(PLAYABLE_EXTENSIONS)


def media_src_allows(value: str, *, site_origin: str | None = None) -> bool:
    """Whether the room's Content-Security-Policy (media-src) lets <video> load this video file:
    a path on this site, or an address on ``site_origin`` (scheme://host[:port]), under 'self';
    another address under one of the other sources."""
    sources = media_sources()
    text = _as_browser_reads(value)
    if text.startswith("/"):
        return "'self'" in sources
    url = urlsplit(text)
    if "'self'" in sources and site_origin and _origin(url) == _origin(urlsplit(site_origin)):
        return True
    return any(source_allows(source, url) for source in sources)


def _origin(url) -> tuple[str, str, int | None]:
    scheme = url.scheme.lower()
    return scheme, (url.hostname or "").lower(), url.port or {"http": 80, "https": 443}.get(scheme)


def what_media_src_allows() -> str:
    """The media-src sources in words, for the error message."""
    words = []
    for source in media_sources():
        if source == "'self'":
            words.append("a path on this site (/...)")
        elif source.endswith(":") and "/" not in source:
            words.append(f"any {source}// address")
        elif not source.startswith("'"):
            words.append(source)
    return ", ".join(words) or "nowhere"


def content_id_problem(value: str, *, site_origin: str | None = None) -> str | None:
    """Why a content_id cannot make a party, or None: the one rule the serializer applies.
    ``site_origin``: the origin the room page is served from ('self' in the policy)."""
    if is_script_url(value):
        return "javascript:, data: and vbscript: addresses are not allowed; give a name or a video link."
    if not is_link(value):
        return None
    if youtube_video_id(value) is not None:
        return None
    if not is_video_file(value):
        return f"This link does not play in the room. {WHAT_PLAYS}"
    if not media_src_allows(value, site_origin=site_origin):
        return (
            "The room's player is not allowed to load video from this address (its Content-Security-Policy). "
            f"Videos may come from: {what_media_src_allows()}."
        )
    return None


def is_playable_link(value: str, *, site_origin: str | None = None) -> bool:
    return youtube_video_id(value) is not None or (
        is_video_file(value) and media_src_allows(value, site_origin=site_origin)
    )
