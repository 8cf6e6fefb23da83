"""Baseline: the smallest Channels group chat (the shape of the Channels tutorial).

An AsyncWebsocketConsumer joins the group named in the URL and group_sends every text it receives
to that group. No storage, no validation, no authentication. It runs on the same ASGI server and
the same Redis channel layer as the app, so the app's figures can be given as a ratio to it.
"""
