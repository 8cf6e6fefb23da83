"""Validation of every chat input, shared by the HTTP API and the WebSocket consumer, and the
Message output shape."""

from __future__ import annotations

import math

from django.conf import settings
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


class HistoryQuerySerializer(serializers.Serializer):
    before = ObjectIdField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1)
    lang = LanguageCodeField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["limit"] = serializers.IntegerField(
            required=False,
            default=settings.CHAT_HISTORY_PAGE_SIZE,
            min_value=1,
            max_value=settings.CHAT_HISTORY_MAX_LIMIT,
        )


class HistoryFrameSerializer(HistoryQuerySerializer):
    """The WebSocket form: the same rules, but JSON numbers only for the limit."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    next_before = serializers.CharField(allow_null=True)


class ReactionsSerializer(serializers.Serializer):
    message_id = serializers.CharField()
    reactions = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
