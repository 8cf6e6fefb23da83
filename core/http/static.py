"""WhiteNoise, with file bodies streamed under ASGI.

Under ASGI, Django sends a response whose body is a synchronous iterator (WhiteNoise's file
responses) by reading the whole iterator into memory first ("StreamingHttpResponse must consume
synchronous iterators"). For a party's video that is the whole rest of the file on every seek
(``Range: bytes=N-``): a 2 GB film meant 2 GB of memory per request. Here the same response reads
the file in blocks, each off the event loop, as the client takes them. Under WSGI nothing changes.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from whitenoise.middleware import WhiteNoiseMiddleware

BLOCK_BYTES = 64 * 1024


async def _blocks(file):
    read = sync_to_async(file.read, thread_sensitive=False)
    while block := await read(BLOCK_BYTES):
        yield block


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    @staticmethod
    def serve(static_file, request):
        response = WhiteNoiseMiddleware.serve(static_file, request)
        file = getattr(response, "file_to_stream", None)
        if isinstance(request, ASGIRequest) and file is not None:
            # The file stays registered for closing (FileResponse did that when it was given it).
            response.streaming_content = _blocks(file)
        return response
