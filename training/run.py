"""One training run end to end: data -> fine-tune -> thresholds -> evaluate -> bundle -> MLflow -> registry."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from carescreen.config import Settings, get_settings
from models.classifier import BundleConfig, save_bundle
from models.metrics import category_metrics, choose_thresholds, summary
from models.parts import score_posts
from models.taxonomy import CATEGORIES
from training.augment import clean_parts, identity_counterfactuals, padded_examples
from training.corpora import load_corpus
from training.data import care_examples, dataset_hash, external_examples, label_counts
from training.examples import LabelledText
from training.mlflow_model import log_bundle
from training.themes import ThemeTrainingArguments, fit_bundle_themes, log_theme_fit
from training.trainer import Trainer, TrainingArguments, arrays, predict_module

log = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    version: str | None
    run_id: str | None
    bundle_dir: Path
    thresholds: dict[str, float]
    validation: dict[str, Any]
    test: dict[str, Any]
    olid: dict[str, float] | None
    promoted: bool = False
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate_probs(
    examples: Sequence[LabelledText], probs: np.ndarray, thresholds: dict[str, float]
) -> dict[str, Any]:
    targets, mask = arrays(examples)
    per = category_metrics(probs, targets, mask, thresholds)
    return {"categories": per, **summary(per, probs, targets, mask, thresholds)}


def olid_macro_f1(probs: np.ndarray, examples: Sequence[LabelledText], threshold: float) -> dict[str, float]:
    """OffensEval-style macro-F1 (OFF vs NOT) of the toxicity head on OLID's published test set."""
    from sklearn.metrics import f1_score

    y = np.array([e.labels["toxicity"] for e in examples])
    pred = (probs[:, CATEGORIES.index("toxicity")] >= threshold).astype(int)
    return {"macro_f1": float(f1_score(y, pred, average="macro")), "n": len(y), "offensive": int(y.sum())}


def confusion_summary(
    examples: Sequence[LabelledText], probs: np.ndarray, thresholds: dict[str, float]
) -> dict[str, dict[str, int]]:
    """For each true category, which categories the model flagged (the errors a moderator would see)."""
    thr = np.array([thresholds[c] for c in CATEGORIES])
    flagged = probs >= thr
    out: dict[str, dict[str, int]] = {}
    for c in CATEGORIES:
        rows = [i for i, e in enumerate(examples) if e.labels.get(c) == 1]
        out[c] = {c2: int(flagged[rows, k].sum()) for k, c2 in enumerate(CATEGORIES)} | {"n": len(rows)}
    clean_rows = [i for i, e in enumerate(examples) if not any(e.labels.values())]
    out["clean"] = {c2: int(flagged[clean_rows, k].sum()) for k, c2 in enumerate(CATEGORIES)} | {
        "n": len(clean_rows)
    }
    return out


def train_and_register(
    args: TrainingArguments,
    *,
    extra_train: Sequence[LabelledText] = (),
    register: bool = True,
    promote_first: bool = True,
    tags: dict[str, str] | None = None,
    settings: Settings | None = None,
    out_dir: Path | None = None,
    care_limit: int | None = None,
    recall_floors: dict[str, float] | None = None,
    threshold_caps: dict[str, float] | None = None,
    inherit_thresholds: dict[str, float] | None = None,
    themes: ThemeTrainingArguments | None = None,
) -> TrainOutcome:
    """Train one model and (optionally) register it; the first model ever registered becomes champion.

    ``recall_floors`` raises the validation recall a category's threshold must reach (retraining passes the
    champion's own validation recall); ``threshold_caps`` bounds a category's threshold from above (retraining
    passes the champion's thresholds: a better-scoring challenger must not spend its gain on a stricter
    threshold that gives up catches the champion made); ``inherit_thresholds`` are kept as they are (retraining
    passes the champion's thresholds for the categories the new decisions bring no positives for: re-choosing
    them on the same validation set only adds noise). ``themes`` configures the practice-theme tagger fitted
    into the same bundle (``training/themes.py``).
    """
    started = time.time()
    settings = settings or get_settings()
    train_care = care_examples("train")
    val = care_examples("validation")
    test = care_examples("test")
    if care_limit is not None:
        train_care, val = train_care[:care_limit], val[: max(40, care_limit // 4)]
    external = external_examples(args.external_corpora, args.external_per_corpus, args.seed)
    rare = [e for e in train_care if any(e.labels.get(c) for c in args.rare_categories)]
    augmented = (
        padded_examples(train_care, n=args.padded_examples, seed=args.seed)
        + identity_counterfactuals(train_care, copies=args.identity_copies, seed=args.seed)
        + clean_parts(train_care, n=args.clean_part_examples, seed=args.seed)
    )
    train_set = (
        train_care * args.care_repeats + rare * args.rare_repeats + augmented + external + list(extra_train)
    )
    log.info(
        "training on %d examples (%d care x%d, %d augmented, %d external, %d decisions)",
        len(train_set),
        len(train_care),
        args.care_repeats,
        len(augmented),
        len(external),
        len(extra_train),
    )

    trainer = Trainer(args)
    module, tokenizer = trainer.train(train_set)

    def post_probs(texts: Sequence[str]) -> np.ndarray:
        # Thresholds and figures come from the aggregation serving applies: every part of a post is read.
        return score_posts(lambda t: predict_module(module, tokenizer, t, args.max_length), texts).probs

    val_probs = post_probs([e.text for e in val])
    vt, vm = arrays(val)
    # Urgent categories: the best F-beta on validation (a recall quantile of ~30 positives was set by the two
    # least typical disclosures); a retrain's recall floors still apply as floors.
    targets_for_thresholds = {} if args.urgent_beta else dict(args.recall_targets)
    for c, floor in (recall_floors or {}).items():
        targets_for_thresholds[c] = max(targets_for_thresholds.get(c, 0.0), floor)
    fbeta = {
        c: args.urgent_beta
        for c in args.recall_targets
        if args.urgent_beta and c not in targets_for_thresholds
    }
    thresholds = choose_thresholds(val_probs, vt, vm, targets_for_thresholds, fbeta=fbeta)
    for c, cap in (threshold_caps or {}).items():
        thresholds[c] = min(thresholds[c], cap)
    thresholds.update(inherit_thresholds or {})
    val_report = evaluate_probs(val, val_probs, thresholds)
    test_probs = post_probs([e.text for e in test])
    test_report = evaluate_probs(test, test_probs, thresholds)
    olid_test = load_corpus("olid", split="test")
    olid = None
    if olid_test:
        olid_probs = post_probs([e.text for e in olid_test])
        olid = olid_macro_f1(olid_probs, olid_test, thresholds["toxicity"])

    bundle_dir = out_dir or Path(tempfile.mkdtemp(prefix="carescreen-bundle-"))
    config = BundleConfig(
        thresholds=thresholds,
        max_length=args.max_length,
        metrics={"test_macro_f1": test_report["macro_f1"]},
    )
    save_bundle(module, tokenizer, bundle_dir, config)
    from models.onnx_classifier import export_onnx

    export_onnx(module, bundle_dir)
    theme_fit = fit_bundle_themes(bundle_dir, themes)

    outcome = TrainOutcome(
        None, None, bundle_dir, thresholds, val_report, test_report, olid, seconds=time.time() - started
    )
    if theme_fit is not None:
        outcome.extra["themes_cv"] = theme_fit.cv
    if not register:
        return outcome

    import mlflow

    from storage import model_store as registry

    registry.configure(settings)
    exp_id = registry.ensure_experiment(args.experiment_name, settings)
    with mlflow.start_run(experiment_id=exp_id, tags=tags or {}) as run:
        mlflow.log_params(args.to_params())
        mlflow.log_params(
            {
                "data.train_hash": dataset_hash(train_set),
                "data.validation_hash": dataset_hash(val),
                "data.test_hash": dataset_hash(test),
                "data.train_n": len(train_set),
                "data.care_train_n": len(train_care),
                "data.external_n": len(external),
                "data.decisions_n": len(extra_train),
                "data.validation_n": len(val),
                "data.test_n": len(test),
            }
        )
        for name, count in label_counts(train_set).items():
            mlflow.log_param(f"data.train_pos.{name}", count)
        for h in trainer.history:
            mlflow.log_metric("train_loss", h["train_loss"], step=int(h["epoch"]))
        for split_name, report in (("val", val_report), ("test", test_report)):
            mlflow.log_metric(f"{split_name}.macro_f1", report["macro_f1"])
            mlflow.log_metric(f"{split_name}.clean_flag_rate", report["clean_flag_rate"])
            for c, m in report["categories"].items():
                for k in ("precision", "recall", "f1", "roc_auc", "pr_auc"):
                    if not np.isnan(m[k]):
                        mlflow.log_metric(f"{split_name}.{c}.{k}", m[k])
        if olid:
            mlflow.log_metric("olid_test.macro_f1", olid["macro_f1"])
        mlflow.log_dict(thresholds, "thresholds.json")
        mlflow.log_dict(confusion_summary(test, test_probs, thresholds), "confusion_test.json")
        mlflow.log_dict({"validation": val_report, "test": test_report, "olid": olid}, "metrics.json")
        if theme_fit is not None:
            log_theme_fit(theme_fit)
        mlflow.log_metric("train_seconds", time.time() - started)
        version = log_bundle(
            bundle_dir, registered_name=settings.registered_model_name, example_probs=test_probs
        )
        outcome.run_id = run.info.run_id
    outcome.version = version
    if promote_first and registry.get_alias(registry.CHAMPION, settings) is None:
        registry.promote(version, settings)
        outcome.promoted = True
    outcome.seconds = time.time() - started
    (bundle_dir / "report.json").write_text(
        json.dumps({"validation": val_report, "test": test_report, "olid": olid}, indent=2, default=float)
    )
    return outcome
