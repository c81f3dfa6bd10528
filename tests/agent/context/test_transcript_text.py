"""The transcript writer stores text UTF-8 cannot hold, says so, and loses no record."""

from __future__ import annotations

from pathlib import Path

from gptoss_agent.agent.transcript import TranscriptWriter, header_record, read_records


def test_lone_surrogates_are_replaced_and_the_record_says_so(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path)
    writer.write(header_record("s"))
    writer.write({"type": "event", "event": {"type": "message", "text": "a\udc80b",
                                             "nested": ["\ud800", {"k\udfff": 1}]}})
    writer.write({"type": "run_started", "prompt": "fine"})
    writer.close()
    records = read_records(path)
    assert [r["type"] for r in records] == ["header", "event", "run_started"]
    event = records[1]
    assert event["event"]["text"] == "a\ufffdb"
    assert event["event"]["nested"] == ["\ufffd", {"k\ufffd": 1}]
    assert "U+FFFD" in event["text_repaired"]
    assert "text_repaired" not in records[2]  # only the record that needed it


def test_a_valid_surrogate_pair_is_kept_as_its_character(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path)
    writer.write(header_record("s"))
    writer.write({"type": "run_started", "prompt": "\ud83d\ude00 and \udc00"})
    writer.close()
    assert read_records(path)[1]["prompt"] == "\U0001f600 and \ufffd"
