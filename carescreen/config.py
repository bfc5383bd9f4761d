"""The one settings object (pydantic-settings): every knob, read from ``CARESCREEN_*`` env vars or ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration. Defaults give an embedded set-up (SQLite + local MLflow) with zero set-up."""

    model_config = SettingsConfigDict(env_prefix="CARESCREEN_", env_file=".env", extra="ignore")

    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    mlflow_tracking_uri: str = ""
    #: Where a local tracking store keeps artifacts (git-ignored); ignored when the tracking URI is a server.
    mlflow_artifact_root: Path = PROJECT_ROOT / "mlruns"
    registered_model_name: str = "carescreen-classifier"
    model_alias: str = "champion"
    #: Poll the registry alias this often (seconds) so a promoted champion is served without a restart; 0 = off.
    model_poll_seconds: float = 30.0
    #: Secret for encrypting originals and anonymous authors, and for keying the audit chain. Never stored in
    #: the database; keys are derived from it with HKDF (``storage.crypto``).
    secret_key: str = ""
    #: Secrets used before a rotation (JSON list): still decrypt and verify until ``carescreen secrets rotate``.
    previous_secret_keys: list[str] = Field(default_factory=list)
    #: Production mode: refuse to start without CARESCREEN_SECRET_KEY (no key file beside the database).
    production: bool = False
    #: How often each organisation's audit-chain head is signed (a checkpoint to export and keep elsewhere).
    audit_checkpoint_minutes: float = 60.0
    #: Serve through ONNX Runtime when the bundle has the export (falls back to PyTorch otherwise).
    use_onnx: bool = True
    #: "fp32" (identical flags to PyTorch, the default) or "int8" (faster; changes a few flags, see README).
    onnx_variant: Literal["fp32", "int8"] = "fp32"
    max_text_chars: int = 10_000
    max_body_bytes: int = 1_000_000
    max_in_flight: int = 64
    batch_max_size: int = 32
    batch_wait_ms: float = 3.0
    #: Batches screened concurrently (pipelining PII on one core with the classifier on the other).
    batch_workers: int = 2
    #: Serving processes on the one port (``carescreen serve --workers``). 1: the server is this process.
    #: More: a supervisor loads the PII engine, forks that many workers sharing its listening socket (and,
    #: copy-on-write, its memory), and restarts any that dies. Each worker has its own classifier session,
    #: micro-batcher, database pool and delivery worker (``service/workers.py``; DEVELOPMENT.md has figures).
    workers: int = Field(default=1, ge=1, le=64)
    #: Tag practice themes (culture evidence). False screens without them: what the bench compares, to show the
    #: tagger's cost on the served path.
    themes: bool = True
    #: ONNX Runtime threads per forward pass (1: each concurrent batch keeps to its own core).
    onnx_threads: int = 1
    #: Once the models are loaded, move the heap out of the cyclic garbage collector's reach (``gc.freeze``).
    #: The loaded models leave about 700k long-lived objects; without this every full collection scans them
    #: all, a 250-390 ms stop-the-world pause every few hundred requests (measured; DEVELOPMENT.md).
    gc_freeze: bool = True
    rate_limit_per_minute: int = 6000
    review_lease_seconds: int = 600
    sla_urgent_minutes: int = 15
    sla_normal_minutes: int = 24 * 60
    retention_days: int = 365
    #: Webhooks: a failed delivery is retried with exponential backoff and jitter (base, doubling, capped)
    #: for ``webhook_retry_hours``, then dead-lettered (an admin can redeliver it).
    webhook_retry_hours: float = 24.0
    webhook_retry_base_seconds: float = 5.0
    webhook_retry_max_seconds: float = 600.0
    webhook_timeout_seconds: float = 10.0
    #: How often an idle delivery worker looks for due deliveries (a cheap read); events committed by this
    #: process wake it at once.
    webhook_poll_seconds: float = 0.5
    #: After a secret rotation the old secret keeps signing (as a second signature) this long.
    webhook_secret_grace_hours: float = 24.0
    #: Allow webhook URLs that resolve to loopback, private or link-local addresses. Off in production (a
    #: webhook must not reach the service's own network); tests and local development turn it on.
    webhook_allow_private: bool = False
    #: How often pending items are checked for a missed SLA (``review.sla_breached``), in seconds.
    sla_check_seconds: float = 10.0
    #: The console's queue and urgent banner refresh themselves this often (seconds).
    console_refresh_seconds: int = 10
    #: The console cookie's ``Secure`` flag. None (the default): Secure unless the service listens only on a
    #: loopback address (local development over plain http); ``carescreen serve`` decides from ``--host``.
    cookie_secure: bool | None = None
    #: Logs: one JSON object per line (default) or plain text; every line carries the request id.
    log_format: Literal["json", "text"] = "json"
    #: Also serve Prometheus metrics without authentication on this port (None: only the admin-keyed
    #: ``GET /metrics``). Bind it where only the scraper can reach it.
    metrics_port: int | None = None
    #: The address that metrics listener binds to (loopback unless the scraper is elsewhere).
    metrics_host: str = "127.0.0.1"
    shared_datasets: Path | None = Field(default=None)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.var_dir / 'carescreen.db'}"

    def resolved_tracking_uri(self) -> str:
        import os

        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        if os.environ.get("MLFLOW_TRACKING_URI"):
            return os.environ["MLFLOW_TRACKING_URI"]
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.var_dir / 'mlflow.db'}"

    def artifact_root(self) -> str:
        return str(self.mlflow_artifact_root)

    def secrets(self) -> list[str]:
        """The current secret first, then the previous ones (still accepted for decryption and audit MACs
        until ``carescreen secrets rotate`` has re-encrypted everything under the current one).

        Without ``CARESCREEN_SECRET_KEY`` a key file under var/ is created on first use (local development);
        in production that is refused: a key kept beside the database protects nothing from whoever copies it.
        """
        secret = self.secret_key
        if not secret:
            key_file = self.var_dir / "secret.key"
            if self.production:
                raise RuntimeError(
                    "production mode needs CARESCREEN_SECRET_KEY (from a secret store), not a key file "
                    f"beside the database ({key_file})"
                )
            self.var_dir.mkdir(parents=True, exist_ok=True)
            if not key_file.exists():
                import secrets

                key_file.write_text(secrets.token_urlsafe(48))
                key_file.chmod(0o600)
            secret = key_file.read_text().strip()
        return [secret, *[p for p in self.previous_secret_keys if p and p != secret]]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
