from django.apps import AppConfig


class WatchpartyConfig(AppConfig):
    name = "watchparty"
