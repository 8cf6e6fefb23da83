"""Translating chat messages: a Translator chosen by ``settings.CHAT_TRANSLATOR``.

The chat service stores and delivers a message first and calls ``translate_message_text`` later, in
the background; the translations then arrive as an update. So a translator may be slow or down
without affecting chat: every failure of the translation service is logged and simply yields fewer
(or no) translations, never an exception.

Every translator keeps the same contract, and ``translate_message_text`` enforces it again for
translators configured from elsewhere:

* language codes are validated (they become MongoDB field paths: ``translations.<code>``);
* at most ``settings.TRANSLATIONS_MAX_LANGUAGES`` languages, the source language never among them;
* each translation at most ``settings.TRANSLATION_MAX_LENGTH`` characters.
"""

from __future__ import annotations

import abc
import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from core.text import clean_message_text, is_language_code

logger = logging.getLogger(__name__)


# A translation of one chat message is small; a bigger answer is not what we asked for.
MAX_RESPONSE_BYTES = 64 * 1024


def plan_targets(source: str | None, targets: list[str]) -> list[str]:
    """The languages to produce: valid codes, each once, not the source, at most the limit."""
    planned: list[str] = []
    for code in targets:
        if not is_language_code(code):
            logger.warning("Ignoring invalid translation language code %r", code)
        elif code != source and code not in planned:
            planned.append(code)
    return planned[: settings.TRANSLATIONS_MAX_LANGUAGES]


def clean_translations(translations: object, *, source: str | None, targets: list[str]) -> dict[str, str]:
    """A translator's result held to the contract: only planned languages, non-empty text, cut to
    the maximum length, at most the maximum number of languages."""
    if not isinstance(translations, dict):
        return {}
    allowed = plan_targets(source, targets)
    cleaned: dict[str, str] = {}
    for code in allowed:
        text = translations.get(code)
        if isinstance(text, str):
            text = clean_message_text(text)[: settings.TRANSLATION_MAX_LENGTH]
            if text:
                cleaned[code] = text
    return cleaned


class Translator(abc.ABC):
    """Detects a text's language and translates it. Implementations never raise for a failure of
    the translation service: they log a warning and return what they have."""

    @abc.abstractmethod
    def detect(self, text: str) -> str | None:
        """The language code of ``text``, or None when unknown."""

    @abc.abstractmethod
    def translate(self, text: str, *, source: str | None, targets: list[str]) -> dict[str, str]:
        """``text`` in each of ``targets`` it can produce (language code -> text); a language it
        cannot translate is absent. ``source`` None means "detect it yourself"."""


class NullTranslator(Translator):
    """The default: no translation service, so no source language and no translations."""

    def detect(self, text: str) -> str | None:
        return None

    def translate(self, text: str, *, source: str | None, targets: list[str]) -> dict[str, str]:
        return {}


class _ServiceError(Exception):
    pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: the request (and its API key) goes to the configured URL only."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


class LibreTranslateTranslator(Translator):
    """A client for a LibreTranslate-compatible HTTP API (``POST /detect``, ``POST /translate``).

    ``url``, ``api_key`` and ``timeout`` override LIBRETRANSLATE_URL, LIBRETRANSLATE_API_KEY and
    TRANSLATION_TIMEOUT_SECONDS; whatever is not given is read from settings on every call.
    ``timeout`` bounds each call as a whole: one ``detect``, or one ``translate`` with all its
    languages (requested one after another; the languages left when time runs out are skipped).
    """

    def __init__(self, *, url: str | None = None, api_key: str | None = None, timeout: float | None = None) -> None:
        self._url = url
        self._api_key = api_key
        self._timeout = timeout

    @property
    def url(self) -> str:
        return (self._url if self._url is not None else settings.LIBRETRANSLATE_URL).rstrip("/")

    @property
    def api_key(self) -> str:
        return self._api_key if self._api_key is not None else settings.LIBRETRANSLATE_API_KEY

    @property
    def timeout(self) -> float:
        return float(self._timeout if self._timeout is not None else settings.TRANSLATION_TIMEOUT_SECONDS)

    def detect(self, text: str) -> str | None:
        if not text.strip() or not self._configured():
            return None
        try:
            answer = self._post("/detect", {"q": text}, timeout=self.timeout)
        except _ServiceError as exc:
            logger.warning("LibreTranslate detect failed: %s", exc)
            return None
        return _best_detection(answer)

    def translate(self, text: str, *, source: str | None, targets: list[str]) -> dict[str, str]:
        if source is not None and not is_language_code(source):
            source = None
        planned = plan_targets(source, targets)
        if not text.strip() or not planned or not self._configured():
            return {}
        deadline = time.monotonic() + self.timeout
        translations: dict[str, str] = {}
        for index, target in enumerate(planned):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.warning("LibreTranslate timed out; skipped %s", ", ".join(planned[index:]))
                break
            payload = {"q": text, "source": source or "auto", "target": target, "format": "text"}
            try:
                answer = self._post("/translate", payload, timeout=remaining)
            except _ServiceError as exc:
                logger.warning("LibreTranslate translate into %s failed: %s", target, exc)
                continue
            translated = answer.get("translatedText") if isinstance(answer, dict) else None
            if not isinstance(translated, str):
                logger.warning("LibreTranslate translate into %s: unexpected answer %.200r", target, answer)
                continue
            translations[target] = translated
        return clean_translations(translations, source=source, targets=planned)

    def _configured(self) -> bool:
        url = self.url
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            logger.warning("LibreTranslate is selected but LIBRETRANSLATE_URL is not an http(s) URL: %r", url)
            return False
        return True

    def _post(self, path: str, payload: dict[str, Any], *, timeout: float) -> Any:
        """POST JSON, return the decoded JSON answer; every failure becomes a _ServiceError."""
        if self.api_key:
            payload = {**payload, "api_key": self.api_key}
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with _opener.open(request, timeout=timeout) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise _ServiceError(f"HTTP {exc.code} from {path}") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, timeouts, resets
            raise _ServiceError(f"{path}: {exc!r}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise _ServiceError(f"{path}: answer larger than {MAX_RESPONSE_BYTES} bytes")
        try:
            return json.loads(body)
        except ValueError:
            raise _ServiceError(f"{path}: answer is not JSON: {body[:200]!r}") from None


def _best_detection(answer: object) -> str | None:
    """The most confident valid language in a /detect answer, or None."""
    if not isinstance(answer, list):
        logger.warning("LibreTranslate detect: unexpected answer %.200r", answer)
        return None
    best: tuple[float, str] | None = None
    for item in answer:
        if not isinstance(item, dict) or not is_language_code(item.get("language")):
            continue
        confidence = item.get("confidence", 0.0)
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
            continue
        if best is None or confidence > best[0]:
            best = (float(confidence), item["language"])
    return best[1] if best else None


_translators: dict[str, Translator] = {}
_translators_lock = threading.Lock()


def get_translator() -> Translator:
    """The translator named by ``settings.CHAT_TRANSLATOR``, one instance per dotted path."""
    path = settings.CHAT_TRANSLATOR
    with _translators_lock:
        translator = _translators.get(path)
        if translator is None:
            try:
                translator = import_string(path)()
            except ImportError as exc:
                raise ImproperlyConfigured(f"CHAT_TRANSLATOR {path!r} cannot be imported: {exc}") from exc
            if not isinstance(translator, Translator):
                raise ImproperlyConfigured(f"CHAT_TRANSLATOR {path!r} is not a chat.translation.Translator")
            _translators[path] = translator
        return translator


@receiver(setting_changed)
def _forget_translators(*, setting: str, **kwargs) -> None:
    """Tests that override a translation setting get a translator built with the new value."""
    if setting in {"CHAT_TRANSLATOR", "LIBRETRANSLATE_URL", "LIBRETRANSLATE_API_KEY", "TRANSLATION_TIMEOUT_SECONDS"}:
        with _translators_lock:
            _translators.clear()


def translate_message_text(text: str) -> tuple[str | None, dict[str, str]]:
    """Detect ``text``'s language and translate it into ``settings.CHAT_TRANSLATION_LANGUAGES``
    (the source language excepted) with the configured translator: (source_language, translations).

    Synchronous; the chat service runs it in the background after the message is delivered. With
    LibreTranslate it takes at most about twice TRANSLATION_TIMEOUT_SECONDS (detect, then translate).
    """
    if not text or not text.strip():
        return None, {}
    translator = get_translator()
    source = translator.detect(text)
    if not is_language_code(source):
        source = None
    targets = plan_targets(source, list(settings.CHAT_TRANSLATION_LANGUAGES))
    if not targets:
        return source, {}
    translations = translator.translate(text, source=source, targets=targets)
    return source, clean_translations(translations, source=source, targets=targets)
