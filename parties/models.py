"""Django models of the parties app. Parties themselves are MongoDB documents (parties/repository.py);
only the staff's moderation log lives in the relational database, beside the users it names."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ModerationAction(models.Model):
    """One thing a staff member, or a party's host or co-host in the room, did to a party or a
    message: who, what, when, on which party or message. Written by the moderation services (parties.services, chat.services) in the same
    transaction step as the change; never edited afterwards."""

    class Action(models.TextChoices):
        END_PARTY = "end_party", "End party"
        REMOVE_PARTICIPANT = "remove_participant", "Remove participant"
        DELETE_MESSAGE = "delete_message", "Delete message"
        # In-room moderation by the party's host or a co-host (the moderator field names them).
        MUTE_PARTICIPANT = "mute_participant", "Mute participant"
        UNMUTE_PARTICIPANT = "unmute_participant", "Unmute participant"
        ADD_CO_HOST = "add_co_host", "Name co-host"
        REMOVE_CO_HOST = "remove_co_host", "Unname co-host"
        TRANSFER_HOST = "transfer_host", "Hand over host"
        UNBAN_PARTICIPANT = "unban_participant", "Lift ban"

    # PROTECT: a moderator with a history is deactivated, not deleted, so the log keeps its "who".
    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="moderation_actions")
    action = models.CharField(max_length=32, choices=Action.choices)
    party_id = models.CharField(max_length=24, help_text="The MongoDB id of the party.")
    # Staff search the log by the code people quote; empty on entries from before it was recorded.
    room_code = models.CharField(
        max_length=16, blank=True, help_text="The party's room code when the action was taken."
    )
    message_id = models.CharField(max_length=24, blank=True, help_text="The MongoDB id of the message, if any.")
    target_user_id = models.CharField(
        max_length=64, blank=True, help_text="The user acted upon: the removed participant or the message's author."
    )
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["party_id", "-created_at"], name="moderation_party_created"),
            models.Index(fields=["-created_at"], name="moderation_created"),
        ]

    def __str__(self) -> str:
        target = f"message {self.message_id}" if self.message_id else f"party {self.party_id}"
        return f"{self.get_action_display()} on {target} by {self.moderator_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"
