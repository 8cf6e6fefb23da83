"""Validation of party input (HTTP; the WebSocket reuses these rules) and the Party output shape."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from core.http.api import (
    CleanCharField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    UtcDateTimeField,
)
from parties.media import content_id_problem
from parties.services import ROOM_CODE_ALPHABET, ROOM_CODE_LENGTH, PartySettings

CONTENT_TYPES = ("live", "vod")


def checked_content_id(value: str, *, site_origin: str | None) -> str:
    """The one content_id rule of creating a party and adding to its queue: a link the player
    cannot play would make a room that only says "could not be loaded"."""
    problem = content_id_problem(value, site_origin=site_origin)
    if problem:
        raise serializers.ValidationError(problem)
    return value


class PartyCreateSerializer(serializers.Serializer):
    # is_private and audio_enabled are gone (neither ever did anything): older clients that still
    # send them are accepted, and the values ignored, as any unknown field is.
    content_id = CleanCharField(min_length=1, max_length=100)
    content_type = serializers.ChoiceField(choices=CONTENT_TYPES)
    content_title = CleanCharField(max_length=200, required=False, allow_blank=True, default="")
    max_participants = StrictIntegerField(required=False, default=10, min_value=2)
    chat_enabled = StrictBooleanField(required=False, default=True)
    sync_playback = StrictBooleanField(required=False, default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The upper bound is a setting, read per request rather than frozen at import.
        self.fields["max_participants"] = StrictIntegerField(
            required=False, default=10, min_value=2, max_value=settings.PARTY_MAX_PARTICIPANTS_LIMIT
        )

    def validate_content_id(self, value: str) -> str:
        request = self.context.get("request")
        # 'self' in media-src: the origin the page will be served from, as this request reached it.
        site_origin = request.build_absolute_uri("/").rstrip("/") if request is not None else None
        return checked_content_id(value, site_origin=site_origin)

    def to_settings(self) -> PartySettings:
        return PartySettings(**self.validated_data)


class RoomCodeField(StrictCharField):
    default_error_messages = {
        "room_code": f"A room code is {ROOM_CODE_LENGTH} letters and digits.",
    }

    def to_internal_value(self, data):
        # Codes are read aloud and typed on phones: accept lower case and stray spaces.
        value = super().to_internal_value(data).upper()
        if len(value) != ROOM_CODE_LENGTH or any(ch not in ROOM_CODE_ALPHABET for ch in value):
            self.fail("room_code")
        return value


class PartyJoinSerializer(serializers.Serializer):
    room_code = RoomCodeField()


class QueueAddSerializer(serializers.Serializer):
    """The ``queue.add`` frame: what creating a party accepts as content_id, and an optional title.
    ``site_origin`` in the context: the origin the room page is served from."""

    content_id = CleanCharField(min_length=1, max_length=100)
    title = CleanCharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_content_id(self, value: str) -> str:
        return checked_content_id(value, site_origin=self.context.get("site_origin"))


QUEUE_ITEM_ID_RE = r"^[0-9a-f]{12}$"


class QueueItemRefSerializer(serializers.Serializer):
    """``queue.remove`` and ``queue.play``: a queued item's id."""

    item_id = serializers.RegexField(QUEUE_ITEM_ID_RE, error_messages={"invalid": "Not a queue item id."})

    def to_internal_value(self, data):
        if isinstance(data, dict) and "item_id" in data and not isinstance(data["item_id"], str):
            raise serializers.ValidationError({"item_id": ["Must be a string."]})
        return super().to_internal_value(data)


class QueueMoveSerializer(QueueItemRefSerializer):
    to = StrictIntegerField(min_value=0, max_value=10_000)


class QueueNextSerializer(serializers.Serializer):
    """``queue.next``: the id of the item that ends (or is skipped); "" for a party's first item
    when it was stored before the queue existed."""

    item_id = serializers.RegexField(
        r"^(?:[0-9a-f]{12})?$", allow_blank=True, error_messages={"invalid": "Not a queue item id."}
    )

    def to_internal_value(self, data):
        if isinstance(data, dict) and "item_id" in data and not isinstance(data["item_id"], str):
            raise serializers.ValidationError({"item_id": ["Must be a string."]})
        return super().to_internal_value(data)


class RatioField(serializers.FloatField):
    """A JSON number from 0 to 1 (not a string, not a boolean)."""

    default_error_messages = {"invalid": "Must be a number from 0 to 1."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)) or not 0 <= data <= 1:
            self.fail("invalid")
        return float(data)


class QueueSettingsSerializer(serializers.Serializer):
    """``queue.settings``: either or both of the host's queue settings."""

    guests_may_queue = StrictBooleanField(required=False)
    skip_ratio = RatioField(required=False)
    wait_for_all = StrictBooleanField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give guests_may_queue, skip_ratio or wait_for_all.")
        return attrs


class QueueItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    content_id = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    added_by = serializers.CharField()
    added_by_name = serializers.CharField()
    added_at = UtcDateTimeField()


class CurrentItemSerializer(serializers.Serializer):
    id = serializers.CharField(source="current_item_id", allow_blank=True)
    content_id = serializers.CharField()
    title = serializers.CharField(source="current_title", allow_blank=True)


class PlayedItemSerializer(serializers.Serializer):
    """A video the party played (the replay's list); ``id`` is what messages name in ``at``."""

    id = serializers.CharField(allow_blank=True)
    content_id = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    started_at = UtcDateTimeField()


class ParticipantRefSerializer(serializers.Serializer):
    """A WebSocket frame naming one participant (the in-room moderation frames)."""

    user_id = StrictCharField(min_length=1, max_length=64, trim_whitespace=False)


class BannedUserSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    user_name = serializers.CharField()


class PartyBansSerializer(serializers.Serializer):
    """Who the room code refuses (host and co-hosts only): the HTTP answer and the `party.bans` frame."""

    banned = BannedUserSerializer(many=True)


class PartyListQuerySerializer(serializers.Serializer):
    include_ended = serializers.BooleanField(required=False, default=False)
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=100)


class ParticipantSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    user_name = serializers.CharField()
    joined_at = UtcDateTimeField()


class PlaybackSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=("playing", "paused"))
    position = serializers.FloatField()
    rate = serializers.FloatField()
    updated_at = UtcDateTimeField()


class PartySerializer(serializers.Serializer):
    id = serializers.CharField()
    room_code = serializers.CharField()
    host_id = serializers.CharField()
    host_name = serializers.CharField()
    content_id = serializers.CharField()
    content_type = serializers.ChoiceField(choices=CONTENT_TYPES)
    content_title = serializers.CharField()
    max_participants = serializers.IntegerField()
    chat_enabled = serializers.BooleanField()
    sync_playback = serializers.BooleanField()
    participants = ParticipantSerializer(many=True)
    participant_count = serializers.IntegerField()
    co_host_ids = serializers.ListField(child=serializers.CharField())
    muted_ids = serializers.ListField(child=serializers.CharField())
    playback = PlaybackSerializer()
    # The shared queue (additions: content_id stays the link playing now).
    current_item = CurrentItemSerializer(source="*")
    queue = QueueItemSerializer(many=True)
    guests_may_queue = serializers.BooleanField()
    skip_ratio = serializers.FloatField()
    skip_votes = serializers.ListField(child=serializers.CharField())
    wait_for_all = serializers.BooleanField()
    waiting = serializers.ListField(child=serializers.CharField())
    # What played, oldest first (an addition, for the replay).
    played = PlayedItemSerializer(many=True)
    created_at = UtcDateTimeField()
    started_at = UtcDateTimeField(allow_null=True)
    ended_at = UtcDateTimeField(allow_null=True)


class PartyListSerializer(serializers.Serializer):
    results = PartySerializer(many=True)
