"""Start the server the one way it is started everywhere: ``./dev serve``, the Dockerfile,
docker-compose.yml and the browser tests all run ``python -m watchparty.serve [HOST:PORT]``.

It is uvicorn with the project's options, read from the Django settings so that they cannot
differ between dev and production:

- ``ws_max_size`` is WEBSOCKET_MAX_FRAME_BYTES: a larger frame from a client is refused (1009)
  from its header instead of being buffered (uvicorn's default is 16 MiB). It applies only to
  incoming frames; what the server sends is bounded by its own page sizes.
- ``ws_per_message_deflate`` is WEBSOCKET_PER_MESSAGE_DEFLATE (on by default, as uvicorn's own).
- ``proxy_headers`` off: uvicorn would otherwise take the client address from X-Forwarded-For
  whenever the peer is 127.0.0.1 (its default FORWARDED_ALLOW_IPS), so any local process or a
  client behind a local reverse proxy could pick its own address for every per-address limit.
  The app reads that header itself, exactly TRUSTED_PROXY_COUNT hops deep
  (accounts.limits.client_ip), and the scheme from SECURE_PROXY_SSL_HEADER: one source of
  truth each.
- ``--reload`` (``./dev serve``) restarts on a change to the project's Python files (watchfiles,
  from uvicorn[standard]).

Static files are served by WhiteNoise in the app (settings.MIDDLEWARE), in DEBUG too, so that
what a browser gets (Range requests answered 206, caching headers) is the same in dev.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

APPLICATION = "watchparty.asgi:application"
DEFAULT_ADDRESS = "127.0.0.1:8000"
ROOT = Path(__file__).resolve().parent.parent
# Watched by --reload: the project's code, not the virtualenv or the database files.
RELOAD_DIRS = ("watchparty", "parties", "chat")


def parse_address(address: str) -> tuple[str, int]:
    """("127.0.0.1", 8000) from "HOST:PORT", "PORT" or "[::1]:PORT"."""
    host, _, port = address.rpartition(":")
    host = {"": "127.0.0.1", "0": "0.0.0.0"}.get(host, host).strip("[]")
    return host, int(port)


def uvicorn_options(settings) -> dict:
    """The options every deployment runs uvicorn with (see the module docstring)."""
    return {
        "ws_max_size": settings.WEBSOCKET_MAX_FRAME_BYTES,
        "ws_per_message_deflate": settings.WEBSOCKET_PER_MESSAGE_DEFLATE,
        "proxy_headers": False,
        "lifespan": "off",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m watchparty.serve", description=__doc__.splitlines()[0])
    parser.add_argument("address", nargs="?", default=DEFAULT_ADDRESS, help="HOST:PORT or PORT (default %(default)s)")
    parser.add_argument("--reload", action="store_true", help="restart when a Python file of the project changes")
    args = parser.parse_args(argv)
    try:
        host, port = parse_address(args.address)
    except ValueError:
        parser.error(f"{args.address!r} is not an address: give PORT or HOST:PORT, e.g. 127.0.0.1:8001")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")
    import uvicorn
    from django.conf import settings

    options = uvicorn_options(settings)
    if args.reload:
        options.update(reload=True, reload_dirs=[str(ROOT / name) for name in RELOAD_DIRS])
    uvicorn.run(APPLICATION, host=host, port=port, **options)


if __name__ == "__main__":
    main()
