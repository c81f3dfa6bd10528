"""The JSON Schema of task files (``task.yaml``), published with ``gptoss-agent schema``.

Unknown keys are errors everywhere (``additionalProperties: false``), so a typo never
silently does nothing. Keys are named as the config fields they set; :data:`RENAMED`
lists earlier names, which get an error saying the new one.
"""

from __future__ import annotations

from typing import Any


def _strict(properties: dict[str, Any], required: list[str] | None = None,
            description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    return schema


RENAMED: dict[str, str] = {
    "budgets.max_turns": "budgets.max_generations",
    "budgets.max_tokens": "budgets.max_sampled_tokens",
    "tools.python.output_limit_bytes": "tools.python.output_bytes",
    "tools.browser.allow": "tools.browser.allowlist",
    "tools.browser.chromium": "tools.browser.executable_path",
    "tools.browser.page_timeout_s": "tools.browser.load_timeout_s",
    "output.data_dir": "tools.python.data_dir",
}
"""Keys that were renamed: old dotted path -> new dotted path."""

_POSITIVE_NUMBER = {"type": "number", "exclusiveMinimum": 0}
_POSITIVE_INT = {"type": "integer", "minimum": 1}

SAMPLING = _strict(
    {
        "temperature": {"type": "number", "minimum": 0},
        "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "max_tokens": _POSITIVE_INT,
        "seed": {"type": "integer"},
    },
    description="Sampling settings of each generation (max_tokens caps one generation); "
    "gpt-oss recommends temperature 1.0 and top_p 1.0.",
)

MODEL = _strict(
    {
        "backend": {"enum": ["scripted", "transformers", "server"]},
        "path": {"type": "string", "description": "Local checkpoint folder (transformers)."},
        "device": {"type": "string", "description": "auto, cpu, cuda, cuda:0, ..."},
        "dtype": {"enum": ["auto", "float32", "bfloat16", "float16"],
                  "description": "auto keeps the checkpoint's own dtype."},
        "url": {"type": "string", "description": "Base URL of an inference server."},
        "server": {"enum": ["vllm", "sglang", "llama.cpp", "gptoss-agent"]},
        "model_name": {"type": "string", "description": "Model name sent to the server."},
        "api_key_env": {"type": "string", "description": "Environment variable with a key."},
        "constrain": {"type": "boolean",
                      "description": "Send strict calls, tool_choice and output_schema to a "
                                     "vLLM or SGLang server as a grammar (its guidance "
                                     "backend must be on)."},
        "completions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Scripted Harmony completions (scripted backend).",
        },
        "script": {"type": "string", "description": "YAML file with a list of completions."},
        "sampling": SAMPLING,
        "reasoning_effort": {"enum": ["low", "medium", "high"]},
        "context_window": {**_POSITIVE_INT,
                           "description": "The model's window in tokens; wins over what "
                                          "the backend says (a checkpoint's "
                                          "max_position_embeddings, a server's "
                                          "max_model_len)."},
    },
    required=["backend"],
)

COMPACTION = _strict(
    {
        "strategies": {
            "type": "array",
            "items": {"enum": ["elide_tool_outputs", "drop_reasoning", "summarise"]},
            "uniqueItems": True,
            "description": "Run in this order until the prompt is small enough.",
        },
        "threshold": {
            "anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                      {"type": "integer", "minimum": 2}],
            "description": "Compact when the prompt passes this fraction of the window "
                           "(0.8) or this many tokens (100000).",
        },
        "target": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                   "description": "Compact down to this fraction of the window."},
        "keep_recent": {**_POSITIVE_INT,
                        "description": "Most recent exchanges kept verbatim."},
        "reserve_tokens": {**_POSITIVE_INT,
                           "description": "Fewest tokens a generation must have room for."},
        "summary_max_tokens": _POSITIVE_INT,
        "keep_elided": {"type": "boolean",
                        "description": "Keep an elided result's text for the pager and "
                                       "name it in the stub (default true)."},
        "summariser": {**MODEL, "description": "A second (cheaper) model that writes "
                                                "summaries; default: the task's model."},
    },
    description="Keeping long runs inside the context window (docs/long_runs.md).",
)

FUNCTION = _strict(
    {
        "import": {
            "type": "string",
            "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
            "description": "module.path:function",
        },
        "file": {"type": "string", "description": "A Python file, relative to the task file."},
        "function": {"type": "string", "description": "Function name inside `file`."},
        "name": {"type": "string", "description": "Name shown to the model."},
        "description": {"type": "string"},
        "schema": {"type": "object", "description": "Explicit JSON schema of the arguments."},
        "timeout_s": _POSITIVE_NUMBER,
        "strict": {"type": "boolean",
                   "description": "Constrain the arguments to the schema while decoding."},
    },
)

PYTHON_TOOL = _strict(
    {
        "image": {"type": "string"},
        "timeout_s": _POSITIVE_NUMBER,
        "memory_mb": _POSITIVE_INT,
        "cpus": _POSITIVE_NUMBER,
        "pids": _POSITIVE_INT,
        "network": {"type": "boolean"},
        "data_dir": {"type": "string", "description": "Host folder for /mnt/data."},
        "output_bytes": _POSITIVE_INT,
        "data_files": {**_POSITIVE_INT,
                       "description": "Most files and folders in /mnt/data (a quota)."},
        "lower_after_s": {
            "type": ["number", "null"], "exclusiveMinimum": 0,
            "description": "A call still running after this long, or one that hit a limit, "
                           "puts its session at the lowest CPU weight until a call ends "
                           "in time (null: never)."},
        "keep_background": {
            "type": "boolean",
            "description": "Keep processes a call leaves running (listed in each result, "
                           "stopped at session end) instead of stopping them."},
        "data_transport": {
            "enum": ["auto", "bind", "copy"],
            "description": "How /mnt/data reaches the container: a bind mount, or a volume "
                           "plus archive copies (auto: copies when DOCKER_HOST is remote or the "
                           "engine's binds do not show this machine's folder)."},
    },
)

BROWSER_TOOL = _strict(
    {
        "search": _strict(
            {
                "backend": {"enum": ["local", "searxng", "brave"]},
                "corpus": {"type": "string", "description": "Folder indexed by `local`."},
                "url": {"type": "string"},
                "api_key_env": {"type": "string"},
            },
        ),
        "allowlist": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Hosts or CIDRs admitted despite being private or loopback, "
                           "optionally with :port (localhost:8080, [::1]:8080): that port only.",
        },
        "executable_path": {"type": "string", "description": "Path to the Chromium binary."},
        "load_timeout_s": _POSITIVE_NUMBER,
        "operation_timeout_s": {
            **_POSITIVE_NUMBER, "description": "Limit on each browser operation other than "
            "navigation (reading the page, opening or closing a tab); a page that misses it "
            "has its tab replaced."},
        "hang_probe_s": {
            **_POSITIVE_NUMBER, "description": "The probe period of a pending navigation: "
            "a tab that misses two periods while a reference tab answers counts as hung "
            "and is replaced."},
        "max_dialogs": {
            "type": "integer", "minimum": 0,
            "description": "Dialogs one load may open (all dismissed) before its tab is closed."},
        "nice": {
            "type": ["integer", "null"], "minimum": 0, "maximum": 19,
            "description": "Chromium runs this many steps nicer than the agent, unable to "
                           "raise itself back (null: as Playwright starts it)."},
    },
)

CODING_TOOLS = _strict(
    {
        "project": {"type": "string", "description": "Host folder copied into the workspace."},
        "shell_timeout_s": _POSITIVE_NUMBER,
        "apply_back": {
            "type": "boolean",
            "description": "Copy the agent's changes back onto the project when it succeeds.",
        },
        "diff": {"type": "string", "description": "Write the agent's changes here as a diff."},
        "mount_project": {
            "type": "boolean",
            "description": "Mount the project read-write instead of copying it (opt-in: "
            "the agent then edits your files in place).",
        },
    },
    description="apply_patch and shell tools in the python sandbox's workspace.",
)

_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}

MCP_SERVER = _strict(
    {
        "command": {"type": "string", "description": "Program of a stdio server."},
        "args": {"type": "array", "items": {"type": "string"}},
        "env": {**_STRINGS, "description": "Environment of a stdio server (${VAR} expands)."},
        "cwd": {"type": "string"},
        "url": {"type": "string", "description": "Streamable HTTP endpoint of a server."},
        "headers": {**_STRINGS, "description": "HTTP headers (${VAR} expands)."},
        "namespace": {"type": "boolean",
                      "description": "Show the tools as their own namespace (to=NAME.tool) "
                                     "instead of inside functions as NAME_tool."},
        "timeout_s": _POSITIVE_NUMBER,
    },
    description="One MCP server, in the mcpServers shape other clients use.",
)

TOOLS = _strict(
    {
        "python": {"oneOf": [PYTHON_TOOL, {"type": "boolean"}]},
        "browser": {"oneOf": [BROWSER_TOOL, {"type": "boolean"}]},
        "coding": CODING_TOOLS,
        "functions": {"type": "array", "items": FUNCTION},
        "mcp": {
            "type": "object",
            "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": MCP_SERVER,
            "description": "MCP servers by name (the name prefixes or namespaces their "
                           "tools).",
        },
    },
)

BUDGETS = _strict(
    {
        "max_generations": _POSITIVE_INT,
        "max_sampled_tokens": _POSITIVE_INT,
        "wall_time_s": _POSITIVE_NUMBER,
        "max_repeated_calls": {"type": "integer", "minimum": 2},
        "max_consecutive_errors": _POSITIVE_INT,
        "tool_timeout_s": _POSITIVE_NUMBER,
        "max_output_retries": {"type": "integer", "minimum": 0},
        "tool_output_tokens": {
            "type": ["integer", "null"], "minimum": 256,
            "description": "Most tokens of one tool result the model reads (default 8192); "
            "longer output is cut at line boundaries and kept in full. null: no limit."},
        "tool_output_budgets": {
            "type": "object",
            "additionalProperties": {"type": ["integer", "null"], "minimum": 256},
            "description": "Per tool (python, functions.read_file, git, ...): its own "
            "tool_output_tokens; null: no limit."},
    },
    description="Budgets of the run; a generation is one call to the model. Defaults are "
    "LoopLimits' own.",
)

OUTPUT = _strict(
    {
        "transcript": {"type": "string", "description": "JSONL transcript path."},
        "final": {"type": "string", "description": "Write the final answer here."},
    },
)

TASK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://gptoss-agent.dev/schemas/task.json",
    "title": "gptoss-agent task file",
    **_strict(
        {
            "name": {"type": "string"},
            "model": MODEL,
            "instructions": {"type": "string"},
            "prompt": {"type": "string", "minLength": 1},
            "inputs": {"type": "array", "items": {"type": "string"}},
            "tools": TOOLS,
            "budgets": BUDGETS,
            "compaction": COMPACTION,
            "approval": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Recipients (functions.x, python, browser) that need a yes.",
            },
            "analysis_policy": {"enum": ["per_turn", "keep_all", "drop_all"]},
            "conversation_start_date": {
                "anyOf": [{"type": "string", "format": "date"}, {"const": "none"}],
                "description": "YYYY-MM-DD for the system message (default: today); "
                               "none leaves the date line out.",
            },
            "output": OUTPUT,
            "check": {
                "type": "string",
                "description": "module:function or file.py:function run on the result.",
            },
            "output_schema": {
                "oneOf": [{"type": "object"}, {"type": "string"}],
                "description": "The JSON schema of the final answer (inline, or a .json / "
                               ".yaml file); the answer is validated and written as JSON.",
            },
            "tool_choice": {
                "type": "string",
                "description": "auto, required, none, or a tool (get_weather, "
                               "functions.get_weather, browser.search); holds until the "
                               "run's first call.",
            },
            "strict": {
                "type": "boolean",
                "description": "Constrain every call's arguments to its schema while "
                               "decoding (where the backend can).",
            },
        },
        required=["model", "prompt"],
    ),
}
