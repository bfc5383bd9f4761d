"""Shared fixtures. Databases: SQLite always; PostgreSQL too when CARESCREEN_TEST_POSTGRES_URL is set (CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import carescreen  # noqa: F401  (offline environment first)
from models.taxonomy import CATEGORIES

POSTGRES_URL = os.environ.get("CARESCREEN_TEST_POSTGRES_URL")
# Hundreds of app start-ups in one test process: each heap freeze is a full collection of that process's large
# heap. tests/service/test_runtime.py turns it on where it is the subject.
os.environ.setdefault("CARESCREEN_GC_FREEZE", "false")


class KeywordClassifier:
    """A deterministic test double for the classifier slot (same protocol as the real models).

    API, policy and fail-closed tests need exact, predictable scores; the real fine-tuned model is exercised
    end to end by the slow tests in tests/training and tests/service/test_e2e_model.py.
    """

    version = "test-keywords/1"
    thresholds = dict.fromkeys(CATEGORIES, 0.5)
    RULES: ClassVar[dict[str, tuple[str, ...]]] = {
        "safeguarding": ("bruise", "hit her", "took her money", "left in wet"),
        "self_harm": ("end it all", "better off without me", "hurt myself"),
        "toxicity": ("idiot", "useless cow"),
        "bullying": ("nobody sit with",),
        "hate": ("go back where",),
        "threat": ("waiting for you in the car park",),
        "sexual": ("send pics",),
        "confidentiality": ("c diff", "dnacpr"),
    }

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.fail = False

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail:
            raise RuntimeError("injected classifier fault")
        self.calls.append(len(texts))
        out = np.full((len(texts), len(CATEGORIES)), 0.02, dtype=np.float32)
        for i, t in enumerate(texts):
            low = t.lower()
            for j, c in enumerate(CATEGORIES):
                if any(k in low for k in self.RULES[c]):
                    out[i, j] = 0.97
        return out


@pytest.fixture(scope="session")
def redactor():  # type: ignore[no-untyped-def]
    from models.pii import Redactor

    return Redactor()


def _database_urls() -> list[str]:
    return ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@contextmanager
def _fresh_database(kind: str, tmp: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh schema in PostgreSQL dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'test.db'}"
        return
    import sqlalchemy as sa

    assert POSTGRES_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _test_settings(tmp: Path, database_url: str):  # type: ignore[no-untyped-def]
    from carescreen.config import Settings

    return Settings(
        var_dir=tmp / "var",
        database_url=database_url,
        secret_key="test-secret",
        model_poll_seconds=0,
        mlflow_tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
        mlflow_artifact_root=tmp / "mlruns",
        batch_wait_ms=2.0,
        webhook_allow_private=True,  # test receivers listen on 127.0.0.1
    )


@pytest.fixture(params=_database_urls())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test: SQLite file, or a fresh schema in PostgreSQL."""
    with _fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    return _test_settings(tmp_path, database_url)


@pytest.fixture(scope="module", params=_database_urls())
def shared(request, tmp_path_factory, redactor):  # type: ignore[no-untyped-def]
    """One service per module and database, for suites whose cases do not depend on what else is stored
    (errors, authorisation): fast, while every case still uses its own keys."""
    from types import SimpleNamespace

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import build_state
    from storage import crud

    tmp = tmp_path_factory.mktemp("shared")
    with _fresh_database(request.param, tmp) as url:
        settings = _test_settings(tmp, url)
        state = build_state(settings, classifier_loader=KeywordClassifier, analyzer_factory=lambda: redactor)
        with TestClient(create_app(settings, state=state)) as c:
            _wait_ready(c)

            def make_key(org: str = "org-a", role: str = "poster") -> str:
                with state.require_db().session() as s:
                    return crud.create_api_key(s, org=org, role=role)[1]

            yield SimpleNamespace(client=c, make_key=make_key, state=state)


@pytest.fixture
def classifier() -> KeywordClassifier:
    return KeywordClassifier()


@pytest.fixture
def app_state(settings, classifier, redactor):  # type: ignore[no-untyped-def]
    from service.state import build_state

    return build_state(settings, classifier_loader=lambda: classifier, analyzer_factory=lambda: redactor)


@pytest.fixture
def client(settings, app_state):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from service.app import create_app

    app = create_app(settings, state=app_state)
    with TestClient(app) as c:
        _wait_ready(c)
        yield c


def _wait_ready(c, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if c.get("/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"service not ready: {c.get('/readyz').json()}")


@pytest.fixture
def make_key(app_state):  # type: ignore[no-untyped-def]
    from storage import crud

    def make(org: str = "org-a", role: str = "poster") -> str:
        with app_state.require_db().session() as s:
            _, plaintext = crud.create_api_key(s, org=org, role=role)
        return plaintext

    return make


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real fine-tuned model from a tiny training job (a few steps), registered in a throwaway MLflow store.

    Exercises the whole path train -> log -> register -> alias -> download; quality is not the point here.
    """
    from carescreen.config import Settings
    from training.run import train_and_register
    from training.trainer import TrainingArguments

    root = tmp_path_factory.mktemp("tiny-model")
    settings = Settings(
        var_dir=root / "var",
        mlflow_tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        mlflow_artifact_root=root / "mlruns",
        database_url=f"sqlite:///{root / 'app.db'}",
        secret_key="tiny",
        model_poll_seconds=0,
    )
    args = TrainingArguments(max_steps=6, batch_size=8, external_per_corpus=16, max_length=48)
    outcome = train_and_register(args, settings=settings, care_limit=48)
    return settings, outcome
