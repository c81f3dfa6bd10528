"""One model backend per distinct model setting across the tasks of a batch run.

``gptoss-agent run a.yaml b.yaml ... --concurrency N`` runs tasks side by side. Tasks that
name the same in-process checkpoint (same folder, device and dtype) share one loaded model:
it is loaded once instead of once per task, its memory is held once, and the concurrent
sessions' decode steps are batched on it. Tasks that name the same inference server
share one client and its connection pool. Every run has its own session id, so sessions
never see each other's KV caches.

Scripted models are not shared: each task replays its own completions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from gptoss_agent.agent.backend import ModelBackend
from gptoss_agent.agent.taskfile import TaskFile

_AGENT_SETTINGS = frozenset({"sampling", "reasoning_effort"})
"""Keys of a task's ``model`` section that configure the agent, not the backend."""


def sharing_key(task: TaskFile) -> str | None:
    """What identifies the backend ``task`` needs among a batch's tasks, or ``None`` if
    it cannot be shared (a scripted model)."""
    model = task.data["model"]
    kind = model["backend"]
    if kind == "scripted":
        return None
    settings = {key: value for key, value in model.items() if key not in _AGENT_SETTINGS}
    if kind == "transformers":
        settings["path"] = str(task.resolve(model["path"]))
    return json.dumps(settings, sort_keys=True, default=str)


class SharedBackends:
    """The backends of one batch run, each built once, on first request, and closed by
    :meth:`aclose` when the batch is over.

    Args:
        build: Builds the backend a task names (blocking; an in-process checkpoint is
            loaded on a worker thread, so the event loop keeps running meanwhile).
        sessions: How many tasks run at once: an in-process backend keeps at least that
            many sessions' KV caches.
    """

    def __init__(self, build: Callable[[TaskFile], ModelBackend], sessions: int = 1) -> None:
        self._build = build
        self._sessions = sessions
        self._backends: dict[str, asyncio.Future[ModelBackend]] = {}

    async def get(self, task: TaskFile) -> ModelBackend | None:
        """The shared backend of ``task``, or ``None`` if it must build its own.

        Raises:
            Exception: What building the backend raised (again for every task sharing it).
        """
        key = sharing_key(task)
        if key is None:
            return None
        if key not in self._backends:
            if task.data["model"]["backend"] == "transformers":
                self._backends[key] = asyncio.ensure_future(self._load(task))
            else:
                future: asyncio.Future[ModelBackend] = \
                    asyncio.get_running_loop().create_future()
                try:
                    future.set_result(self._build(task))
                except Exception as error:  # every task sharing it will see it
                    future.set_exception(error)
                self._backends[key] = future
        return await asyncio.shield(self._backends[key])

    async def _load(self, task: TaskFile) -> ModelBackend:
        backend = await asyncio.to_thread(self._build, task)
        keep_sessions = getattr(backend, "keep_sessions", None)
        if keep_sessions is not None:
            keep_sessions(self._sessions)
        return backend

    async def aclose(self) -> None:
        """Close every backend that was built (waiting for ones still loading)."""
        futures, self._backends = list(self._backends.values()), {}
        for future in futures:
            try:
                backend = await future
            except Exception:  # its tasks already reported the failure
                continue
            await backend.aclose()
