"""Let the app close a WebSocket with a protocol close code (1009) under daphne.

PROTOCOL.md promises close 1009 for a frame over WEBSOCKET_MAX_FRAME_BYTES. daphne passes the code
of an ASGI ``websocket.close`` to autobahn's ``sendClose``, which takes only 1000 and 3000-4999 (the
codes an application may pick) and raises for 1009: the consumer then crashes and the client gets
1011 instead. 1009 ("message too big") is a code an endpoint sends about the protocol itself, and
autobahn sends such codes with ``sendCloseFrame``; daphne's close does the same for the codes here.
"""

from __future__ import annotations

# RFC 6455 section 7.4.1 codes an endpoint may send (1004-1006 and 1015 never go on the wire).
PROTOCOL_CLOSE_CODES = frozenset({1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})


def allow_protocol_close_codes() -> None:
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # another ASGI server (uvicorn sends any valid code as it is)
        return
    original = WebSocketProtocol.serverClose
    if getattr(original, "allows_protocol_codes", False):
        return

    def serverClose(self, code=None):
        if code in PROTOCOL_CLOSE_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            original(self, code)

    serverClose.allows_protocol_codes = True
    WebSocketProtocol.serverClose = serverClose
