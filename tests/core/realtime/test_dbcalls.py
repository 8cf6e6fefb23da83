import asyncio
import threading
import time

from asgiref.sync import sync_to_async
from django.conf import settings

from core.realtime.dbcalls import db_call


def _wait_and_name_the_thread() -> int:
    time.sleep(0.02)
    return threading.get_ident()


async def test_db_call_runs_on_a_bounded_pool_off_the_shared_thread():
    """db_call runs calls side by side on at most DB_CALL_THREADS threads, none of them sync_to_async's shared thread."""
    shared = await sync_to_async(threading.get_ident)()
    calls = 3 * settings.DB_CALL_THREADS
    threads = set(await asyncio.gather(*(db_call(_wait_and_name_the_thread)() for _ in range(calls))))
    assert shared not in threads
    assert 1 < len(threads) <= settings.DB_CALL_THREADS
