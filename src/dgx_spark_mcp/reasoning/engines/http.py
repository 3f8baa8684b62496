"""An OpenAI-compatible chat server: Ollama, vLLM, llama.cpp, trtllm-serve, NIM, SGLang, LM Studio.

All of them speak ``POST {base}/chat/completions`` with SSE streaming and ``GET {base}/models``;
this engine uses the ``openai`` client for the chat call and plain HTTP for the extras that
only some servers offer (``/tokenize``, context length in the models listing, Ollama's ``/api``).

Counting the prompt, best first (``token_count_method`` says which was used):

- ``tokenizer``: the served model's tokenizer and chat template from local files
  (``DGX_SPARK_MCP_ENGINE_TOKENIZER``): exact, with any server.
- ``server``: the server counts.  vLLM's ``/tokenize`` takes the chat ``messages`` and applies
  the served template; llama.cpp's ``/tokenize`` counts text, and ``/apply-template`` renders the
  messages with its template first.  trtllm-serve and Ollama have no tokenize endpoint.
- ``estimate``: about four characters a token plus a few template tokens per turn.

Ollama's OpenAI listing carries no context length; ``/api/tags``, ``/api/show`` and ``/api/ps``
give the quantization level, the trained context and the window it actually serves (num_ctx),
which is what the prompt must fit: Ollama silently cuts a longer prompt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...errors import BadInputError, CouldNotDoError
from .base import (
    ESTIMATE_TOKENS_PER_MESSAGE,
    ChatMessage,
    Engine,
    EngineError,
    GenerationStats,
    StatsClock,
    check_messages,
    check_request,
    estimate_prompt_tokens,
    estimate_tokens,
)

__all__ = [
    "DEFAULT_API_KEY",
    "OLLAMA_DEFAULT_CONTEXT",
    "HttpEngine",
    "context_length_of",
    "list_models",
    "normalize_base_url",
]

log = logging.getLogger(__name__)

DEFAULT_API_KEY = "not-needed"
"""Local servers ignore the key, but the openai client refuses to start without one."""

_RETRYABLE_STATUS = (502, 503, 504)  # a server still loading its model answers 503
_EXTRA_TIMEOUT_S = 3.0  # /tokenize, /api/show and the like answer in milliseconds on loopback

OLLAMA_DEFAULT_CONTEXT = 4096
"""The window assumed for an Ollama model whose num_ctx is not visible (not set in its Modelfile, not loaded):
Ollama's documented default for machines under 24 GiB of VRAM; larger machines default higher, and
OLLAMA_CONTEXT_LENGTH on the server overrides it (docs.ollama.com, "Context length")."""


def normalize_base_url(url: str) -> str:
    """``http://host:port`` or ``http://host:port/v1/`` → ``http://host:port/v1``; other paths are kept."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInputError(
            f"engine_url {url!r} is not an http(s) URL; expected an OpenAI-compatible base such as "
            "http://127.0.0.1:8000/v1, or 'auto' to probe the usual local ports, or 'none'"
        )
    path = parts.path.rstrip("/")
    if not path:
        path = "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _server_root(base_url: str) -> str:
    """The base URL without a trailing ``/v1``: vLLM and llama.cpp serve ``/tokenize`` at the root."""
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def list_models(base_url: str, *, timeout_s: float = 5.0, api_key: str | None = None) -> list[dict[str, Any]]:
    """The ``data`` entries of ``GET {base}/models``; raises CouldNotDoError naming the URL."""
    import httpx2

    url = f"{base_url}/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx2.get(url, timeout=timeout_s, headers=headers)
        response.raise_for_status()
        body = response.json()
    except httpx2.TimeoutException as exc:
        raise CouldNotDoError(f"{url} did not answer within {timeout_s:g} s; is the server still loading?") from exc
    except httpx2.ConnectError as exc:
        raise CouldNotDoError(f"nothing is listening at {url} ({exc}); start the model server or fix engine_url") from exc
    except httpx2.HTTPStatusError as exc:
        raise CouldNotDoError(f"{url} answered HTTP {exc.response.status_code}; expected an OpenAI-compatible models list") from exc
    except (httpx2.HTTPError, ValueError) as exc:
        raise CouldNotDoError(f"{url} did not return an OpenAI-compatible models list: {exc}") from exc
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise CouldNotDoError(f"{url} returned JSON without a 'data' list; expected an OpenAI-compatible models list")
    return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


def context_length_of(entry: dict[str, Any]) -> int | None:
    """The context window a models-list entry declares, where the server says it.

    vLLM (and NIM, SGLang): ``max_model_len``; llama.cpp: ``meta.n_ctx`` (or the training
    context ``meta.n_ctx_train``); LM Studio and others: ``context_length`` / ``max_context_length``.
    Ollama's OpenAI listing does not carry it.
    """
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
    for value in (
        entry.get("max_model_len"),
        entry.get("context_length"),
        entry.get("max_context_length"),
        meta.get("n_ctx"),
        meta.get("n_ctx_train"),
    ):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


class HttpEngine(Engine):
    kind = "http"

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        tokenizer: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        models: list[dict[str, Any]] | None = None,
    ) -> None:
        """Connect to ``base_url``; ``model`` picks among the served models (default: the first).

        ``models`` is a models listing already fetched (by the auto probe), to save a request.
        ``tokenizer`` is a local directory or tokenizer.json holding the served model's tokenizer (and template).
        """
        super().__init__()
        from openai import OpenAI

        self.endpoint = normalize_base_url(base_url)
        self._api_key = api_key or DEFAULT_API_KEY
        self.max_retries = max(0, min(max_retries, 5))
        listing = models if models is not None else list_models(self.endpoint, timeout_s=min(timeout_s, 10.0), api_key=api_key)
        ids = [m["id"] for m in listing]
        if not ids:
            raise CouldNotDoError(f"{self.endpoint}/models lists no model; load one into the server first")
        if model and model not in ids:
            raise BadInputError(
                f"engine_model {model!r} is not served at {self.endpoint}; it serves {', '.join(ids[:10])}. "
                "Set engine_model to one of them"
            )
        self.model = model or ids[0]
        self.context_length = context_length_of(next(m for m in listing if m["id"] == self.model))
        self.quantization = None  # the server decides; the OpenAI API does not report it
        self._client = OpenAI(base_url=self.endpoint, api_key=self._api_key, timeout=timeout_s, max_retries=self.max_retries)
        self._server_counting: str | None = None  # "vllm", "llama.cpp" or "none"; None until asked once
        self._tokenizer: Any = None
        if tokenizer:
            from .tokenizer import load_tokenizer

            self._tokenizer = load_tokenizer(tokenizer)
            if self._tokenizer.chat_template is None:
                self.notes.append(
                    f"the tokenizer in {tokenizer} has no chat template: turns are counted exactly, the server's template "
                    f"markers are estimated ({ESTIMATE_TOKENS_PER_MESSAGE} tokens a turn)"
                )
        self.token_count_method = "tokenizer" if self._tokenizer is not None else "estimate"
        if self.context_length is None:
            self._read_ollama_facts()

    # --- server extras ---------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """JSON from ``{server root}{path}``, or None when the server lacks the route or answers anything else."""
        import httpx2

        try:
            response = httpx2.request(
                method, f"{_server_root(self.endpoint)}{path}", json=body,
                headers={"Authorization": f"Bearer {self._api_key}"}, timeout=_EXTRA_TIMEOUT_S,
            )
            return response.json() if response.status_code == 200 else None
        except (httpx2.HTTPError, ValueError):
            return None

    def _read_ollama_facts(self) -> None:
        """Quantization level and the served window of an Ollama model (``/api/tags``, ``/api/show``, ``/api/ps``)."""
        tags = self._request("GET", "/api/tags")
        if not isinstance(tags, dict) or not isinstance(tags.get("models"), list):
            return  # not Ollama
        entries = [m for m in tags["models"] if isinstance(m, dict) and self.model in (m.get("name"), m.get("model"))]
        details = entries[0].get("details") if entries and isinstance(entries[0].get("details"), dict) else {}
        show = self._request("POST", "/api/show", {"model": self.model})
        show = show if isinstance(show, dict) else {}
        if isinstance(show.get("details"), dict):
            details = {**details, **show["details"]}
        level = details.get("quantization_level")
        self.quantization = str(level) if level else None
        info = show.get("model_info") if isinstance(show.get("model_info"), dict) else {}
        trained = info.get(f"{info.get('general.architecture')}.context_length")
        trained = trained if isinstance(trained, int) and trained > 0 else None
        num_ctx = _num_ctx(show.get("parameters"))
        loaded = None
        ps = self._request("GET", "/api/ps")
        for m in ps.get("models", []) if isinstance(ps, dict) and isinstance(ps.get("models"), list) else []:
            if isinstance(m, dict) and self.model in (m.get("name"), m.get("model")):
                value = m.get("context_length")
                loaded = value if isinstance(value, int) and value > 0 else None
        if num_ctx:
            window, why = num_ctx, "num_ctx in its Modelfile"
        elif loaded:
            window, why = loaded, "the context of the loaded model (/api/ps)"
        else:
            window, why = OLLAMA_DEFAULT_CONTEXT, (
                "Ollama's default for small GPUs, as neither the Modelfile nor a loaded model says (set "
                "OLLAMA_CONTEXT_LENGTH on the server, or num_ctx, for more)"
            )
        if trained:
            window = min(window, trained)
        self.context_length = window
        facts = [f"Ollama model {self.model}"]
        if trained:
            facts.append(f"trained for {trained} tokens")
        facts.append(f"served with a {window}-token window ({why}); Ollama cuts longer prompts silently, so ask's "
                     "budget uses that window")
        if level:
            facts.append(f"weights {level}")
        self.notes.append(", ".join(facts))

    # --- counting -------------------------------------------------------------------------

    def _detect_server_counting(self) -> str:
        """Whether the server counts tokens: vLLM's ``/tokenize`` (``count``), llama.cpp's (``tokens``), or neither.
        Asked once; a server without it is not asked again."""
        if self._server_counting is None:
            body = self._request("POST", "/tokenize", _tokenize_body(self.model, "ExecutorLostFailure on stage 12"))
            if isinstance(body, dict) and isinstance(body.get("count"), int):
                self._server_counting = "vllm"
            elif isinstance(body, dict) and isinstance(body.get("tokens"), list):
                self._server_counting = "llama.cpp"
            else:
                self._server_counting = "none"
            if self._tokenizer is None:
                self.token_count_method = "estimate" if self._server_counting == "none" else "server"
        return self._server_counting

    def _server_count(self, body: dict[str, Any]) -> int | None:
        reply = self._request("POST", "/tokenize", body)
        if isinstance(reply, dict):
            if isinstance(reply.get("count"), int):
                return int(reply["count"])
            if isinstance(reply.get("tokens"), list):
                return len(reply["tokens"])
        return None

    def count_tokens(self, text: str) -> int:
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False))
        if self._detect_server_counting() != "none":
            count = self._server_count(_tokenize_body(self.model, text))
            if count is not None:
                return count
        return estimate_tokens(text)

    def count_prompt_tokens(self, messages: list[ChatMessage]) -> int:
        check_messages(messages)
        if self._tokenizer is not None:
            if self._tokenizer.chat_template is not None:
                return self.count_tokens(self.render_prompt(messages))
            return sum(self.count_tokens(m["content"]) + ESTIMATE_TOKENS_PER_MESSAGE for m in messages) + ESTIMATE_TOKENS_PER_MESSAGE
        server = self._detect_server_counting()
        if server == "vllm":
            # vLLM applies the served chat template to the messages, as /chat/completions will.
            count = self._server_count({"model": self.model, "messages": messages, "add_generation_prompt": True})
            if count is not None:
                return count
        elif server == "llama.cpp":
            rendered = self._request("POST", "/apply-template", {"messages": messages})
            if isinstance(rendered, dict) and isinstance(rendered.get("prompt"), str):
                count = self._server_count(_tokenize_body(self.model, rendered["prompt"]))
                if count is not None:
                    return count
        if server != "none":
            return sum(self.count_tokens(m["content"]) + ESTIMATE_TOKENS_PER_MESSAGE for m in messages) + ESTIMATE_TOKENS_PER_MESSAGE
        return estimate_prompt_tokens(messages)

    def render_prompt(self, messages: list[ChatMessage]) -> str:
        """The prompt as the model sees it where the template is known here (engine_tokenizer, llama.cpp's
        /apply-template); otherwise a role-tagged approximation, for display only: counting never relies on it."""
        check_messages(messages)
        if self._tokenizer is not None and self._tokenizer.chat_template is not None:
            return str(self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
        if self._detect_server_counting() == "llama.cpp":
            rendered = self._request("POST", "/apply-template", {"messages": messages})
            if isinstance(rendered, dict) and isinstance(rendered.get("prompt"), str):
                return str(rendered["prompt"])
        return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"

    def describe(self) -> dict[str, object]:
        self._detect_server_counting()  # so the status says how prompts will be counted
        return super().describe()

    # --- generation -----------------------------------------------------------------------

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_token: Callable[[str], None] | None = None,
        timeout_s: float = 120.0,
    ) -> tuple[str, GenerationStats]:
        import openai

        check_request(messages, max_tokens)
        deadline = time.monotonic() + timeout_s
        attempt = 0
        include_usage = True
        while True:
            try:
                return self._stream(messages, max_tokens, temperature, on_token, deadline, include_usage)
            except openai.BadRequestError as exc:
                # Older servers reject stream_options; ask once more without it.
                if include_usage and "stream_options" in str(exc):
                    include_usage = False
                    continue
                raise EngineError(f"{self.endpoint} rejected the chat request (HTTP 400): {_detail(exc)}") from exc
            except _Retry as retry:
                attempt += 1
                if attempt > self.max_retries or time.monotonic() + retry.wait_s >= deadline:
                    raise retry.error from retry.__cause__
                time.sleep(retry.wait_s)

    def _stream(
        self,
        messages: list[ChatMessage],
        max_tokens: int,
        temperature: float,
        on_token: Callable[[str], None] | None,
        deadline: float,
        include_usage: bool,
    ) -> tuple[str, GenerationStats]:
        import httpx2
        import openai

        left = max(0.05, deadline - time.monotonic())
        # Retries are ours (only before any text arrived), so the client makes one attempt; the
        # read timeout bounds each wait for a chunk and the deadline bounds the whole answer.
        client = self._client.with_options(max_retries=0, timeout=httpx2.Timeout(left, connect=min(left, 3.0)))
        extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if include_usage else {}
        clock = StatsClock()
        pieces: list[str] = []
        usage: Any = None
        finished = False
        url = f"{self.endpoint}/chat/completions"
        started = False  # the server accepted the request and began a response
        try:
            stream = client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=temperature,
                stream=True,
                **extra,
            )
            started = True
            with stream:
                for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        piece = choice.delta.content if choice.delta is not None else None
                        if piece:
                            clock.token()
                            pieces.append(piece)
                            if on_token is not None:
                                on_token(piece)
                        if choice.finish_reason is not None:
                            finished = True
                    if time.monotonic() > deadline:
                        raise EngineError(
                            f"{url} was still generating after {time.perf_counter() - clock.start:.1f} s, past the "
                            "timeout; raise timeout_s or lower max_tokens",
                            partial_text="".join(pieces),
                            partial_stats=self._stats(clock, messages, pieces, None),
                        )
        except openai.APITimeoutError as exc:
            raise EngineError(
                f"{url} did not answer within the timeout ({left:.1f} s left of it); the server may be overloaded "
                "or still loading the model: raise timeout_s or check the server",
                partial_text="".join(pieces),
                partial_stats=self._stats(clock, messages, pieces, None) if pieces else None,
            ) from exc
        except openai.APIStatusError as exc:
            if isinstance(exc, openai.BadRequestError):
                raise
            error = EngineError(
                f"{url} answered HTTP {exc.status_code}: {_detail(exc)}", partial_text="".join(pieces)
            )
            if exc.status_code in _RETRYABLE_STATUS and not started:
                raise _Retry(error, 1.0) from exc
            raise error from exc
        except (openai.APIConnectionError, httpx2.TransportError, httpx2.StreamError) as exc:
            if not started:
                raise _Retry(
                    EngineError(f"cannot reach {url} ({_detail(exc)}); start the model server or fix engine_url"), 0.5
                ) from exc
            # The connection broke after the response began: the server died or was killed.
            partial = "".join(pieces)
            raise EngineError(
                f"{url} closed the connection mid-answer after {len(partial)} characters ({_detail(exc)}); "
                "the server may have crashed or run out of memory: check its log",
                partial_text=partial,
                partial_stats=self._stats(clock, messages, pieces, None),
            ) from exc
        if not finished:
            # The stream ended with neither a finish_reason nor [DONE]: the server went away.
            partial = "".join(pieces)
            raise EngineError(
                f"{url} ended the stream mid-answer after {len(partial)} characters, without a finish reason; "
                "the server may have crashed or run out of memory: check its log",
                partial_text=partial,
                partial_stats=self._stats(clock, messages, pieces, None),
            )
        return "".join(pieces), self._stats(clock, messages, pieces, usage)

    def _stats(self, clock: StatsClock, messages: list[ChatMessage], pieces: list[str], usage: Any) -> GenerationStats:
        if usage is not None and getattr(usage, "completion_tokens", None) is not None:
            return clock.stats(int(usage.prompt_tokens or 0), int(usage.completion_tokens), "server")
        # No usage from the server: count both sides ourselves.
        prompt = self.count_prompt_tokens(messages)
        completion = self.count_tokens("".join(pieces)) if pieces else 0
        return clock.stats(prompt, completion, self.token_count_method)

    def close(self) -> None:
        self._client.close()


class _Retry(Exception):
    """Internal: the attempt failed before any text and may be retried after ``wait_s``."""

    def __init__(self, error: EngineError, wait_s: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait_s = wait_s


def _detail(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return message[:300]


def _tokenize_body(model: str, text: str) -> dict[str, Any]:
    # vLLM reads "prompt", llama.cpp "content"; each ignores the other's field.
    return {"model": model, "prompt": text, "content": text, "add_special_tokens": False}


def _num_ctx(parameters: Any) -> int | None:
    """``num_ctx`` from Ollama's ``parameters`` text (one ``name value`` per line), if set."""
    if not isinstance(parameters, str):
        return None
    for line in parameters.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit() and int(parts[1]) > 0:
            return int(parts[1])
    return None
