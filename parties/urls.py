from django.urls import path

from parties import views

urlpatterns = [
    path("", views.PartyListCreateView.as_view(), name="party-list"),
    path("join/", views.PartyJoinView.as_view(), name="party-join"),
    path("<str:party_id>/", views.PartyDetailView.as_view(), name="party-detail"),
    path("<str:party_id>/bans/", views.PartyBansView.as_view(), name="party-bans"),
    path("<str:party_id>/leave/", views.PartyLeaveView.as_view(), name="party-leave"),
    path("<str:party_id>/end/", views.PartyEndView.as_view(), name="party-end"),
]
