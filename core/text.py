"""Text cleaning rules shared by every input path (HTTP, WebSocket, forms, admin)."""

from __future__ import annotations

import html
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


# --- Executable markup -------------------------------------------------------------------------
# Chat text is stored and sent as text; clients render it as text. What is refused here is only
# what would run if some client ever put a message into HTML: script-bearing elements, event
# handler attributes, and script URLs. Markup-looking text (a < b, <3, <b>bold</b>) is accepted.

# Elements that load or run code, or re-target/reload the page, whatever their attributes.
_DANGEROUS_ELEMENTS = (
    "script",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "portal",
    "meta",
    "base",
    "link",
    "style",
)
# The opening of one: "<", optional "/", the name, then the end of the name (as an HTML
# tokenizer ends it: white space, "/", ">" or the end of the text). White space after "<" is
# tolerated too, which a browser would not, so a lenient renderer is covered as well.
_DANGEROUS_ELEMENT_RE = re.compile(r"<\s*/?\s*(" + "|".join(_DANGEROUS_ELEMENTS) + r")(?![^\s/>])", re.IGNORECASE)
# What opens a tag for an HTML tokenizer: "<" or "</" directly followed by an ASCII letter; the
# name runs up to white space, "/" or ">". "a < b onion = x" is text to every HTML parser, and
# is not read as a tag here either (only the dangerous elements above are looked for leniently).
_TAG_OPEN_RE = re.compile(r"</?[a-zA-Z][^\s/>]*")
# Inside a tag, HTML's attribute syntax: separators, a name (which may start with "="), then an
# optional "= value", the value double-quoted, single-quoted (both may run to the end of the
# text, unterminated) or unquoted (up to white space or ">").
_ATTR_SEPARATOR_RE = re.compile(r"[\s/]*")
_ATTR_NAME_RE = re.compile(r"=?[^\s/>=]*")
_ATTR_VALUE_RE = re.compile(r"""\s*=\s*(?:"([^"]*)"?|'([^']*)'?|([^\s>]*))""")
_EVENT_HANDLER_NAME_RE = re.compile(r"on[a-z]+")
# Attributes whose value is a URL a browser may navigate to, load or run.
_URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "data",
        "xlink:href",
        "background",
        "poster",
        "lowsrc",
        "dynsrc",
        "codebase",
        "cite",
        "ping",
        "srcset",
        "longdesc",
        "manifest",
        "icon",
        "profile",
        "usemap",
        "classid",
        "archive",
        "code",
        "from",
        "to",
        "values",
        "by",
        "content",
    }
)
# CSS that runs script in old browsers: expression(), -moz-binding, behavior.
_SCRIPTED_STYLE_RE = re.compile(r"expression\(|-moz-binding|behavior:")
_CSS_COMMENT_RE = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)
_CSS_NOISE_RE = re.compile(r"[\s\\]+")

# Characters a URL parser drops or that hide inside a word unseen: C0/C1 controls (tab and
# newline among them: "java\tscript:" is still javascript:), soft hyphen, zero-width and other
# invisible format characters, variation selectors, BOM. A plain space is not among them: a
# browser does not read "java script:" as a scheme.
_SCHEME_JUNK = "[\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufe00-\\ufe0f\\ufeff]*"


def _spelled(word: str) -> str:
    """A pattern for `word` with junk characters allowed between its characters."""
    return _SCHEME_JUNK.join(re.escape(char) for char in word)


# A scheme starts a URL: not preceded by a character that could belong to a longer scheme name
# ("myjavascript:" is another scheme, "1javascript:" no scheme at all).
_SCHEME_START = r"(?<![a-z0-9+.\-])"
_SCRIPT_SCHEME_RE = re.compile(
    _SCHEME_START
    + "(?:"
    + "|".join(f"(?P<{name}>{_spelled(name)}{_SCHEME_JUNK}:)" for name in ("javascript", "vbscript", "livescript"))
    + ")",
    re.IGNORECASE,
)
# data: URLs whose document runs script: HTML, XHTML, SVG. White space is allowed after "data:"
# (a data: URL's type is trimmed) but "data: the numbers" is not a data URL of any of them.
_DATA_DOCUMENT_RE = re.compile(
    _SCHEME_START
    + _spelled("data:")
    + r"[\s\x00-\x1f\x7f-\x9f]*"
    + "(?:"
    + "|".join(_spelled(mime) for mime in ("text/html", "application/xhtml+xml", "image/svg+xml"))
    + ")",
    re.IGNORECASE,
)
# How many rounds of entity decoding to look through (&amp;#106; is j after two).
_MAX_UNESCAPE_ROUNDS = 3


def _decoded_forms(text: str) -> list[str]:
    """`text` and each distinct form of it after successive rounds of HTML entity decoding."""
    forms = [text]
    for _ in range(_MAX_UNESCAPE_ROUNDS):
        if "&" not in forms[-1]:
            break
        decoded = html.unescape(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms


def _script_url_reason(text: str) -> str | None:
    match = _SCRIPT_SCHEME_RE.search(text)
    if match:
        return f"a {match.lastgroup}: URL"
    if _DATA_DOCUMENT_RE.search(text):
        return "a data: URL with an HTML or SVG document"
    return None


def _attribute_reason(name: str, value: str | None) -> str | None:
    """Why one attribute of a tag is executable, if it is. `value` is None when it has none."""
    name = name.lstrip("=").lower()
    if value is None:
        return None  # <b onclick> or <iframe srcdoc> with no value runs nothing
    if _EVENT_HANDLER_NAME_RE.fullmatch(name):
        return f"an event handler attribute ({name})"
    if name == "srcdoc":
        return "an srcdoc attribute"
    if name == "formaction":
        return "a formaction attribute"
    decoded = _decoded_forms(value)[-1]
    if name == "style":
        css = _CSS_NOISE_RE.sub("", _CSS_COMMENT_RE.sub("", decoded)).lower()
        if _SCRIPTED_STYLE_RE.search(css):
            return "a scripted style attribute"
    if name in _URL_ATTRIBUTES:
        reason = _script_url_reason(decoded)
        if reason:
            return f"{reason} in {name}"
    if "<" in value or "<" in decoded:
        # Markup inside a value: harmless where it stands, but a client that re-parses it would
        # run it. Its length is below the text's, so this ends.
        return _tags_reason(value) or (_tags_reason(decoded) if decoded != value else None)
    return None


def _tags_reason(text: str) -> str | None:
    """Why the tag-like constructs in `text` are executable, if they are, read left to right as
    an HTML tokenizer reads them (quoted values may hold ">")."""
    match = _DANGEROUS_ELEMENT_RE.search(text)
    if match:
        return f"a <{match.group(1).lower()}> element"
    end = len(text)
    position = 0
    while True:
        tag = _TAG_OPEN_RE.search(text, position)
        if tag is None:
            return None
        position = tag.end()
        while True:
            position = _ATTR_SEPARATOR_RE.match(text, position).end()
            if position >= end or text[position] == ">":
                break
            name = _ATTR_NAME_RE.match(text, position)
            position = name.end()
            value_match = _ATTR_VALUE_RE.match(text, position)
            value = None
            if value_match:
                position = value_match.end()
                value = next((group for group in value_match.groups() if group is not None), "")
            reason = _attribute_reason(name.group(), value)
            if reason:
                return reason
        position += 1


def find_executable_markup(text: str) -> str | None:
    """A short reason when `text` carries something a browser would run if the text were ever
    put into HTML (a script element, an event handler attribute, a javascript: URL, ...), else
    None. Text that merely looks like markup or code is not refused: "a < b", "<3",
    "bonus = 10", "<b>bold</b>". HTML entities are decoded, and characters a URL parser drops
    are ignored inside a scheme name, before looking."""
    if "<" not in text and ":" not in text and "&" not in text:
        return None  # the common case: nothing that could open a tag or a URL scheme
    for form in _decoded_forms(text):
        reason = _tags_reason(form) or _script_url_reason(form)
        if reason:
            return reason
    return None


# --- Emoji -------------------------------------------------------------------------------------
# Emoji characters (Unicode's Emoji property, emoji-data.txt) that render as a picture without a
# variation selector, or are pictographs in any case. The supplementary-plane ranges follow
# Extended_Pictographic, which also reserves code points for emoji not yet assigned, so newer
# emoji than this Python's Unicode tables are accepted.
_EMOJI_PICTURE = (
    "\u231a-\u231b\u2328\u23cf\u23e9-\u23f3\u23f8-\u23fa\u25fd-\u25fe"
    "\u2600-\u2604\u260e\u2611\u2614-\u2615\u2618\u261d\u2620\u2622-\u2623\u2626\u262a"
    "\u262e-\u262f\u2638-\u263a\u2640\u2642\u2648-\u2653\u265f-\u2660\u2663\u2665-\u2666"
    "\u2668\u267b\u267e-\u267f\u2692-\u2697\u2699\u269b-\u269c\u26a0-\u26a1\u26a7"
    "\u26aa-\u26ab\u26b0-\u26b1\u26bd-\u26be\u26c4-\u26c5\u26c8\u26ce-\u26cf\u26d1"
    "\u26d3-\u26d4\u26e9-\u26ea\u26f0-\u26f5\u26f7-\u26fa\u26fd\u2702\u2705\u2708-\u270d"
    "\u270f\u2712\u2714\u2716\u271d\u2721\u2728\u2733-\u2734\u2744\u2747\u274c\u274e"
    "\u2753-\u2755\u2757\u2763-\u2764\u2795-\u2797\u27b0\u27bf\u2b1b-\u2b1c\u2b50\u2b55"
    "\U0001f000-\U0001f0ff\U0001f18e\U0001f191-\U0001f19a\U0001f201\U0001f21a\U0001f22f"
    "\U0001f232-\U0001f236\U0001f238-\U0001f23a\U0001f250-\U0001f251\U0001f300-\U0001f3fa"
    "\U0001f400-\U0001f53d\U0001f546-\U0001f64f\U0001f680-\U0001f6ff\U0001f774-\U0001f77f"
    "\U0001f7d5-\U0001f7ff\U0001f90c-\U0001f93a\U0001f93c-\U0001f945\U0001f947-\U0001faff"
)
# Emoji characters that are ordinary text (letters, punctuation, arrows, geometric shapes)
# unless followed by U+FE0F: (c) alone is a copyright sign, (c)+FE0F the emoji.
_EMOJI_TEXT_DEFAULT = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9-\u21aa\u24c2\u25aa-\u25ab"
    "\u25b6\u25c0\u25fb-\u25fc\u27a1\u2934-\u2935\u2b05-\u2b07\u3030\u303d\u3297\u3299"
    "\U0001f170-\U0001f171\U0001f17e-\U0001f17f\U0001f202\U0001f237"
)
_VS16 = "\ufe0f"
_ZWJ = "\u200d"
_SKIN_TONE = "[\U0001f3fb-\U0001f3ff]"
_REGIONAL_INDICATOR = "[\U0001f1e6-\U0001f1ff]"
_TAG_SPEC = "[\U000e0020-\U000e007e]+\U000e007f"
# One element of an emoji: a flag (two regional indicators), a keycap (digit, # or * with
# U+20E3), or a pictograph with optional U+FE0F, optional skin tone and optional tag sequence
# (the subdivision flags: black flag + tag letters + cancel tag).
_EMOJI_ELEMENT = (
    f"(?:{_REGIONAL_INDICATOR}{{2}}"
    f"|[0-9#*]{_VS16}?\u20e3"
    f"|(?:[{_EMOJI_PICTURE}]{_VS16}?{_SKIN_TONE}?|[{_EMOJI_TEXT_DEFAULT}]{_VS16})(?:{_TAG_SPEC})?)"
)
# A single emoji: one element, or several joined by zero-width joiners (👨‍👩‍👧).
_EMOJI_RE = re.compile(f"{_EMOJI_ELEMENT}(?:{_ZWJ}{_EMOJI_ELEMENT})*")


def is_emoji(value: str) -> bool:
    """Whether `value` is exactly one emoji: a pictograph (with its optional U+FE0F, skin tone),
    a flag, a keycap, a subdivision flag, or a zero-width-joiner sequence of them. Letters,
    digits, punctuation, emoticons such as ":)", white space (even around an emoji: trim first)
    and several emoji side by side are not. Length is the caller's to bound."""
    return isinstance(value, str) and _EMOJI_RE.fullmatch(value) is not None


# --- Language codes ----------------------------------------------------------------------------
# en, haw, pt-BR, es-419, zh-Hant: ASCII only, nothing (dots, dollars, braces) that could reach a
# query or a field path. \Z, not $, so that a trailing newline does not pass.
LANGUAGE_CODE_RE = re.compile(r"^[a-z]{2,3}(-([A-Z]{2}|[0-9]{3}|[A-Z][a-z]{3}))?\Z")


def is_language_code(value: str) -> bool:
    """Whether `value` is a short language code such as en, he, pt-BR, zh-Hant or es-419."""
    return isinstance(value, str) and LANGUAGE_CODE_RE.match(value) is not None
