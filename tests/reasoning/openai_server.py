"""A real OpenAI-compatible chat server on loopback, serving an in-process engine (the tiny model).

It speaks the contract the local engines (Ollama, vLLM, llama.cpp, trtllm-serve) share:

- ``GET /v1/models`` → ``{"object": "list", "data": [{"id", "object", "max_model_len"}]}``
- ``POST /v1/chat/completions`` with ``stream`` false (one JSON body with ``usage``) or true (SSE
  ``data: {chunk}`` lines with ``choices[0].delta.content``, a final chunk with ``finish_reason``,
  a usage chunk when ``stream_options.include_usage`` is set, then ``data: [DONE]``)
- ``POST /tokenize`` when ``tokenize`` is on: vLLM style (``{"prompt"}`` or ``{"messages"}``, the latter
  rendered with the chat template, → ``{"count", "tokens", "max_model_len"}``), or with
  ``tokenize_style="llama.cpp"`` llama-server's (``{"content"}`` → ``{"tokens"}``, plus
  ``POST /apply-template`` ``{"messages"}`` → ``{"prompt"}``)
- with ``ollama`` (a dict of ``tags``, ``show`` and optionally ``ps`` bodies): Ollama's native
  ``GET /api/tags``, ``POST /api/show``, ``GET /api/ps``, and a models listing without a context length

and can misbehave on purpose, for the error paths: ``fail_first`` (answer the first chat
requests with these HTTP statuses, as a server still loading its model does with 503), ``sleep_s`` (answer chat requests only after
sleeping), ``die_after_chunks`` (send that many text chunks, then drop the connection: ``die_how``
"reset" breaks the chunked body, "eof" ends it cleanly but without a finish reason or [DONE]),
``refuse_after_listing`` (answer the models listing, then stop listening: the next request is refused,
as when a server dies between the probe and the question).

Usage::

    with OpenAICompatServer(TransformersEngine(tiny_model_dir)) as server:
        HttpEngine(server.base_url)
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["OpenAICompatServer"]


class _Died(Exception):
    """Raised from the token callback to stop generating when the server is told to die."""


class OpenAICompatServer:
    def __init__(
        self,
        engine: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model_name: str = "tiny-mistral",
        sleep_s: float = 0.0,
        die_after_chunks: int | None = None,
        die_how: str = "reset",
        usage: bool = True,
        tokenize: bool = True,
        context_length: int | None = None,
        fail_first: tuple[int, ...] = (),
        tokenize_style: str = "vllm",
        ollama: dict[str, Any] | None = None,
        refuse_after_listing: bool = False,
    ) -> None:
        self.engine = engine
        self.model_name = model_name
        self.sleep_s = sleep_s
        self.die_after_chunks = die_after_chunks
        self.die_how = die_how
        self.usage = usage
        self.tokenize = tokenize
        self.fail_first = list(fail_first)  # HTTP statuses for the first chat requests (503: "loading")
        self.tokenize_style = tokenize_style
        self.ollama = ollama
        self.refuse_after_listing = refuse_after_listing
        self.context_length = context_length if context_length is not None else getattr(engine, "context_length", None)
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []  # (method, path, JSON body)
        self._stopping = threading.Event()
        self._generate_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAICompatServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on purpose
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> OpenAICompatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def chat_requests(self) -> list[dict[str, Any]]:
        return [body or {} for method, path, body in self.requests if path.endswith("/chat/completions")]

    # --- the handler ------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any] | None:
                length = int(self.headers.get("Content-Length") or 0)
                if not length:
                    return None
                try:
                    parsed = json.loads(self.rfile.read(length))
                except ValueError:
                    return None
                return parsed if isinstance(parsed, dict) else None

            def do_GET(self) -> None:
                server.requests.append(("GET", self.path, None))
                path = self.path.rstrip("/")
                if path == "/v1/models":
                    entry: dict[str, Any] = {"id": server.model_name, "object": "model", "owned_by": "test"}
                    if server.context_length and server.ollama is None:
                        entry["max_model_len"] = server.context_length
                    if server.refuse_after_listing:
                        # Stop listening before answering, so the next connection is refused, never queued.
                        server._httpd.shutdown()
                        server._httpd.server_close()
                    self._json(200, {"object": "list", "data": [entry]})
                elif server.ollama is not None and path == "/api/tags":
                    self._json(200, server.ollama["tags"])
                elif server.ollama is not None and path == "/api/ps" and "ps" in server.ollama:
                    self._json(200, server.ollama["ps"])
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

            def do_POST(self) -> None:
                body = self._body()
                server.requests.append(("POST", self.path, body))
                path = self.path.rstrip("/")
                tokenizer = getattr(server.engine, "_tokenizer", None)
                if path == "/tokenize" and server.tokenize and server.tokenize_style == "llama.cpp":
                    tokens = tokenizer.encode(str((body or {}).get("content", "")), add_special_tokens=False)
                    self._json(200, {"tokens": tokens})
                elif path == "/apply-template" and server.tokenize and server.tokenize_style == "llama.cpp":
                    prompt = tokenizer.apply_chat_template((body or {})["messages"], add_generation_prompt=True,
                                                           tokenize=False)
                    self._json(200, {"prompt": prompt})
                elif path == "/tokenize" and server.tokenize:
                    if isinstance((body or {}).get("messages"), list):
                        # vLLM's chat form: the served template applied, as /chat/completions will.
                        prompt = tokenizer.apply_chat_template(body["messages"], add_generation_prompt=True, tokenize=False)
                    else:
                        prompt = str((body or {}).get("prompt", ""))
                    tokens = tokenizer.encode(prompt, add_special_tokens=False)
                    self._json(200, {"count": len(tokens), "tokens": tokens, "max_model_len": server.context_length})
                elif server.ollama is not None and path == "/api/show":
                    if (body or {}).get("model") != server.model_name:
                        self._json(404, {"error": f"model '{(body or {}).get('model')}' not found"})
                    else:
                        self._json(200, server.ollama["show"])
                elif path == "/v1/chat/completions":
                    self._chat(body)
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

            def _chat(self, body: dict[str, Any] | None) -> None:
                if not body or not isinstance(body.get("messages"), list):
                    self._json(400, {"error": {"message": "messages is required", "type": "invalid_request_error"}})
                    return
                if body.get("model") != server.model_name:
                    self._json(404, {"error": {"message": f"model {body.get('model')!r} not found", "type": "not_found"}})
                    return
                if server.fail_first:
                    status = server.fail_first.pop(0)
                    self._json(status, {"error": {"message": f"failing on purpose with {status}", "type": "server_error"}})
                    return
                if server.sleep_s and server._stopping.wait(server.sleep_s):
                    return
                if body.get("stream"):
                    self._stream(body)
                    return
                with server._generate_lock:
                    text, stats = server.engine.generate(
                        body["messages"], max_tokens=int(body.get("max_tokens") or 64),
                        temperature=float(body.get("temperature") or 0.0),
                    )
                self._json(200, {
                    "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                    "model": server.model_name,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": _finish(stats.completion_tokens, body)}],
                    "usage": _usage(stats),
                })

            def _send_chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _event(self, payload: dict[str, Any] | str) -> None:
                text = payload if isinstance(payload, str) else json.dumps(payload)
                self._send_chunk(f"data: {text}\n\n".encode())

            def _stream(self, body: dict[str, Any]) -> None:
                chat_id = f"chatcmpl-{uuid.uuid4().hex}"
                created = int(time.time())

                def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                    return {"id": chat_id, "object": "chat.completion.chunk", "created": created,
                            "model": server.model_name,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                if server.die_how == "eof" and server.die_after_chunks is not None:
                    # No framing: the body ends when the connection closes (as a proxy might do).
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self._send_chunk = lambda data: (self.wfile.write(data), self.wfile.flush())  # type: ignore[method-assign]
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                self._event(chunk({"role": "assistant", "content": ""}))
                sent = 0

                def on_token(piece: str) -> None:
                    nonlocal sent
                    if server.die_after_chunks is not None and sent >= server.die_after_chunks:
                        raise _Died()
                    self._event(chunk({"content": piece}))
                    sent += 1

                try:
                    with server._generate_lock:
                        _, stats = server.engine.generate(
                            body["messages"], max_tokens=int(body.get("max_tokens") or 64),
                            temperature=float(body.get("temperature") or 0.0), on_token=on_token,
                        )
                except Exception as exc:  # the engine's EngineError wraps _Died raised in on_token
                    if server.die_after_chunks is not None:
                        self._die()
                        return
                    raise exc
                if server.die_after_chunks is not None:  # the answer was shorter than the limit
                    self._die()
                    return
                self._event(chunk({}, _finish(stats.completion_tokens, body)))
                if server.usage and (body.get("stream_options") or {}).get("include_usage"):
                    self._event({"id": chat_id, "object": "chat.completion.chunk", "created": created,
                                 "model": server.model_name, "choices": [], "usage": _usage(stats)})
                self._event("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _die(self) -> None:
                self.close_connection = True
                try:
                    if server.die_how == "reset":
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                    else:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        return Handler


def _usage(stats: Any) -> dict[str, int]:
    return {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
            "total_tokens": stats.prompt_tokens + stats.completion_tokens}


def _finish(completion_tokens: int, body: dict[str, Any]) -> str:
    return "length" if completion_tokens >= int(body.get("max_tokens") or 64) else "stop"
