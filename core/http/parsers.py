"""The API's JSON parser (DEFAULT_PARSER_CLASSES). Its own module: rest_framework.views reads
DEFAULT_PARSER_CLASSES on import, so this must not import that (core.http.api does)."""

from __future__ import annotations

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, except that a body nested too deeply for the decoder (``[[[[...]]]]``)
    is malformed JSON like any other: the decoder's RecursionError would otherwise be a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
