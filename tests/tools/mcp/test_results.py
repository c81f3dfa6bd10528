"""MCP results as tool messages: text, structured content, media, errors, the cap."""

from __future__ import annotations

import base64
import json

import mcp_types as types

from gptoss_agent.tools.mcp.results import cap, human_size, result_text, to_tool_result


def result(*content: object, structured: object = None, error: bool = False
           ) -> types.CallToolResult:
    return types.CallToolResult(content=list(content), structured_content=structured,
                                is_error=error)  # type: ignore[arg-type]


def text(value: str) -> types.TextContent:
    return types.TextContent(text=value)


def test_text_blocks_are_kept_in_order() -> None:
    assert result_text(result(text("one"), text("two"))) == "one\ntwo"
    assert result_text(result()) == ""


def test_structured_content_is_compact_json_shown_once() -> None:
    data = {"city": "Köln", "temp": 3.5}
    pretty = json.dumps(data, indent=2)
    assert result_text(result(text(pretty), structured=data)) == '{"city":"Köln","temp":3.5}'
    assert result_text(result(structured=data)) == '{"city":"Köln","temp":3.5}'
    assert result_text(result(text("it is cold"), structured=data)) == \
        'it is cold\n{"city":"Köln","temp":3.5}'
    assert result_text(result(text("8"), structured={"result": 8})) == "8"  # a wrapped value
    assert result_text(result(text("done"), structured={"result": "done"})) == "done"


def test_media_and_resources_are_described() -> None:
    png = base64.b64encode(bytes(3000)).decode()
    blocks = [
        types.ImageContent(data=png, mime_type="image/png"),
        types.AudioContent(data=base64.b64encode(bytes(10)).decode(), mime_type="audio/wav"),
        types.ResourceLink(name="spec", uri="https://example.com/spec.pdf",
                           mime_type="application/pdf", size=2 * 1024 * 1024,
                           description="The spec."),
        types.EmbeddedResource(resource=types.TextResourceContents(
            uri="file:///a.txt", mime_type="text/plain", text="hello")),
        types.EmbeddedResource(resource=types.BlobResourceContents(
            uri="file:///b.json", mime_type="application/json",
            blob=base64.b64encode(b'{"k": 1}').decode())),
        types.EmbeddedResource(resource=types.BlobResourceContents(
            uri="file:///c.bin", blob=base64.b64encode(bytes(100)).decode())),
    ]
    assert result_text(result(*blocks)).splitlines() == [
        "[image: image/png, 2.9 KiB; its data is not shown]",
        "[audio: audio/wav, 10 bytes; its data is not shown]",
        "[resource link https://example.com/spec.pdf (application/pdf, 2.0 MiB)] spec: "
        "The spec.",
        "[resource file:///a.txt (text/plain)]",
        "hello",
        "[resource file:///b.json (application/json)]",
        '{"k": 1}',
        "[binary resource file:///c.bin (100 bytes)]; its data is not shown",
    ]


def test_is_error_is_an_error_result_with_its_text() -> None:
    failed = to_tool_result(result(text("no such branch"), error=True), server="git",
                            tool="git_checkout", limit=1024)
    assert failed.is_error and not failed.invalid_call
    assert failed.text == "Error: no such branch"
    assert dict(failed.metadata) == {"kind": "tool_error", "mcp_server": "git",
                                     "mcp_tool": "git_checkout"}
    silent = to_tool_result(result(error=True), server="git", tool="git_log", limit=1024)
    assert silent.text == "Error: git_log reported an error without saying why"
    ok = to_tool_result(result(text("fine")), server="git", tool="git_log", limit=1024)
    assert (ok.text, ok.is_error, dict(ok.metadata)) == (
        "fine", False, {"mcp_server": "git", "mcp_tool": "git_log"})


def test_the_cap_cuts_at_a_character_boundary_with_a_note() -> None:
    long = "é" * 1000  # two bytes each
    kept, cut = cap(long, 1001)
    assert kept.startswith("é" * 500) and not kept.startswith("é" * 501)
    assert cut == 1000
    assert "[... cut: the result was 2.0 KiB; only its first 1001 bytes are shown" in kept
    assert cap("short", 1024) == ("short", 0)
    assert (human_size(512), human_size(1536), human_size(3 * 1024 * 1024)) == (
        "512 bytes", "1.5 KiB", "3.0 MiB")
    capped = to_tool_result(result(text("x" * 5000)), server="s", tool="t", limit=1024)
    assert capped.metadata["truncated_bytes"] == 5000 - 1024
