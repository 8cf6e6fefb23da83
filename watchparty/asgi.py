"""ASGI entry point: HTTP through Django, WebSockets through the chat consumer."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")
# Django must be set up before anything imports models (the consumers and auth middleware do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.wsauth import TokenOrSessionAuthMiddlewareStack  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402
from core.db.client import open_embedded_for_serving  # noqa: E402
from core.realtime.daphne_compat import allow_protocol_close_codes, limit_frame_size  # noqa: E402
from core.realtime.origin import SameOriginValidator  # noqa: E402

open_embedded_for_serving()  # without MONGODB_URI: take the data file now, or stop with why
allow_protocol_close_codes()  # the documented close 1009 (oversize frame) under daphne
limit_frame_size()  # daphne never buffers a frame over WEBSOCKET_MAX_FRAME_BYTES (uvicorn: --ws-max-size)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(TokenOrSessionAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# With 1,000 sockets the collector's full passes took 83-507 ms each, every ~14 s, and made the p99
# delivery latency (docs/performance.md: 207 ms without this, 50 ms with it). Start-up objects
# live as long as the process, so they are frozen out of the collector's reach, and young objects
# are collected in larger, rarer batches.
gc.collect()
gc.freeze()
gc.set_threshold(10_000, 20, 20)
