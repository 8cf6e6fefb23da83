import json

from channels.generic.websocket import AsyncWebsocketConsumer


class ChatConsumer(AsyncWebsocketConsumer):
    """The Channels tutorial's room consumer, speaking the app's frame names so that the same
    load generator drives both: ``chat.send`` in, ``chat.message`` out to the whole group."""

    async def connect(self):
        self.room_group_name = "chat_" + self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        data = json.loads(text_data)
        await self.channel_layer.group_send(
            self.room_group_name,
            {"type": "chat.message", "message": data.get("message"), "client_id": data.get("client_id")},
        )

    async def chat_message(self, event):
        await self.send(
            text_data=json.dumps(
                {"type": "chat.message", "message": {"message": event["message"], "client_id": event["client_id"]}}
            )
        )
