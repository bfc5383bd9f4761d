"""Retraining on moderator decisions: build the set, screen it for label errors, train a challenger, gate it.

The challenger is promoted only if, on the frozen care test split, its safeguarding and self-harm recall do
not drop and its macro-F1 does not drop by more than 0.005 — and only if the new decisions look trustworthy
(a large share of suspected label errors refuses promotion: it is what poisoning looks like).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from carescreen.config import Settings, get_settings
from models.classifier import TorchClassifier
from models.parts import score_posts
from models.taxonomy import CATEGORIES, URGENT_CATEGORIES
from training.care_corpus import load_posts, near_duplicate_groups
from training.data import care_examples, dataset_hash
from training.examples import LabelledText
from training.trainer import TrainingArguments

log = logging.getLogger(__name__)
GATED = tuple(sorted(URGENT_CATEGORIES))

#: An extra gate: given the champion's and the challenger's bundle directories, the reasons to refuse (none: pass).
#: ``training`` cannot import ``evaluation``; the CLI passes the challenge-suite rule in (see ``cmd_retrain``).
ExtraGate = Callable[[Path, Path], list[str]]


@dataclass
class RetrainOptions:
    min_new_decisions: int = 50
    force: bool = False
    epochs: float | None = None
    org: str | None = None
    max_steps: int | None = None
    recent_fraction: float = 0.2
    macro_f1_tolerance: float = 0.005
    max_label_issue_fraction: float = 0.25
    #: Decisions are seen this many times per epoch (they are few beside the seed corpus). More repeats
    #: learn a new pattern faster but push its category's scores up on unrelated posts (precision).
    decision_repeats: int = 2
    #: Learning-without-forgetting weight: the challenger keeps the champion's scores wherever the new
    #: decisions say nothing (see ``TrainingArguments.distill_weight``; DEVELOPMENT.md has the runs behind 3).
    distill_weight: float = 3.0


def _key(text: str) -> str:
    return hashlib.sha256(" ".join(re.findall(r"\w+", text.lower())).encode()).hexdigest()


def decision_examples(settings: Settings, org: str | None = None) -> list[tuple[LabelledText, datetime]]:
    """Moderator decisions as masked examples: the redacted text (corrected if the moderator fixed it) and
    only the categories the moderator labelled. Read through the storage layer, never the service."""
    from storage import decision_labels
    from storage.db import Database

    db = Database(settings.resolved_database_url(), secrets=settings.secrets())
    out: list[tuple[LabelledText, datetime]] = []
    with db.session() as s:
        for dec, scr in decision_labels.decisions_for_training(s, org=org):
            labels = {c: int(bool(v)) for c, v in dec.labels.items() if c in CATEGORIES}
            if not labels:
                continue
            text = dec.redacted_text or scr.redacted_text
            if not text.strip():
                continue
            out.append(
                (
                    LabelledText(
                        id=f"decision:{dec.id}",
                        text=text,
                        labels=labels,
                        source="decisions",
                        meta={"org": dec.org},
                    ),
                    dec.decided_at,
                )
            )
    db.dispose()
    return out


def dedupe_and_exclude_test(
    rows: list[tuple[LabelledText, datetime]],
) -> tuple[list[tuple[LabelledText, datetime]], int, int]:
    """Latest decision wins among duplicates; anything (near-)identical to a frozen test post is dropped."""
    latest: dict[str, tuple[LabelledText, datetime]] = {}
    for ex, at in sorted(rows, key=lambda r: r[1]):
        latest[_key(ex.text)] = (ex, at)
    deduped = list(latest.values())
    test_texts = [p.redacted_text for p in load_posts(split="test")] + [
        p.text for p in load_posts(split="test")
    ]
    groups = near_duplicate_groups(test_texts + [ex.text for ex, _ in deduped])
    test_groups = set(groups[: len(test_texts)])
    kept = [r for r, g in zip(deduped, groups[len(test_texts) :], strict=True) if g not in test_groups]
    return kept, len(rows) - len(deduped), len(deduped) - len(kept)


def find_label_issues(
    decisions: list[LabelledText], seed_train: list[LabelledText], max_quality: float = 0.2
) -> list[int]:
    """Indices of decisions whose label disagrees with out-of-fold predictions (cleanlab), per category.

    A TF-IDF model per category is cross-validated over seed data + decisions (shuffled folds, so a new
    pattern is judged by a model that has seen the rest of that pattern); cleanlab's ``find_label_issues``
    flags the decisions whose given label is unlikely under the others.
    """
    from cleanlab.filter import find_label_issues as cl_find
    from cleanlab.rank import get_label_quality_scores
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    flagged: set[int] = set()
    texts = [e.text for e in seed_train] + [e.text for e in decisions]
    x = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True).fit_transform(texts)
    n_seed = len(seed_train)
    for c in CATEGORIES:
        rows = [i for i, e in enumerate(seed_train) if c in e.labels]
        rows += [n_seed + i for i, e in enumerate(decisions) if c in e.labels]
        y = np.array([(seed_train[i] if i < n_seed else decisions[i - n_seed]).labels[c] for i in rows])
        if len(rows) < 20 or y.sum() < 5 or (1 - y).sum() < 5 or not any(i >= n_seed for i in rows):
            continue
        probs = cross_val_predict(
            LogisticRegression(max_iter=1000, class_weight="balanced"),
            x[rows],
            y,
            cv=StratifiedKFold(5, shuffle=True, random_state=0),
            method="predict_proba",
        )
        # Confident learning's pruning, restricted to labels the others make clearly unlikely: a new pattern
        # that the seed data has never seen is "surprising", not "wrong", and must not be dropped.
        issues = cl_find(labels=y, pred_probs=probs, filter_by="prune_by_noise_rate")
        quality = get_label_quality_scores(labels=y, pred_probs=probs, method="self_confidence")
        bad = np.flatnonzero(issues & (quality < max_quality))
        flagged.update(rows[k] - n_seed for k in bad if rows[k] >= n_seed)
    return sorted(flagged)


def _evaluate(
    classifier: TorchClassifier, examples: list[LabelledText], probs: np.ndarray | None = None
) -> dict[str, Any]:
    from training.run import evaluate_probs

    if not examples:
        return {}
    if probs is None:
        probs = score_posts(classifier.predict_proba, [e.text for e in examples]).probs
    return evaluate_probs(examples, probs, dict(classifier.thresholds))


def _paired_intervals(
    champion_probs: np.ndarray,
    challenger_probs: np.ndarray,
    thresholds: tuple[dict[str, float], dict[str, float]],
    examples: list[LabelledText],
) -> dict[str, dict[str, float]]:
    """Bootstrap intervals of challenger - champion on the frozen test split (reported beside the gate, which
    itself applies the rule as written: a reader sees whether a difference is more than one or two posts)."""
    from models.metrics import paired_bootstrap
    from training.trainer import arrays

    targets, mask = arrays(examples)
    preds = [
        probs >= np.array([thr[c] for c in CATEGORIES])
        for probs, thr in zip((champion_probs, challenger_probs), thresholds, strict=True)
    ]
    return paired_bootstrap(targets, mask, preds[0], preds[1], categories=GATED)


def gate(champion: dict[str, Any], challenger: dict[str, Any], tolerance: float) -> list[str]:
    """Reasons to refuse promotion (empty: promote)."""
    reasons: list[str] = []
    for c in GATED:
        old = champion["categories"][c]["recall"]
        new = challenger["categories"][c]["recall"]
        if new < old:
            reasons.append(f"{c} recall dropped from {old:.3f} to {new:.3f}")
    if challenger["macro_f1"] < champion["macro_f1"] - tolerance:
        reasons.append(
            f"macro-F1 dropped from {champion['macro_f1']:.3f} to {challenger['macro_f1']:.3f} "
            f"(tolerance {tolerance})"
        )
    return reasons


def last_retrain_cutoff(settings: Settings) -> str | None:
    """When the newest retrain run's decisions ended (an MLflow tag), for the N-new-decisions trigger."""
    import mlflow

    from storage import model_store as registry

    registry.configure(settings)
    exp = mlflow.get_experiment_by_name("carescreen")
    if exp is None:
        return None
    runs = mlflow.search_runs(
        [exp.experiment_id],
        filter_string="tags.kind = 'retrain'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return runs[0].data.tags.get("decisions_until") if runs else None


def retrain(
    opts: RetrainOptions,
    settings: Settings | None = None,
    args: TrainingArguments | None = None,
    extra_gates: Sequence[ExtraGate] = (),
) -> dict[str, Any]:
    from storage import model_store as registry
    from training.run import train_and_register

    settings = settings or get_settings()
    rows = decision_examples(settings, opts.org)
    cutoff = last_retrain_cutoff(settings)
    new = [r for r in rows if cutoff is None or r[1].isoformat() > cutoff]
    report: dict[str, Any] = {"decisions_total": len(rows), "decisions_new": len(new), "promoted": False}
    if len(new) < opts.min_new_decisions and not opts.force:
        report["skipped"] = f"only {len(new)} new decisions (< {opts.min_new_decisions}); nothing to do"
        return report
    rows, dupes, leaked = dedupe_and_exclude_test(rows)
    report.update({"duplicates_removed": dupes, "test_leaks_removed": leaked})
    rows.sort(key=lambda r: r[1])
    n_recent = int(len(rows) * opts.recent_fraction) if len(rows) >= 10 else 0
    train_rows, recent_rows = rows[: len(rows) - n_recent], rows[len(rows) - n_recent :]
    decisions = [ex for ex, _ in train_rows]
    issues = find_label_issues(decisions, care_examples("train")) if decisions else []
    report["label_issues"] = [
        {"id": decisions[i].id, "text": decisions[i].text[:200], "labels": dict(decisions[i].labels)}
        for i in issues
    ]
    issue_fraction = len(issues) / max(1, len(decisions))
    report["label_issue_fraction"] = round(issue_fraction, 3)
    clean_decisions = [d for i, d in enumerate(decisions) if i not in set(issues)]

    champion_ref = registry.get_alias(registry.CHAMPION, settings)
    if champion_ref is None:
        raise RuntimeError("no champion to challenge: run `carescreen train` first")
    champion_dir = registry.download_bundle(champion_ref, settings)
    # Continued fine-tuning from the champion: a gentler learning rate than a fresh run, so the challenger
    # learns the new decisions without drifting on what the champion already does well.
    args = args or TrainingArguments(epochs=1.0, external_per_corpus=200)
    args.learning_rate = min(args.learning_rate, 2e-5)
    args.head_learning_rate = min(args.head_learning_rate, 5e-4)
    args.warmup_ratio = 0.0
    args.init_from = str(champion_dir)
    args.distill_weight = opts.distill_weight
    if opts.epochs:
        args.epochs = opts.epochs
    if opts.max_steps:
        args.max_steps = opts.max_steps
    dates = [at for _, at in rows]
    tags = {
        "kind": "retrain",
        "parent_version": champion_ref.version,
        "decisions_used": str(len(clean_decisions)),
        "decisions_from": min(dates).isoformat() if dates else "",
        "decisions_until": max(dates).isoformat() if dates else "",
        "decisions_hash": dataset_hash(clean_decisions),
    }
    # A retrain may add safeguarding and self-harm catches, never trade one away for precision: the
    # challenger's thresholds for those must reach at least the champion's validation recall, and are never
    # stricter than the champion's own thresholds (measured: re-choosing the highest threshold that met the
    # validation target gave back two test disclosures that the better challenger scored above the old one).
    champion = TorchClassifier(champion_dir)
    champion_val = _evaluate(champion, care_examples("validation"))
    floors = {c: float(champion_val["categories"][c]["recall"]) for c in GATED}
    caps = {c: float(champion.thresholds[c]) for c in GATED}
    # Categories the decisions bring no positives for keep the champion's thresholds (chosen on the same
    # validation set; re-choosing them only adds noise).
    inherited = {
        c: float(champion.thresholds[c])
        for c in CATEGORIES
        if c not in GATED and not any(d.labels.get(c) == 1 for d in clean_decisions)
    }
    report["recall_floors"] = floors
    report["threshold_caps"] = caps
    report["inherited_thresholds"] = sorted(inherited)
    outcome = train_and_register(
        args,
        recall_floors=floors,
        threshold_caps=caps,
        inherit_thresholds=inherited,
        extra_train=clean_decisions * opts.decision_repeats,
        register=True,
        promote_first=False,
        tags=tags,
        settings=settings,
    )
    assert outcome.version is not None
    test = care_examples("test")
    recent = [ex for ex, _ in recent_rows]
    challenger = TorchClassifier(Path(outcome.bundle_dir))
    test_texts = [e.text for e in test]
    champion_probs = score_posts(champion.predict_proba, test_texts).probs
    challenger_probs = score_posts(challenger.predict_proba, test_texts).probs
    comparison: dict[str, dict[str, Any]] = {
        "champion": {
            "version": champion_ref.version,
            "test": _evaluate(champion, test, champion_probs),
            "recent": _evaluate(champion, recent),
        },
        "challenger": {
            "version": outcome.version,
            "test": _evaluate(challenger, test, challenger_probs),
            "recent": _evaluate(challenger, recent),
        },
    }
    reasons = gate(comparison["champion"]["test"], comparison["challenger"]["test"], opts.macro_f1_tolerance)
    uncertainty = _paired_intervals(
        champion_probs, challenger_probs, (champion.thresholds, challenger.thresholds), test
    )
    for extra in extra_gates:
        reasons += extra(champion_dir, Path(outcome.bundle_dir))
    if issue_fraction > opts.max_label_issue_fraction:
        reasons.append(
            f"{issue_fraction:.0%} of new decisions look mislabelled (> "
            f"{opts.max_label_issue_fraction:.0%}): possible poisoning, needs a second look"
        )
    _log_comparison(
        outcome.run_id, {**comparison, "challenger_minus_champion_95ci": uncertainty}, reasons, settings
    )
    if not reasons:
        registry.promote(outcome.version, settings)
        _audit_promotion(settings, outcome.version, champion_ref.version)
    report.update(
        {
            "challenger_version": outcome.version,
            "parent_version": champion_ref.version,
            "promoted": not reasons,
            "refused_because": reasons,
            "recent_holdout": len(recent),
            "challenger_minus_champion_95ci": uncertainty,
            "summary": {
                who: {
                    "test_macro_f1": v["test"]["macro_f1"],
                    **{f"test_{c}_recall": v["test"]["categories"][c]["recall"] for c in GATED},
                    "recent_macro_f1": v["recent"].get("macro_f1") if v["recent"] else None,
                }
                for who, v in comparison.items()
            },
        }
    )
    return report


def _log_comparison(
    run_id: str | None, comparison: dict[str, Any], reasons: list[str], settings: Settings
) -> None:
    import mlflow

    from storage import model_store as registry

    if run_id is None:
        return
    registry.configure(settings)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_dict({"comparison": comparison, "refused_because": reasons}, "gate.json")
        mlflow.set_tag("gate", "promoted" if not reasons else "refused")
        champ = comparison["champion"]["test"]
        mlflow.log_metric("champion.test.macro_f1", champ["macro_f1"])
        for c in GATED:
            mlflow.log_metric(f"champion.test.{c}.recall", champ["categories"][c]["recall"])


def _audit_promotion(settings: Settings, version: str, previous: str) -> None:
    """Model promotions are on the safeguarding audit trail too."""
    from storage import audit
    from storage.db import Database

    db = Database(settings.resolved_database_url(), secrets=settings.secrets())
    with db.session() as s:
        audit.append(
            s,
            org="*",
            actor="retrain",
            action="model.promote",
            subject=f"model:{version}",
            details={"previous": previous},
        )
    db.dispose()
