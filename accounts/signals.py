"""An account that may no longer act loses its open sockets, however it was changed: the admin,
a script, ``manage.py shell``, any save with ``is_active=False``, or a deletion."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.realtime.fanout import close_user_sockets


@receiver(post_save, sender=get_user_model(), dispatch_uid="watchparty.close_sockets_of_inactive_user")
def close_sockets_of_inactive_user(sender, instance, **kwargs) -> None:
    if not instance.is_active:
        close_user_sockets(str(instance.pk))


@receiver(post_delete, sender=get_user_model(), dispatch_uid="watchparty.close_sockets_of_deleted_user")
def close_sockets_of_deleted_user(sender, instance, **kwargs) -> None:
    close_user_sockets(str(instance.pk))
