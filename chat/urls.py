from django.urls import path

from chat import views

urlpatterns = [
    path("", views.MessageListCreateView.as_view(), name="message-list"),
    path("<str:message_id>/reactions/", views.ReactionView.as_view(), name="message-reactions"),
]
