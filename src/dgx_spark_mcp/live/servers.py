"""The live servers a user configured: Spark History Servers (or driver UIs) by name, and Airflow.

Read from the environment (and flags) by :class:`~dgx_spark_mcp.settings.Settings`::

    DGX_SPARK_MCP_SPARK_SERVERS=prod=https://shs.example:18080,dev=http://127.0.0.1:18080
    DGX_SPARK_MCP_SPARK_SERVERS_PROD_TOKEN=...            # bearer token, or
    DGX_SPARK_MCP_SPARK_SERVERS_PROD_USERNAME=... / _PASSWORD=...   # basic auth
    DGX_SPARK_MCP_SPARK_SERVERS_PROD_CA_BUNDLE=/etc/ssl/corp.pem    # TLS verified by default
    DGX_SPARK_MCP_SPARK_SERVERS_PROD_VERIFY_TLS=false               # only for a lab server
    DGX_SPARK_MCP_SPARK_SERVERS_PROD_TIMEOUT_S=60
    DGX_SPARK_MCP_AIRFLOW_URL=http://127.0.0.1:8080  (+ _TOKEN, or _USERNAME and _PASSWORD; _CA_BUNDLE, _VERIFY_TLS)

Secrets are :class:`~pydantic.SecretStr`: they print as ``**********`` and reach only their own server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["AirflowServer", "LiveServer", "SparkServer", "airflow_from_env", "spark_servers_from_env"]

DEFAULT_TIMEOUT_S = 30.0
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_EXTRAS = ("token", "username", "password", "ca_bundle", "verify_tls", "timeout_s")


class LiveServer(BaseModel):
    """One HTTP server the tools may call, with how to authenticate and how long to wait."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    url: str = Field(description="Base URL: scheme, host, port and an optional path prefix; no credentials in it.")
    token: SecretStr | None = Field(default=None, description="Bearer token.")
    username: str | None = None
    password: SecretStr | None = None
    ca_bundle: Path | None = Field(default=None, description="PEM file of the CAs that sign the server's certificate.")
    verify_tls: bool = True
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=3600, description="Per request.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL with a host; write e.g. http://127.0.0.1:18080")
        if parts.username or parts.password:
            raise ValueError(f"{parts.scheme}://{parts.hostname}: credentials belong in the _TOKEN or _USERNAME/"
                             "_PASSWORD settings, not in the URL (they would show in every log line)")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _one_auth(self) -> LiveServer:
        if self.token is not None and (self.username or self.password):
            raise ValueError(f"server {self.name!r}: give a token or a username and password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError(f"server {self.name!r}: basic auth needs both _USERNAME and _PASSWORD")
        return self

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


class SparkServer(LiveServer):
    """A Spark History Server, or a driver UI, serving the REST API v1 under ``{url}/api/v1``."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"server name {value!r}: use lowercase letters, digits, '-' or '_', starting with a "
                             "letter (it becomes part of DGX_SPARK_MCP_SPARK_SERVERS_<NAME>_TOKEN)")
        return value


class AirflowServer(LiveServer):
    """An Airflow API server: REST API v2 (Airflow 3) or v1 (Airflow 2), told apart by its version."""

    name: str = "airflow"


def _extras(env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    return {key: env[prefix + key.upper()] for key in _EXTRAS if env.get(prefix + key.upper(), "") != ""}


def spark_servers_from_env(raw: str | None, env: Mapping[str, str]) -> list[dict[str, Any]]:
    """``name=url`` pairs (comma-separated), each with its ``..._<NAME>_TOKEN``-style extras from ``env``."""
    if not raw or not raw.strip():
        return []
    servers = []
    for part in raw.split(","):
        if not part.strip():
            continue
        name, sep, url = part.partition("=")
        if not sep or not url.strip():
            raise ValueError(f"DGX_SPARK_MCP_SPARK_SERVERS entry {part.strip()!r} is not name=url; write e.g. "
                             "prod=https://shs.example:18080,dev=http://127.0.0.1:18080")
        name = name.strip().lower()
        prefix = f"DGX_SPARK_MCP_SPARK_SERVERS_{name.upper().replace('-', '_')}_"
        servers.append({"name": name, "url": url.strip(), **_extras(env, prefix)})
    names = [s["name"] for s in servers]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"DGX_SPARK_MCP_SPARK_SERVERS names {', '.join(repeated)} more than once; each name once")
    return servers


def airflow_from_env(url: str | None, env: Mapping[str, str]) -> dict[str, Any] | None:
    if not url or not url.strip():
        return None
    return {"url": url.strip(), **_extras(env, "DGX_SPARK_MCP_AIRFLOW_")}
