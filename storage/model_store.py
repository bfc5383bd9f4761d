"""MLflow: tracking runs, registering bundles, and the ``champion`` / ``previous`` aliases.

The service loads whichever version holds ``champion``; promotion and rollback move aliases, never files.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carescreen.config import Settings, get_settings

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

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


def ensure_experiment(name: str, settings: Settings | None = None) -> str:
    import mlflow

    settings = settings or get_settings()
    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        artifact_root = Path(settings.artifact_root())
        artifact_root.mkdir(parents=True, exist_ok=True)
        return mlflow.create_experiment(name, artifact_location=artifact_root.as_uri())
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


def get_alias(alias: str, settings: Settings | None = None) -> ModelRef | None:
    settings = settings or get_settings()
    configure(settings)
    try:
        mv = _client().get_model_version_by_alias(settings.registered_model_name, alias)
    except Exception:
        return None
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
    """The bundle directory of a registered version, cached under ``var/models/<version>``."""
    import mlflow

    settings = settings or get_settings()
    configure(settings)
    target = settings.var_dir / "models" / ref.version
    if (target / "carescreen.json").exists():
        return target
    tmp = settings.var_dir / "models" / f".{ref.version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    uri = f"models:/{ref.name}/{ref.version}"
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp))
    found = sorted(Path(local).glob("artifacts/*/carescreen.json"))
    if not found:
        raise FileNotFoundError(f"registered model {ref.label} has no CareScreen bundle")
    bundle = found[0].parent
    shutil.rmtree(target, ignore_errors=True)
    shutil.move(str(bundle), str(target))
    shutil.rmtree(tmp, ignore_errors=True)
    return target
