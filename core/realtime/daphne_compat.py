"""daphne, made to keep PROTOCOL.md's promises about oversize frames (runserver serves with it).

1. Close 1009. PROTOCOL.md promises close 1009 for a frame over WEBSOCKET_MAX_FRAME_BYTES. daphne
   passes the code of an ASGI ``websocket.close`` to autobahn's ``sendClose``, which takes only 1000
   and 3000-4999 (the codes an application may pick) and raises for 1009: the consumer then crashes
   and the client gets 1011 instead. 1009 ("message too big") is a code an endpoint sends about the
   protocol itself, and autobahn sends such codes with ``sendCloseFrame``; daphne's close does the
   same for the codes here.
2. Nothing large buffered. daphne lets autobahn take frames and messages up to 1 MiB (its
   ``--websocket-max-frame-size``/``--websocket-max-message-size``; runserver has no such flags),
   and the app only judges a frame once it has it whole. Here every daphne server caps both at
   WEBSOCKET_MAX_FRAME_BYTES, so autobahn refuses a larger frame from its header. autobahn also
   drops the TCP connection on such a failure by default (``failByDrop``, the client sees 1006);
   it sends the close frame (1009) instead.
3. Only incoming frames are capped. autobahn applies ``maxMessagePayloadSize`` to what it sends as
   well (``PayloadExceededError`` in ``sendMessage``), which made a ``party.state`` over 16 KiB
   crash the consumer (close 1011). What the server sends is bounded by its own page sizes
   (docs/PROTOCOL.md "Limits"), so a send is made with the limit lifted; incoming frames keep it.
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


def limit_frame_size() -> None:
    try:
        from daphne.ws_protocol import WebSocketFactory
    except ImportError:  # another ASGI server (uvicorn: --ws-max-size)
        return
    original = WebSocketFactory.setProtocolOptions
    if getattr(original, "limits_frame_size", False):
        return

    def setProtocolOptions(self, *args, **kwargs):
        from django.conf import settings

        limit = settings.WEBSOCKET_MAX_FRAME_BYTES
        for option in ("maxFramePayloadSize", "maxMessagePayloadSize"):
            # 0 means unlimited to autobahn
            kwargs[option] = min(kwargs.get(option) or limit, limit)
        kwargs.setdefault("failByDrop", False)
        original(self, *args, **kwargs)

    setProtocolOptions.limits_frame_size = True
    WebSocketFactory.setProtocolOptions = setProtocolOptions
    _send_without_limit()


def _send_without_limit() -> None:
    from daphne.ws_protocol import WebSocketProtocol

    original = WebSocketProtocol.sendMessage
    if getattr(original, "unlimited", False):
        return

    def sendMessage(self, *args, **kwargs):
        # The reactor thread runs this whole call: no incoming data is read while the limit is off.
        limit = self.maxMessagePayloadSize
        self.maxMessagePayloadSize = 0
        try:
            return original(self, *args, **kwargs)
        finally:
            self.maxMessagePayloadSize = limit

    sendMessage.unlimited = True
    WebSocketProtocol.sendMessage = sendMessage
