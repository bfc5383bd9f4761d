"""Shared fixtures. Databases: SQLite always; PostgreSQL too when CARESCREEN_TEST_POSTGRES_URL is set (CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import carescreen  # noqa: F401  (offline environment first)
from tests.helpers import POSTGRES_URL, KeywordClassifier, fresh_database, settings_for_tests, wait_ready

# Hundreds of app start-ups in one test process: each heap freeze is a full collection of that process's large
# heap. tests/service/test_runtime.py turns it on where it is the subject.
os.environ.setdefault("CARESCREEN_GC_FREEZE", "false")
# One secret for every database a test opens (the app's settings use the same one): audit MACs agree.
os.environ.setdefault("CARESCREEN_SECRET_KEY", "test-secret")


@pytest.fixture(scope="session")
def redactor():  # type: ignore[no-untyped-def]
    from models.pii import Redactor

    return Redactor()


def _database_urls() -> list[str]:
    return ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture(params=_database_urls())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test: SQLite file, or a fresh schema in PostgreSQL."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    return settings_for_tests(tmp_path, database_url)


@pytest.fixture(scope="module", params=_database_urls())
def shared(request, tmp_path_factory, redactor):  # type: ignore[no-untyped-def]
    """One service per module and database, for suites whose cases do not depend on what else is stored
    (errors, authorisation): fast, while every case still uses its own keys."""
    from types import SimpleNamespace

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import build_state
    from storage import keys

    tmp = tmp_path_factory.mktemp("shared")
    with fresh_database(request.param, tmp) as url:
        settings = settings_for_tests(tmp, url)
        state = build_state(settings, classifier_loader=KeywordClassifier, analyzer_factory=lambda: redactor)
        with TestClient(create_app(settings, state=state)) as c:
            wait_ready(c)

            def make_key(org: str = "org-a", role: str = "poster") -> str:
                with state.require_db().session() as s:
                    return keys.create_api_key(s, org=org, role=role)[1]

            def make_key_row(org: str = "org-a", role: str = "poster") -> int:
                with state.require_db().session() as s:
                    return keys.create_api_key(s, org=org, role=role)[0].id

            yield SimpleNamespace(client=c, make_key=make_key, make_key_row=make_key_row, state=state)


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
        wait_ready(c)
        yield c


@pytest.fixture
def make_key(app_state):  # type: ignore[no-untyped-def]
    from storage import keys

    def make(org: str = "org-a", role: str = "poster") -> str:
        with app_state.require_db().session() as s:
            _, plaintext = keys.create_api_key(s, org=org, role=role)
        return plaintext

    return make


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
