"""Asking an inference server for its context window.

vLLM lists ``max_model_len`` for each model under ``/v1/models``; llama.cpp's server says
its ``n_ctx`` under ``/props`` (at the server root, next to ``/v1``; a model entry's
``meta.n_ctx`` is read too). A model's training window (``meta.n_ctx_train``) is not the
server's limit and is not used. A server that says nothing (llama-cpp-python's, or one
that cannot be reached) gives ``None``: the window is then unknown unless the task file
names it (``model.context_window``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else None


def window_from_models(listing: Any, model: str | None) -> int | None:
    """The window in a ``/v1/models`` answer (the named model's, else the first one's)."""
    entries = listing.get("data") if isinstance(listing, Mapping) else None
    if not isinstance(entries, list):
        return None
    named = [e for e in entries if isinstance(e, Mapping) and e.get("id") == model]
    for entry in named or [e for e in entries if isinstance(e, Mapping)]:
        meta = entry.get("meta")
        window = _positive(entry.get("max_model_len")) or (
            _positive(meta.get("n_ctx")) if isinstance(meta, Mapping) else None)
        if window is not None:
            return window
    return None


def window_from_props(props: Any) -> int | None:
    """The window in a llama.cpp ``/props`` answer."""
    if not isinstance(props, Mapping):
        return None
    settings = props.get("default_generation_settings")
    nested = settings.get("n_ctx") if isinstance(settings, Mapping) else None
    return _positive(props.get("n_ctx")) or _positive(nested)


async def _get_json(client: httpx.AsyncClient, url: str) -> Any:
    """The JSON at ``url``, ``None`` if the server answers without it.

    Raises:
        httpx.TransportError: The server could not be reached (ask again later).
    """
    try:
        response = await client.get(url)
        return response.json() if response.status_code == 200 else None
    except httpx.TransportError:
        raise
    except (httpx.HTTPError, ValueError):
        return None


async def server_window(client: httpx.AsyncClient, base_url: str, model: str | None,
                        kind: str | None) -> int | None:
    """The server's context window, or ``None`` when it does not say.

    Args:
        client: The backend's client (its base URL is the API root, ``.../v1``).
        base_url: The API root, to find the server root for ``/props``.
        model: The model name requests carry, to pick its entry.
        kind: The server kind (``llama.cpp`` is asked ``/props`` first).

    Raises:
        httpx.TransportError: The server could not be reached; the answer is not known yet.
    """
    root = base_url.rstrip("/")
    root = root[: -len("/v1")] if root.endswith("/v1") else root
    if kind == "llama.cpp":
        window = window_from_props(await _get_json(client, root + "/props"))
        if window is not None:
            return window
    return window_from_models(await _get_json(client, "models"), model)
