"""The SSE line parser of bot/elasticsearch/sse.py."""

from __future__ import annotations

import pytest

from bot.elasticsearch.sse import BOM, Event, SSEError, SSEParser

ES_STREAM = (
    f'{BOM}event: message\ndata: {{"a":1}}\n\n'
    f'{BOM}event: message\ndata: {{"b":"é"}}\n\n'
    f"{BOM}event: message\ndata: [DONE]\n\n"
).encode()


def _all(parser: SSEParser, *chunks: bytes) -> list[Event]:
    return [event for chunk in chunks for event in parser.feed(chunk)]


def test_bom_before_every_event_is_stripped() -> None:
    events = _all(SSEParser(), ES_STREAM)
    assert events == [
        Event("message", '{"a":1}'),
        Event("message", '{"b":"é"}'),
        Event("message", "[DONE]"),
    ]


def test_byte_by_byte_gives_the_same_events() -> None:
    parser = SSEParser()
    chunks = [ES_STREAM[i : i + 1] for i in range(len(ES_STREAM))]
    assert _all(parser, *chunks) == _all(SSEParser(), ES_STREAM)


@pytest.mark.parametrize("newline", [b"\r\n", b"\r", b"\n"])
def test_every_line_ending(newline: bytes) -> None:
    raw = b"event: error" + newline + b"data: x" + newline + newline
    assert _all(SSEParser(), raw) == [Event("error", "x")]
    split = [raw[i : i + 1] for i in range(len(raw))]
    assert _all(SSEParser(), *split) == [Event("error", "x")]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    assert _all(SSEParser(), b"data: a\r", b"\n\r", b"\n") == [Event("message", "a")]


def test_data_lines_join_comments_and_unknown_fields_are_ignored() -> None:
    raw = b": keep-alive\ndata: one\nid: 7\nretry: 10\nnonsense\ndata:two\n\n"
    assert _all(SSEParser(), raw) == [Event("message", "one\ntwo")]


def test_an_event_without_data_is_not_dispatched() -> None:
    assert _all(SSEParser(), b"event: ping\n\ndata: x\n\n") == [Event("message", "x")]


def test_incomplete_event_waits_for_its_blank_line() -> None:
    parser = SSEParser()
    assert _all(parser, b"data: x\n") == []
    assert _all(parser, b"\n") == [Event("message", "x")]


def test_a_line_too_long_is_an_error() -> None:
    with pytest.raises(SSEError, match="longer than 16 bytes"):
        _all(SSEParser(max_line=16), b"data: " + b"x" * 32)


def test_bytes_that_are_not_utf8_are_an_error() -> None:
    with pytest.raises(SSEError, match="not UTF-8"):
        _all(SSEParser(), b"data: \xff\xfe\n\n")
