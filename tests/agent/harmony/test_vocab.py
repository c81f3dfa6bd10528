"""The offline vocabulary: found, verified, rebuilt from quicktok data, or a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gptoss_agent.agent.harmony import vocab
from gptoss_agent.agent.harmony.vocab import VOCAB_FILENAME, VocabularyError, ensure_vocabulary

BLOCK_NETWORK = textwrap.dedent(
    """
    import socket
    def _refuse(*args, **kwargs):
        raise OSError("network unreachable (blocked by the test)")
    socket.socket.connect = _refuse
    socket.socket.connect_ex = _refuse
    socket.create_connection = _refuse
    socket.getaddrinfo = _refuse
    """
)


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_ENCODINGS_BASE"}
    env["GPTOSS_AGENT_CACHE"] = str(tmp_path / "cache")
    return env


def test_loads_from_empty_cache_with_network_unreachable(tmp_path: Path) -> None:
    code = BLOCK_NETWORK + textwrap.dedent(
        """
        from gptoss_agent.agent.harmony.codec import load_codec
        from gptoss_agent.agent.harmony.vocab import ensure_vocabulary
        source = ensure_vocabulary().source
        codec = load_codec()
        tokens = codec.encode_text("hello world")
        print(source, codec.decode(tokens), len(tokens))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(tmp_path),
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["rebuilt", "hello", "world", "2"]
    assert (tmp_path / "cache" / "vocab" / VOCAB_FILENAME).is_file()


def test_rebuilds_into_empty_cache_and_then_reuses_it(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE", raising=False)
    monkeypatch.setenv("GPTOSS_AGENT_CACHE", str(tmp_path))
    first = ensure_vocabulary()
    second = ensure_vocabulary()
    assert (first.source, second.source) == ("rebuilt", "cache")
    assert vocab.file_sha256(first.folder / VOCAB_FILENAME) == vocab.VOCAB_SHA256


def test_corrupted_cache_is_detected_and_rebuilt(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE", raising=False)
    monkeypatch.setenv("GPTOSS_AGENT_CACHE", str(tmp_path))
    target = tmp_path / "vocab" / VOCAB_FILENAME
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the vocabulary\n")
    assert ensure_vocabulary().source == "rebuilt"
    assert vocab.file_sha256(target) == vocab.VOCAB_SHA256


def test_env_folder_with_wrong_file_falls_back_and_says_so(tmp_path, monkeypatch) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / VOCAB_FILENAME).write_text("tampered")
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", str(bad))
    monkeypatch.setenv("GPTOSS_AGENT_CACHE", str(tmp_path / "cache"))
    location = ensure_vocabulary()
    assert location.source == "rebuilt"
    assert location.folder == tmp_path / "cache" / "vocab"


def test_everything_failing_gives_one_error_naming_each_attempt(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", str(tmp_path / "nowhere"))
    monkeypatch.setenv("GPTOSS_AGENT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GPTOSS_AGENT_QUICKTOK_WHEEL", str(tmp_path / "missing.whl"))
    monkeypatch.setattr(vocab.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(VocabularyError) as caught:
        ensure_vocabulary()
    message = str(caught.value)
    assert "TIKTOKEN_ENCODINGS_BASE" in message
    assert "cache:" in message
    assert "missing.whl" in message
    assert "quicktok-v1 is not installed" in message


def test_truncated_quicktok_data_is_rejected() -> None:
    with pytest.raises(VocabularyError, match="truncated|expected exactly"):
        vocab.convert_quicktok_vocab(b"\x05\x00\x00\x00\x03\x00ab")
