"""The agent as a service: the OpenAI Responses API over our agent and its tools.

* :mod:`.app`: :func:`build_app`, the one Starlette app (model and agent routes);
* :mod:`.config`: :class:`ServedAgent` (from the server's task file) and :class:`ServeLimits`;
* :mod:`.request`: validating a ``/v1/responses`` body;
* :mod:`.service`: conversations kept per response chain, routed and run;
* :mod:`.chain`: one conversation, its run and the client's pending function call;
* :mod:`.writer`: a run's events as a response object and its stream events;
* :mod:`.routes`: the ``/v1/responses`` route (JSON or SSE).

It sits above the task layer and the run (it builds agents from a task file); nothing
below imports it. The names below are loaded on first use (Starlette with them).
"""

from gptoss_agent._lazy import lazy_exports

_WHERE = {
    "build_app": "gptoss_agent.agent.serve.app",
    "ServedAgent": "gptoss_agent.agent.serve.config",
    "ServeLimits": "gptoss_agent.agent.serve.config",
    "ResponsesService": "gptoss_agent.agent.serve.service",
    "parse_response_request": "gptoss_agent.agent.serve.request",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
