"""Chat input rules in core.text: executable markup, message cleaning, emoji, language codes."""

from __future__ import annotations

import pytest

from core.text import clean_message_text, find_executable_markup, is_emoji, is_language_code

# --- find_executable_markup: refused -------------------------------------------------------------

HOSTILE = [
    # script-bearing and page-hijacking elements
    "<script>alert(1)</script>",
    "<ScRiPt src=//evil.example/x.js></sCrIpT>",
    "<script\tsrc=//evil.example/x.js>",
    "</script><b>hi</b>",
    '<iframe src="https://evil.example"></iframe>',
    "<object data=evil.swf></object>",
    "<embed src=evil.swf>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<base href="https://evil.example/">',
    # event handler attributes
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    '<body onload = "x">',
    "<a href=# OnClick='x'>click</a>",
    '<img alt=">" onerror=alert(1)>',
    "<img src=x onerror\n=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<img/src/onerror=alert(1)",
    "hi <input autofocus onfocus=alert(1)>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<b title="<img src=x onerror=alert(1)>">x</b>',
    "<img x=&quot; src=y onerror=alert(1) z=&quot;>",
    # script URLs, bare or in attributes, with case, white space and entity tricks
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\u200bscript:alert(1)",
    "jav&#x61;script:alert(1)",
    "&#106;avascript:alert(1)",
    "&amp;#106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    '<a href="jav&Tab;ascript:alert(1)">x</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "data:text/html,hi",
    "DATA:TEXT/HTML;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data: text/html,hi",
    '<svg><use href="data:image/svg+xml;base64,PHN2Zz4=#x"/></svg>',
    "<math><maction actiontype=statusline xlink:href=javascript:alert(1)>x</maction></math>",
    "<form action=javascript:alert(1)><button>go</button></form>",
    # other attributes that run code
    "<button formaction=https://evil.example>go</button>",
    '<b srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;">x</b>',
    '<div style="width: expression(alert(1))">x</div>',
    '<div style="x:exp/**/ression(alert(1))">x</div>',
    # entity-encoded markup that a double-decoding client would run
    "&lt;img src=x onerror=alert(1)&gt;",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_executable_markup_is_refused(text):
    """A message carrying a script, an event handler or a script URL is refused with a reason."""
    reason = find_executable_markup(text)
    assert isinstance(reason, str) and reason
    # The serializer checks the cleaned text: cleaning must not make it acceptable.
    assert find_executable_markup(clean_message_text(text))


def test_refusal_reason_names_the_vector_without_echoing_the_message():
    """The reason says what was found (element, handler, URL) and never repeats the message."""
    assert find_executable_markup("<img src=x onerror=alert(1)>") == "an event handler attribute (onerror)"
    assert find_executable_markup("<SCRIPT>x</SCRIPT>") == "a <script> element"
    assert find_executable_markup("jav&#x61;script:alert(1)") == "a javascript: URL"
    assert "alert" not in find_executable_markup("<a href='javascript:alert(1)'>x</a>")


def test_a_bare_script_scheme_is_refused_even_in_prose():
    """A bare javascript: scheme is refused even in prose, as a linkifying client could make it a link."""
    assert find_executable_markup("javascript: the good parts") is not None
    assert find_executable_markup("javascript is fun") is None


# --- find_executable_markup: accepted ------------------------------------------------------------

ORDINARY = [
    # English and chat talk
    "hello everyone, popcorn ready?",
    "that twist was insane!!!",
    "wait, pause it at 1:23:45",
    "lol :)",
    "mention @bob",
    "email me: bob@example.com",
    "the script was great, and the iframes of the opening credits too",
    # other languages
    "שלום לכולם! מה נשמע?",
    "מי רוצה עוד פופקורן? 🍿",
    "مرحبا بالجميع",
    "هل الفيلم جاهز؟",
    "この映画は最高です！",
    "Привет всем, начинаем?",
    "नमस्ते दोस्तों, फिल्म शुरू करें?",
    "大家好，电影开始了",
    # emoji-heavy
    "🍿🎬 let's go!!!",
    "👨‍👩‍👧 family night",
    "❤️🔥😂👍🏽",
    "🇮🇱🇺🇸 watching together",
    # markup-looking and math-like text
    "a < b",
    "one = two",
    "bonus = 10 points",
    "x => y",
    "<3",
    "I <3 you",
    "if a<b and c>d",
    "the onion = tasty",
    "on = off",
    "onion=3",
    "2 < 3 > 1",
    "<- look here",
    "-->",
    "a < b onion = x",
    "count<object.size",
    "x < y && y > z",
    "price < $10 = deal",
    # code-ish text and harmless tags
    "if (x <= 3) { y = 2 }",
    "<b>bold</b>",
    "<i>not html</i>",
    "a<b>c",
    "use <br> for a break?",
    "Q&A: what's <this>?",
    # URLs and words that merely resemble schemes or handlers
    "https://example.com/watch?v=1&t=30",
    "data: the numbers",
    "javascript is fun",
    "vbscript is old",
    "my onload = fast",
    "AT&T and H&M",
    "line one\nline two\twith a tab",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_accepted_and_stored_unchanged(text):
    """Everyday chat, in any language, including text that only looks like markup, goes through as typed."""
    assert find_executable_markup(text) is None
    assert clean_message_text(text) == text


# --- clean_message_text --------------------------------------------------------------------------


def test_clean_message_text_removes_control_and_bidi_characters():
    """NUL, bell, escape and bidi override/isolate characters vanish from a message."""
    assert clean_message_text("a\x00b\x07c\x1bd\u202ee\u2066f") == "abcdef"


def test_clean_message_text_keeps_newlines_and_tabs_inside():
    """Line breaks and tabs inside a message survive."""
    assert clean_message_text("one\ntwo\tthree") == "one\ntwo\tthree"


def test_clean_message_text_strips_surrounding_whitespace():
    """Spaces and blank lines around a message are dropped."""
    assert clean_message_text("  \n\thello there \t\n ") == "hello there"


@pytest.mark.parametrize("text", ["שלום לכולם! מה נשמע?", "مرحبا بالجميع", "עברית and English \u200f mixed"])
def test_clean_message_text_leaves_right_to_left_text_alone(text):
    """Hebrew and Arabic text, and plain direction marks, are stored as typed."""
    assert clean_message_text(text) == text


# --- is_emoji ------------------------------------------------------------------------------------

EMOJI = [
    "😀",
    "👍",
    "🔥",
    "🍿",
    "👍🏽",
    "👍🏿",
    "❤️",
    "❤",
    "☕",
    "⭐",
    "⌚",
    "©️",
    "™️",
    "👨‍👩‍👧",
    "👩‍❤️‍💋‍👨",
    "🧑🏽‍💻",
    "❤️‍🔥",
    "🫱🏻‍🫲🏿",
    "🏳️‍🌈",
    "🏴‍☠️",
    "🇮🇱",
    "🇺🇸",
    "1️⃣",
    "1⃣",
    "#️⃣",
    "*️⃣",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "🫨",  # Unicode 15: newer than Python 3.11's own Unicode tables
    "🀄",
]


@pytest.mark.parametrize("value", EMOJI)
def test_real_emoji_are_emoji(value):
    """Single emoji, with skin tones, as joined sequences, flags and keycaps, count as an emoji."""
    assert is_emoji(value) is True


NOT_EMOJI = [
    "a",
    "1",
    "#",
    ":)",
    "<3",
    "",
    " ",
    "ab",
    "שלום",
    "!",
    "👍a",
    "a👍",
    "😀 ",  # white space is never part of an emoji: callers trim first if they want to
    " 😀",
    "😀\n",
    "😀😀",
    "©",  # a copyright sign is text; only with U+FE0F is it the emoji
    "™",
    "↔",
    "1️",
    "🇮",  # half a flag
    "🏽",  # a skin tone on its own
    "\u200d",
    "👍\u200d",
    "\ufe0f",
    "<script>",
    None,
    5,
]


@pytest.mark.parametrize("value", NOT_EMOJI)
def test_text_is_not_an_emoji(value):
    """Letters, digits, punctuation, emoticons, white space and several emoji are not an emoji."""
    assert is_emoji(value) is False


# --- is_language_code ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["en", "he", "haw", "pt-BR", "zh-Hant", "es-419", "fil"])
def test_language_codes_are_accepted(value):
    """Short codes such as en, pt-BR, zh-Hant and es-419 are valid languages."""
    assert is_language_code(value) is True


@pytest.mark.parametrize(
    "value",
    [
        "EN",
        "english",
        "en_US",
        '{"$ne": 1}',
        "e",
        "",
        "en-",
        "en-us",
        "zh-hant",
        "pt-BRA",
        "en-US-x",
        "en.x",
        " en",
        "en\n",
        "ēn",
        None,
        5,
    ],
)
def test_other_values_are_not_language_codes(value):
    """Upper case, names, underscores, query operators and anything else are refused as a language."""
    assert is_language_code(value) is False
