from django.apps import AppConfig


class WatchpartyConfig(AppConfig):
    name = "watchparty"

    def ready(self) -> None:
        from watchparty import signals  # noqa: F401 - connects the receivers
