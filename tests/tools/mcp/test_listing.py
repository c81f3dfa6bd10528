"""Safe names, listings and argument checks: what the model sees of an MCP server."""

from __future__ import annotations

import pytest

from gptoss_agent.tools.json_args import ArgumentsError
from gptoss_agent.tools.mcp.listing import Listing, RemoteTool
from gptoss_agent.tools.mcp.names import map_names, safe_name

OBJECT = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}


def test_names_that_are_not_identifiers_get_safe_names() -> None:
    assert safe_name("get-sum") == "get_sum"
    assert safe_name("files/read.v2") == "files_read_v2"
    assert safe_name("2fa") == "_2fa" and safe_name("") == "_"
    assert safe_name("already_fine") == "already_fine"


def test_clashes_are_settled_with_a_suffix_and_reported() -> None:
    names = map_names(["get-sum", "get_sum", "a.b", "a/b", "a_b_2"], "demo")
    assert names.by_safe == {"get_sum_2": "get-sum", "get_sum": "get_sum", "a_b": "a.b",
                             "a_b_3": "a/b", "a_b_2": "a_b_2"}
    assert names.renamed == {"get_sum_2": "get-sum", "a_b": "a.b", "a_b_3": "a/b"}
    assert names.collisions == (
        "MCP server 'demo': tools 'get_sum' and 'get-sum' both map to 'get_sum'; "
        "'get-sum' is called 'get_sum_2'",
        "MCP server 'demo': tools 'a.b' and 'a/b' both map to 'a_b'; 'a/b' is called 'a_b_3'",
    )


def test_a_listing_passes_schemas_through_and_keeps_the_mapping() -> None:
    rich = {"type": "object", "$defs": {"Unit": {"enum": ["c", "f"]}},
            "properties": {"unit": {"$ref": "#/$defs/Unit"},
                           "city": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
            "additionalProperties": False}
    listing = Listing.build("weather", "Weather tools.", [
        RemoteTool("get-forecast", "Forecast.", rich),
        RemoteTool("ping", "", {"type": "object", "properties": {}}),
        RemoteTool("get-forecast", "A duplicate listing.", OBJECT),
    ], revision=1)
    assert list(listing.tools) == ["get_forecast", "ping"]
    assert listing.spec.name == "weather" and listing.spec.description == "Weather tools."
    forecast = listing.spec.function("get_forecast")
    assert forecast is not None and forecast.parameters == rich
    assert forecast.description == "Forecast."
    ping = listing.spec.function("ping")
    assert ping is not None and ping.parameters is None
    assert listing.renamed == {"get_forecast": "get-forecast"}
    assert listing.tools["get_forecast"].remote.name == "get-forecast"
    assert listing.addresses(prefixed=True) == ("functions.weather_get_forecast, "
                                                "functions.weather_ping")
    assert listing.addresses(prefixed=False) == "weather.get_forecast, weather.ping"
    tool = listing.tools["get_forecast"]
    assert tool.parse('{"unit": "c", "city": null}') == {"unit": "c", "city": None}
    with pytest.raises(ArgumentsError, match=r"arguments.unit: 'k' is not one of") as caught:
        tool.parse('{"unit": "k"}')
    assert caught.value.kind == "schema_violation"
    with pytest.raises(ArgumentsError, match="Additional properties"):
        tool.parse('{"unit": "c", "country": "fr"}')


def test_the_schema_dialect_is_the_one_it_names() -> None:
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "properties": {"items": {"type": "array", "items": [{"type": "integer"}],
                                       "additionalItems": False}}}
    [tool] = Listing.build("s", "", [RemoteTool("t", "", draft7)], 1).tools.values()
    assert tool.parse('{"items": [1]}') == {"items": [1]}
    with pytest.raises(ArgumentsError):  # draft-07 tuple form: a second item is refused
        tool.parse('{"items": [1, 2]}')
    modern = {"type": "object", "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}}}
    [tool] = Listing.build("s", "", [RemoteTool("t", "", modern)], 1).tools.values()
    with pytest.raises(ArgumentsError, match="less than or equal to the minimum of 0"):
        tool.parse('{"n": 0}')


def test_a_schema_we_cannot_read_leaves_the_check_to_the_server() -> None:
    broken = {"type": "object", "properties": {"x": {"type": "no-such-type"}}}
    remote_ref = {"type": "object", "properties": {"x": {"$ref": "https://example.com/x"}}}
    listing = Listing.build("s", "", [RemoteTool("broken", "", broken),
                                      RemoteTool("remote", "", remote_ref)], 1)
    assert listing.tools["broken"].parse('{"x": 1}') == {"x": 1}
    assert listing.tools["remote"].parse('{"x": 1}') == {"x": 1}


def test_bad_json_is_an_invalid_json_error() -> None:
    [tool] = Listing.build("s", "", [RemoteTool("t", "", OBJECT)], 1).tools.values()
    with pytest.raises(ArgumentsError, match="trailing comma") as caught:
        tool.parse('{"x": 1,}')
    assert caught.value.kind == "invalid_json"
    with pytest.raises(ArgumentsError, match="'x' is a required property"):
        tool.parse("")


def test_the_quick_check_only_accepts_what_the_full_validator_accepts() -> None:
    from gptoss_agent.tools.mcp.listing import quick_check

    schema = {"type": "object", "properties": {"n": {"type": "integer", "title": "N"},
                                               "s": {"type": "string"}},
              "required": ["n"], "additionalProperties": False}
    quick = quick_check(schema)
    assert quick is not None and quick({"n": 1, "s": "x"})
    assert not quick({"n": True}) and not quick({"n": 1.0}) and not quick({"s": "x"})
    assert not quick({"n": 1, "extra": 2})
    assert quick_check({"type": "object", "properties": {"m": {"enum": ["a"]}}}) is None
    [tool] = Listing.build("s", "", [RemoteTool("t", "", schema)], 1).tools.values()
    with pytest.raises(ArgumentsError, match="True is not of type 'integer'"):
        tool.parse('{"n": true}')
    assert tool.parse('{"n": 1.0}') == {"n": 1.0}  # JSON Schema's integer: the full check
    with pytest.raises(ArgumentsError, match="Additional properties"):
        tool.parse('{"n": 1, "extra": 2}')
