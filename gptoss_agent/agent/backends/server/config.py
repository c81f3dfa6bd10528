"""How to reach and talk to an inference server: settings, retry policy and per-server presets.

:class:`ServerBackendConfig` holds every setting of
:class:`~gptoss_agent.agent.backends.server.backend.ServerBackend`; its class methods
:meth:`~ServerBackendConfig.vllm`, :meth:`~ServerBackendConfig.sglang`,
:meth:`~ServerBackendConfig.llama_cpp` and :meth:`~ServerBackendConfig.gptoss_serve` fill in
what each server needs. :func:`server_config` picks the preset by name (one of
:data:`SERVER_KINDS`), for callers that hold the kind as a string (the task layer).
Nothing here imports ``httpx``.

Decoding constraints (:mod:`~gptoss_agent.agent.backends.constraint`) travel as the
Harmony grammar of :func:`~gptoss_agent.agent.backends.transformers.grammar.harmony_grammar`,
a Lark grammar that names Harmony's special tokens. Only llguidance reads such a
grammar, so sending one is opt in (``constrain=True`` on the presets): vLLM started with
``--structured-outputs-config.backend guidance`` (the grammar goes in
``structured_outputs.grammar``; ``guided_grammar`` for vLLM before 0.12, started with
``--guided-decoding-backend guidance``) and SGLang started with ``--grammar-backend
llguidance`` (the ``ebnf`` field). llama.cpp's server crashes on a grammar that names a
stop token, so nothing is ever sent to it; ``gptoss-agent serve`` has no grammar field.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PromptFormat = Literal["token_ids", "text"]
"""How a prompt is sent: as token ids, or as text with the special tokens spelled out."""

ConstraintField = Literal["structured_outputs", "guided_grammar", "ebnf"]
"""Where a request carries a decoding constraint's grammar: ``structured_outputs``
(``{"grammar": ...}``, vLLM 0.10.2 and later), ``guided_grammar`` (vLLM before 0.12),
``ebnf`` (SGLang)."""

CONSTRAINT_FIELDS: tuple[ConstraintField, ...] = ("structured_outputs", "guided_grammar",
                                                  "ebnf")


@dataclass(frozen=True)
class RetryPolicy:
    """When and how often to retry a failed request.

    Attributes:
        max_attempts: Attempts in all (the first one included) before giving up.
        initial_delay: Seconds before the first retry.
        max_delay: Cap of one wait.
        multiplier: Growth of the wait per attempt.
        jitter: Fraction of each wait drawn at random (``0.5``: between 50% and 100%),
            so that many sessions do not retry in lockstep.

    Raises:
        ValueError: ``max_attempts`` is below 1 or ``jitter`` outside ``[0, 1]``.
    """

    max_attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1))
        return base * (1 - self.jitter * rng.random())


@dataclass(frozen=True)
class ServerBackendConfig:
    """Where the server is and how to talk to it.

    Prefer the presets :meth:`vllm`, :meth:`sglang`, :meth:`llama_cpp` and
    :meth:`gptoss_serve`, or :func:`server_config`.

    Attributes:
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: The model name the server knows the checkpoint by.
        prompt_format: ``"token_ids"`` or ``"text"`` (llama.cpp's server rejects token-id
            prompts).
        api_key: Sent as ``Authorization: Bearer ...`` when set.
        connect_timeout: Seconds to open a connection.
        read_timeout: Most seconds between two pieces of the stream (a long prefill on a
            busy server must fit in it).
        retry: Backoff for connection errors, timeouts, 5xx and 429.
        max_connections: Size of the shared connection pool (concurrent requests).
        send_stop_token_ids: Send ``stop_token_ids`` (vLLM, SGLang extension).
        send_stop_strings: Send the stop tokens as ``stop`` strings.
        include_usage: Ask for a final usage chunk (``stream_options.include_usage``).
        session_header: Header that carries the session id (for session-affine routing).
        extra_body: Further request fields (server-specific sampling options).
        constraint_field: Where to send a request's decoding constraint (its Harmony
            grammar), or ``None`` to send none (the loop validates what comes back).
            Only for a server whose grammar engine is llguidance (see the module
            docstring).
        kind: The server kind the preset was made for (one of :data:`SERVER_KINDS`), or
            ``None``.

    Raises:
        ValueError: ``prompt_format`` is neither ``"token_ids"`` nor ``"text"``,
            ``constraint_field`` is not one of :data:`CONSTRAINT_FIELDS`, or one is set
            for llama.cpp's server.
    """

    base_url: str
    model: str = "openai/gpt-oss-20b"
    prompt_format: PromptFormat = "token_ids"
    api_key: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_connections: int = 256
    send_stop_token_ids: bool = True
    send_stop_strings: bool = False
    include_usage: bool = True
    session_header: str | None = None
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    constraint_field: ConstraintField | None = None
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.prompt_format not in ("token_ids", "text"):
            raise ValueError(
                f"prompt_format must be 'token_ids' or 'text', got {self.prompt_format!r}"
            )
        if self.constraint_field is not None:
            if self.constraint_field not in CONSTRAINT_FIELDS:
                raise ValueError(f"constraint_field must be one of "
                                 f"{', '.join(CONSTRAINT_FIELDS)}, got {self.constraint_field!r}")
            if self.kind == "llama.cpp":
                raise ValueError(LLAMA_CPP_NO_GRAMMAR)

    @classmethod
    def vllm(
        cls, base_url: str, model: str = "openai/gpt-oss-20b", *, constrain: bool = False,
        **overrides: Any,
    ) -> ServerBackendConfig:
        """Settings for vLLM's OpenAI-compatible server.

        ``constrain=True`` sends decoding constraints in ``structured_outputs.grammar``:
        only for a server started with ``--structured-outputs-config.backend guidance``.
        """
        extra = {
            "skip_special_tokens": False,
            "spaces_between_special_tokens": False,
            "return_token_ids": True,
        }
        settings: dict[str, Any] = {
            "kind": "vllm", "constraint_field": "structured_outputs" if constrain else None,
            **overrides,
        }
        return cls(base_url=base_url, model=model, extra_body=extra, **settings)

    @classmethod
    def sglang(
        cls, base_url: str, model: str = "openai/gpt-oss-20b", *, constrain: bool = False,
        **overrides: Any,
    ) -> ServerBackendConfig:
        """Settings for SGLang's OpenAI-compatible server.

        ``constrain=True`` sends decoding constraints in ``ebnf``: only for a server
        started with ``--grammar-backend llguidance``.
        """
        extra = {"skip_special_tokens": False, "spaces_between_special_tokens": False}
        settings: dict[str, Any] = {
            "kind": "sglang", "constraint_field": "ebnf" if constrain else None, **overrides,
        }
        return cls(base_url=base_url, model=model, extra_body=extra, **settings)

    @classmethod
    def gptoss_serve(
        cls, base_url: str, model: str = "gpt-oss", *, constrain: bool = False,
        **overrides: Any,
    ) -> ServerBackendConfig:
        """Settings for ``gptoss-agent serve`` (token ids, one KV cache per session).

        Raises:
            ValueError: ``constrain`` is set (its endpoint takes no grammar).
        """
        if constrain:
            raise ValueError("gptoss-agent serve takes no decoding constraint")
        settings: dict[str, Any] = {"session_header": "X-Session-Id", "kind": "gptoss-agent",
                                    **overrides}
        return cls(base_url=base_url, model=model, **settings)

    @classmethod
    def llama_cpp(
        cls, base_url: str, model: str = "gpt-oss", *, constrain: bool = False,
        **overrides: Any,
    ) -> ServerBackendConfig:
        """Settings for llama.cpp's server (``llama-cpp-python[server]``): text prompts.

        No decoding constraint is ever sent (:data:`LLAMA_CPP_NO_GRAMMAR`).

        Raises:
            ValueError: ``constrain`` is set.
        """
        if constrain:
            raise ValueError(LLAMA_CPP_NO_GRAMMAR)
        settings: dict[str, Any] = {
            "prompt_format": "text",
            "send_stop_token_ids": False,
            "send_stop_strings": True,
            "include_usage": False,
            "kind": "llama.cpp",
            **overrides,
        }
        return cls(base_url=base_url, model=model, **settings)


LLAMA_CPP_NO_GRAMMAR = (
    "llama.cpp's server crashes on a grammar that names a stop token (<|call|>, "
    "<|return|>), and a Harmony grammar must: no decoding constraint is sent to it, and "
    "the agent loop validates calls and answers instead"
)
"""Why llama.cpp's server gets no decoding constraint."""

_PRESETS: dict[str, Callable[..., ServerBackendConfig]] = {
    "vllm": ServerBackendConfig.vllm,
    "sglang": ServerBackendConfig.sglang,
    "llama.cpp": ServerBackendConfig.llama_cpp,
    "gptoss-agent": ServerBackendConfig.gptoss_serve,
}

SERVER_KINDS: tuple[str, ...] = tuple(_PRESETS)
"""The server kinds :func:`server_config` knows: vLLM, SGLang, llama.cpp's server and
``gptoss-agent serve``."""


def server_config(kind: str, url: str, *, model: str | None = None,
                  api_key: str | None = None, constrain: bool = False) -> ServerBackendConfig:
    """The preset settings of a server of ``kind`` at ``url``.

    Args:
        kind: One of :data:`SERVER_KINDS`.
        url: The API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: The model name the server knows the checkpoint by (``None``: the preset's
            default, ``openai/gpt-oss-20b`` for vLLM and SGLang, ``gpt-oss`` otherwise).
        api_key: A bearer token to send, or ``None``.
        constrain: Send decoding constraints (vLLM and SGLang with llguidance as their
            grammar engine only; see the module docstring).

    Returns:
        The config, to pass to ``ServerBackend``.

    Raises:
        ValueError: ``kind`` is not one of :data:`SERVER_KINDS`, or ``constrain`` is set
            for a server that cannot take a Harmony grammar.
    """
    preset = _PRESETS.get(kind)
    if preset is None:
        raise ValueError(
            f"unknown server kind {kind!r}: expected one of {', '.join(SERVER_KINDS)}"
        )
    overrides: dict[str, Any] = {"api_key": api_key, "constrain": constrain}
    if model is not None:
        overrides["model"] = model
    return preset(url, **overrides)
