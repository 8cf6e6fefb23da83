"""The API's token endpoints: obtain a token with username and password (PROTOCOL.md "Identity
and authentication")."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.authtoken.views import ObtainAuthToken

from watchparty.parsers import JSONParser


class TokenObtainView(ObtainAuthToken):
    """``POST /api/auth/token/`` ``{"username", "password"}`` -> ``{"token"}``."""

    # DRF's view names its parsers itself; ours turns an over-nested body into a 400.
    parser_classes = (parsers.FormParser, parsers.MultiPartParser, JSONParser)
