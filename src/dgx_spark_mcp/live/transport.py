"""The one way out to a live server: its base URL, its credentials, its timeouts, and errors an agent can act on.

Every History Server, driver UI and Airflow call goes through a :class:`Connection`, built from a
configured :class:`~.servers.LiveServer` (or a loopback driver UI), never from a URL an agent gave:

- credentials go only to their own server: the client is bound to the server's base URL and
  follows no redirect (a 3xx is an error naming where it pointed), so a header never travels on;
- TLS is verified unless the server's settings say otherwise, with its CA bundle when given;
- each request has the server's timeout, and a call as a whole a :class:`Deadline`;
- a 401 is retried once after ``reauthenticate`` (Airflow's JWT expires), then reported;
- messages name the server, the path and what to check; they never hold a credential, and the
  logger never sees headers.

Errors: :class:`~dgx_spark_mcp.errors.UnavailableError` (unreachable, timed out, not ready: try
again later), :class:`~dgx_spark_mcp.errors.CouldNotDoError` (refused credentials, unexpected
answers), :class:`NotFound` for a 404 the caller turns into a message about what it looked for.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CouldNotDoError, UnavailableError
from .servers import LiveServer

__all__ = ["Connection", "Deadline", "NotFound"]

log = logging.getLogger(__name__)
CHUNK = 1 << 20


class NotFound(CouldNotDoError):
    """The server answered 404 for a path: the caller says what was not found (an app id, a DAG run)."""

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Deadline:
    """The time a whole call may take (several requests); requests get the smaller of their timeout and what is left."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def expired(self) -> bool:
        return self.left() <= 0


class Connection:
    """HTTP to one live server; use as a context manager (or call :meth:`close`)."""

    def __init__(self, server: LiveServer, *, deadline: Deadline | None = None, what: str = "server",
                 reauthenticate: Callable[[Connection], None] | None = None) -> None:
        import httpx2

        self.server = server
        self.what = what
        self.deadline = deadline
        self._reauthenticate = reauthenticate
        self._bearer = server.token.get_secret_value() if server.token else None
        auth = (httpx2.BasicAuth(server.username, server.password.get_secret_value())
                if server.username and server.password else None)
        verify: Any = _tls(str(server.ca_bundle) if server.ca_bundle else None, server.verify_tls,
                           server.url.lower().startswith("https:"))
        self._client = httpx2.Client(base_url=server.url, auth=auth, verify=verify, follow_redirects=False,
                                     timeout=server.timeout_s, headers={"Accept": "application/json"})

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def set_bearer(self, token: str | None) -> None:
        """Use this bearer token from now on (Airflow's JWT)."""
        self._bearer = token

    @property
    def label(self) -> str:
        return f"{self.what} {self.server.name!r} ({self.server.url})"

    # --- requests ---------------------------------------------------------------------------

    def _timeout(self) -> float:
        if self.deadline is None:
            return self.server.timeout_s
        left = self.deadline.left()
        if left <= 0:
            raise UnavailableError(f"{self.label}: the call ran past its {self.deadline.seconds:g} s deadline "
                                   "(DGX_SPARK_MCP_LIVE_DEADLINE_S); ask for less (a smaller limit) or try again")
        return min(self.server.timeout_s, left)

    def _send(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
              stream: bool = False, retried: bool = False, accept: str | None = None) -> Any:
        import httpx2

        headers = {"Authorization": f"Bearer {self._bearer}"} if self._bearer else {}
        if accept is not None:  # a download or a page: the REST API answers 406 to a JSON-only Accept there
            headers["Accept"] = accept
        if stream:  # a zip: gzip on top of it costs the server time and saves nothing (measured: 0.30 -> 0.17 s)
            headers["Accept-Encoding"] = "identity"
        timeout = self._timeout()
        request = self._client.build_request(method, path, params=params, json=json, headers=headers, timeout=timeout)
        try:
            response = self._client.send(request, stream=stream)
        except httpx2.TimeoutException:
            raise UnavailableError(f"{self.label} did not answer {path} within {timeout:.3g} s; it may be "
                                   "busy (a History Server parsing big logs): try again, or raise its _TIMEOUT_S") from None
        except httpx2.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise UnavailableError(f"{self.label}: its TLS certificate is not trusted ({_reason(exc)}); set the "
                                       "server's _CA_BUNDLE setting to the CA that signed it (_VERIFY_TLS=false only "
                                       "for a lab server)") from None
            raise UnavailableError(f"cannot reach {self.label} ({_reason(exc)}); check that it runs and that the URL "
                                   "in the settings is right") from None
        except httpx2.HTTPError as exc:
            raise UnavailableError(f"{self.label}: {path} failed ({type(exc).__name__}: {_reason(exc)})") from None
        if response.status_code == 401 and self._reauthenticate is not None and not retried:
            response.close()
            self._reauthenticate(self)
            return self._send(method, path, params=params, json=json, stream=stream, retried=True, accept=accept)
        if response.is_success:
            return response
        self._fail(response, path)

    def _fail(self, response: Any, path: str) -> None:
        status = response.status_code
        if not response.is_stream_consumed:
            response.read()
        response.close()
        if 300 <= status < 400:
            where = response.headers.get("location", "?")
            raise CouldNotDoError(f"{self.label} redirected {path} to {where}; credentials are not sent on, so put the "
                                  "address it redirects to in the settings")
        if status in (401, 403):
            raise CouldNotDoError(f"{self.label} refused the credentials for {path} (HTTP {status}); check the "
                                  "token or username and password configured for it")
        if status == 404:
            raise NotFound(f"{self.label} has no {path} (HTTP 404)")
        if status in (502, 503, 504):
            raise UnavailableError(f"{self.label} answered HTTP {status} for {path}: it is starting, overloaded or "
                                   "behind a proxy that lost it; try again")
        detail = response.text[:200].replace("\n", " ") if response.text else ""
        raise CouldNotDoError(f"{self.label} answered HTTP {status} for {path}" + (f": {detail}" if detail else ""))

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self._send("GET", path, params=params)
        try:
            return response.json()
        except ValueError:
            raise CouldNotDoError(f"{self.label} answered {path} with something that is not JSON "
                                  f"({response.headers.get('content-type', 'no content type')}); is the URL the "
                                  "REST API's server?") from None

    def get_text(self, path: str, max_chars: int = 1 << 20) -> str:
        """A page that is not JSON (a History Server's start page), cut to ``max_chars``."""
        response = self._send("GET", path, accept="text/html, text/plain;q=0.9, */*;q=0.1")
        return str(response.text[:max_chars])

    def post_json(self, path: str, body: Any) -> Any:
        response = self._send("POST", path, json=body)
        try:
            return response.json()
        except ValueError:
            raise CouldNotDoError(f"{self.label} answered POST {path} with something that is not JSON") from None

    def download(self, path: str, dest: Path, max_bytes: int) -> int:
        """Stream ``path`` into ``dest`` (written whole or not at all); refused past ``max_bytes``."""
        response = self._send("GET", path, stream=True, accept="application/octet-stream, application/zip, */*;q=0.1")
        partial = dest.with_name(dest.name + ".part")
        written = 0
        try:
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise CouldNotDoError(
                            f"{self.label}: {path} is larger than {max_bytes / 1024**2:,.0f} MiB "
                            "(DGX_SPARK_MCP_MAX_FILE_MIB); raise that limit to analyse it")
                    out.write(chunk)
                    if self.deadline is not None and self.deadline.expired():
                        raise UnavailableError(f"{self.label}: downloading {path} ran past the "
                                               f"{self.deadline.seconds:g} s deadline after {written / 1024**2:.1f} MiB;"
                                               " try again (a finished download is cached)")
            partial.replace(dest)
        finally:
            response.close()
            partial.unlink(missing_ok=True)
        return written


@functools.cache
def _tls(ca_bundle: str | None, verify: bool, https: bool) -> Any:
    """What httpx verifies with, built once per setting: loading the CA bundle costs 25-35 ms a client, and a
    plain-HTTP server needs none (redirects are never followed, so the connection cannot turn into TLS)."""
    if not https or not verify:
        return False
    if ca_bundle:
        import ssl

        return ssl.create_default_context(cafile=ca_bundle)
    import httpcore2

    return httpcore2.default_ssl_context()  # what httpx itself trusts by default


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:160]
