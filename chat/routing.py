from django.urls import re_path

from chat.consumers import PartyConsumer

# Any id-like segment reaches the consumer, which closes with 4404 for a malformed one rather than
# leaving the client with a failed handshake.
websocket_urlpatterns = [
    re_path(r"^ws/parties/(?P<party_id>[^/]{1,64})/$", PartyConsumer.as_asgi()),
]
