"""Sessions by key (:class:`SandboxPool`): one sandbox per agent session, closed together.

The pool creates a sandbox the first time a key is asked for (the container itself
starts on the sandbox's first call), hands the same one back afterwards, and closes all
of them in :meth:`SandboxPool.aclose`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from gptoss_agent.sandbox.base import Sandbox
from gptoss_agent.sandbox.errors import SandboxClosedError


class SandboxPool:
    """Keyed sandboxes.

    Args:
        factory: Makes the sandbox for a new key (called once per key).
    """

    def __init__(self, factory: Callable[[str], Sandbox]) -> None:
        self._factory = factory
        self._sandboxes: dict[str, Sandbox] = {}
        self._closed = False

    def get(self, key: str) -> Sandbox:
        """The sandbox of ``key``, made on first use.

        Raises:
            SandboxClosedError: The pool was closed.
        """
        if self._closed:
            raise SandboxClosedError("this sandbox pool was closed")
        sandbox = self._sandboxes.get(key)
        if sandbox is None:
            sandbox = self._factory(key)
            self._sandboxes[key] = sandbox
        return sandbox

    def peek(self, key: str) -> Sandbox | None:
        """The sandbox of ``key`` if one was made."""
        return self._sandboxes.get(key)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._sandboxes))

    def __len__(self) -> int:
        return len(self._sandboxes)

    async def close(self, key: str) -> None:
        """Close and forget the sandbox of ``key`` (its data folder is kept)."""
        sandbox = self._sandboxes.pop(key, None)
        if sandbox is not None:
            await sandbox.close()

    async def aclose(self) -> None:
        """Close every sandbox, even if some fail; re-raise the first failure. Idempotent."""
        self._closed = True
        sandboxes = list(self._sandboxes.values())
        self._sandboxes.clear()
        results = await asyncio.gather(*(s.close() for s in sandboxes), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
