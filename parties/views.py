"""The HTTP interface for parties: validate input, call a service, render the result."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http.api import ErrorSerializer, validate_object_id
from parties import services
from parties.serializers import (
    PartyBansSerializer,
    PartyCreateSerializer,
    PartyJoinSerializer,
    PartyListQuerySerializer,
    PartyListSerializer,
    PartySerializer,
)

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input (`code: invalid`)."),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated."),
    404: OpenApiResponse(ErrorSerializer, description="No such party, or not yours to see."),
}
PARTY_ID = OpenApiParameter("party_id", str, OpenApiParameter.PATH, description="24-character hex id.")


def _party_response(party, status_code=status.HTTP_200_OK) -> Response:
    return Response(PartySerializer(party).data, status=status_code)


class PartyListCreateView(APIView):
    @extend_schema(
        operation_id="parties_list",
        parameters=[PartyListQuerySerializer],
        responses={200: PartyListSerializer, 400: ERRORS[400], 401: ERRORS[401]},
        summary="Parties the caller hosts or has joined, newest first",
    )
    def get(self, request):
        query = PartyListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        parties = services.party_list_for_user(user=request.user, **query.validated_data)
        return Response({"results": PartySerializer(parties, many=True).data})

    @extend_schema(
        operation_id="parties_create",
        request=PartyCreateSerializer,
        responses={
            201: PartySerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            409: OpenApiResponse(
                ErrorSerializer, description="You host too many active parties (`code: party_limit`)."
            ),
        },
        summary="Create a party; the caller is its host and first participant",
    )
    def post(self, request):
        serializer = PartyCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        party = services.party_create(user=request.user, data=serializer.to_settings())
        return _party_response(party, status.HTTP_201_CREATED)


class PartyDetailView(APIView):
    @extend_schema(
        operation_id="parties_retrieve",
        parameters=[PARTY_ID],
        responses={
            200: PartySerializer,
            **ERRORS,
            403: OpenApiResponse(
                ErrorSerializer, description="`code: banned`: the host or a co-host removed you from this party."
            ),
        },
        summary="One party (host and participants only)",
    )
    def get(self, request, party_id: str):
        validate_object_id(party_id, "party_id")
        party = services.party_get_for_member(party_id=party_id, user=request.user, tell_banned=True)
        return _party_response(party)


class PartyBansView(APIView):
    @extend_schema(
        operation_id="parties_bans",
        parameters=[PARTY_ID],
        responses={
            200: PartyBansSerializer,
            403: OpenApiResponse(ErrorSerializer, description="Not the host or a co-host, or the party has ended."),
            **ERRORS,
        },
        summary="Who the room code refuses (host and co-hosts only); lift a ban with participant.unban",
    )
    def get(self, request, party_id: str):
        validate_object_id(party_id, "party_id")
        banned = services.party_bans(party_id=party_id, user=request.user)
        return Response(PartyBansSerializer({"banned": banned}).data)


class PartyJoinView(APIView):
    @extend_schema(
        operation_id="parties_join",
        request=PartyJoinSerializer,
        responses={
            200: PartySerializer,
            **ERRORS,
            403: OpenApiResponse(
                ErrorSerializer, description="`code: banned`: the host or a co-host removed you from this party."
            ),
            409: OpenApiResponse(ErrorSerializer, description="`code: party_full`."),
            429: OpenApiResponse(ErrorSerializer, description="`code: rate_limited`, with `retry_after`."),
        },
        summary="Join the active party with this room code (joining twice keeps one seat)",
    )
    def post(self, request):
        serializer = PartyJoinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        party = services.party_join(room_code=serializer.validated_data["room_code"], user=request.user)
        return _party_response(party)


class PartyLeaveView(APIView):
    @extend_schema(
        operation_id="parties_leave",
        parameters=[PARTY_ID],
        request=None,
        responses={
            204: None,
            **ERRORS,
            403: OpenApiResponse(
                ErrorSerializer, description="The host hands the host role over (or ends the party) first."
            ),
        },
        summary="Give up your seat (not the host)",
    )
    def post(self, request, party_id: str):
        validate_object_id(party_id, "party_id")
        services.party_leave(party_id=party_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PartyEndView(APIView):
    @extend_schema(
        operation_id="parties_end",
        parameters=[PARTY_ID],
        request=None,
        responses={
            200: PartySerializer,
            **ERRORS,
            403: OpenApiResponse(ErrorSerializer, description="Only the host can end the party."),
        },
        summary="End the party (host only); its sockets get party.ended and close",
    )
    def post(self, request, party_id: str):
        validate_object_id(party_id, "party_id")
        return _party_response(services.party_end(party_id=party_id, user=request.user))
