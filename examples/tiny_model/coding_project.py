"""The bugged projects of the ``coding`` family: one module, one self-running test file.

A project is a module of three small functions and ``test_<module>.py``, which checks
each function on two inputs and prints one short line per failing check and a summary
(``python3 test_<module>.py``: no pytest, no traceback, so every tool output fits the
tiny model's window). Exactly one function carries a seeded bug of one of
:data:`BUG_KINDS`.

The fix is inferable from local cues: every function's one-line docstring states its
intent in a fixed phrasing that maps to exactly one expression (``Return price times
count.`` above ``return price * count``), so the bugged line is the one whose code does
not say what its docstring says.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

BUG_KINDS = ("operator", "off_by_one", "comparison", "constant", "swapped")


@dataclass(frozen=True)
class Form:
    """One kind of function: its docstring, the right expression and bugged variants.

    Attributes:
        kind: The bug kind its variants carry.
        doc: Docstring template (``{a}``, ``{b}`` ints, ``{xs}`` a list, ``{n}`` a count,
            ``{k}`` a constant).
        good: The expression the docstring describes.
        bad: Bugged expressions (``{j}`` is a wrong constant).
        params: The placeholders that are parameters, in signature order.
    """

    kind: str
    doc: str
    good: str
    bad: tuple[str, ...]
    params: tuple[str, ...] = ("a", "b")


def _ops(doc: str, good: str, *bad: str, kind: str = "operator") -> Form:
    return Form(kind, doc, good, bad)


FORMS: tuple[Form, ...] = (
    _ops("Return {a} plus {b}.", "{a} + {b}", "{a} - {b}", "{a} * {b}"),
    _ops("Return {a} minus {b}.", "{a} - {b}", "{a} + {b}", "{a} * {b}"),
    _ops("Return {a} times {b}.", "{a} * {b}", "{a} + {b}", "{a} - {b}"),
    _ops("Return {a} divided by {b}, rounded down.", "{a} // {b}", "{a} % {b}", "{a} * {b}"),
    _ops("Return the remainder of {a} divided by {b}.", "{a} % {b}", "{a} // {b}"),
    Form("off_by_one", "Return the first {n} items of {xs}.", "{xs}[:{n}]",
         ("{xs}[:{n} + 1]", "{xs}[:{n} - 1]"), ("xs", "n")),
    Form("off_by_one", "Return the items of {xs} after the first {n}.", "{xs}[{n}:]",
         ("{xs}[{n} + 1:]", "{xs}[{n} - 1:]"), ("xs", "n")),
    Form("off_by_one", "Return the numbers from 1 to {n}.", "list(range(1, {n} + 1))",
         ("list(range(1, {n}))", "list(range({n} + 1))"), ("n",)),
    Form("off_by_one", "Return the last index of {xs}.", "len({xs}) - 1",
         ("len({xs})", "len({xs}) + 1"), ("xs",)),
    Form("off_by_one", "Return item number {n} of {xs}, counting from 1.", "{xs}[{n} - 1]",
         ("{xs}[{n}]", "{xs}[{n} + 1]"), ("xs", "n")),
    _ops("Return True if {a} is greater than {b}.", "{a} > {b}", "{a} >= {b}", "{a} < {b}",
         kind="comparison"),
    _ops("Return True if {a} is at least {b}.", "{a} >= {b}", "{a} > {b}", "{a} <= {b}",
         kind="comparison"),
    _ops("Return True if {a} is less than {b}.", "{a} < {b}", "{a} <= {b}", "{a} > {b}",
         kind="comparison"),
    _ops("Return True if {a} is at most {b}.", "{a} <= {b}", "{a} < {b}", "{a} >= {b}",
         kind="comparison"),
    _ops("Return True if {a} equals {b}.", "{a} == {b}", "{a} != {b}", kind="comparison"),
    Form("constant", "Return {a} plus {k}.", "{a} + {k}", ("{a} + {j}",), ("a",)),
    Form("constant", "Return {a} times {k}.", "{a} * {k}", ("{a} * {j}",), ("a",)),
    Form("constant", "Return {a} minus {k}.", "{a} - {k}", ("{a} - {j}",), ("a",)),
    Form("constant", "Return True if {a} is greater than {k}.", "{a} > {k}", ("{a} > {j}",),
         ("a",)),
    _ops("Return {a} minus {b}.", "{a} - {b}", "{b} - {a}", kind="swapped"),
    _ops("Return {a} divided by {b}, rounded down.", "{a} // {b}", "{b} // {a}",
         kind="swapped"),
    _ops("Return {a} to the power {b}.", "{a} ** {b}", "{b} ** {a}", kind="swapped"),
    _ops("Return the remainder of {a} divided by {b}.", "{a} % {b}", "{b} % {a}",
         kind="swapped"),
    _ops("Return True if {a} is less than {b}.", "{a} < {b}", "{b} < {a}", kind="swapped"),
)

MODULES = ("inventory", "billing", "ledger", "grades", "metrics", "orders", "payroll",
           "shipping", "scoring", "budget", "tally", "pricing", "rations", "workshop",
           "garden", "library", "kitchen", "transit", "harvest", "arcade")
_VERBS = ("get", "compute", "make", "find", "calc", "pick", "take", "build", "count",
          "check", "next", "apply", "total", "split", "scale", "clip")
_NOUNS = ("price", "score", "stock", "width", "points", "items", "rows", "steps", "level",
          "budget", "share", "fee", "batch", "slots", "weight", "bonus", "margin", "load")
_INT_NAMES = ("price", "count", "width", "height", "total", "size", "base", "rate", "low",
              "high", "left", "right", "x", "y", "start", "stop", "amount", "limit", "step",
              "units", "cost", "extra", "first", "second", "score", "goal")
_LIST_NAMES = ("items", "values", "scores", "rows", "prices", "marks", "sizes", "days")
_COUNT_NAMES = ("n", "count", "size", "limit", "k", "m")
_TEMPS = ("result", "value", "answer", "out")


@dataclass(frozen=True)
class Function:
    """One function of a module, with its two checks.

    Attributes:
        name: Its name.
        signature: ``def name(a, b):``.
        doc: Its one-line docstring.
        lines: Its body lines (indented), the expression line among them.
        line: The expression line as written (bugged or not).
        fixed: The expression line as the docstring says it should be.
        checks: ``(call text, expected repr)`` of its two checks.
    """

    name: str
    signature: str
    doc: str
    lines: tuple[str, ...]
    line: str
    fixed: str
    checks: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Project:
    """A bugged project and everything a teacher or a check needs to know about it.

    Attributes:
        module: Module name (no ``.py``).
        source: The module's text.
        tests: The test file's text.
        bugged: The function with the bug.
        kind: Which of :data:`BUG_KINDS` the bug is.
    """

    module: str
    source: str
    tests: str
    bugged: Function
    kind: str

    @property
    def files(self) -> dict[str, str]:
        """``{relative path: text}`` of the project."""
        return {f"{self.module}.py": self.source, f"test_{self.module}.py": self.tests}

    @property
    def test_command(self) -> str:
        """The shell command that runs its tests."""
        return f"python3 test_{self.module}.py"


def _names(form: Form, rng: random.Random) -> dict[str, str]:
    ints = rng.sample(_INT_NAMES, 2)
    return {"a": ints[0], "b": ints[1], "xs": rng.choice(_LIST_NAMES),
            "n": rng.choice(_COUNT_NAMES)}


def _inputs(form: Form, rng: random.Random) -> dict[str, object]:
    """Argument values for one check of ``form``."""
    if "**" in form.good:
        return {"a": rng.randint(2, 5), "b": rng.randint(2, 4)}
    if "//" in form.good or "%" in form.good:
        return {"a": rng.randint(2, 40), "b": rng.randint(2, 9)}
    if "xs" in form.params:
        values = [rng.randint(0, 9) for _ in range(rng.randint(4, 6))]
        return {"xs": values, "n": rng.randint(1, 3)}
    if "range" in form.good:
        return {"n": rng.randint(2, 6)}
    pick = rng.random()
    a = rng.randint(1, 20)
    return {"a": a, "b": a if pick < 0.3 else rng.randint(1, 20)}


def _value(expression: str, names: dict[str, str], args: dict[str, object],
           constants: dict[str, int]) -> str:
    """``repr`` of the template's value for the arguments."""
    return _eval_line(expression.format(**names, **constants), names, args)


def _function(rng: random.Random, form: Form, name: str, bugged: bool) -> Function | None:
    """A function of ``form``; bugged ones have a check that the bug fails (else ``None``)."""
    names = _names(form, rng)
    k = rng.randint(2, 9)
    constants = {"k": k, "j": rng.choice([v for v in range(1, 11) if v != k])}
    good = form.good.format(**names, k=k)
    written = rng.choice(form.bad).format(**names, k=k, j=constants["j"]) if bugged else good
    runs = [_inputs(form, rng) for _ in range(2)]
    wanted = [_value(form.good, names, args, constants) for args in runs]
    if bugged and all(_eval_line(written, names, args) == want
                      for args, want in zip(runs, wanted, strict=True)):
        return None
    params = [names[p] for p in form.params]
    calls = [f"{name}({', '.join(repr(args[p]) for p in form.params)})" for args in runs]
    lines: tuple[str, ...]
    if rng.random() < 0.5:
        lines = (f"    return {written}",)
        fixed = f"    return {good}"
    else:
        temp = rng.choice(_TEMPS)
        lines = (f"    {temp} = {written}", f"    return {temp}")
        fixed = f"    {temp} = {good}"
    return Function(name, f"def {name}({', '.join(params)}):",
                    form.doc.format(**names, k=k), lines, lines[0], fixed,
                    tuple(zip(calls, wanted, strict=True)))


def _eval_line(expression: str, names: dict[str, str], args: dict[str, object]) -> str:
    """``repr`` of the expression's value (or ``'<Name>Error()'``) for the arguments."""
    env = {names[param]: value for param, value in args.items()}
    try:
        return repr(eval(expression, {"__builtins__": {"len": len, "list": list,
                                                       "range": range}}, env))
    except Exception as exc:  # a bugged line may raise: that is a failing check
        return f"{type(exc).__name__}()"


def _module_text(module: str, functions: list[Function]) -> str:
    parts = [f'"""Helpers for {module}."""\n']
    for function in functions:
        body = "\n".join(function.lines)
        parts.append(f'\n\n{function.signature}\n    """{function.doc}"""\n{body}\n')
    return "".join(parts)


_RUNNER = '''

def main():
    failed = 0
    for call, run, want in CHECKS:
        try:
            got = run()
        except Exception as exc:
            got = type(exc)()
        if got != want:
            failed += 1
            print(f"FAIL {call}: got {got!r}, want {want!r}")
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
'''


def _tests_text(module: str, functions: list[Function]) -> str:
    names = ", ".join(function.name for function in functions)
    rows = "".join(f'    ("{call}", lambda: {call}, {want}),\n'
                   for function in functions for call, want in function.checks)
    return (f'"""Checks of {module}.py: python3 test_{module}.py"""\n\n'
            f"from {module} import {names}\n\nCHECKS = [\n{rows}]\n" + _RUNNER)


def draw_project(rng: random.Random, kind: str | None = None) -> Project:
    """A project of three functions, one of them bugged with ``kind`` (default: drawn).

    Raises:
        ValueError: ``kind`` is not one of :data:`BUG_KINDS`.
    """
    if kind is not None and kind not in BUG_KINDS:
        raise ValueError(f"unknown bug kind {kind!r}; pick one of {BUG_KINDS}")
    kind = kind or rng.choice(BUG_KINDS)
    module = rng.choice(MODULES)
    names = rng.sample([f"{verb}_{noun}" for verb in _VERBS for noun in _NOUNS], 3)
    slot = rng.randrange(3)
    bug = _draw_function(rng, [f for f in FORMS if f.kind == kind], names[slot], True, ())
    # No other function holds the bugged line or its fix: the patch's '-' line then matches
    # one place only, and a recovery case's wrong patch (the fixed line) matches none.
    functions = [bug if index == slot else
                 _draw_function(rng, list(FORMS), name, False, (bug.line, bug.fixed))
                 for index, name in enumerate(names)]
    return Project(module, _module_text(module, functions), _tests_text(module, functions),
                   bug, kind)


def _draw_function(rng: random.Random, forms: list[Form], name: str, bugged: bool,
                   avoid: tuple[str, ...]) -> Function:
    """A function of one of ``forms`` none of whose lines is in ``avoid``."""
    while True:
        function = _function(rng, rng.choice(forms), name, bugged)
        if function is not None and not set(function.lines) & set(avoid):
            return function
