"""ASGI entry point: HTTP through Django, WebSockets through the chat consumer."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")
# Django must be set up before anything imports models (the consumers and auth middleware do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from watchparty.daphne_compat import allow_protocol_close_codes  # noqa: E402
from watchparty.wsauth import TokenOrSessionAuthMiddlewareStack  # noqa: E402

allow_protocol_close_codes()  # the documented close 1009 (oversize frame) under daphne

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            TokenOrSessionAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
