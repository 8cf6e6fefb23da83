from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User

from accounts.limits import check_login_rate, refuse_page
from core.errors import RateLimited
from core.text import DISPLAY_NAME_MAX_LENGTH, clean_display_name


class SignUpForm(UserCreationForm):
    display_name = forms.CharField(
        max_length=DISPLAY_NAME_MAX_LENGTH,
        required=False,
        help_text="What others see in chat (optional; your username otherwise).",
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)

    def clean_display_name(self) -> str:
        raw = self.cleaned_data.get("display_name", "")
        name = clean_display_name(raw)
        if raw.strip() and not name:
            raise forms.ValidationError("Use some letters or digits in your display name.")
        return name

    def save(self, commit=True):
        user = super().save(commit=False)
        user.first_name = self.cleaned_data.get("display_name", "")
        if commit:
            user.save()
        return user


class LoginLimitMixin:
    """Counts the attempt against the client's and the username's login limits before the
    password is checked, and takes it back when the login succeeds (accounts.limits); over
    a limit, the form is invalid whatever the password."""

    def clean(self):
        try:
            refund = check_login_rate(self.request, self.cleaned_data.get("username"))
        except RateLimited as exc:
            if self.request is not None:
                refuse_page(self.request, exc)
            raise forms.ValidationError(exc.detail, code="rate_limited") from None
        cleaned = super().clean()  # raises on a wrong password or an account that may not log in
        refund()
        return cleaned


class LoginForm(LoginLimitMixin, AuthenticationForm):
    pass


class AdminLoginForm(LoginLimitMixin, AdminAuthenticationForm):
    pass
