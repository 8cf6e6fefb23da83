"""The API's token endpoints (PROTOCOL.md "Identity and authentication"): obtain a token with
username and password, and revoke it. A password change also revokes it (watchparty.auth_tokens)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import parsers, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.views import APIView

from watchparty.api import ErrorSerializer
from watchparty.auth_limits import check_login_rate
from watchparty.auth_tokens import revoke_tokens
from watchparty.parsers import JSONParser


class TokenObtainView(ObtainAuthToken):
    """``POST /api/auth/token/`` ``{"username", "password"}`` -> ``{"token"}``, under the same login
    limits as the login pages (429 ``rate_limited`` with Retry-After, even for the right password)."""

    # DRF's view names its parsers itself; ours turns an over-nested body into a 400.
    parser_classes = (parsers.FormParser, parsers.MultiPartParser, JSONParser)

    @extend_schema(
        operation_id="auth_token_create",
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: OpenApiResponse(ErrorSerializer, description="Wrong username or password (`code: invalid`)."),
            429: OpenApiResponse(
                ErrorSerializer, description="Too many login attempts from this client or for this username."
            ),
        },
        summary="Get the API token for a username and password (the same token until it is revoked)",
    )
    def post(self, request, *args, **kwargs):
        data = request.data
        refund = check_login_rate(request, data.get("username") if hasattr(data, "get") else None)
        response = super().post(request, *args, **kwargs)  # raises on a wrong username or password
        refund()
        return response


class TokenRevokeView(APIView):
    """``POST /api/auth/token/revoke/``: logout for API clients."""

    @extend_schema(
        operation_id="auth_token_revoke",
        request=None,
        responses={204: None, 401: OpenApiResponse(ErrorSerializer, description="Not authenticated.")},
        summary="Revoke the caller's API token; the next POST /api/auth/token/ issues a new one",
    )
    def post(self, request):
        revoke_tokens(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
