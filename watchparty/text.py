"""Text cleaning rules shared by every input path (HTTP, WebSocket, forms, admin)."""

from __future__ import annotations

import re

# C0 and C1 control characters, DEL included.
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# C0/C1 controls except newline and tab, which chat messages may carry.
_CONTROL_CHARS_EXCEPT_NEWLINE_TAB = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embedding/override (U+202A-U+202E) and isolate (U+2066-U+2069) controls: they let a
# message re-order the text around it. Plain marks (LRM/RLM) are harmless and kept.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_DISPLAY_NAME_FORBIDDEN = re.compile(r"[<>'\"&]")

DISPLAY_NAME_MAX_LENGTH = 50


def clean_display_name(name: str) -> str:
    """A user's display name with markup characters and control characters removed."""
    name = _CONTROL_CHARS.sub("", name)
    name = _BIDI_CONTROLS.sub("", name)
    name = _DISPLAY_NAME_FORBIDDEN.sub("", name)
    return name.strip()[:DISPLAY_NAME_MAX_LENGTH]


def clean_single_line(text: str) -> str:
    """A short label (content id, title): every control character and bidi override removed."""
    return _BIDI_CONTROLS.sub("", _CONTROL_CHARS.sub("", text)).strip()


def clean_message_text(text: str) -> str:
    """Chat text as stored: control characters (but newline and tab) and bidi overrides removed,
    surrounding white space stripped. Everything else passes through unchanged."""
    text = _CONTROL_CHARS_EXCEPT_NEWLINE_TAB.sub("", text)
    text = _BIDI_CONTROLS.sub("", text)
    return text.strip()


def user_display_name(user) -> str:
    """The name other participants see: the cleaned full name, else the username."""
    name = clean_display_name(user.get_full_name() or "")
    return name or clean_display_name(user.get_username()) or f"user{user.pk}"
