"""The HTTP interface for chat: validate input, call a service, render the result."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import services
from chat.serializers import (
    ChatSendSerializer,
    HistoryQuerySerializer,
    MessagePageSerializer,
    MessageSerializer,
    ReactionSerializer,
    ReactionsSerializer,
)
from core.http.api import ErrorSerializer, validate_object_id

PARTY_ID = OpenApiParameter("party_id", str, OpenApiParameter.PATH, description="24-character hex id.")
MESSAGE_ID = OpenApiParameter("message_id", str, OpenApiParameter.PATH, description="24-character hex id.")
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input (`code: invalid`)."),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated."),
    403: OpenApiResponse(ErrorSerializer, description="`forbidden` (party ended) or `chat_disabled`."),
    404: OpenApiResponse(ErrorSerializer, description="No such party or message, or not yours to see."),
    429: OpenApiResponse(ErrorSerializer, description="`rate_limited`, with `retry_after`."),
}


class MessageListCreateView(APIView):
    @extend_schema(
        operation_id="messages_list",
        parameters=[PARTY_ID, HistoryQuerySerializer],
        responses={
            200: MessagePageSerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            404: ERRORS[404],
            429: ERRORS[429],
        },
        summary=(
            "A page of messages just older than `before` (newest page without it), oldest first; "
            "with `item`, by position in that video (from `from` seconds, or just after `after`)"
        ),
    )
    def get(self, request, party_id: str):
        validate_object_id(party_id, "party_id")
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if "item" in query.validated_data:
            messages, next_after = services.message_history_by_position(
                party_id=party_id,
                user=request.user,
                item_id=query.validated_data["item"] or None,
                from_seconds=query.validated_data.get("from", 0.0),
                after=query.validated_data.get("after"),
                limit=query.validated_data["limit"],
                lang=query.validated_data.get("lang"),
            )
            return Response({"results": services.messages_payload(messages), "next_after": next_after})
        messages, next_before = services.message_history(
            party_id=party_id,
            user=request.user,
            before=query.validated_data.get("before"),
            limit=query.validated_data["limit"],
            lang=query.validated_data.get("lang"),
        )
        return Response({"results": services.messages_payload(messages), "next_before": next_before})

    @extend_schema(
        operation_id="messages_create",
        parameters=[PARTY_ID],
        request=ChatSendSerializer,
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(MessageSerializer, description="A repeated client_id: the stored message."),
            **ERRORS,
        },
        summary="Send a message; it is stored, then delivered to the party's WebSockets",
    )
    def post(self, request, party_id: str):
        validate_object_id(party_id, "party_id")
        serializer = ChatSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.message_send(
            party_id=party_id,
            user=request.user,
            text=serializer.validated_data["message"],
            message_type=serializer.validated_data["message_type"],
            client_id=serializer.validated_data.get("client_id"),
            reply_to=serializer.validated_data.get("reply_to"),
        )
        return Response(
            services.message_payload(result.message),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class ReactionView(APIView):
    def _change(self, request, party_id: str, message_id: str, service):
        validate_object_id(party_id, "party_id")
        validate_object_id(message_id, "message_id")
        serializer = ReactionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            service(
                party_id=party_id, message_id=message_id, user=request.user, emoji=serializer.validated_data["emoji"]
            )
        )

    @extend_schema(
        operation_id="reactions_add",
        parameters=[PARTY_ID, MESSAGE_ID],
        request=ReactionSerializer,
        responses={200: ReactionsSerializer, **ERRORS},
        summary="React to a message",
    )
    def post(self, request, party_id: str, message_id: str):
        return self._change(request, party_id, message_id, services.reaction_add)

    @extend_schema(
        operation_id="reactions_remove",
        parameters=[PARTY_ID, MESSAGE_ID],
        request=ReactionSerializer,
        responses={200: ReactionsSerializer, **ERRORS},
        summary="Take your reaction back",
    )
    def delete(self, request, party_id: str, message_id: str):
        return self._change(request, party_id, message_id, services.reaction_remove)
