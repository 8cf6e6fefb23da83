"""The admin site: Django's, plus staff pages over the MongoDB data (parties, chat, the database).

``WatchPartyAdminConfig`` replaces ``django.contrib.admin`` in INSTALLED_APPS and makes
``WatchPartyAdminSite`` the default ``admin.site``, so ``@admin.register`` works as usual. The
modules of ``staff.pages`` add the MongoDB pages with ``admin.site.register_view(...)``; every
page is wrapped in ``admin_view`` (staff only: anyone else is sent to the admin login; CSRF
protected; never cached) and the ones given a ``link`` are listed on the admin index and in the
navigation sidebar, in a "MongoDB data" section.

This module imports no models and touches no ``admin.site``: Django loads it while the app
registry is still being populated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.urls import path, reverse


class WatchPartyAdminConfig(AdminConfig):
    default_site = "staff.admin_site.WatchPartyAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscover: every app's admin.py, django.contrib.auth's and knox's included
        # After them, as staff.pages.accounts replaces the User and AuthToken admins they register.
        # (staff has no admin.py: autodiscover would load it before auth's, as staff comes first
        # in INSTALLED_APPS so that its templates override the admin's.)
        from staff import pages  # noqa: F401


@dataclass(frozen=True)
class AdminPage:
    route: str
    view: Callable
    name: str
    link: str | None = None


class WatchPartyAdminSite(admin.AdminSite):
    site_header = "Watch Party administration"
    site_title = "Watch Party admin"
    index_title = "Site administration"

    MONGODB_APP_LABEL = "mongodb"
    MONGODB_APP_NAME = "MongoDB data"

    def __init__(self, name: str = "admin"):
        super().__init__(name)
        self._pages: list[AdminPage] = []

    @property
    def login_form(self):
        """The admin login, with the same login limits as the login page (accounts.forms
        imports models, so not before the app registry is ready)."""
        from accounts.forms import AdminLoginForm

        return AdminLoginForm

    def login(self, request, extra_context=None):
        from accounts.limits import limited_status

        return limited_status(request, super().login(request, extra_context))

    def register_view(self, route: str, view: Callable, *, name: str, link: str | None = None) -> None:
        """Serve ``view(request, site=..., **url_kwargs)`` at ``<admin>/<route>`` as URL
        ``admin:<name>``, for staff only. With ``link``, the admin index links to it under that title."""
        if any(page.name == name for page in self._pages):
            raise ValueError(f"An admin page named {name!r} is already registered")
        self._pages.append(AdminPage(route=route, view=view, name=name, link=link))

    def get_urls(self):
        # Ours first: the admin's own patterns end in a catch-all per app label.
        # Each view is called with ``site=self`` (for ``each_context``) besides its URL arguments.
        pages = [path(page.route, self.admin_view(page.view), {"site": self}, name=page.name) for page in self._pages]
        return pages + super().get_urls()

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        links = sorted((page for page in self._pages if page.link), key=lambda page: page.link)
        if app_label is None and links and self.has_permission(request):
            models = [
                {
                    "name": page.link,
                    "object_name": page.name,
                    "admin_url": reverse(f"{self.name}:{page.name}", current_app=self.name),
                    "add_url": None,
                    "view_only": True,
                    "perms": {"add": False, "change": False, "delete": False, "view": True},
                }
                for page in links
            ]
            app_list.append(
                {
                    "name": self.MONGODB_APP_NAME,
                    "app_label": self.MONGODB_APP_LABEL,
                    "app_url": models[0]["admin_url"],
                    "has_module_perms": True,
                    "models": models,
                }
            )
        return app_list
