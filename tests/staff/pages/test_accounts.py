"""The user admin: a moderator's account is deactivated, not deleted, and the admin says why."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from parties import services as party_services
from parties.models import ModerationAction
from parties.services import PartySettings


@pytest.fixture
def superuser_client(client, make_user):
    client.force_login(make_user(username="root_admin", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def moderator(make_user, user):
    """A staff member who ended a party, so the moderation log names them."""
    mod = make_user(username="mod_kim", is_staff=True)
    party = party_services.party_create(user=user, data=PartySettings(content_id="film", content_type="vod"))
    party_services.party_end_by_moderator(party_id=party.id, moderator=mod, reason="test")
    return mod


def test_deleting_a_moderator_explains_why_and_offers_deactivation(superuser_client, moderator):
    """A superuser deleting a moderator is told the log keeps their actions (not a permission error) and offered deactivation."""
    response = superuser_client.get(reverse("admin:auth_user_delete", args=[moderator.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "permission to delete" not in page
    assert "has taken 1 moderation action" in page and "cannot be deleted" in page
    assert f"moderator__id__exact={moderator.pk}" in page
    deactivate = reverse("admin:auth_user_deactivate", args=[moderator.pk])
    assert f'action="{deactivate}"' in page and "Deactivate mod_kim" in page
    # Posting Django's own delete form changes nothing either.
    superuser_client.post(reverse("admin:auth_user_delete", args=[moderator.pk]), {"post": "yes"})
    moderator.refresh_from_db()
    assert moderator.is_active

    response = superuser_client.post(deactivate, follow=True)
    assert response.status_code == 200 and "is deactivated: they can no longer sign in" in response.content.decode()
    moderator.refresh_from_db()
    assert not moderator.is_active
    assert ModerationAction.objects.filter(moderator=moderator).count() == 1


def test_deleting_a_user_without_moderation_is_django_as_usual(superuser_client, make_user):
    """An account with no moderation log entries is deleted through Django's own confirmation."""
    plain = make_user(username="plain_pat")
    response = superuser_client.get(reverse("admin:auth_user_delete", args=[plain.pk]))
    assert "Are you sure" in response.content.decode()
    superuser_client.post(reverse("admin:auth_user_delete", args=[plain.pk]), {"post": "yes"})
    assert not type(plain).objects.filter(pk=plain.pk).exists()


def test_deactivation_needs_post_change_permission_and_csrf(client, make_user, moderator):
    """GET only leads back to the explanation; staff without user permissions get 403; without the CSRF token, 403."""
    url = reverse("admin:auth_user_deactivate", args=[moderator.pk])
    client.force_login(make_user(is_staff=True))
    assert client.post(url).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_user(is_staff=True, is_superuser=True))
    assert strict.post(url).status_code == 403
    assert strict.get(url).status_code == 302
    moderator.refresh_from_db()
    assert moderator.is_active
