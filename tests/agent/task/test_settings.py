"""Task files become typed settings: defaults come from the components, renamed keys say
their new name, and a decorated function keeps its own options."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.task.build import build_agent
from gptoss_agent.agent.task.load import TaskFileError, load_task
from gptoss_agent.agent.task.settings import ScriptedModel, task_settings

MODEL = 'model:\n  backend: scripted\n  completions: ["<|channel|>final<|message|>ok<|return|>"]\n'


def write(folder: Path, text: str) -> Path:
    path = folder / "task.yaml"
    path.write_text(MODEL + "prompt: hi\n" + text)
    return path


def test_budgets_default_to_the_loop_limits_own(tmp_path: Path) -> None:
    settings = task_settings(load_task(write(tmp_path, "")))
    assert settings.limits == LoopLimits()
    partial = task_settings(load_task(write(tmp_path, "budgets:\n  max_generations: 3\n")))
    assert partial.limits == LoopLimits(max_generations=3)
    assert isinstance(settings.model, ScriptedModel)


def test_tool_output_budgets_reach_the_loop_limits(tmp_path: Path) -> None:
    text = ("budgets:\n  tool_output_tokens: 1000\n  tool_output_budgets:\n"
            "    python: null\n    functions.read_file: 300\n")
    limits = task_settings(load_task(write(tmp_path, text))).limits
    assert limits.tool_output_tokens == 1000
    assert limits.output_budget("functions.read_file", "functions.read_file", "functions") == 300
    assert limits.output_budget("python", "python", "python") is None
    with pytest.raises(TaskFileError, match="tool_output_tokens"):
        load_task(write(tmp_path, "budgets:\n  tool_output_tokens: 10\n"))


@pytest.mark.parametrize(("key", "new"), [
    ("budgets:\n  max_turns: 3\n", "budgets.max_generations"),
    ("budgets:\n  max_tokens: 3\n", "budgets.max_sampled_tokens"),
    ("tools:\n  python:\n    output_limit_bytes: 10\n", "tools.python.output_bytes"),
    ("tools:\n  browser:\n    allow: [localhost]\n", "tools.browser.allowlist"),
])
def test_renamed_keys_name_their_new_name(tmp_path: Path, key: str, new: str) -> None:
    with pytest.raises(TaskFileError, match=f"this key is now {new}"):
        load_task(write(tmp_path, key))


def test_task_keys_set_the_config_fields_of_the_same_name(tmp_path: Path) -> None:
    text = ("tools:\n  python:\n    output_bytes: 2048\n    memory_mb: 512\n"
            "  browser:\n    allowlist: [localhost, 'localhost:8080']\n    load_timeout_s: 4\n"
            "    operation_timeout_s: 3\n    hang_probe_s: 1.5\n    max_dialogs: 2\n")
    settings = task_settings(load_task(write(tmp_path, text)))
    assert settings.python is not None and settings.browser is not None
    assert settings.python.sandbox.limits.output_bytes == 2048
    assert settings.python.sandbox.limits.memory_mb == 512
    assert settings.browser.config.allowlist == ("localhost", "localhost:8080")
    assert settings.browser.config.load_timeout_s == 4
    assert (settings.browser.config.operation_timeout_s, settings.browser.config.hang_probe_s,
            settings.browser.config.max_dialogs) == (3, 1.5, 2)


@pytest.mark.parametrize(("value", "lower", "nice"), [("0.5", 0.5, 4), ("null", None, None)])
def test_cpu_priority_keys_reach_the_sandbox_and_the_browser(
        tmp_path: Path, value: str, lower: float | None, nice: int | None) -> None:
    text = (f"tools:\n  python:\n    lower_after_s: {value}\n"
            f"  browser:\n    nice: {'null' if nice is None else nice}\n")
    settings = task_settings(load_task(write(tmp_path, text)))
    assert settings.python is not None and settings.browser is not None
    assert settings.python.sandbox.limits.lower_after_s == lower
    assert settings.browser.config.nice == nice
    defaults = task_settings(load_task(write(tmp_path, "tools:\n  python: true\n"
                                                      "  browser: true\n")))
    assert defaults.python is not None and defaults.browser is not None
    assert (defaults.python.sandbox.limits.lower_after_s, defaults.browser.config.nice) == (
        1.0, 10)
    with pytest.raises(TaskFileError, match="nice"):
        load_task(write(tmp_path, "tools:\n  browser:\n    nice: 25\n"))


DECORATED = '''
from gptoss_agent import function_tool

@function_tool(name="lookup_sku", timeout_s=7)
def lookup(sku: str) -> str:
    """Find a product by its SKU."""
    return sku
'''


def test_a_decorated_function_keeps_its_name_and_timeout(tmp_path: Path) -> None:
    (tmp_path / "tools.py").write_text(DECORATED)
    entry = "tools:\n  functions:\n    - file: tools.py\n      function: lookup\n"
    built = build_agent(task_settings(load_task(write(tmp_path, entry))))
    tool = built.agent.registry.functions.get("lookup_sku")
    assert tool is not None and (tool.name, tool.timeout_s) == ("lookup_sku", 7)
    overridden = entry + "      timeout_s: 3\n"
    built = build_agent(task_settings(load_task(write(tmp_path, overridden))))
    tool = built.agent.registry.functions.get("lookup_sku")
    assert tool is not None and (tool.name, tool.timeout_s) == ("lookup_sku", 3)


def test_a_tool_switched_on_with_true_takes_sub_keys_from_set(tmp_path: Path) -> None:
    path = write(tmp_path, "tools:\n  python: true\n")
    settings = task_settings(load_task(path, ["tools.python.data_dir=drive"]))
    assert settings.python is not None and settings.python.data_dir == tmp_path / "drive"


def test_a_task_recorded_with_old_keys_resumes_with_the_same_settings(tmp_path: Path) -> None:
    from gptoss_agent.agent.task.load import recorded_task

    old = {"model": {"backend": "scripted", "completions": ["x"]}, "prompt": "hi",
           "budgets": {"max_turns": 3, "max_tokens": 99},
           "tools": {"python": True, "browser": {"allow": ["localhost"]}},
           "output": {"data_dir": "drive"}}
    settings = task_settings(recorded_task(tmp_path / "task.yaml", old))
    assert settings.limits == LoopLimits(max_generations=3, max_sampled_tokens=99)
    assert settings.browser is not None and settings.browser.config.allowlist == ("localhost",)
    assert settings.python is not None and settings.python.data_dir == tmp_path / "drive"
    with pytest.raises(TaskFileError, match="budgets.max_generations"):
        recorded_task(tmp_path / "task.yaml", {**old, "budgets": {"max_turns": 0}})


SCHEMA_FILE = '{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}'


def test_output_schema_tool_choice_and_strict_reach_the_agent(tmp_path: Path) -> None:
    (tmp_path / "answer.json").write_text(SCHEMA_FILE)
    text = ("output_schema: answer.json\ntool_choice: required\nstrict: true\n"
            "tools:\n  functions:\n    - file: tools.py\n      function: lookup\n")
    (tmp_path / "tools.py").write_text(DECORATED)
    built = build_agent(task_settings(load_task(write(tmp_path, text))))
    assert built.agent.output is not None
    assert built.agent.output.schema["required"] == ["city"]
    assert (built.agent.tool_choice, built.agent.strict) == ("required", True)


@pytest.mark.parametrize(("text", "message"), [
    ("tool_choice: subtract\n", "tool_choice: .*names no tool"),
    ("output_schema: {type: objekt}\n", "output_schema: not a valid JSON schema"),
    ("output_schema: missing.json\n", "output_schema: cannot read"),
])
def test_bad_choices_are_task_errors_before_any_model_loads(tmp_path: Path, text: str,
                                                           message: str) -> None:
    with pytest.raises(TaskFileError, match=message):
        build_agent(task_settings(load_task(write(tmp_path, text))))


def test_the_window_and_compaction_reach_the_agent(tmp_path: Path) -> None:
    text = ("compaction:\n  strategies: [elide_tool_outputs, summarise]\n  threshold: 0.7\n"
            "  target: 0.4\n  keep_recent: 3\n  reserve_tokens: 128\n"
            "  summariser:\n    backend: scripted\n"
            '    completions: ["<|channel|>final<|message|>short<|return|>"]\n')
    path = tmp_path / "task.yaml"
    path.write_text(MODEL + "  context_window: 4096\nprompt: hi\n" + text)
    built = build_agent(task_settings(load_task(path)))
    config = built.agent.compaction
    assert built.agent.context_window == 4096
    assert config.strategies == ("elide_tool_outputs", "summarise")
    assert (config.threshold, config.target, config.keep_recent, config.reserve_tokens) == (
        0.7, 0.4, 3, 128)
    from gptoss_agent.agent.backends.scripted import ScriptedBackend

    assert isinstance(config.summariser, ScriptedBackend)
    assert config.summariser is not built.agent.model


def test_no_compaction_section_means_the_defaults(tmp_path: Path) -> None:
    built = build_agent(task_settings(load_task(write(tmp_path, ""))))
    assert built.agent.compaction.strategies == ("elide_tool_outputs", "drop_reasoning")
    assert built.agent.context_window is None
    off = build_agent(task_settings(load_task(write(tmp_path, "compaction:\n  strategies: []\n"))))
    assert off.agent.compaction.strategies == ()
    tokens = task_settings(load_task(write(tmp_path, "compaction:\n  threshold: 90000\n")))
    assert tokens.compaction is not None and tokens.compaction.config.threshold == 90000
    whole = task_settings(load_task(write(tmp_path, "compaction:\n  threshold: 1\n")))
    assert whole.compaction is not None and whole.compaction.config.threshold == 1.0
    assert isinstance(whole.compaction.config.threshold, float)


@pytest.mark.parametrize("text", [
    "compaction:\n  strategies: [shrink]\n",
    "compaction:\n  threshold: 0\n",
    "compaction:\n  target: 2\n",
    "compaction:\n  keep_recent: 0\n",
    "compaction:\n  window: 3\n",
])
def test_bad_compaction_keys_are_task_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(TaskFileError):
        task_settings(load_task(write(tmp_path, text)))


def test_a_summariser_without_the_summarise_strategy_is_refused(tmp_path: Path) -> None:
    summariser = "  summariser:\n    backend: scripted\n    completions: []\n"
    for strategies in ("", "  strategies: [elide_tool_outputs]\n"):
        with pytest.raises(TaskFileError, match="summarise is not in compaction.strategies"):
            task_settings(load_task(write(tmp_path, "compaction:\n" + strategies + summariser)))
