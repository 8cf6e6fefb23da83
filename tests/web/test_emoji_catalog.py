"""The emoji picker's catalog: what web/emoji_catalog.py keeps, and the committed emoji-data.js."""

import json

import pytest
from django.conf import settings
from rest_framework import serializers

from chat.serializers import ReactionSerializer
from web.emoji_catalog import MAX_LENGTH, OUTPUT, catalog

SAMPLE = """\
# group: Smileys & Emotion
1F600 ; fully-qualified # 😀 E1.0 grinning face
263A FE0F ; fully-qualified # ☺️ E0.6 smiling face
263A ; unqualified # ☺ E0.6 smiling face
# group: People & Body
1F44B ; fully-qualified # 👋 E0.6 waving hand
1F44B 1F3FD ; fully-qualified # 👋🏽 E1.0 waving hand: medium skin tone
# group: Component
1F3FB ; component # 🏻 E1.0 light skin tone
# group: Flags
1F3F4 E0067 E0062 E0065 E006E E0067 E007F ; fully-qualified # 🏴󠁧󠁢󠁥󠁮󠁧󠁿 E5.0 flag: England
1F1EB 1F1F7 ; fully-qualified # 🇫🇷 E0.6 flag: France
"""


def committed_groups():
    text = OUTPUT.read_text(encoding="utf-8")
    body = text[text.index("= [") + 2 : text.rindex(";")]
    return json.loads(body.replace(",\n]", "\n]"))


def test_catalog_keeps_fully_qualified_emoji_without_skin_tones_or_components():
    """Unqualified forms, skin-tone variants and the Component group are left out; an emoji over
    the length limit (the 7-code-point England flag with a limit of 6) too."""
    assert catalog(SAMPLE.splitlines()) == [
        ("Smileys & Emotion", [("😀", "grinning face"), ("☺️", "smiling face")]),
        ("People & Body", [("👋", "waving hand")]),
        (
            "Flags",
            [
                ("🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", "flag: England"),
                ("🇫🇷", "flag: France"),
            ],
        ),
    ]
    assert catalog(SAMPLE.splitlines(), max_length=6)[-1] == ("Flags", [("🇫🇷", "flag: France")])


def test_the_generator_follows_the_servers_length_rule():
    """The generator's limit is the server's REACTION_EMOJI_MAX_LENGTH."""
    assert MAX_LENGTH == settings.REACTION_EMOJI_MAX_LENGTH


def test_every_emoji_the_picker_offers_is_a_reaction_the_server_accepts():
    """Each of the committed catalog's emoji passes the reaction rules; there are over 1,800 of them
    in Unicode's groups, and no emoji twice."""
    groups = committed_groups()
    emoji = [entry[0] for _, entries in groups for entry in entries]
    assert len(emoji) > 1800 and len(set(emoji)) == len(emoji)
    assert [name for name, _ in groups][:2] == ["Smileys & Emotion", "People & Body"]
    field = ReactionSerializer().fields["emoji"]
    refused = []
    for value in emoji:
        try:
            field.run_validation(value)
        except serializers.ValidationError:
            refused.append(value)
    assert refused == []


@pytest.mark.parametrize("name", ["grinning face", "soccer ball", "flag: France"])
def test_the_catalog_names_emoji_for_the_filter(name):
    """The names the picker's filter and screen readers use are in the catalog."""
    assert any(entry[1] == name for _, entries in committed_groups() for entry in entries)
