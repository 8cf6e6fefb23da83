"""What a party's content_id may link to: the links the room's player can play.

A content_id is either a name (a live channel, a film's title: the room shows it and people
watch on their own screens) or a link. A link must be one the player plays, so that a party is
never created for a page that then shows "could not be loaded":

- a YouTube video (played through the YouTube IFrame Player API);
- a direct video file over http(s), or a path on this site, by its extension.

watchparty/static/watchparty/js/player.js reads links the same way (youtubeId, mediaUrl).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

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


def is_link(value: str) -> bool:
    """Whether a content_id is meant as a link (rather than a channel or film name)."""
    text = value.strip().lower()
    return "://" in text or text.startswith(("/", "www.", "youtube.com/", "youtu.be/"))


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
    text = value.strip()
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


def is_playable_link(value: str) -> bool:
    return youtube_video_id(value) is not None or is_video_file(value)
