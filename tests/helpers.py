"""What tests share: the keyword test double, databases (SQLite, and PostgreSQL in CI), settings, auth headers.

Fixtures live in ``conftest.py``; plain helpers live here so tests import them by name, never from conftest.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import numpy as np

from models.taxonomy import CATEGORIES

POSTGRES_URL = os.environ.get("CARESCREEN_TEST_POSTGRES_URL")


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


@contextmanager
def fresh_database(kind: str, tmp: Path) -> Iterator[str]:
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


def settings_for_tests(tmp: Path, database_url: str):  # type: ignore[no-untyped-def]
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


def wait_ready(c, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if c.get("/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"service not ready: {c.get('/readyz').json()}")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def decide(c, headers, rid: str, action: str, **extra) -> None:
    """Claim a review item and decide it through the API (asserting both succeed)."""  # type: ignore[no-untyped-def]
    assert c.post(f"/v1/reviews/{rid}/claim", headers=headers).status_code == 200
    r = c.post(f"/v1/reviews/{rid}/decision", json={"action": action, "labels": {}, **extra}, headers=headers)
    assert r.status_code == 200, r.text


def store_screening(session, *, org: str, post_id: str, review_priority: str | None, **kw):  # type: ignore[no-untyped-def]
    """One screening (and its review item when held) through ``record_screenings``, as the service stores it."""
    from storage.screenings import NewScreening, record_screenings

    new = NewScreening(
        post_id=post_id,
        fields=kw["fields"],
        review_priority=review_priority,
        risk=kw["risk"],
        categories=kw["categories"],
        sla_due_minutes=kw["sla_due_minutes"],
    )
    return record_screenings(session, org=org, screenings=[new], actor=kw["actor"])[0]


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A ``/metrics`` page as {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def screen_ok(client, headers, text: str, **extra):  # type: ignore[no-untyped-def]
    """Screen one post through the API, asserting a 200; its JSON answer."""
    r = client.post("/v1/screen", json={"text": text, **extra}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()
