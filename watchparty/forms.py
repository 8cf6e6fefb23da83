from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User

from watchparty.text import DISPLAY_NAME_MAX_LENGTH, clean_display_name


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
