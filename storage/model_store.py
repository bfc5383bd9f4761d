"""MLflow: tracking runs, registering bundles, and the ``champion`` / ``previous`` aliases.

The service loads whichever version holds ``champion``; promotion and rollback move aliases, never files.

Two set-ups: a local store (SQLite + ``./mlruns``, one machine) by default, or a tracking server shared by
every replica and the retrain job (``CARESCREEN_MLFLOW_TRACKING_URI=http://...``, the server started with
``--serve-artifacts``): then artifacts are uploaded to and downloaded through the server, never a local path.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carescreen.config import Settings, get_settings

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# MLflow retries a failed HTTP request 7 times with doubling backoff by default: about four minutes before a
# champion poll (or a replica's start) learns that the tracking server is down. Three retries: about 14 s.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")

log = logging.getLogger(__name__)

CHAMPION = "champion"
PREVIOUS = "previous"


def configure(settings: Settings | None = None) -> str:
    """Point MLflow at the configured tracking store (local SQLite + ./mlruns by default)."""
    import mlflow

    settings = settings or get_settings()
    uri = settings.resolved_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def is_tracking_server(uri: str) -> bool:
    """A tracking server (shared by replicas), as opposed to a local store only this machine can read."""
    return uri.startswith(("http://", "https://"))


def ensure_experiment(name: str, settings: Settings | None = None) -> str:
    import mlflow

    settings = settings or get_settings()
    exp = mlflow.get_experiment_by_name(name)
    remote = is_tracking_server(settings.resolved_tracking_uri())
    if exp is None:
        if remote:
            # The server picks the location (``mlflow-artifacts:/...`` with --serve-artifacts): a local path
            # here would put the model on the trainer's disk, where no replica can download it.
            return mlflow.create_experiment(name)
        artifact_root = Path(settings.artifact_root())
        artifact_root.mkdir(parents=True, exist_ok=True)
        return mlflow.create_experiment(name, artifact_location=artifact_root.as_uri())
    if remote and str(exp.artifact_location).startswith("file:"):
        log.warning(
            "experiment %r keeps artifacts at %s, a local path replicas on other machines cannot read; "
            "use a new experiment (or a fresh tracking store) created through the server",
            name,
            exp.artifact_location,
        )
    return str(exp.experiment_id)


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    run_id: str | None

    @property
    def label(self) -> str:
        return f"{self.name}/{self.version}"


def _client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


#: What the stores answer when the model or the alias does not exist (SQLite: the first; a server: either).
_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def get_alias(alias: str, settings: Settings | None = None) -> ModelRef | None:
    """The version holding ``alias``; None when no model holds it. A registry that cannot be reached raises
    (a replica must not mistake a tracking-server outage for "no model yet" and train one of its own)."""
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    configure(settings)
    try:
        mv = _client().get_model_version_by_alias(settings.registered_model_name, alias)
    except MlflowException as exc:
        if exc.error_code in _NOT_FOUND:
            return None
        raise
    return ModelRef(settings.registered_model_name, str(mv.version), mv.run_id)


def set_alias(alias: str, version: str, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    configure(settings)
    _client().set_registered_model_alias(settings.registered_model_name, alias, version)


def promote(version: str, settings: Settings | None = None) -> ModelRef | None:
    """Make ``version`` the champion; the old champion keeps the ``previous`` alias. Returns the old one."""
    old = get_alias(CHAMPION, settings)
    if old is not None and old.version != version:
        set_alias(PREVIOUS, old.version, settings)
    set_alias(CHAMPION, version, settings)
    return old


def rollback(settings: Settings | None = None) -> ModelRef:
    """Swap ``champion`` and ``previous``: the fastest way back from a bad promotion."""
    prev = get_alias(PREVIOUS, settings)
    if prev is None:
        raise RuntimeError("no model holds the 'previous' alias: nothing to roll back to")
    current = get_alias(CHAMPION, settings)
    set_alias(CHAMPION, prev.version, settings)
    if current is not None:
        set_alias(PREVIOUS, current.version, settings)
    return prev


def download_bundle(ref: ModelRef, settings: Settings | None = None) -> Path:
    """The bundle directory of a registered version, cached under ``var/models/<version>``.

    Safe when several processes share ``var/`` (replicas on one volume, all seeing a promotion at once): each
    downloads into its own temporary directory and renames it into place; the first rename wins and the
    others use its copy. Through a tracking server the download goes through the server (``mlflow-artifacts``).
    """
    import mlflow

    settings = settings or get_settings()
    configure(settings)
    models_dir = settings.var_dir / "models"
    target = models_dir / ref.version
    if (target / "carescreen.json").exists():
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{ref.version}.", suffix=".tmp", dir=models_dir))
    try:
        uri = f"models:/{ref.name}/{ref.version}"
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp))
        found = sorted(Path(local).glob("artifacts/*/carescreen.json"))
        if not found:
            raise FileNotFoundError(f"registered model {ref.label} has no CareScreen bundle")
        if target.exists() and not (target / "carescreen.json").exists():
            shutil.rmtree(target, ignore_errors=True)  # a partial copy (an interrupted older download)
        try:
            os.rename(found[0].parent, target)  # atomic on one file system
        except OSError:
            if not (target / "carescreen.json").exists():
                raise
            # another process renamed its copy into place first: use that one
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
