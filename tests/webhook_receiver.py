"""A webhook receiver on 127.0.0.1 for tests and the benchmark: records every request it
gets (when, headers, body), answers what it is told, and can go away (its port refuses
connections) and come back on the same port."""

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.processes import free_port


@dataclass(frozen=True)
class Received:
    at: float  # time.time() when the body was read
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


Answer = Callable[[Received], int]


class Receiver:
    def __init__(self, keep_alive: bool = False, tls: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self.keep_alive = keep_alive
        self.tls = tls
        self.received: list[Received] = []
        self.answer: Answer = lambda _: 200
        self.delay = 0.0  # seconds before answering
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"
            # Headers and body go out as two writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold the second for 40 ms.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                got = Received(time.time(), {k.lower(): v for k, v in self.headers.items()},
                               self.rfile.read(length))  # fmt: skip
                with receiver._lock:
                    receiver.received.append(got)
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.answer(got)
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: connections to the port are refused until `start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)
