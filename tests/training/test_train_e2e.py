"""The whole training path on a tiny job: train -> log -> register -> champion alias -> load -> predict."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.classifier import BundleConfig, TorchClassifier
from models.onnx_classifier import OnnxClassifier
from models.taxonomy import CATEGORIES

pytestmark = pytest.mark.slow


def test_tiny_training_registers_champion_and_logs_everything(tiny_model) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    from storage import model_store as registry

    settings, outcome = tiny_model
    assert outcome.version == "1" and outcome.promoted
    ref = registry.get_alias(registry.CHAMPION, settings)
    assert ref is not None and ref.version == "1"
    run = mlflow.get_run(outcome.run_id)
    params = run.data.params
    for name in (
        "epochs",
        "learning_rate",
        "max_length",
        "seed",
        "data.train_hash",
        "data.test_hash",
        "data.train_n",
    ):
        assert name in params, name
    metrics = run.data.metrics
    assert "test.macro_f1" in metrics and "val.safeguarding.recall" in metrics and "train_loss" in metrics
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(outcome.run_id)}
    assert {"thresholds.json", "confusion_test.json", "metrics.json"} <= artifacts


def test_registered_bundle_loads_and_predicts(tiny_model) -> None:  # type: ignore[no-untyped-def]
    from storage import model_store as registry

    settings, outcome = tiny_model
    bundle = registry.download_bundle(registry.get_alias(registry.CHAMPION, settings), settings)
    cfg = BundleConfig.load(bundle)
    assert set(cfg.thresholds) == set(CATEGORIES)
    assert cfg.thresholds == pytest.approx(outcome.thresholds)
    texts = ["She had bruises on both arms and flinched when he came in", "OOO to Dave for the brews"]
    torch_probs = TorchClassifier(bundle).predict_proba(texts)
    assert torch_probs.shape == (2, len(CATEGORIES))
    assert np.all((torch_probs >= 0) & (torch_probs <= 1))
    onnx_probs = OnnxClassifier(bundle).predict_proba(texts)
    assert np.abs(onnx_probs - torch_probs).max() < 1e-4  # fp32 export: same scores
    int8_probs = OnnxClassifier(bundle, variant="int8").predict_proba(texts)
    assert np.abs(int8_probs - torch_probs).max() < 0.5  # int8: close, not identical (counted in evaluate)


def test_urgent_thresholds_maximise_fbeta_on_validation(tiny_model) -> None:  # type: ignore[no-untyped-def]
    """Safeguarding and self-harm thresholds weigh recall beta^2 times precision (F3 by default) on validation."""
    from training.trainer import TrainingArguments

    beta2 = float(TrainingArguments().urgent_beta or 1.0) ** 2
    _, outcome = tiny_model
    for c in ("safeguarding", "self_harm"):
        m = outcome.validation["categories"][c]
        if m["support"]:
            p, r = m["precision"], m["recall"]
            f = (1 + beta2) * p * r / (beta2 * p + r) if p + r else 0.0
            # Flagging every post is one of the candidates, so the chosen threshold scores at least its F-beta.
            base = m["support"] / m["n"]
            assert f >= (1 + beta2) * base / (beta2 * base + 1) - 1e-9, (c, m)
    report = json.loads((outcome.bundle_dir / "report.json").read_text())
    assert "test" in report and "validation" in report


def test_served_onnx_path_agrees_with_pytorch_on_the_frozen_test_split(tiny_model) -> None:  # type: ignore[no-untyped-def]
    """The served path (ONNX fp32) changes no decision: same flags as the PyTorch reference on every test post."""
    from evaluation.evaluate import onnx_agreement
    from storage import model_store as registry
    from training.data import care_examples

    settings, _ = tiny_model
    bundle = registry.download_bundle(registry.get_alias(registry.CHAMPION, settings), settings)
    texts = [e.text for e in care_examples("test")]
    from models.parts import score_posts

    reference = TorchClassifier(bundle)
    # Post-level scores on both sides (every part read, max over parts): what decisions are made from.
    ref_probs = score_posts(reference.predict_proba, texts).probs
    agreement = onnx_agreement(bundle, texts, ref_probs, reference.thresholds, "fp32")
    assert agreement["available"]
    assert agreement["max_abs_diff"] < 1e-4
    assert agreement["posts_with_changed_flags"] == 0


def test_a_shallower_student_of_the_champion_trains_bundles_and_serves(tiny_model, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``num_layers`` with ``init_from``: the student keeps the teacher's first layers, learns from its scores,
    and its bundle loads (PyTorch and the ONNX export agree) with only those layers."""
    from storage import model_store as registry
    from training.run import train_and_register
    from training.trainer import TrainingArguments

    settings, _ = tiny_model
    teacher = registry.download_bundle(registry.get_alias(registry.CHAMPION, settings), settings)
    args = TrainingArguments(
        max_steps=4,
        batch_size=8,
        external_per_corpus=16,
        max_length=48,
        init_from=str(teacher),
        num_layers=2,
        distill_weight=1.0,
    )
    outcome = train_and_register(args, register=False, out_dir=tmp_path / "student", care_limit=48)
    student = TorchClassifier(outcome.bundle_dir)
    assert len(student.module.encoder.encoder.layer) == 2
    assert len(TorchClassifier(teacher).module.encoder.encoder.layer) == 6
    texts = ["She had bruises on both arms and flinched when he came in", "OOO to Dave for the brews"]
    torch_probs = student.predict_proba(texts)
    assert np.abs(OnnxClassifier(outcome.bundle_dir).predict_proba(texts) - torch_probs).max() < 1e-4


def test_num_layers_must_be_within_the_base_encoders_depth() -> None:
    from models.classifier import build_module

    for bad in (0, 7):
        with pytest.raises(ValueError, match="num_layers"):
            build_module(num_layers=bad)
