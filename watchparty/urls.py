from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts import views as account_views
from accounts.api import TokenObtainView, TokenRevokeAllView, TokenRevokeView
from core.http import health
from staff import views as staff_views
from web import pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("accounts/login/", account_views.LoginPage.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", account_views.signup, name="signup"),
    path("admin/", admin.site.urls),
    path("api/auth/token/", TokenObtainView.as_view(), name="api-token"),
    path("api/auth/token/revoke/", TokenRevokeView.as_view(), name="api-token-revoke"),
    path("api/auth/token/revoke-all/", TokenRevokeAllView.as_view(), name="api-token-revoke-all"),
    path("api/parties/<str:party_id>/messages/", include("chat.urls")),
    path("api/parties/", include("parties.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("parties/<str:party_id>/", pages.party_room, name="party-room"),
    path("parties/<str:party_id>/replay/", pages.party_replay, name="party-replay"),
    path("join/<str:code>/", pages.party_invite, name="party-invite"),
    path("health/live", health.health_live, name="health-live"),
    path("health/ready", health.health_ready, name="health-ready"),
    path("health/database", staff_views.health_database, name="health-database"),
    path("metrics", staff_views.metrics, name="metrics"),
]
