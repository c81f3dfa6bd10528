"""``gptoss-agent show`` and ``export``: transcripts drawn again, or as training data.

``show`` draws a transcript as the live view did; ``export`` writes token-exact Harmony
training data from one or many transcripts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.text import Text

from gptoss_agent.agent.cli.common import print_error
from gptoss_agent.agent.cli.exit_codes import EXIT_CONFIG, EXIT_OK
from gptoss_agent.agent.cli.view import TerminalView
from gptoss_agent.agent.event_json import event_from_dict
from gptoss_agent.agent.harmony.codec import load_codec
from gptoss_agent.agent.transcript import TranscriptError, iter_training_examples, read_records


def cmd_show(args: argparse.Namespace) -> int:
    """Draw a transcript."""
    console = Console()
    err = Console(stderr=True)
    try:
        records = read_records(args.transcript)
    except TranscriptError as exc:
        print_error(err, str(exc))
        return EXIT_CONFIG
    header = records[0]
    console.print(Text(f"session {header['session_id']} · {header['created']} · "
                       f"{header.get('task_path') or 'no task file'}", style="bold"))
    view = TerminalView(console, show_reasoning=not args.hide_reasoning, replay=True)
    for record in records[1:]:
        if record["type"] == "event":
            event = event_from_dict(record["event"])
            if event is not None:
                view(event)
        elif record["type"] == "run_finished":
            outcome = record["result"]["stop_reason"]
            style = "green" if outcome == "final" else "bold red"
            console.print(Text(f"run finished: {outcome}", style=style))
    if records[-1]["type"] != "run_finished":
        console.print(Text("the last run did not finish (resume it with "
                           "`gptoss-agent resume`)", style="yellow"))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write token-exact training examples (JSONL) from transcripts."""
    err = Console(stderr=True)
    codec = load_codec()
    count = 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8") as out:
        for path in args.transcripts:
            try:
                records = read_records(path)
            except TranscriptError as exc:
                print_error(err, str(exc))
                return EXIT_CONFIG
            for tokens, mask in iter_training_examples(records, codec.special.return_,
                                                       codec.special.end):
                example = {"source": str(path), "tokens": tokens, "mask": mask}
                if args.with_text:
                    example["text"] = codec.decode(tokens)
                out.write(json.dumps(example, ensure_ascii=False) + "\n")
                count += 1
    err.print(f"wrote {count} example(s) to {args.output}", highlight=False)
    return EXIT_OK


def add_transcript_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``show`` and ``export``."""
    show = commands.add_parser("show", help="draw a transcript as the live view did")
    show.add_argument("transcript", type=Path)
    show.add_argument("--hide-reasoning", action="store_true")
    show.set_defaults(handler=cmd_show)
    export = commands.add_parser("export", help="Harmony training data from transcripts")
    export.add_argument("transcripts", type=Path, nargs="+")
    export.add_argument("-o", "--output", type=Path, required=True, help="JSONL to write")
    export.add_argument("--with-text", action="store_true", help="add the decoded text")
    export.set_defaults(handler=cmd_export)
