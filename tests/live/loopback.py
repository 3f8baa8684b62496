"""A real HTTP server on loopback for the live-source tests: routes are Python callables, every request is recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Route = Callable[["Seen"], tuple[int, dict[str, str], bytes]]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Loopback:
    url: str
    port: int
    routes: dict[str, Route]
    seen: list[Seen] = field(default_factory=list)


def json_route(data: Any, status: int = 200) -> Route:
    return lambda _: (status, {"Content-Type": "application/json"}, json.dumps(data).encode())


@contextmanager
def serve(routes: dict[str, Route], tls: tuple[Path, Path] | None = None) -> Iterator[Loopback]:
    """Serve ``routes`` (path without the query -> callable) on a free loopback port until the block ends; over
    HTTPS with ``tls`` = (certificate, key)."""
    box: dict[str, Loopback] = {}

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length) if length else b"")
            box["lb"].seen.append(seen)
            routes = box["lb"].routes
            route = routes.get(self.path.split("?")[0]) or routes.get("*")  # "*": every other path
            status, headers, body = route(seen) if route else (404, {}, b"not here")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = _any

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the tests read .seen instead
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    if tls is not None:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls else "http"
    box["lb"] = Loopback(url=f"{scheme}://127.0.0.1:{port}", port=port, routes=routes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["lb"]
    finally:
        server.shutdown()
        server.server_close()
