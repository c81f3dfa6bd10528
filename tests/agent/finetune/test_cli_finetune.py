"""``gptoss-agent finetune``: arguments, errors as exit codes, the JSON report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from gptoss_agent.agent.cli.exit_codes import EXIT_CONFIG, EXIT_OK
from gptoss_agent.agent.cli.finetune import add_finetune_command, config_from_args
from tests.agent.finetune.conftest import need_torch


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_finetune_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["finetune", *argv])


def test_arguments_make_the_config(tmp_path: Path) -> None:
    args = _parse(["a.jsonl", "b.jsonl", "--model", "m", "-o", str(tmp_path), "--method",
                   "full", "--restrict-vocab", "--steps", "7", "--lr", "0.01"])
    config = config_from_args(args)
    assert config.data == (Path("a.jsonl"), Path("b.jsonl"))
    assert (config.method, config.steps, config.learning_rate) == ("full", 7, 0.01)
    assert config.restrict_vocab


def test_bad_settings_and_bad_data_exit_with_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(["x.jsonl", "--model", "m", "-o", str(tmp_path), "--restrict-vocab"])
    assert args.handler(args) == EXIT_CONFIG  # restrict-vocab needs the full method
    assert "restrict_vocab needs method='full'" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"tokens": [1], "mask": [0, 1]}\n')
    args = _parse([str(bad), "--model", "m", "-o", str(tmp_path / "o"), "--method", "full",
                   "--json"])
    need_torch()
    assert args.handler(args) == EXIT_CONFIG
    assert "bad.jsonl:1: 'mask' has 2 entries for 1 tokens" in capsys.readouterr().err


def test_json_report(conversations_file: Path, tiny_init: Path, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    need_torch()
    args = _parse([str(conversations_file), "--model", str(tiny_init), "-o",
                   str(tmp_path / "out"), "--method", "full", "--restrict-vocab", "--steps",
                   "2", "--batch-size", "4", "--threads", "1", "--json"])
    assert args.handler(args) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["steps"] == 2 and report["method"] == "full" and not report["adapter"]
    assert (tmp_path / "out" / "config.json").exists()
