"""The neutral seam between the agent loop and the tools it dispatches to.

This module owns the value types a tool sees (``ToolCall``, ``ToolContext``) and
returns (``ToolResult``), the description a tool gives of itself (``NamespaceSpec``,
``FunctionSpec``) and the ``Tool`` protocol every tool namespace implements. It knows
nothing of Harmony: the agent package turns these values into Harmony messages.

A *namespace* is what the model addresses: ``python`` (a freeform tool whose whole
message is the input), ``browser`` (functions ``browser.search`` / ``browser.open`` /
``browser.find``) or ``functions`` (the developer's function tools).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class FunctionSpec:
    """One callable entry of a namespace, as the model is told about it.

    Attributes:
        name: The name the model writes after the namespace (``search`` in
            ``browser.search``).
        description: What the function does, shown to the model as a comment.
        parameters: The JSON schema of the arguments object, or ``None`` for a
            function that takes no arguments.
        strict: Calls must match ``parameters`` by construction: a backend that
            constrains decoding makes the sampled arguments valid.
    """

    name: str
    description: str
    parameters: Mapping[str, Any] | None = None
    strict: bool = False


@dataclass(frozen=True)
class NamespaceSpec:
    """How a tool namespace describes itself to the model.

    Attributes:
        name: The namespace the model addresses (``python``, ``browser``, ``functions``).
        description: Free text shown under the namespace heading. For a builtin
            freeform tool (``python``) this is the whole description.
        functions: The functions inside the namespace; empty for freeform tools.
        builtin: ``True`` for the tools gpt-oss was trained with (rendered in the
            system message, callable from ``analysis`` or ``commentary``);
            ``False`` for developer tools (rendered in the developer message,
            called on ``commentary``).
    """

    name: str
    description: str
    functions: tuple[FunctionSpec, ...] = ()
    builtin: bool = False

    @property
    def is_freeform(self) -> bool:
        """Whether the whole message is the input (no named functions)."""
        return not self.functions

    def function(self, name: str) -> FunctionSpec | None:
        """The function called ``name`` in this namespace, if there is one."""
        for spec in self.functions:
            if spec.name == name:
                return spec
        return None


@dataclass(frozen=True)
class ToolCall:
    """A call the model made, as the tool receives it.

    Attributes:
        call_id: Unique within a run; ties the call to its result in events and
            transcripts.
        namespace: The namespace addressed (``functions``, ``browser``, ``python``).
        name: The function inside the namespace, or ``None`` for freeform tools.
        arguments: The message body exactly as the model wrote it (JSON text for
            function-style tools, code for ``python``).
        channel: The channel the call was made on (``analysis`` or ``commentary``).
        content_type: The declared content type (``json`` for ``<|constrain|>json``),
            or ``None``.
        address: What the model wrote after ``to=`` when it differs from
            :attr:`recipient` (a prefixed group's ``functions.git_status`` for
            ``git.status``), else ``None``.
    """

    call_id: str
    namespace: str
    name: str | None
    arguments: str
    channel: str = "commentary"
    content_type: str | None = None
    address: str | None = None

    @property
    def recipient(self) -> str:
        """The namespace and function called (``browser.search``, ``python``)."""
        return self.namespace if self.name is None else f"{self.namespace}.{self.name}"

    @property
    def written(self) -> str:
        """What the model wrote after ``to=``: :attr:`address`, or :attr:`recipient`."""
        return self.address or self.recipient


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns to the model.

    Attributes:
        text: The text the model reads as the tool's message.
        is_error: ``True`` when the call failed in a way the model should fix or
            work around (bad arguments, an exception, a timeout).
        metadata: Extra facts for the run result and transcripts that the model
            does not see (files written, timings, truncation counts, ...).
            Values must be JSON-serialisable.
        invalid_call: ``True`` when the model erred in writing the call itself
            (arguments that are not JSON or break the schema): the loop counts it
            toward ``max_consecutive_errors``, unlike a call that was well-formed but
            failed.
    """

    text: str
    is_error: bool = False
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    invalid_call: bool = False

    @classmethod
    def error(cls, text: str, **metadata: Any) -> ToolResult:
        """A result that tells the model what went wrong."""
        return cls(text=text, is_error=True, metadata=MappingProxyType(dict(metadata)))

    @classmethod
    def invalid(cls, text: str, **metadata: Any) -> ToolResult:
        """A result for a call the model wrote wrongly (bad JSON, schema violation)."""
        return cls(text=text, is_error=True, metadata=MappingProxyType(dict(metadata)),
                   invalid_call=True)


@dataclass(frozen=True)
class ToolContext:
    """What the loop tells a tool about the run it is called from.

    Attributes:
        session_id: Stable id of the agent session (one conversation); tools keep
            per-session state (a sandbox container, a browser context) under it.
        run_id: Id of the current ``run`` within the session.
        timeout_s: The deadline the loop enforces on this call, in seconds, or
            ``None`` for no deadline. Tools with their own, tighter limit may use it.
    """

    session_id: str
    run_id: str = ""
    timeout_s: float | None = None


@runtime_checkable
class Tool(Protocol):
    """A namespace of callables the model can address.

    Implementations: the function toolset (``functions.*``), the python sandbox
    tool and the browser tool. Calls for one session arrive one at a time.
    """

    @property
    def spec(self) -> NamespaceSpec:
        """The description rendered into the prompt."""
        ...

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        """Run one call. Errors the model can fix are returned, not raised."""
        ...

    async def aclose(self) -> None:
        """Release everything the tool holds (containers, browsers). Idempotent."""
        ...


@runtime_checkable
class StatefulTool(Tool, Protocol):
    """A tool whose per-session state is saved with the session and restored on resume.

    After every call to it the session records :meth:`snapshot` in its transcript;
    restoring a session from a transcript hands the last recorded state to
    :meth:`restore`.
    """

    def snapshot(self, session_id: str) -> Mapping[str, Any]:
        """JSON-serialisable state of ``session_id`` (e.g. the browser's page stack)."""
        ...

    def restore(self, session_id: str, state: Mapping[str, Any]) -> None:
        """Load state produced by :meth:`snapshot` for ``session_id``."""
        ...


@runtime_checkable
class SessionScopedTool(Tool, Protocol):
    """A tool that holds resources per session (a container, a browser context).

    :meth:`AgentSession.aclose <gptoss_agent.agent.agent.AgentSession.aclose>` calls
    :meth:`close_session` when a session ends, so those resources are freed without
    closing the tool for other sessions.
    """

    async def close_session(self, session_id: str) -> None:
        """Free what ``session_id`` holds. Idempotent."""
        ...


@runtime_checkable
class FinalReviewer(Tool, Protocol):
    """A tool with something to say about the final answer (the browser checks citations).

    Attributes:
        review_key: The key the review is stored under in ``RunResult.reviews``.
    """

    review_key: str

    def review_final(self, session_id: str, text: str) -> Mapping[str, Any] | None:
        """A JSON-serialisable review of ``text``, or ``None`` when there is nothing to say."""
        ...


@runtime_checkable
class ToolGroup(Tool, Protocol):
    """A named group of functions (an MCP server, a user's own list of tools).

    It is shown to the model either as its own Harmony namespace (``namespace git {...}``,
    called as ``to=git.status``) or, when :attr:`prefixed`, inside ``functions`` with its
    name as a prefix (``functions.git_status``). Either way the registry hands the call
    to the group with ``namespace`` = the group's name and ``name`` = the function's own
    name.

    Attributes:
        prefixed: Show the functions inside ``functions`` as ``<group>_<function>``.
    """

    prefixed: bool


@runtime_checkable
class OutputKeeper(Tool, Protocol):
    """A tool that keeps the full text of a long result where the model can read it.

    When a result is cut to its token budget, the loop hands the whole text to
    :meth:`keep_output` and names the returned place in the cut marker (the python tool
    writes a file under ``/mnt/data``, which the model opens with python itself).
    """

    def keep_output(self, session_id: str, output_id: str, text: str) -> str:
        """Keep ``text``; return where the model finds it (a path it can open).

        Raises:
            OSError: The text could not be kept (the loop then keeps it in the session).
        """
        ...


@runtime_checkable
class SelfPagingTool(Tool, Protocol):
    """A tool that bounds and pages its own output (the browser): the loop never cuts it.

    Attributes:
        pages_own_output: ``True`` to leave every result of the tool as it is.
    """

    pages_own_output: bool
