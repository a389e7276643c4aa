"""Benchmark: signed requests while hundreds of clients trickle their headers (issue 6 item 6).

Run from the repository root (everything binds to and connects to 127.0.0.1 only)::

    .venv/bin/python -m scripts.bench_slow_clients
    .venv/bin/python -m scripts.bench_slow_clients --slow 500 --every 10 --requests 50

It starts the fake Slack and Kibana, a SQLite database in a temporary directory and the real
bot through ``tests.harness.BotHarness`` (its real WSGI server with the default settings), then
opens ``--slow`` connections that each send half a request line and headers and then one byte
every ``--every`` seconds. With all of them open it sends ``--requests`` signed slash commands
one after the other, each on a new connection, and prints how long each took to be answered
(p50, p99, max, and how many got no HTTP 200 within ``--timeout`` seconds). It then waits for
the slow connections and prints when the server closed them (the request deadline). Exit
status 1 when any signed request was not answered 200 within 1 s.
"""

from __future__ import annotations

import argparse
import math
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import httpx

from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import BotHarness, make_settings


def percentile(ordered: Sequence[float], p: float) -> float:
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--slow", type=int, default=500, help="slow connections")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between bytes")
    parser.add_argument("--requests", type=int, default=50, help="signed requests to time")
    parser.add_argument("--timeout", type=float, default=15.0, help="per signed request")
    parser.add_argument("--watch", type=float, default=40.0, help="seconds to watch closing")
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        slack = stack.enter_context(FakeSlack())
        kibana = stack.enter_context(FakeKibana(spaces=("default",)))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        settings = make_settings(
            f"sqlite:///{folder / 'bench.sqlite3'}", slack, kibana, log_level="WARNING"
        )
        bot = BotHarness(settings=settings, slack=slack, kibana=kibana).start(workers=False)
        stack.callback(bot.stop)
        host, port = bot.url.removeprefix("http://").split(":")

        slow: list[socket.socket] = []
        refused = 0
        for _ in range(args.slow):
            try:
                sock = socket.create_connection((host, int(port)), timeout=2)
                sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nX-Slow: ")
                slow.append(sock)
            except OSError:
                refused += 1
        opened_at = time.monotonic()
        stop = threading.Event()
        closed_at: dict[int, float] = {}

        def trickle() -> None:
            while not stop.wait(args.every):
                for number, sock in enumerate(slow):
                    if number not in closed_at:
                        try:
                            sock.send(b"a")
                        except OSError:
                            closed_at[number] = time.monotonic() - opened_at

        def watch() -> None:
            while not stop.is_set() and len(closed_at) < len(slow):
                for number, sock in enumerate(slow):
                    if number in closed_at:
                        continue
                    sock.settimeout(0)
                    try:
                        if sock.recv(1024) == b"":
                            closed_at[number] = time.monotonic() - opened_at
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed_at[number] = time.monotonic() - opened_at
                stop.wait(0.1)

        threads = [threading.Thread(target=f, daemon=True) for f in (trickle, watch)]
        for thread in threads:
            thread.start()
        out(f"{len(slow)} slow connections open ({refused} refused), one byte every {args.every} s")

        timings: list[float] = []
        failures = 0
        body = "command=/llm-connector&text=help&user_id=U1&trigger_id=1.2"
        for _ in range(args.requests):
            before = time.perf_counter()
            try:
                with httpx.Client(timeout=args.timeout) as client:
                    response = client.post(
                        f"{bot.url}/slack/events", content=body, headers=bot.signed_headers(body)
                    )
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            timings.append(time.perf_counter() - before)
            failures += not ok
        ordered = sorted(timings)
        out(
            f"signed requests: {len(timings)}, not answered 200: {failures}; "
            f"p50 {percentile(ordered, 50) * 1000:.1f} ms, p99 {percentile(ordered, 99) * 1000:.1f}"
            f" ms, max {ordered[-1] * 1000:.1f} ms"
        )
        deadline = time.monotonic() + args.watch
        while len(closed_at) < len(slow) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        if closed_at:
            times = sorted(closed_at.values())
            out(
                f"slow connections closed by the server: {len(times)}/{len(slow)}, "
                f"first after {times[0]:.1f} s, last after {times[-1]:.1f} s"
            )
        else:
            out(f"slow connections closed by the server: 0/{len(slow)} in {args.watch:.0f} s")
        for sock in slow:
            sock.close()
        return 0 if failures == 0 and ordered[-1] < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
