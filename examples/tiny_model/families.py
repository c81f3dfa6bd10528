"""The task families the tiny model learns, each with its inputs, teacher and ground truth.

* ``python``: arithmetic the model hands to the ``python`` tool (``482 * 37``), answering
  with the value the notebook printed;
* ``function``: a stock lookup through ``functions.get_stock`` with JSON arguments,
  answering with the number in the JSON result;
* ``browser``: reading a local page with ``browser.open``, answering with the code on it;
* ``coding`` (:mod:`examples.tiny_model.coding_family`): fixing the one bug of a tiny
  project through ``functions.shell`` and ``functions.apply_patch``; its ground truth is
  the project's test suite.

Every case's final answer is fixed text (:attr:`Case.answer`) that quotes the tool's
output, so success is an exact string match. Inputs are drawn from a seeded
``random.Random``; the data generator and the evaluation draw from disjoint seeds and
drop any case whose prompt occurs in training.

The teacher writes what gpt-oss would write with ``Reasoning: low``: a short analysis, the
tool call (built-in tools from ``analysis``, functions from ``commentary``), then after the
tool result a ``final`` message.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from typing import Any

from examples.tiny_model.case import Case
from examples.tiny_model.coding_family import CODING, coding_policy, names_the_fix, sample_coding
from examples.tiny_model.teacher import Policy, last_tool_output

FAMILIES = ("python", "function", "browser")
"""The shipped model's families (what the bench and the other tools iterate by default)."""
ALL_FAMILIES = (*FAMILIES, CODING)
"""Every family the generator can draw."""
INSTRUCTIONS = "Use the tool, then answer in one short sentence."

_WORDS = (
    "amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris", "juniper",
    "kelp", "lotus", "maple", "north", "oasis", "pine", "quartz", "river", "stone", "tulip",
    "umber", "violet", "willow", "yarrow", "zephyr", "coral", "dune", "frost", "glade", "heath",
)
_NAMES = ("Ann", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lea")
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


# -- python: arithmetic -------------------------------------------------------------------

_OPS = ("+", "-", "*")
_PY_TEMPLATES = (
    "What is {e}?",
    "Compute {e}.",
    "Calculate {e} for me.",
    "{e} = ?",
    "Please work out {e}.",
)


def arithmetic_value(a: int, op: str, b: int) -> int:
    """The value of ``a op b``."""
    return a + b if op == "+" else a - b if op == "-" else a * b


def sample_python(rng: random.Random) -> Case:
    """An arithmetic question with operands of 1 to 4 digits."""
    op = rng.choice(_OPS)
    a = rng.randint(2, 9999)
    b = rng.randint(2, 999 if op == "*" else 9999)
    expression = f"{a} {op} {b}"
    value = arithmetic_value(a, op, b)
    prompt = rng.choice(_PY_TEMPLATES).format(e=expression)
    return Case("python", prompt, f"The answer is {value}.", {"code": expression})


def _python_policy(case: Case) -> Policy:
    def policy(prompt: str, generation: int) -> str:
        if generation == 0:
            return (
                "<|channel|>analysis<|message|>Use python.<|end|>"
                "<|start|>assistant<|channel|>analysis to=python code<|message|>"
                f"{case.data['code']}<|call|>"
            )
        value = last_tool_output(prompt).strip()
        return f"<|channel|>final<|message|>The answer is {value}.<|return|>"

    return policy


# -- function: stock lookup -------------------------------------------------------------

_FN_TEMPLATES = (
    "How many units of {s} are in stock?",
    "Stock level of {s}?",
    "Check the stock of item {s}.",
    "Is {s} in stock? How many?",
    "Look up {s} in the inventory.",
)


def stock_units(sku: str) -> int:
    """The inventory's (deterministic, arbitrary) unit count for ``sku``."""
    return int(hashlib.sha256(sku.encode()).hexdigest()[:8], 16) % 990 + 10


def get_stock(sku: str) -> dict[str, Any]:
    """Units of an item in stock.

    Args:
        sku: The item code, e.g. "QX-5831".
    """
    return {"sku": sku, "units": stock_units(sku)}


def sample_function(rng: random.Random) -> Case:
    """A stock question about a random item code such as ``QX-5831``."""
    sku = f"{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}-{rng.randint(100, 9999)}"
    prompt = rng.choice(_FN_TEMPLATES).format(s=sku)
    return Case("function", prompt, f"{sku} has {stock_units(sku)} units in stock.", {"sku": sku})


def _function_policy(case: Case) -> Policy:
    def policy(prompt: str, generation: int) -> str:
        if generation == 0:
            arguments = json.dumps({"sku": case.data["sku"]})
            return (
                "<|channel|>analysis<|message|>Look up the stock.<|end|>"
                "<|start|>assistant<|channel|>commentary to=functions.get_stock "
                f"<|constrain|>json<|message|>{arguments}<|call|>"
            )
        result = json.loads(last_tool_output(prompt))
        return (
            f"<|channel|>final<|message|>{result['sku']} has {result['units']} units in stock."
            "<|return|>"
        )

    return policy


# -- browser: read a page ---------------------------------------------------------------

_BR_TEMPLATES = (
    "Open {u} and tell me the code.",
    "What code is shown on {u}?",
    "Read {u} and report the code.",
    "Get the code from {u}.",
)


def page_html(title: str, author: str, code: int) -> str:
    """The HTML of a page that shows ``code`` among other lines."""
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>Posted by {author}.</p><p>The code is {code}.</p>"
        "</body></html>"
    )


def page_path(rng: random.Random) -> str:
    """A path such as ``/maple/notes-42.html``."""
    return f"/{rng.choice(_WORDS)}/notes-{rng.randint(1, 99)}.html"


def sample_browser(rng: random.Random, base_url: str | None = None) -> Case:
    """A page to read: its URL (a local server; random port unless ``base_url``), HTML, code.

    Args:
        rng: The random source.
        base_url: ``http://host:port`` of a real server (tests), or ``None``.
    """
    base = base_url or f"http://127.0.0.1:{rng.randint(1024, 65535)}"
    url = base + page_path(rng)
    title = f"{rng.choice(_WORDS).title()} notes"
    code = rng.randint(1000, 99999)
    html = page_html(title, rng.choice(_NAMES), code)
    prompt = rng.choice(_BR_TEMPLATES).format(u=url)
    return Case("browser", prompt, f"The code is {code}.", {"url": url, "html": html})


def _browser_policy(case: Case) -> Policy:
    def policy(prompt: str, generation: int) -> str:
        if generation == 0:
            arguments = json.dumps({"id": case.data["url"]})
            return (
                "<|channel|>analysis<|message|>Open the page.<|end|>"
                "<|start|>assistant<|channel|>analysis to=browser.open code<|message|>"
                f"{arguments}<|call|>"
            )
        output = last_tool_output(prompt)
        line = next(text for text in output.splitlines() if "The code is" in text)
        code = line.split("The code is", 1)[1].strip().rstrip(".")
        return f"<|channel|>final<|message|>The code is {code}.<|return|>"

    return policy


SAMPLERS: dict[str, Callable[[random.Random], Case]] = {
    "python": sample_python,
    "function": sample_function,
    "browser": sample_browser,
    CODING: sample_coding,
}
_POLICIES: dict[str, Callable[[Case], Policy]] = {
    "python": _python_policy,
    "function": _function_policy,
    "browser": _browser_policy,
    CODING: coding_policy,
}


def teacher_policy(case: Case) -> Policy:
    """The teacher's policy for ``case``."""
    return _POLICIES[case.family](case)


def final_answer_matches(case: Case, answer: str | None) -> bool:
    """Exact success: the final answer is the expected sentence (surrounding space ignored).

    For the coding family this is only half of success: the answer names the bugged
    function; the other half, the suite passing, is checked by re-running the tests.
    """
    if case.family == CODING:
        return names_the_fix(case, answer)
    return answer is not None and answer.strip() == case.answer
