"""The API's token endpoints: obtain a token with username and password (PROTOCOL.md "Identity
and authentication")."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.authtoken.views import ObtainAuthToken

from watchparty.auth_limits import check_login_rate
from watchparty.parsers import JSONParser


class TokenObtainView(ObtainAuthToken):
    """``POST /api/auth/token/`` ``{"username", "password"}`` -> ``{"token"}``, under the same login
    limits as the login pages (429 ``rate_limited`` with Retry-After, even for the right password)."""

    # DRF's view names its parsers itself; ours turns an over-nested body into a 400.
    parser_classes = (parsers.FormParser, parsers.MultiPartParser, JSONParser)

    def post(self, request, *args, **kwargs):
        data = request.data
        check_login_rate(request, data.get("username") if hasattr(data, "get") else None)
        return super().post(request, *args, **kwargs)
