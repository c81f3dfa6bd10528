"""A task file's content as typed settings: the one place that reads its raw data.

:func:`task_settings` turns a validated :class:`~.load.TaskFile` into
:class:`TaskSettings`, whose parts are the typed configs the components take
(:class:`~gptoss_agent.agent.limits.LoopLimits`,
:class:`~gptoss_agent.agent.backends.base.SamplingParams`,
:class:`~gptoss_agent.sandbox.config.SandboxConfig`,
:class:`~gptoss_agent.tools.browser.config.BrowserConfig`) or small values of this layer
where a component is built from several keys (the model, the search backend, function
entries). Relative paths are resolved against the task file. Task keys use the names of
the config fields they set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gptoss_agent.agent.backends.base import SamplingParams
from gptoss_agent.agent.context.config import CompactionConfig
from gptoss_agent.agent.harmony.conversation import AnalysisPolicy
from gptoss_agent.agent.harmony.prompt import ReasoningEffort
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.task.load import TaskFile, TaskFileError
from gptoss_agent.sandbox.config import SandboxConfig
from gptoss_agent.sandbox.limits import SandboxLimits
from gptoss_agent.tools.browser.config import BrowserConfig
from gptoss_agent.tools.mcp.config import MCPServerConfig


@dataclass(frozen=True)
class ScriptedModel:
    """Replayed completions (the scripted backend)."""

    completions: tuple[str, ...]


@dataclass(frozen=True)
class TransformersModel:
    """A checkpoint run in process."""

    path: Path
    device: str = "auto"
    dtype: str = "auto"


@dataclass(frozen=True)
class ServerModel:
    """An OpenAI-compatible inference server (``api_key_env`` is read when it is built)."""

    url: str
    server: str = "vllm"
    model_name: str | None = None
    api_key_env: str | None = None
    constrain: bool = False


ModelChoice = ScriptedModel | TransformersModel | ServerModel


@dataclass(frozen=True)
class FunctionEntry:
    """One ``tools.functions`` entry: where the function is and how it is shown."""

    import_path: str | None = None
    file: Path | None = None
    function: str | None = None
    name: str | None = None
    description: str | None = None
    schema: Mapping[str, Any] | None = None
    timeout_s: float | None = None
    strict: bool | None = None


@dataclass(frozen=True)
class PythonSettings:
    """The python tool: its sandbox and the host folder behind ``/mnt/data``."""

    sandbox: SandboxConfig
    data_dir: Path | None = None


@dataclass(frozen=True)
class SearchSettings:
    """The browser's search backend (``local``, ``searxng`` or ``brave``)."""

    backend: str
    corpus: Path | None = None
    url: str | None = None
    api_key_env: str | None = None


@dataclass(frozen=True)
class BrowserSettings:
    """The browser tool: its search backend (if any) and its config."""

    config: BrowserConfig
    search: SearchSettings | None = None


@dataclass(frozen=True)
class CodingSettings:
    """``apply_patch`` and ``shell`` in the python sandbox's workspace."""

    project: Path | None = None
    shell_timeout_s: float = 120.0
    apply_back: bool = False
    diff: Path | None = None
    mount_project: bool = False


@dataclass(frozen=True)
class OutputSettings:
    """Where a run's transcript and final answer are written (``None``: defaults)."""

    transcript: Path | None = None
    final: Path | None = None


@dataclass(frozen=True)
class CompactionSettings:
    """The ``compaction:`` section: a compaction config, and the summariser's model."""

    config: CompactionConfig
    summariser: ModelChoice | None = None


@dataclass(frozen=True)
class TaskSettings:
    """Everything a task file says, typed.

    Attributes:
        source: The validated content the settings came from, recorded in transcripts
            so that a resume rebuilds the same task.
    """

    path: Path
    name: str
    model: ModelChoice
    sampling: SamplingParams
    reasoning_effort: ReasoningEffort
    limits: LoopLimits
    instructions: str | None = None
    prompt: str | None = None
    inputs: tuple[Path, ...] = ()
    python: PythonSettings | None = None
    browser: BrowserSettings | None = None
    coding: CodingSettings | None = None
    functions: tuple[FunctionEntry, ...] = ()
    mcp: tuple[MCPServerConfig, ...] = ()
    approval: tuple[str, ...] = ()
    analysis_policy: AnalysisPolicy = AnalysisPolicy.PER_TURN
    conversation_start_date: str | None = None
    output: OutputSettings = OutputSettings()
    check: str | None = None
    output_schema: Mapping[str, Any] | None = None
    tool_choice: str = "auto"
    strict: bool = False
    context_window: int | None = None
    compaction: CompactionSettings | None = None
    source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths and imports are resolved against."""
        return self.path.parent


def task_settings(task: TaskFile) -> TaskSettings:
    """The typed settings of a validated task file.

    Raises:
        TaskFileError: A referenced file (a completions script) cannot be read, or a
            setting is out of range for its component.
    """
    data = task.data
    model = data["model"]
    tools = data.get("tools", {})
    coding = _coding(task, tools.get("coding"))
    try:
        return TaskSettings(
            path=task.path, name=task.name, model=_model(task, model),
            sampling=SamplingParams(**model.get("sampling", {})),
            reasoning_effort=model.get("reasoning_effort", "medium"),
            limits=LoopLimits(**data.get("budgets", {})),
            instructions=data.get("instructions"), prompt=data.get("prompt"),
            inputs=tuple(task.resolve(item) for item in data.get("inputs", [])),
            python=_python(task, tools.get("python"), coding),
            browser=_browser(task, tools.get("browser")), coding=coding,
            functions=tuple(_function(task, spec) for spec in tools.get("functions", [])),
            mcp=tuple(_mcp(task, name, spec) for name, spec in tools.get("mcp", {}).items()),
            approval=tuple(data.get("approval", [])),
            analysis_policy=AnalysisPolicy(data.get("analysis_policy", "per_turn")),
            conversation_start_date=_start_date(data.get("conversation_start_date")),
            output=_output(task, data.get("output", {})), check=data.get("check"),
            output_schema=_output_schema(task, data.get("output_schema")),
            tool_choice=data.get("tool_choice", "auto"), strict=bool(data.get("strict", False)),
            context_window=model.get("context_window"),
            compaction=_compaction(task, data.get("compaction")), source=data,
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, TaskFileError):
            raise
        raise TaskFileError(f"{task.path}: {exc}") from exc


def _model(task: TaskFile, model: Mapping[str, Any]) -> ModelChoice:
    backend = model["backend"]
    if backend == "transformers":
        return TransformersModel(task.resolve(model["path"]), model.get("device", "auto"),
                                 model.get("dtype", "auto"))
    if backend == "server":
        return ServerModel(model["url"], model.get("server", "vllm"), model.get("model_name"),
                           model.get("api_key_env"), bool(model.get("constrain", False)))
    completions = list(model.get("completions", []))
    if "script" in model:
        completions.extend(_script(task, task.resolve(model["script"])))
    return ScriptedModel(tuple(completions))


def _compaction(task: TaskFile, section: Mapping[str, Any] | None
                ) -> CompactionSettings | None:
    """The ``compaction:`` section, typed (``None`` when absent)."""
    if section is None:
        return None
    fields = {key: value for key, value in section.items() if key != "summariser"}
    if "strategies" in fields:
        fields["strategies"] = tuple(fields["strategies"])
    if isinstance(fields.get("threshold"), int) and fields["threshold"] <= 1:
        fields["threshold"] = float(fields["threshold"])  # `threshold: 1` is the whole window
    summariser = section.get("summariser")
    if summariser is not None and "summarise" not in fields.get("strategies", ()):
        # It would be loaded (a whole second model) and never asked for a summary.
        raise TaskFileError(f"{task.path}: compaction.summariser is set but summarise is "
                            "not in compaction.strategies; add it or drop the summariser")
    return CompactionSettings(CompactionConfig(**fields),
                              _model(task, summariser) if summariser is not None else None)


def _script(task: TaskFile, path: Path) -> list[str]:
    """The completions of a scripted model's ``script:`` file."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TaskFileError(f"{task.path}: cannot read script {path}: {exc}") from exc
    if not isinstance(loaded, list) or not all(isinstance(c, str) for c in loaded):
        raise TaskFileError(f"{path}: expected a YAML list of completion strings")
    return loaded


_SANDBOX_LIMITS = ("timeout_s", "memory_mb", "cpus", "pids", "output_bytes", "data_files",
                   "lower_after_s")


def _python(task: TaskFile, value: Any, coding: CodingSettings | None) -> PythonSettings | None:
    if not value:
        if coding is not None:
            raise TaskFileError(f"{task.path}: tools.coding runs in the python sandbox; "
                                "enable tools.python too")
        return None
    settings: Mapping[str, Any] = value if isinstance(value, dict) else {}
    limits = SandboxLimits(**{key: settings[key] for key in _SANDBOX_LIMITS if key in settings})
    mounts: tuple[tuple[str, str], ...] = ()
    if coding is not None and coding.mount_project and coding.project is not None:
        from gptoss_agent.tools.coding.toolkit import project_mount

        mounts = (project_mount(coding.project),)
    sandbox = SandboxConfig(limits=limits, network=bool(settings.get("network", False)),
                            keep_background=bool(settings.get("keep_background", False)),
                            data_transport=str(settings.get("data_transport", "auto")),
                            extra_mounts=mounts,
                            **({"image": settings["image"]} if "image" in settings else {}))
    data_dir = settings.get("data_dir")
    return PythonSettings(sandbox, task.resolve(data_dir) if data_dir else None)


def _browser(task: TaskFile, value: Any) -> BrowserSettings | None:
    if not value:
        return None
    settings: Mapping[str, Any] = value if isinstance(value, dict) else {}
    options: dict[str, Any] = {"allowlist": tuple(str(a) for a in settings.get("allowlist", ()))}
    if settings.get("executable_path"):
        options["executable_path"] = str(settings["executable_path"])
    for key in ("load_timeout_s", "operation_timeout_s", "hang_probe_s"):
        if settings.get(key):
            options[key] = float(settings[key])
    if settings.get("max_dialogs") is not None:
        options["max_dialogs"] = int(settings["max_dialogs"])
    if "nice" in settings:
        options["nice"] = None if settings["nice"] is None else int(settings["nice"])
    search = settings.get("search") or {}
    return BrowserSettings(BrowserConfig(**options), SearchSettings(
        backend=search["backend"],
        corpus=task.resolve(search["corpus"]) if search.get("corpus") else None,
        url=search.get("url"), api_key_env=search.get("api_key_env"),
    ) if search.get("backend") else None)


def _coding(task: TaskFile, value: Mapping[str, Any] | None) -> CodingSettings | None:
    if value is None:
        return None
    project = task.resolve(value["project"]) if "project" in value else None
    if project is not None and not project.is_dir():
        raise TaskFileError(f"{task.path}: tools.coding.project {project} is not a folder")
    for key in ("mount_project", "apply_back"):
        if value.get(key) and project is None:
            raise TaskFileError(f"{task.path}: tools.coding.{key} needs a project")
    return CodingSettings(project=project,
                          shell_timeout_s=value.get("shell_timeout_s", 120.0),
                          apply_back=bool(value.get("apply_back", False)),
                          diff=task.resolve(value["diff"]) if value.get("diff") else None,
                          mount_project=bool(value.get("mount_project", False)))


def _function(task: TaskFile, spec: Mapping[str, Any]) -> FunctionEntry:
    return FunctionEntry(
        import_path=spec.get("import"),
        file=task.resolve(spec["file"]) if "file" in spec else None,
        function=spec.get("function"), name=spec.get("name"),
        description=spec.get("description"), schema=spec.get("schema"),
        timeout_s=spec.get("timeout_s"), strict=spec.get("strict"))


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expanded(task: TaskFile, where: str, values: Mapping[str, str]) -> dict[str, str]:
    """``${VAR}`` in MCP ``env`` and ``headers`` values, from the environment."""
    def one(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise TaskFileError(f"{task.path}: {where} names ${{{match.group(1)}}}, which "
                                "is not set")
        return value

    return {key: _VARIABLE.sub(one, str(value)) for key, value in values.items()}


def _mcp(task: TaskFile, name: str, spec: Mapping[str, Any]) -> MCPServerConfig:
    """One ``tools.mcp`` entry (the ``mcpServers`` shape) as a server config."""
    where = f"tools.mcp.{name}"
    if ("command" in spec) == ("url" in spec):
        raise TaskFileError(f"{task.path}: {where}: give either command (a stdio server) "
                            "or url (Streamable HTTP)")
    options: dict[str, Any] = {"prefixed": not spec.get("namespace", False)}
    if "timeout_s" in spec:
        options["timeout_s"] = float(spec["timeout_s"])
    if "command" in spec:
        options.update(command=spec["command"], args=tuple(spec.get("args", ())),
                       env=_expanded(task, f"{where}.env", spec.get("env", {})))
        if "cwd" in spec:
            options["cwd"] = str(task.resolve(spec["cwd"]))
    else:
        options.update(url=spec["url"],
                       headers=_expanded(task, f"{where}.headers", spec.get("headers", {})))
    try:
        return MCPServerConfig(name, **options)
    except ValueError as exc:
        raise TaskFileError(f"{task.path}: {where}: {exc}") from exc


def _output_schema(task: TaskFile, value: Any) -> Mapping[str, Any] | None:
    """The final answer's schema: inline, or read from a JSON or YAML file."""
    if value is None or isinstance(value, Mapping):
        return value
    path = task.resolve(str(value))
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except (OSError, yaml.YAMLError) as exc:
        raise TaskFileError(f"{task.path}: output_schema: cannot read {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise TaskFileError(f"{task.path}: output_schema: {path} holds no JSON schema object")
    return loaded


def _output(task: TaskFile, output: Mapping[str, Any]) -> OutputSettings:
    return OutputSettings(
        transcript=task.resolve(output["transcript"]) if output.get("transcript") else None,
        final=task.resolve(output["final"]) if output.get("final") else None)


def _start_date(value: str | None) -> str | None:
    """``conversation_start_date`` for :class:`Agent`.

    ``"none"`` becomes ``""`` (no date line); absent stays ``None`` (today).
    """
    return "" if value == "none" else value
