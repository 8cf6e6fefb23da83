"""API tokens end with the password that obtained them.

Django calls ``password_changed(password, user)`` on every configured password validator whenever
a user saved after ``set_password()`` has a new password: the admin's change-password form, the
password change and reset views, ``manage.py changepassword``, and any code that does the same.
Hooking in there catches them all, and not a hash upgrade at login (which keeps the password).
"""

from __future__ import annotations

from rest_framework.authtoken.models import Token


def revoke_tokens(*, user) -> None:
    """Delete the user's API token: requests carrying it answer 401 from now on."""
    Token.objects.filter(user=user).delete()


class RevokeTokensOnPasswordChange:
    """Listed in AUTH_PASSWORD_VALIDATORS for its ``password_changed`` hook only: it refuses no password."""

    def validate(self, password, user=None) -> None:
        return None

    def password_changed(self, password, user=None) -> None:
        if user is not None and user.pk is not None:
            revoke_tokens(user=user)

    def get_help_text(self) -> str:
        # Shown with the password rules on the forms that set a password.
        return "Changing your password later signs out your apps and scripts (their API token is revoked)."
