"""Running the device core off the UI thread.

Every call into `strongroom.client` goes through one `CoreWorker`: a single
background thread, so the screen keeps drawing while Argon2id derives a key or
a sync downloads, and the core's SQLite connection is only ever used from the
thread that opened it, one call at a time.
"""

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")


class CoreWorker:
    """One background thread that runs the core's blocking calls in order."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="strongroom-core"
        )

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn(*args, **kwargs)` on the worker thread and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(fn, *args, **kwargs)
        )

    def run_now(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` on the worker thread and wait for it (startup and shutdown only)."""
        return self._executor.submit(fn, *args, **kwargs).result()

    def shutdown(self) -> None:
        """Finish the running call and stop the thread."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class TaskSet:
    """The app's background tasks, kept so they are not garbage-collected mid-way.

    Tests await `settle()` to run the event loop until every task is done.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start `coro` on the app's loop."""
        task = self.loop.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The screens turn every expected error into words; reaching
            # here means a bug, which must be visible in the log.
            log.error(
                "app_task_failed task=%s error=%s",
                task.get_name(),
                type(task.exception()).__name__,
                exc_info=task.exception(),
            )

    async def settle(self) -> None:
        """Wait until no task is running, including tasks started by tasks."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
