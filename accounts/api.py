"""The API's token endpoints (PROTOCOL.md "Identity and authentication"): obtain a token with
username and password, revoke the one in use, or revoke all of them. A password change also
revokes them all (accounts.tokens)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import parsers, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.limits import check_login_rate
from accounts.tokens import issue_token, revoke_token, revoke_tokens
from core.http.api import ErrorSerializer
from core.http.parsers import JSONParser
from core.timeutil import isoformat_z


class TokenObtainView(APIView):
    """``POST /api/auth/token/`` ``{"username", "password"}`` -> ``{"token", "expiry"}``, a new token
    each time (one per device or script), under the same login limits as the login pages (429
    ``rate_limited`` with Retry-After, even for the right password)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    # Our JSON parser turns an over-nested body into a 400; forms as DRF's own token view took them.
    parser_classes = (parsers.FormParser, parsers.MultiPartParser, JSONParser)

    @extend_schema(
        operation_id="auth_token_create",
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField(), "expiry": serializers.DateTimeField()}),
            400: OpenApiResponse(ErrorSerializer, description="Wrong username or password (`code: invalid`)."),
            429: OpenApiResponse(
                ErrorSerializer, description="Too many failed logins from this client or for this username."
            ),
        },
        summary="Get a new API token for a username and password (one per device; it expires unless used)",
    )
    def post(self, request, *args, **kwargs):
        data = request.data
        refund = check_login_rate(request, data.get("username") if hasattr(data, "get") else None)
        serializer = AuthTokenSerializer(data=data, context={"request": request})
        serializer.is_valid(raise_exception=True)  # a wrong username or password stays counted
        refund()
        token, key = issue_token(user=serializer.validated_data["user"])
        return Response({"token": key, "expiry": isoformat_z(token.expiry)})


class TokenRevokeView(APIView):
    """``POST /api/auth/token/revoke/``: logout for API clients (this token only)."""

    @extend_schema(
        operation_id="auth_token_revoke",
        request=None,
        responses={204: None, 401: OpenApiResponse(ErrorSerializer, description="Not authenticated.")},
        summary="Revoke the API token this request carries (with a session: every token of the user)",
    )
    def post(self, request):
        if isinstance(request.auth, AuthToken):
            revoke_token(token=request.auth)
        else:
            revoke_tokens(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenRevokeAllView(APIView):
    """``POST /api/auth/token/revoke-all/``: sign out every device and script of the user."""

    @extend_schema(
        operation_id="auth_token_revoke_all",
        request=None,
        responses={204: None, 401: OpenApiResponse(ErrorSerializer, description="Not authenticated.")},
        summary="Revoke every API token of the caller",
    )
    def post(self, request):
        revoke_tokens(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
