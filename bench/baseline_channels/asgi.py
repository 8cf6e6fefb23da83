import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baseline_channels.settings")
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from bench.baseline_channels.consumers import ChatConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "websocket": AllowedHostsOriginValidator(
            URLRouter([re_path(r"^ws/parties/(?P<room>[0-9a-f]{24})/$", ChatConsumer.as_asgi())])
        ),
    }
)
