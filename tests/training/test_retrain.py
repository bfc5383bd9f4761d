"""Retraining end to end: drift learnt from moderator decisions (promoted, served without restart) and poisoned
decisions refused by the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.taxonomy import CATEGORIES
from tests.helpers import auth

pytestmark = pytest.mark.slow
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "drift_tinning.json").read_text())


def _small_args(steps: int):  # type: ignore[no-untyped-def]
    from training.trainer import TrainingArguments

    return TrainingArguments(
        max_steps=steps, batch_size=16, external_corpora=(), care_repeats=1, max_length=64
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, redactor):  # type: ignore[no-untyped-def]
    """A seed champion trained on the care corpus alone (no 'tinning' anywhere) and a live service over it."""
    from fastapi.testclient import TestClient

    from carescreen.config import Settings
    from service.app import create_app
    from service.state import build_state
    from training.run import train_and_register

    root = tmp_path_factory.mktemp("retrain")
    settings = Settings(
        var_dir=root / "var",
        database_url=f"sqlite:///{root / 'app.db'}",
        secret_key="rt",
        mlflow_tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        mlflow_artifact_root=root / "mlruns",
        model_poll_seconds=0,
        use_onnx=False,
    )
    # 450 steps (about 3.5 epochs of the care corpus): a seed that has converged enough for a retrain to be
    # judged on what it learnt rather than on a still-moving model (test macro-F1 about 0.76).
    train_and_register(_small_args(450), settings=settings)
    state = build_state(settings, analyzer_factory=lambda: redactor)
    with TestClient(create_app(settings, state=state)) as client:
        from tests.helpers import wait_ready

        wait_ready(client, timeout=120)
        yield settings, client, state


def _keys(state, org: str) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    from storage import keys

    with state.require_db().session() as s:
        return tuple(keys.create_api_key(s, org=org, role=r)[1] for r in ("poster", "moderator", "admin"))  # type: ignore[return-value]


def _moderate(
    client, poster: str, moderator: str, texts: list[str], labels: dict[str, bool], prefix: str
) -> int:  # type: ignore[no-untyped-def]
    """Screen each post; report the ones that were published; moderators label every one through the API."""
    decided = 0
    for i, text in enumerate(texts):
        pid = f"{prefix}-{i}"
        r = client.post("/v1/screen", json={"text": text, "post_id": pid}, headers=auth(poster))
        assert r.status_code == 200, r.text
        review = r.json()["review"]
        if review is None:
            rr = client.post(
                f"/v1/posts/{pid}/report", json={"reason": "reader report"}, headers=auth(poster)
            )
            assert rr.status_code == 201, rr.text
            review = rr.json()
        d = client.post(
            f"/v1/reviews/{review['id']}/decision",
            headers=auth(moderator),
            json={"action": "escalate" if labels.get("safeguarding") else "approve", "labels": labels},
        )
        assert d.status_code == 200, d.text
        decided += 1
    return decided


def _flag_rate(state, texts: list[str]) -> float:  # type: ignore[no-untyped-def]
    from models.pipeline import ScreenRequest

    results = state.holder.pipeline.screen_many([ScreenRequest(t) for t in texts])
    return sum("safeguarding" in r.flags for r in results) / len(texts)


def test_drift_is_learnt_promoted_and_served_without_restart(seeded) -> None:  # type: ignore[no-untyped-def]
    from storage import model_store as registry
    from training.retrain import RetrainOptions, retrain

    settings, client, state = seeded
    poster, moderator, admin = _keys(state, "drift-org")
    before_version = client.post("/v1/screen", json={"text": "hello all"}, headers=auth(poster)).json()[
        "model_version"
    ]
    before = _flag_rate(state, FIXTURE["held_out"])
    positive = dict.fromkeys(CATEGORIES, False) | {"safeguarding": True}
    _moderate(client, poster, moderator, FIXTURE["train"], positive, "drift")
    _moderate(client, poster, moderator, FIXTURE["clean"], dict.fromkeys(CATEGORIES, False), "drift-clean")

    report = retrain(
        RetrainOptions(force=True, recent_fraction=0.0, org="drift-org"),
        settings,
        # 300 steps: with 150, after the corpus gained 34 identifier-carrying disclosures, the challenger had not
        # settled (test macro-F1 0.749 against the seed's 0.761) and the gate rightly refused it.
        args=_small_args(300),
    )
    print(json.dumps({k: v for k, v in report.items() if k != "label_issues"}, indent=2, default=str))
    assert report["promoted"], report["refused_because"]
    assert registry.get_alias(registry.CHAMPION, settings).version == report["challenger_version"]
    assert registry.get_alias(registry.PREVIOUS, settings).version == report["parent_version"]

    r = client.post("/v1/admin/reload-model", headers=auth(admin))
    assert r.status_code == 200, r.text
    after_version = client.post("/v1/screen", json={"text": "hello again"}, headers=auth(poster)).json()[
        "model_version"
    ]
    assert after_version != before_version and after_version.endswith("/" + report["challenger_version"])
    after = _flag_rate(state, FIXTURE["held_out"])
    print(f"held-out 'tinning' posts flagged safeguarding: before {before:.0%}, after {after:.0%}")
    assert after >= 0.8 and after > before


def test_poisoned_decisions_are_refused_by_the_gate(seeded) -> None:  # type: ignore[no-untyped-def]
    from storage import model_store as registry
    from training.care_corpus import load_posts
    from training.retrain import RetrainOptions, retrain

    settings, client, state = seeded
    poster, moderator, _ = _keys(state, "poison-org")
    champion_before = registry.get_alias(registry.CHAMPION, settings).version
    disclosures = [p.redacted_text for p in load_posts(split="train") if p.labels["safeguarding"]][:60]
    # Flipped labels: disclosures marked safe, friendly posts marked toxic and hateful.
    _moderate(client, poster, moderator, disclosures, dict.fromkeys(CATEGORIES, False), "poison")
    flipped = dict.fromkeys(CATEGORIES, False) | {"toxicity": True, "hate": True}
    _moderate(client, poster, moderator, FIXTURE["clean"], flipped, "poison-clean")

    report = retrain(
        RetrainOptions(force=True, decision_repeats=8, recent_fraction=0.0, org="poison-org"),
        settings,
        args=_small_args(150),
    )
    print(json.dumps({k: v for k, v in report.items() if k != "label_issues"}, indent=2, default=str))
    assert not report["promoted"]
    assert report["refused_because"]
    assert report["label_issues"], "cleanlab should flag the flipped labels for a second look"
    assert registry.get_alias(registry.CHAMPION, settings).version == champion_before
