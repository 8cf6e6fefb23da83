"""Validation of every chat input, shared by the HTTP API and the WebSocket consumer, and the
Message output shape."""

from __future__ import annotations

import math
import re

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.http.api import ObjectIdField, StrictCharField, StrictIntegerField, UtcDateTimeField
from core.text import clean_message_text, find_executable_markup, is_emoji, is_language_code

CLIENT_MESSAGE_TYPES = ("text", "emoji")
PLAYBACK_STATES = ("playing", "paused")
MAX_PLAYBACK_POSITION_SECONDS = 7 * 24 * 3600
# Playback speeds: the range a <video> and the YouTube player both offer.
MIN_PLAYBACK_RATE = 0.25
MAX_PLAYBACK_RATE = 2.0


class MessageTextField(StrictCharField):
    """Chat text: cleaned (control characters, bidi overrides, surrounding space), bounded, and
    refused when it carries an executable markup vector."""

    default_error_messages = {
        "blank": "The message is empty.",
        "markup": "Messages may not contain executable markup ({reason}).",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = clean_message_text(super().to_internal_value(data))
        if not text:
            self.fail("blank")
        limit = settings.CHAT_MESSAGE_MAX_LENGTH
        if len(text) > limit:
            raise serializers.ValidationError(f"At most {limit} characters.")
        reason = find_executable_markup(text)
        if reason:
            self.fail("markup", reason=reason)
        return text


class EmojiField(StrictCharField):
    default_error_messages = {"not_emoji": "Must be an emoji."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", settings.REACTION_EMOJI_MAX_LENGTH)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not is_emoji(value):
            self.fail("not_emoji")
        return value


class LanguageCodeField(StrictCharField):
    default_error_messages = {"language": "Must be a language code such as en or pt-BR."}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not is_language_code(value):
            self.fail("language")
        return value


class StrictNumberField(serializers.FloatField):
    """A JSON number (not a string, not a boolean), finite."""

    default_error_messages = {"invalid": "Must be a number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)) or not math.isfinite(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class ChatSendSerializer(serializers.Serializer):
    message = MessageTextField()
    message_type = serializers.ChoiceField(choices=CLIENT_MESSAGE_TYPES, required=False, default="text")
    client_id = StrictCharField(min_length=1, max_length=64, required=False, trim_whitespace=False)
    # The message this one answers (same party; checked by the service). An addition: a client
    # that never sends it is unaffected.
    reply_to = ObjectIdField(required=False)

    def validate(self, attrs):
        if attrs.get("message_type") == "emoji" and not (
            len(attrs["message"]) <= settings.REACTION_EMOJI_MAX_LENGTH and is_emoji(attrs["message"])
        ):
            raise serializers.ValidationError({"message": ["An emoji message must be a single emoji."]})
        return attrs


class MessageRefSerializer(serializers.Serializer):
    """A frame naming one message (``message.delete``)."""

    message_id = ObjectIdField()


class MessageEditSerializer(MessageRefSerializer):
    """``message.edit``: the new text passes the very rules of ``chat.send``."""

    message = MessageTextField()


class ReactionSerializer(serializers.Serializer):
    emoji = EmojiField()


class ReactionFrameSerializer(ReactionSerializer):
    message_id = ObjectIdField()


# A queue item's id (parties.services.new_item_id), or "" for the one video of a party stored
# before the queue.
ITEM_ID_RE = r"^(?:[0-9a-f]{12})?$"
# Seconds into a video in a query string: plain decimal digits (never "nan", "inf" or "1e9").
SECONDS_RE = r"^[0-9]{1,7}(?:\.[0-9]{1,3})?$"


class SecondsQueryField(StrictCharField):
    """Seconds into a video, from a query string: 0 to MAX_PLAYBACK_POSITION_SECONDS, at most
    three decimals."""

    default_error_messages = {
        "seconds": f"Seconds into the video: a number such as 75 or 75.5, from 0 to {MAX_PLAYBACK_POSITION_SECONDS}."
    }

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not re.match(SECONDS_RE, value) or float(value) > MAX_PLAYBACK_POSITION_SECONDS:
            self.fail("seconds")
        return float(value)


class HistoryQuerySerializer(serializers.Serializer):
    """A history page by time (``before``), or, with ``item``, by position in that video (``from``
    seconds, or ``after`` a message of it): the replay's pages."""

    before = ObjectIdField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1)
    lang = LanguageCodeField(required=False)
    item = serializers.RegexField(
        ITEM_ID_RE,
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Not a video (queue item) id."},
        help_text="Read by position in this video (a Party `played` id; empty: a party stored before the queue).",
    )
    after = ObjectIdField(required=False, help_text="With item: the page starts just after this message.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["limit"] = serializers.IntegerField(
            required=False,
            default=settings.CHAT_HISTORY_PAGE_SIZE,
            min_value=1,
            max_value=settings.CHAT_HISTORY_MAX_LIMIT,
        )
        # "from" is a Python keyword: the field is named here rather than declared above.
        self.fields["from"] = SecondsQueryField(
            required=False, help_text="With item: the page starts at this second of the video (0 to 604800)."
        )

    def validate(self, attrs):
        by_position = "item" in attrs
        errors: dict[str, list[str]] = {}
        if not by_position:
            for name in ("from", "after"):
                if name in attrs:
                    errors[name] = [f"{name} reads by position: give item (the video) too."]
        else:
            if "before" in attrs:
                errors["before"] = ["before pages by time; by position (item), page on with after."]
            if "from" in attrs and "after" in attrs:
                errors["after"] = ["Give from or after, not both."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class HistoryFrameSerializer(HistoryQuerySerializer):
    """The WebSocket form: the same rules, but JSON numbers only for the limit. Pages by position
    are the HTTP endpoint's alone (the replay reads them; the room pages by time)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("item", "from", "after"):
            del self.fields[name]
        self.fields["limit"] = StrictIntegerField(
            required=False,
            default=settings.CHAT_HISTORY_PAGE_SIZE,
            min_value=1,
            max_value=settings.CHAT_HISTORY_MAX_LIMIT,
        )


class ResumeFrameSerializer(serializers.Serializer):
    after = ObjectIdField()
    lang = LanguageCodeField(required=False)


class PlaybackUpdateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=PLAYBACK_STATES)
    position = StrictNumberField(min_value=0, max_value=MAX_PLAYBACK_POSITION_SECONDS)
    rate = StrictNumberField(required=False, default=1.0, min_value=MIN_PLAYBACK_RATE, max_value=MAX_PLAYBACK_RATE)


class ReplyQuoteSerializer(serializers.Serializer):
    """What a reply quotes of its original, as it was when replied to. ``text`` is empty and
    ``deleted`` true once the original was deleted."""

    id = serializers.CharField()
    user_id = serializers.CharField()
    user_name = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    deleted = serializers.BooleanField(default=False)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["deleted"] = bool(instance.get("deleted", False))
        return data


class MessageAtSerializer(serializers.Serializer):
    """Where the party's video was when the message was stored (the server's playback state): the
    shape MessageAtField writes, for the OpenAPI document."""

    item_id = serializers.CharField(allow_null=True)
    seconds = serializers.FloatField()


@extend_schema_field(MessageAtSerializer(allow_null=True))
class MessageAtField(serializers.Field):
    """A message's ``at``, written directly: a nested serializer here doubled the CPU of every
    message payload (about 100 us more a chat.send), and this goes out on every send."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return instance.at  # None included: to_representation says null itself

    def to_representation(self, value):
        return None if value is None else {"item_id": value.item_id, "seconds": value.seconds}


class MessageSerializer(serializers.Serializer):
    id = serializers.CharField()
    party_id = serializers.CharField()
    user_id = serializers.CharField()
    user_name = serializers.CharField()
    message = serializers.CharField()
    message_type = serializers.ChoiceField(choices=("text", "emoji", "system"))
    source_language = serializers.CharField(allow_null=True)
    translations = serializers.DictField(child=serializers.CharField())
    reactions = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    client_id = serializers.CharField(allow_null=True)
    timestamp = UtcDateTimeField()
    edited_at = UtcDateTimeField(allow_null=True)
    reply_to = ReplyQuoteSerializer(allow_null=True)
    mentions = serializers.ListField(child=serializers.CharField())
    # An addition: null for messages stored before it, and while no video plays (a name).
    at = MessageAtField()


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    next_before = serializers.CharField(allow_null=True, required=False, help_text="Pages by time.")
    next_after = serializers.CharField(
        allow_null=True, required=False, help_text="Pages by position (item): the after for the next page."
    )


class ReactionsSerializer(serializers.Serializer):
    message_id = serializers.CharField()
    reactions = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
