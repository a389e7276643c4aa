"""A small incremental parser of server-sent events (the WHATWG ``text/event-stream`` format).

Fed bytes as they arrive, it yields complete events. Lines end with LF, CRLF or CR; a blank
line ends an event; ``data`` lines are joined with LF; lines starting with ``:`` are comments;
a line without a colon is a field with an empty value. Elasticsearch writes a UTF-8 BOM before
*every* event, not only the first, so a BOM is stripped from the start of every line (the
standard strips only the first, which would turn later ``event:`` lines into an unknown field).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

BOM = "\ufeff"


class SSEError(ValueError):
    """The stream broke the format (a line too long, bytes that are not UTF-8)."""


@dataclass(frozen=True)
class Event:
    event: str
    data: str


class SSEParser:
    """Turns a byte stream into ``Event``s; ``max_line`` bounds the memory one line may take."""

    def __init__(self, *, max_line: int = 1 << 20) -> None:
        self._max_line = max_line
        self._buffer = b""
        self._pending_cr = False
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[Event]:
        """Parse ``chunk`` and yield each event it completes."""
        if not chunk:
            return
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across chunks
        self._pending_cr = False
        self._buffer += chunk
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                break
            end, width = cut
            ended_on_cr = width == 1 and self._buffer[end : end + 1] == b"\r"
            raw, self._buffer = self._buffer[:end], self._buffer[end + width :]
            if ended_on_cr and self._buffer == b"":
                self._pending_cr = True  # the LF of a CRLF may come in the next chunk
            event = self._line(raw)
            if event is not None:
                yield event
        if len(self._buffer) > self._max_line:
            raise SSEError(f"an event line is longer than {self._max_line} bytes")

    def _line(self, raw: bytes) -> Event | None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SSEError("the stream is not UTF-8") from None
        line = line.lstrip(BOM)
        if line == "":
            if not self._data:
                self._event = ""
                return None
            event = Event(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None  # id, retry and unknown fields mean nothing here


def _line_end(buffer: bytes) -> tuple[int, int] | None:
    """Where the first line of ``buffer`` ends, and the width of its terminator."""
    lf = buffer.find(b"\n")
    cr = buffer.find(b"\r")
    if cr == -1 and lf == -1:
        return None
    if cr == -1 or (lf != -1 and lf < cr):
        return lf, 1
    if cr + 1 < len(buffer) and buffer[cr + 1 : cr + 2] == b"\n":
        return cr, 2
    return cr, 1
