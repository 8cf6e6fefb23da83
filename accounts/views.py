"""Sign-up and login pages, with the login limits (accounts.limits)."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.forms import LoginForm, SignUpForm
from accounts.limits import check_signup_rate, limited_status, refuse_page
from core.errors import RateLimited


class LoginPage(auth_views.LoginView):
    """Django's login page, with the login limits (LoginForm); refused: 429 and Retry-After."""

    authentication_form = LoginForm

    def post(self, request, *args, **kwargs):
        return limited_status(request, super().post(request, *args, **kwargs))


def safe_next(request) -> str:
    """The `next` page asked for (an invite link, say), if it is on this site; else ""
    (the check LoginView makes)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else ""


def signup(request):
    next_url = safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url or "home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Only a sign-up that would create an account counts against the client's limit.
        try:
            check_signup_rate(request)
        except RateLimited as exc:
            refuse_page(request, exc)
            form.add_error(None, exc.detail)
        else:
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(next_url or "home")
    return limited_status(request, render(request, "registration/signup.html", {"form": form, "next": next_url}))
