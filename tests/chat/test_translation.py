"""The translation layer, against a stub LibreTranslate server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from chat import translation
from chat.translation import (
    LibreTranslateTranslator,
    NullTranslator,
    Translator,
    get_translator,
    translate_message_text,
)

HEBREW = re.compile("[\u0590-\u05ff]")
TIMEOUT = 0.5


@dataclass
class StubState:
    url: str = ""
    requests: list[tuple[str, dict]] = field(default_factory=list)
    # Per path ("/detect", "/translate"): "ok", "fail" (500), "hang", "malformed" (not JSON),
    # or "raw" (answer with raw_body as JSON).
    mode: dict[str, str] = field(default_factory=lambda: {"/detect": "ok", "/translate": "ok"})
    fail_targets: set[str] = field(default_factory=set)  # /translate answers 500 for these targets
    raw_body: object = None
    translation_length: int | None = None  # answer translations of exactly this many characters
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def translate_calls(self) -> list[dict]:
        with self.lock:
            return [body for path, body in self.requests if path == "/translate"]


def _handler_for(state: StubState):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # keep test output quiet
            pass

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Type", "").startswith("application/json"):
                body = json.loads(raw or b"{}")
            else:
                body = {key: values[0] for key, values in urllib.parse.parse_qs(raw.decode()).items()}
            with state.lock:
                state.requests.append((self.path, body))
            mode = state.mode.get(self.path)
            if mode is None:
                return self._send(404, {"error": "not found"})
            if mode == "hang":
                state.release.wait(timeout=30)
                return  # the client gave up long ago
            if mode == "fail" or (self.path == "/translate" and body.get("target") in state.fail_targets):
                return self._send(500, {"error": "boom"})
            if mode == "malformed":
                return self._send(200, b"{not json")
            if mode == "raw":
                return self._send(200, state.raw_body)
            if self.path == "/detect":
                language = "he" if HEBREW.search(body.get("q", "")) else "en"
                return self._send(200, [{"language": language, "confidence": 90.0}])
            text = f"[{body['target']}] {body['q']}"
            if state.translation_length is not None:
                text = (text * state.translation_length)[: state.translation_length]
            return self._send(200, {"translatedText": text})

        def _send(self, status: int, payload) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def stub():
    """A LibreTranslate stand-in on an ephemeral port; yields its state (with its URL)."""
    state = StubState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def libre(settings, stub):
    """Settings that select LibreTranslate at the stub, translating into en, he and fr."""
    settings.CHAT_TRANSLATOR = "chat.translation.LibreTranslateTranslator"
    settings.LIBRETRANSLATE_URL = stub.url
    settings.LIBRETRANSLATE_API_KEY = "test-key"
    settings.CHAT_TRANSLATION_LANGUAGES = ["en", "he", "fr"]
    settings.TRANSLATION_TIMEOUT_SECONDS = TIMEOUT
    return stub


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class GreedyTranslator(Translator):
    """A translator that breaks the contract: too many languages, the source, overlong text."""

    def detect(self, text: str) -> str | None:
        return "en"

    def translate(self, text: str, *, source: str | None, targets: list[str]) -> dict[str, str]:
        extra = ["en", "de", "bad.code", "$where", *(f"{a}{b}" for a in "pqrs" for b in "abcdefgh")]
        return {code: "x" * 2000 for code in [*targets, *extra]}


def test_null_translator_is_default_and_translates_nothing(settings):
    """Out of the box no translation service is used: no source language, no translations."""
    settings.CHAT_TRANSLATION_LANGUAGES = ["en", "he"]
    assert isinstance(get_translator(), NullTranslator)
    assert translate_message_text("hello everyone") == (None, {})


def test_detects_source_and_translates_into_other_configured_languages(libre):
    """A Hebrew message gets its language detected and English and French translations, not Hebrew."""
    source, translations = translate_message_text("שלום לכולם")
    assert source == "he"
    assert translations == {"en": "[en] שלום לכולם", "fr": "[fr] שלום לכולם"}
    assert sorted(call["target"] for call in libre.translate_calls()) == ["en", "fr"]

    assert translate_message_text("hello") == ("en", {"he": "[he] hello", "fr": "[fr] hello"})


def test_api_key_and_plain_text_format_are_sent(libre):
    """Every request carries the configured API key; translations ask for plain text from the detected source."""
    translate_message_text("hello")
    assert [path for path, _ in libre.requests] == ["/detect", "/translate", "/translate"]
    assert all(body["api_key"] == "test-key" for _, body in libre.requests)
    for call in libre.translate_calls():
        assert call["format"] == "text" and call["source"] == "en" and call["q"] == "hello"


def test_constructor_arguments_override_settings(settings, stub):
    """A translator built with its own URL, key and timeout uses those instead of the settings."""
    settings.LIBRETRANSLATE_URL = closed_port_url()
    translator = LibreTranslateTranslator(url=stub.url + "/", api_key="own-key", timeout=TIMEOUT)
    assert translator.detect("hello") == "en"
    assert translator.translate("hello", source="en", targets=["he"]) == {"he": "[he] hello"}
    assert [body["api_key"] for _, body in stub.requests] == ["own-key", "own-key"]


def test_server_error_for_one_language_omits_only_that_language(libre):
    """When the service fails for French, the English translation still arrives."""
    libre.fail_targets = {"fr"}
    assert translate_message_text("שלום") == ("he", {"en": "[en] שלום"})


def test_hanging_service_gives_up_within_the_timeout(libre, settings):
    """A service that never answers costs at most the configured timeout, for all languages together."""
    settings.CHAT_TRANSLATION_LANGUAGES = ["he", "fr", "de", "es"]  # one after another would take 4 x TIMEOUT
    libre.mode["/translate"] = "hang"
    started = time.monotonic()
    result = translate_message_text("hello")
    elapsed = time.monotonic() - started
    assert result == ("en", {})
    assert elapsed < TIMEOUT + 1


def test_hanging_detection_still_translates_from_auto(libre):
    """When detection never answers the message is still translated, with the service detecting the source."""
    libre.mode["/detect"] = "hang"
    started = time.monotonic()
    source, translations = translate_message_text("hello")
    assert time.monotonic() - started < TIMEOUT + 1
    assert source is None and set(translations) == {"en", "he", "fr"}
    assert {call["source"] for call in libre.translate_calls()} == {"auto"}


def test_malformed_json_yields_nothing(libre):
    """Answers that are not JSON give no source language and no translations, and no error."""
    libre.mode["/detect"] = libre.mode["/translate"] = "malformed"
    assert translate_message_text("hello") == (None, {})


@pytest.mark.parametrize(
    "body",
    [
        {"translatedText": 5},
        {"translatedText": None},
        {"translatedText": ""},
        {"error": "x"},
        ["translatedText"],
        "text",
    ],
)
def test_wrongly_shaped_translation_is_omitted(libre, body):
    """A translation answer of the wrong shape is dropped rather than stored."""
    libre.mode["/translate"] = "raw"
    libre.raw_body = body
    assert translate_message_text("hello") == ("en", {})


@pytest.mark.parametrize(
    "body",
    [
        [{"language": "EN", "confidence": 90}],
        [{"language": "en.x", "confidence": 90}],
        [{"language": "$where", "confidence": 90}],
        [{"language": "en\n", "confidence": 90}],
        [{"language": 5}],
        {"language": "en"},
        [],
    ],
)
def test_invalid_detected_language_is_ignored(libre, body):
    """A detected language that is not a plain language code counts as unknown."""
    libre.mode["/detect"] = "raw"
    libre.raw_body = body
    source, translations = translate_message_text("hello")
    assert source is None and set(translations) == {"en", "he", "fr"}


def test_most_confident_detection_wins(libre):
    """Of several detected languages the most confident one is the source."""
    libre.mode["/detect"] = "raw"
    libre.raw_body = [{"language": "fr", "confidence": 20.0}, {"language": "pt-BR", "confidence": 75.5}]
    assert LibreTranslateTranslator().detect("olá") == "pt-BR"


def test_unreachable_service_yields_nothing(settings):
    """With the service down (connection refused) messages simply stay untranslated."""
    settings.CHAT_TRANSLATOR = "chat.translation.LibreTranslateTranslator"
    settings.LIBRETRANSLATE_URL = closed_port_url()
    settings.CHAT_TRANSLATION_LANGUAGES = ["en", "he"]
    settings.TRANSLATION_TIMEOUT_SECONDS = TIMEOUT
    started = time.monotonic()
    assert translate_message_text("hello") == (None, {})
    assert time.monotonic() - started < 2 * TIMEOUT + 1


def test_missing_url_yields_nothing(settings):
    """LibreTranslate selected without a URL translates nothing instead of failing."""
    settings.CHAT_TRANSLATOR = "chat.translation.LibreTranslateTranslator"
    settings.LIBRETRANSLATE_URL = ""
    settings.CHAT_TRANSLATION_LANGUAGES = ["en", "he"]
    assert translate_message_text("hello") == (None, {})


def test_at_most_ten_languages(libre, settings):
    """Configuring more than ten languages produces (and requests) at most ten."""
    settings.CHAT_TRANSLATION_LANGUAGES = [
        "he",
        "fr",
        "de",
        "es",
        "it",
        "pt",
        "nl",
        "sv",
        "pl",
        "ru",
        "ja",
        "ko",
        "zh",
        "ar",
        "tr",
    ]
    source, translations = translate_message_text("hello")
    assert source == "en"
    assert len(translations) == 10 and len(libre.translate_calls()) == 10
    direct = LibreTranslateTranslator().translate("hello", source="en", targets=settings.CHAT_TRANSLATION_LANGUAGES)
    assert len(direct) == 10


def test_invalid_configured_languages_are_skipped(libre, settings):
    """Language codes in the settings that are not plain codes are never requested or stored."""
    settings.CHAT_TRANSLATION_LANGUAGES = ["he", "fr.x", "$set", "HE", "he"]
    assert translate_message_text("hello") == ("en", {"he": "[he] hello"})
    assert [call["target"] for call in libre.translate_calls()] == ["he"]


def test_long_translations_are_truncated(libre):
    """A translation longer than 500 characters is cut to 500."""
    libre.translation_length = 2000
    source, translations = translate_message_text("hello")
    assert set(translations) == {"he", "fr"}
    assert all(len(text) == 500 for text in translations.values())


def test_contract_enforced_for_any_configured_translator(settings):
    """A custom translator cannot deliver the source language, unasked or bad codes, or long text."""
    settings.CHAT_TRANSLATOR = f"{__name__}.GreedyTranslator"
    settings.CHAT_TRANSLATION_LANGUAGES = ["en", "he", "fr"]
    assert translate_message_text("hello") == ("en", {"he": "x" * 500, "fr": "x" * 500})


def test_get_translator_follows_the_setting(settings):
    """Changing CHAT_TRANSLATOR switches translators; the same setting reuses one instance."""
    assert isinstance(get_translator(), NullTranslator)
    settings.CHAT_TRANSLATOR = "chat.translation.LibreTranslateTranslator"
    libre = get_translator()
    assert isinstance(libre, LibreTranslateTranslator)
    assert get_translator() is libre
    settings.CHAT_TRANSLATOR = "chat.translation.NullTranslator"
    assert isinstance(get_translator(), NullTranslator)
    assert isinstance(translation.get_translator(), Translator)


def test_misconfigured_translator_is_reported(settings):
    """A CHAT_TRANSLATOR that is missing or not a Translator is a configuration error, not a silent no-op."""
    settings.CHAT_TRANSLATOR = "chat.translation.NoSuchTranslator"
    with pytest.raises(ImproperlyConfigured):
        get_translator()
    settings.CHAT_TRANSLATOR = "collections.OrderedDict"
    with pytest.raises(ImproperlyConfigured):
        get_translator()
