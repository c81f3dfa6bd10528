"""One model backend per distinct model setting across the tasks of a batch run.

``gptoss-agent run a.yaml b.yaml ... --concurrency N`` runs tasks side by side. Tasks that
name the same in-process checkpoint (same folder, device and dtype) share one loaded model:
it is loaded once instead of once per task, its memory is held once, and the concurrent
sessions' decode steps are batched on it. Tasks that name the same inference server
share one client and its connection pool. Every run has its own session id, so sessions
never see each other's KV caches. A backend is closed as soon as the last task that
names it has finished, so a batch over several checkpoints holds one at a time when it
runs one task at a time.

Scripted models are not shared: each task replays its own completions.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence

from gptoss_agent.agent.backends.base import ModelBackend
from gptoss_agent.agent.task.settings import (
    ModelChoice,
    ScriptedModel,
    TaskSettings,
    TransformersModel,
)


def sharing_key(task: TaskSettings) -> ModelChoice | None:
    """What identifies the backend ``task`` needs among a batch's tasks.

    The model settings themselves (frozen values, defaults filled in and paths
    resolved), or ``None`` if the backend cannot be shared (a scripted model).
    """
    return None if isinstance(task.model, ScriptedModel) else task.model


class SharedBackends:
    """The backends of one batch run, each built once and closed after its last task.

    A backend is built on first request, closed when the last task naming it is
    :meth:`done`, and any left are closed by :meth:`aclose`.

    Args:
        build: Builds the backend a task names (blocking; an in-process checkpoint is
            loaded on a worker thread, so the event loop keeps running meanwhile).
        tasks: Every task of the batch (to know when a backend's last user is done).
        sessions: How many tasks run at once: an in-process backend keeps at least that
            many sessions' KV caches.
    """

    def __init__(self, build: Callable[[ModelChoice], ModelBackend],
                 tasks: Sequence[TaskSettings], sessions: int = 1) -> None:
        self._build = build
        self._sessions = sessions
        self._users = Counter(key for key in map(sharing_key, tasks) if key is not None)
        self._backends: dict[ModelChoice, asyncio.Future[ModelBackend]] = {}

    async def get(self, task: TaskSettings) -> ModelBackend | None:
        """The shared backend of ``task``, or ``None`` if it must build its own.

        Raises:
            Exception: What building the backend raised (again for every task sharing it).
        """
        key = sharing_key(task)
        if key is None:
            return None
        if key not in self._backends:
            if isinstance(key, TransformersModel):
                self._backends[key] = asyncio.ensure_future(self._load(key))
            else:
                future: asyncio.Future[ModelBackend] = \
                    asyncio.get_running_loop().create_future()
                try:
                    future.set_result(self._build(key))
                except Exception as error:  # every task sharing it will see it
                    future.set_exception(error)
                self._backends[key] = future
        return await asyncio.shield(self._backends[key])

    async def done(self, task: TaskSettings) -> None:
        """``task`` no longer needs its backend; the last task of a backend closes it."""
        key = sharing_key(task)
        if key is None or self._users[key] <= 0:
            return
        self._users[key] -= 1
        if self._users[key] == 0 and key in self._backends:
            await self._close(self._backends.pop(key))

    async def aclose(self) -> None:
        """Close every backend still open, waiting for ones still loading.

        A backend that fails to close does not keep the others open; its error is
        raised afterwards.
        """
        futures, self._backends = list(self._backends.values()), {}
        failures: list[Exception] = []
        for future in futures:
            try:
                await self._close(future)
            except Exception as error:
                failures.append(error)
        if failures:
            raise failures[0]

    async def _load(self, model: ModelChoice) -> ModelBackend:
        backend = await asyncio.to_thread(self._build, model)
        keep_sessions = getattr(backend, "keep_sessions", None)
        if keep_sessions is not None:
            keep_sessions(self._sessions)
        return backend

    @staticmethod
    async def _close(future: asyncio.Future[ModelBackend]) -> None:
        try:
            backend = await asyncio.shield(future)
        except Exception:  # its tasks already reported the failure
            return
        await backend.aclose()
