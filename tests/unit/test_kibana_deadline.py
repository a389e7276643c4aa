"""A KibanaClient with a deadline ends every call in time, even against a trickling server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bot.kibana.client import KibanaClient, make_http_client
from bot.kibana.errors import KibanaUnavailableError


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """Answers 200 with its body one byte every 0.3 s for 3.6 s: each read is quick, the whole
    answer is not, so httpx's per-phase timeouts never fire."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            body = b"[" + b" " * 10 + b"]"
            connection.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode()
            )
            for byte in body:
                if stop.wait(0.3):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_call_with_a_deadline_ends_at_the_deadline(trickling_server: str) -> None:
    client = KibanaClient(make_http_client(trickling_server, "key", timeout=1.5), deadline=0.6)
    try:
        started = time.monotonic()
        with pytest.raises(KibanaUnavailableError, match=r"within 0\.6 s"):
            client.list_connectors("default")
        assert time.monotonic() - started < 1.0
    finally:
        client.close()


def test_without_a_deadline_only_the_phases_are_bounded(trickling_server: str) -> None:
    # The reason for the deadline: the same server and timeouts, and the call takes > 3 s.
    client = KibanaClient(make_http_client(trickling_server, "key", timeout=1.5))
    try:
        started = time.monotonic()
        assert client.list_connectors("default") == []
        assert time.monotonic() - started > 3.0
    finally:
        client.close()
