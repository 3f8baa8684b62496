"""One settings object for the whole server, read from ``DGX_SPARK_MCP_*`` and CLI flags.

Flags win over the environment, the environment over the defaults.  Nothing here touches
the disk: the data directory is created by the first component that writes to it.

A plain pydantic model fed from ``os.environ`` rather than pydantic-settings: importing
pydantic-settings cost about 60 ms of a ~0.9 s stdio cold start (bench/cold_start.py), and
five variables need none of its sources.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from .live.servers import AirflowServer, SparkServer, airflow_from_env, spark_servers_from_env

__all__ = ["LogLevel", "Settings", "configure_logging", "default_data_dir"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def default_data_dir() -> Path:
    """The platform's per-user data directory (e.g. ``~/.local/share/dgx-spark-mcp``)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("dgx-spark-mcp", appauthor=False))


def _default_roots() -> list[Path]:
    roots = [Path.home(), Path.cwd()]
    return [r.resolve() for i, r in enumerate(roots) if r not in roots[:i]]


ENV_PREFIX = "DGX_SPARK_MCP_"


class Settings(BaseModel):
    """Effective configuration of one server process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path = Field(
        default_factory=default_data_dir,
        description="Data directory (stores, caches). Env DGX_SPARK_MCP_HOME.",
    )
    allowed_roots: list[Path] = Field(
        default_factory=_default_roots,
        description=(
            "Directories that file-reading tools may read below, os.pathsep-separated in "
            "DGX_SPARK_MCP_ALLOWED_ROOTS. Default: the user's home and the current directory."
        ),
    )
    log_level: LogLevel = Field(default="INFO", description="Level of the log written to stderr.")
    engine_url: str = Field(
        default="auto",
        description="Local LLM engine of ask: an OpenAI-compatible base URL (http://127.0.0.1:8000/v1), 'auto' to probe "
        "the usual loopback ports (8000, 11434, 8080, 30000, 1234), or 'none'. Env DGX_SPARK_MCP_ENGINE_URL.",
    )
    engine_api_key: SecretStr | None = Field(
        default=None,
        description="API key the OpenAI-compatible engine needs, if any (most local servers need none). "
        "Env DGX_SPARK_MCP_ENGINE_API_KEY.",
    )
    engine_model: str | None = Field(
        default=None,
        description="The served model name to use (default: the first the server lists), or a local checkpoint "
        "directory for the in-process engines. Env DGX_SPARK_MCP_ENGINE_MODEL.",
    )
    engine_kind: Literal["auto", "http", "transformers", "trtllm"] = Field(
        default="auto",
        description="Which engine runs the model: an OpenAI-compatible server (http), transformers or TensorRT-LLM "
        "in-process; auto picks transformers for a local checkpoint directory, else http. Env DGX_SPARK_MCP_ENGINE_KIND.",
    )
    engine_quantization: Literal["auto", "none", "int8", "int4", "fp8", "int4_awq", "nvfp4"] = Field(
        default="auto",
        description="Weight quantization of the in-process engines. auto: none for transformers; for TensorRT-LLM the "
        "checkpoint's own (pre-quantized) format, bf16 for a plain one. int8/int4: torchao weight-only (transformers); "
        "fp8/int4_awq/nvfp4: TensorRT-LLM, pre-quantized checkpoints only. Env DGX_SPARK_MCP_ENGINE_QUANTIZATION.",
    )
    engine_timeout_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="Seconds ask waits for the engine's whole answer before it stops the generation and returns the "
        "context (and any partial text) instead. Env DGX_SPARK_MCP_ENGINE_TIMEOUT_S.",
    )
    engine_tokenizer: str | None = Field(
        default=None,
        description="The served model's tokenizer for an OpenAI-compatible engine: a local directory (tokenizer.json "
        "with tokenizer_config.json or chat_template.jinja) or a tokenizer.json file. ask then counts and templates the "
        "prompt exactly as the model sees it; without it the server's /tokenize is used where it has one (vLLM, "
        "llama.cpp), else an estimate. Env DGX_SPARK_MCP_ENGINE_TOKENIZER.",
    )
    auth_token: SecretStr | None = Field(
        default=None,
        description="Bearer token every HTTP request must carry when set (HTTP transports only).",
    )
    max_file_mib: int = Field(
        default=20 * 1024,
        ge=1,
        description="Largest file (or pasted text), in MiB, that file-reading tools accept. Env DGX_SPARK_MCP_MAX_FILE_MIB.",
    )
    scrape_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Hosts (or host:port) besides loopback whose dcgm-exporter /metrics ingest_telemetry may scrape, "
            "comma-separated in DGX_SPARK_MCP_SCRAPE_HOSTS. Default: loopback only."
        ),
    )

    telemetry_engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="Engine of telemetry queries and reports: duckdb (embedded) or spark (PySpark over the same Parquet "
        "files). Env DGX_SPARK_MCP_TELEMETRY_ENGINE; the tools' and CLI's engine argument overrides it.",
    )
    spark_master: str | None = Field(
        default=None,
        description="Where the spark engine runs: local[*] (default), a master URL (spark://, yarn), or a Spark Connect "
        "URL (sc://host:15002). Env DGX_SPARK_MCP_SPARK_MASTER.",
    )

    spark_servers: list[SparkServer] = Field(
        default_factory=list,
        description="Spark History Servers (or driver UIs) by name: DGX_SPARK_MCP_SPARK_SERVERS=name=url,...; per server "
        "DGX_SPARK_MCP_SPARK_SERVERS_<NAME>_TOKEN, or _USERNAME and _PASSWORD, _CA_BUNDLE, _VERIFY_TLS, _TIMEOUT_S.",
    )
    spark_ui_ports: list[int] = Field(
        default_factory=lambda: list(range(4040, 4050)),
        description="Loopback ports where running applications' driver UIs are looked for without any setting "
        "(comma-separated or a range 4040-4049 in DGX_SPARK_MCP_SPARK_UI_PORTS).",
    )
    airflow: AirflowServer | None = Field(
        default=None,
        description="The Airflow API server: DGX_SPARK_MCP_AIRFLOW_URL, with DGX_SPARK_MCP_AIRFLOW_TOKEN, or _USERNAME "
        "and _PASSWORD; _CA_BUNDLE, _VERIFY_TLS, _TIMEOUT_S.",
    )
    live_deadline_s: float = Field(
        default=120.0, gt=0, le=3600,
        description="Longest a live call (History Server, driver UI, Airflow) may take in all; past it the answer says "
        "what is missing. Env DGX_SPARK_MCP_LIVE_DEADLINE_S.",
    )
    live_cache_mib: int = Field(
        default=4096, ge=0,
        description="Event logs fetched from History Servers are cached under the data dir up to this many MiB, the "
        "oldest dropped first (0: no cache). Env DGX_SPARK_MCP_LIVE_CACHE_MIB.",
    )

    @field_validator("spark_ui_ports", mode="before")
    @classmethod
    def _ports(cls, value: Any) -> Any:
        if isinstance(value, str):
            ports: list[int] = []
            for part in value.replace(";", ",").split(","):
                lo, sep, hi = part.strip().partition("-")
                if not lo:
                    continue
                if not (lo.isdigit() and (not sep or hi.isdigit())):
                    raise ValueError(f"DGX_SPARK_MCP_SPARK_UI_PORTS part {part.strip()!r} is not a port or a range "
                                     "like 4040-4049")
                ports += list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
            value = ports
        return value

    @field_validator("spark_ui_ports")
    @classmethod
    def _port_range(cls, value: list[int]) -> list[int]:
        bad = [p for p in value if not 1 <= p <= 65535]
        if bad:
            raise ValueError(f"ports {bad} are outside 1-65535")
        if len(value) > 64:
            raise ValueError(f"{len(value)} driver UI ports: at most 64 are probed (each costs a connection attempt)")
        return value

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(os.pathsep) if part.strip()]
            if not value:
                raise ValueError(
                    "DGX_SPARK_MCP_ALLOWED_ROOTS is empty; give at least one directory, "
                    f"several separated by {os.pathsep!r}"
                )
        return value

    @field_validator("scrape_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        # An allow-list for outgoing requests: normalise case, drop blanks.  Split on ',' and ';' (the
        # Windows os.pathsep) but not on ':', which separates a host from its port.
        if isinstance(value, str):
            value = value.replace(";", ",").split(",")
        if isinstance(value, list):
            value = [str(part).strip().lower() for part in value if str(part).strip()]
        return value

    @field_validator("allowed_roots")
    @classmethod
    def _resolve_roots(cls, value: list[Path]) -> list[Path]:
        return [p.expanduser().resolve() for p in value]

    @field_validator("home")
    @classmethod
    def _resolve_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **flags: Any) -> Settings:
        """Defaults, overridden by ``DGX_SPARK_MCP_*`` variables, overridden by the flags given."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        values.update({k: v for k, v in flags.items() if v is not None})
        # The live servers' credentials sit in variables named after each server: gathered here, never from flags.
        if isinstance(values.get("spark_servers"), str):
            values["spark_servers"] = spark_servers_from_env(values["spark_servers"], env)
        airflow_url = values.pop("airflow_url", None) or env.get(ENV_PREFIX + "AIRFLOW_URL")
        values.pop("airflow", None)
        if (airflow := airflow_from_env(airflow_url, env)) is not None:
            values["airflow"] = airflow
        return cls(**values)

    def public_view(self) -> dict[str, Any]:
        """The settings as JSON-ready data, with the secrets masked."""
        data = self.model_dump(mode="json")  # SecretStr fields dump as "**********"
        data["auth_token"] = "***" if self.auth_token else None
        data["engine_api_key"] = "***" if self.engine_api_key else None
        return data


def configure_logging(level: LogLevel) -> None:
    """Send every log record to stderr: on stdio, stdout belongs to JSON-RPC alone."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The HTTP clients log every request at INFO: one line per History Server or Airflow call drowns the server's
    # own records. Their warnings and errors still show; DEBUG shows all.
    for noisy in ("httpx2", "httpcore2", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(level if level == "DEBUG" else max(logging.WARNING, logging.getLevelName(level)))
