"""``gptoss-agent eval``: each task run ``k`` times per setting, scored and reported.

``gptoss-agent eval TASKS... -k N [--set KEY=VALUE | --set KEY=[V1,V2]]... [--jobs J]``
runs every task ``N`` times (seeds base..base+N-1) at every point of the ``--set`` grid
(:mod:`gptoss_agent.agent.eval.grid`), prints one line per finished attempt, then the
tables: pass@k and pass^k, tokens and generations, tool-call validity and stop reasons.
Everything lands in ``--out``: the per-attempt records (``attempts.jsonl``, appended as
attempts finish, so the same command run again resumes), ``report.json`` and a
self-contained ``report.html``. Exit code: 0 when every attempt ran (whatever the
checks said), 4 when any was an infrastructure failure, 2 for bad input, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gptoss_agent.agent.cli.common import fail, print_error, terminal_approver
from gptoss_agent.agent.cli.exit_codes import EXIT_CONFIG, EXIT_INFRA, EXIT_INTERRUPTED, EXIT_OK
from gptoss_agent.agent.eval.aggregate import EvalSummary, GroupSummary, summarize
from gptoss_agent.agent.eval.attempt import VALIDITY_KINDS, AttemptRecord
from gptoss_agent.agent.eval.errors import EvalError
from gptoss_agent.agent.eval.grid import parse_grid
from gptoss_agent.agent.eval.plan import PlannedAttempt, default_folder, plan_attempts
from gptoss_agent.agent.eval.report import write_reports
from gptoss_agent.agent.eval.runner import pending, run_attempts
from gptoss_agent.agent.eval.store import AttemptStore

_STYLE = {"pass": "green", "fail": "red", "infra": "yellow"}


def add_eval_command(commands: Any) -> None:
    """Register ``eval``."""
    parser = commands.add_parser("eval", help="run tasks k times each; pass@k, pass^k, "
                                              "validity; JSON and HTML reports")
    parser.add_argument("tasks", type=Path, nargs="+", help="task file(s) (YAML)")
    parser.add_argument("-k", dest="attempts", type=int, default=1, metavar="N",
                        help="attempts per task and setting (default 1)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a key for every attempt; a list "
                        "value, KEY=[V1,V2], makes a grid axis (repeatable)")
    parser.add_argument("--seed", type=int, default=None, metavar="BASE",
                        help="attempt i samples with seed BASE+i (default: the task's "
                             "model.sampling.seed, else 0)")
    parser.add_argument("--jobs", type=int, default=1, metavar="J",
                        help="attempts run at once, sharing in-process models (default 1)")
    parser.add_argument("--report-k", default=None, metavar="K1,K2",
                        help="the k values of the terminal table (default 1 and N)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="records and reports (default runs/eval-<first task's name>); "
                             "running again with the same folder resumes")
    parser.add_argument("--yes", action="store_true",
                        help="approve every call that needs approval (non-interactive)")
    parser.set_defaults(handler=cmd_eval)


def report_ks(text: str | None, attempts: int) -> tuple[int, ...]:
    """The k values to show: ``text`` (``1,5``) or 1 and ``attempts``.

    Raises:
        EvalError: A value is not an integer in ``1..attempts``.
    """
    if text is None:
        return tuple(sorted({1, attempts}))
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise EvalError(f"--report-k {text!r}: expected integers like 1,5") from None
    if not ks or ks[0] < 1 or ks[-1] > attempts:
        raise EvalError(f"--report-k {text!r}: each k must be between 1 and -k {attempts}")
    return tuple(ks)


def cmd_eval(args: argparse.Namespace) -> int:
    """``gptoss-agent eval``."""
    err = Console(stderr=True)
    if args.jobs < 1:
        print_error(err, "--jobs must be at least 1")
        return EXIT_CONFIG
    try:
        if args.attempts < 1:
            raise EvalError(f"-k must be at least 1, got {args.attempts}")
        shown = report_ks(args.report_k, args.attempts)
        grid = parse_grid(args.overrides)
        out = args.out or default_folder(args.tasks[0], grid.fixed)
        planned = plan_attempts(args.tasks, grid, args.attempts, out, args.seed)
        store = AttemptStore(out)
    except EvalError as exc:  # bad eval options (exit_code_for_error knows the task roots)
        print_error(err, str(exc))
        return EXIT_CONFIG
    except Exception as exc:
        return fail(err, exc).code
    try:
        code = _run(planned, store, args, err)
    finally:
        store.close()
    records = [store.records[p.spec.key] for p in planned if p.spec.key in store.records]
    summary = summarize(records, range(1, args.attempts + 1))
    print_tables(summary, shown, _stdout())
    about = {"tasks": [str(path) for path in args.tasks], "k": args.attempts,
             "overrides": list(args.overrides), "seed": args.seed}
    try:
        files = write_reports(out, summary, records, about)
    except EvalError as exc:
        print_error(err, str(exc))
        return EXIT_INFRA
    err.print(f"records: {store.path}\nreport: {files.json}\nhtml: {files.html}",
              style="dim", highlight=False, soft_wrap=True)
    if code != EXIT_OK:
        return code
    return EXIT_INFRA if summary.overall.infra else EXIT_OK


def _run(planned: list[PlannedAttempt], store: AttemptStore, args: argparse.Namespace,
         err: Console) -> int:
    """Run what is not recorded yet, one line per finished attempt; the exit code."""
    todo = pending(planned, store)
    done = len(planned) - len(todo)
    if store.skipped_lines:
        err.print(f"{store.path}: ignored {store.skipped_lines} unreadable line(s)",
                  style="yellow", highlight=False, soft_wrap=True)
    if done:
        err.print(f"resuming: {done} of {len(planned)} attempts already recorded in "
                  f"{store.path}", style="dim", highlight=False, soft_wrap=True)
    finished = [done]

    def progress(record: AttemptRecord) -> None:
        finished[0] += 1
        err.print(_progress_line(record, finished[0], len(planned)), soft_wrap=True,
                  highlight=False)

    approver = terminal_approver(err, args.yes)
    try:
        asyncio.run(run_attempts(todo, store, approver, args.jobs, progress))
    except KeyboardInterrupt:
        print_error(err, "interrupted; the same command resumes from the recorded attempts")
        return EXIT_INTERRUPTED
    except EvalError as exc:  # the record file cannot be written
        print_error(err, str(exc))
        return EXIT_INFRA
    except Exception as exc:  # closing a shared backend failed; a bug shows its traceback
        return fail(err, exc, "infrastructure failure: ").code
    return EXIT_OK


def _stdout() -> Console:
    """The console for the tables: the terminal's width, or 160 columns when piped."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _progress_line(record: AttemptRecord, index: int, total: int) -> Text:
    line = Text(f"[{index}/{total}] {record.task} · {record.setting} · seed {record.seed} ")
    line.append(record.status.upper(), style=f"bold {_STYLE.get(record.status, '')}")
    line.append(f" {record.outcome} · {record.generations} generations · "
                f"{record.tokens.get('sampled', 0)} tokens · {record.seconds:.1f}s")
    if record.status == "infra" and record.error:
        line.append(f" · {record.error.splitlines()[0][:200]}", style="yellow")
    return line


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def short_label(setting: str) -> str:
    """A setting's label with each key cut to its last part (``temperature=0.7``)."""
    parts = setting.split(" ")
    return " ".join(part.split("=", 1)[0].rsplit(".", 1)[-1] + "=" + part.split("=", 1)[1]
                    if "=" in part else part for part in parts)


def _columns(table: Table, names: tuple[str, ...], text: tuple[str, ...]) -> None:
    for name in names:
        if name in text:
            table.add_column(name, overflow="fold", ratio=1)
        else:
            table.add_column(name, justify="right", no_wrap=True)


def print_tables(summary: EvalSummary, ks: tuple[int, ...], console: Console) -> None:
    """The score table, the cost table, the validity table and the stop reasons.

    Rows: each task at each setting; with several tasks each setting across them; with
    more than one row, the overall one.
    """
    rows = [*summary.groups, *(summary.settings if len(summary.settings) < len(
        summary.groups) else ())]
    if len(summary.groups) > 1:
        rows.append(summary.overall)
    hats = tuple(k for k in ks if k > 1)
    scores = Table(title="pass@k and pass^k (infrastructure failures left out)")
    _columns(scores, ("task", "setting", "passed/n", "infra", *(f"pass@{k}" for k in ks),
                      *(f"pass^{k}" for k in hats)), ("task", "setting"))
    costs = Table(title="means per attempt; repair rate: share of attempts whose answer "
                        "was retried for its output schema")
    _columns(costs, ("task", "setting", "gens", "tokens a/c/f", "calls", "repair rate",
                     "repairs"), ("task", "setting"))
    for row in rows:
        style = "bold" if row.task == "all" else None
        names = (row.task, short_label(row.setting))
        scores.add_row(*names, f"{row.passed}/{row.n}", str(row.infra),
                       *(_rate(row.pass_at[k]) for k in ks),
                       *(_rate(row.pass_hat[k]) for k in hats), style=style)
        tokens = "/".join(f"{row.mean_tokens[kind]:.0f}"
                          for kind in ("analysis", "commentary", "final"))
        costs.add_row(*names, f"{row.mean_generations:.1f}", tokens,
                      f"{row.mean_tool_calls:.1f}", f"{row.repair_rate:.2f}",
                      str(row.repairs), style=style)
    console.print(scores)
    console.print(costs)
    several = len(summary.settings) > 1
    _print_validity([*summary.settings, summary.overall] if several else [summary.overall],
                    console)


def _print_validity(rows: list[GroupSummary], console: Console) -> None:
    table = Table(title="tool-call validity (counts over counted attempts)")
    _columns(table, ("setting", "calls", "parse", "schema", "unknown", "channel",
                     "timeout", "other"), ("setting",))
    for row in rows:
        table.add_row(short_label(row.setting), f"{row.mean_tool_calls * row.n:.0f}",
                      *(str(row.validity[kind]) for kind in VALIDITY_KINDS))
    console.print(table)
    for row in rows:
        reasons = ", ".join(f"{name} {count}" for name, count in row.stop_reasons.items())
        console.print(Text.assemble(("stop reasons", "bold"),
                                    f" ({short_label(row.setting)}): {reasons or '-'}"),
                      soft_wrap=True)
