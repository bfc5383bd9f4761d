"""``carescreen evaluate``: the champion vs the TF-IDF baseline on the frozen test split and OLID's test set.

Also measured here: the ONNX int8 path against the PyTorch reference (max score difference and the exact count
of changed flags), and what reading redacted rather than original text costs the classifier.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from carescreen.config import Settings, get_settings
from models.baseline import TfidfClassifier
from models.classifier import Classifier, TorchClassifier
from models.metrics import category_metrics, choose_thresholds, summary
from models.parts import score_posts
from models.taxonomy import CATEGORIES
from training.care_corpus import load_posts
from training.corpora import load_corpus
from training.data import care_examples, external_examples
from training.examples import LabelledText
from training.trainer import TrainingArguments, arrays

TARGETS = {
    "safeguarding": {"recall": 0.95, "precision": 0.85},
    "self_harm": {"recall": 0.95, "precision": 0.80},
    "macro_f1": 0.85,
    "clean_flag_rate": 0.05,
    "olid_macro_f1": 0.78,
}


def _report(examples: list[LabelledText], probs: np.ndarray, thresholds: dict[str, float]) -> dict[str, Any]:
    t, m = arrays(examples)
    per = category_metrics(probs, t, m, thresholds)
    return {"categories": per, **summary(per, probs, t, m, thresholds)}


def _olid(probs: np.ndarray, examples: list[LabelledText], threshold: float) -> float:
    from sklearn.metrics import f1_score

    y = np.array([e.labels["toxicity"] for e in examples])
    return float(
        f1_score(y, (probs[:, CATEGORIES.index("toxicity")] >= threshold).astype(int), average="macro")
    )


def train_baseline(args: TrainingArguments | None = None) -> TfidfClassifier:
    """The baseline sees the same data mix as the default transformer run, thresholds chosen the same way."""
    args = args or TrainingArguments()
    train = care_examples("train") * args.care_repeats + external_examples(
        args.external_corpora, args.external_per_corpus, args.seed
    )
    t, m = arrays(train)
    model = TfidfClassifier().fit([e.text for e in train], t, m)
    val = care_examples("validation")
    vt, vm = arrays(val)
    model.set_thresholds(
        choose_thresholds(model.predict_proba([e.text for e in val]), vt, vm, args.recall_targets)
    )
    return model


def _pr_curves(path: Path, test: list[LabelledText], curves: dict[str, np.ndarray]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    t, m = arrays(test)
    fig, axes = plt.subplots(2, 4, figsize=(16, 8))
    for j, (c, ax) in enumerate(zip(CATEGORIES, axes.flat, strict=True)):
        rows = m[:, j] > 0
        for name, probs in curves.items():
            if t[rows, j].sum() == 0:
                continue
            p, r, _ = precision_recall_curve(t[rows, j], probs[rows, j])
            ax.plot(r, p, label=name)
        ax.set_title(c)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(loc="lower left")
    fig.suptitle("Precision-recall on the frozen care test split")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def load_champion(settings: Settings) -> tuple[Path, str]:
    from storage import model_store as registry

    ref = registry.get_alias(registry.CHAMPION, settings)
    if ref is None:
        raise SystemExit("no champion model registered: run `carescreen train` first")
    return registry.download_bundle(ref, settings), ref.label


def onnx_agreement(
    bundle: Path,
    texts: list[str],
    reference: np.ndarray,
    thresholds: Mapping[str, float],
    variant: str = "fp32",
) -> dict[str, Any]:
    """How far an ONNX variant's post scores are from PyTorch's, and how many posts' flags would change.

    ``reference`` holds PyTorch's post-level scores (``score_posts``: every part read), as decisions use them.
    """
    from models.onnx_classifier import OnnxClassifier, has_onnx

    if not has_onnx(bundle, variant):
        return {"available": False}
    onnx = OnnxClassifier(bundle, variant=variant)
    probs = score_posts(onnx.predict_proba, texts).probs
    thr = np.array([thresholds[c] for c in CATEGORIES])
    changed = int(((probs >= thr) != (reference >= thr)).any(axis=1).sum())
    return {
        "available": True,
        "max_abs_diff": float(np.abs(probs - reference).max()),
        "mean_abs_diff": float(np.abs(probs - reference).mean()),
        "posts": len(texts),
        "posts_with_changed_flags": changed,
        "probs": probs,
    }


def run_evaluation(output_dir: Path, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    output_dir.mkdir(parents=True, exist_ok=True)
    bundle, label = load_champion(settings)
    model: Classifier = TorchClassifier(bundle, version=label)
    thresholds = dict(model.thresholds)
    test = care_examples("test")
    texts = [e.text for e in test]
    started = time.time()
    probs = score_posts(model.predict_proba, texts).probs
    results: dict[str, Any] = {"model_version": label, "transformer": _report(test, probs, thresholds)}
    # What reading redacted text costs: the same model on the original (unredacted) test posts.
    originals = [p.text for p in load_posts(split="test")]
    results["transformer_on_original_text"] = _report(
        test, score_posts(model.predict_proba, originals).probs, thresholds
    )
    baseline = train_baseline()
    base_probs = baseline.predict_proba(texts)
    results["baseline"] = _report(test, base_probs, baseline.thresholds)
    agreement = onnx_agreement(bundle, texts, probs, thresholds, "fp32")
    agreement.pop("probs", None)
    results["onnx_fp32_vs_pytorch"] = agreement
    agreement8 = onnx_agreement(bundle, texts, probs, thresholds, "int8")
    onnx_probs = agreement8.pop("probs", None)
    results["onnx_int8_vs_pytorch"] = agreement8
    olid = load_corpus("olid", split="test")
    if olid:
        olid_texts = [e.text for e in olid]
        results["olid_test_macro_f1"] = {
            "transformer": _olid(
                score_posts(model.predict_proba, olid_texts).probs, olid, thresholds["toxicity"]
            ),
            "baseline": _olid(baseline.predict_proba(olid_texts), olid, baseline.thresholds["toxicity"]),
            "n": len(olid),
        }
    curves = {"transformer": probs, "tf-idf baseline": base_probs}
    if onnx_probs is not None:
        curves["transformer (onnx int8)"] = onnx_probs
    _pr_curves(output_dir / "pr_curves.png", test, curves)
    # The challenge suite, through the pipeline the service builds (not through ``model`` above).
    from evaluation.challenge_suite import run_and_report, served_pipeline

    suite = run_and_report(served_pipeline(settings), output_dir)
    results["challenge"] = {k: v for k, v in suite.items() if k != "markdown"}
    results["seconds"] = time.time() - started
    results["markdown"] = render_markdown(results) + "\n" + suite["markdown"]
    (output_dir / "model.json").write_text(
        json.dumps({k: v for k, v in results.items() if k != "markdown"}, indent=2, default=float)
    )
    (output_dir / "model.md").write_text(results["markdown"])
    return results


def render_markdown(r: dict[str, Any]) -> str:
    t, b = r["transformer"], r["baseline"]
    lines = [
        f"# Model evaluation: {r['model_version']}",
        "",
        "Frozen care test split (never used for training or thresholds); thresholds from validation.",
        "",
        "| category | transformer P | R | F1 | PR-AUC | baseline P | R | F1 | PR-AUC | n+ |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in CATEGORIES:
        m, n = t["categories"][c], b["categories"][c]
        lines.append(
            f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['pr_auc']:.3f} | "
            f"{n['precision']:.3f} | {n['recall']:.3f} | {n['f1']:.3f} | {n['pr_auc']:.3f} | {m['support']} |"
        )
    lines += [
        "",
        f"- Macro-F1: transformer **{t['macro_f1']:.3f}**, baseline {b['macro_f1']:.3f} "
        f"(target >= {TARGETS['macro_f1']})",
        f"- Clean posts wrongly flagged: transformer **{t['clean_flag_rate']:.1%}**, baseline "
        f"{b['clean_flag_rate']:.1%} (target <= {TARGETS['clean_flag_rate']:.0%}; {t['clean_posts']} clean posts)",
    ]
    o = r.get("transformer_on_original_text")
    if o:
        lines.append(
            f"- Same model on the original (unredacted) text: macro-F1 {o['macro_f1']:.3f} "
            f"(redacted: {t['macro_f1']:.3f}) — what redaction costs the classifier"
        )
    if "olid_test_macro_f1" in r:
        ol = r["olid_test_macro_f1"]
        lines.append(
            f"- OLID test (n={ol['n']}, toxicity head): macro-F1 transformer **{ol['transformer']:.3f}**, "
            f"baseline {ol['baseline']:.3f} (target >= {TARGETS['olid_macro_f1']})"
        )
    for key, name in (
        ("onnx_fp32_vs_pytorch", "ONNX fp32 (served)"),
        ("onnx_int8_vs_pytorch", "ONNX int8 (option)"),
    ):
        a = r.get(key, {})
        if a.get("available"):
            lines.append(
                f"- {name} vs PyTorch on {a['posts']} test posts: max |Δscore| {a['max_abs_diff']:.2g}, "
                f"mean {a['mean_abs_diff']:.2g}; posts whose flags change: {a['posts_with_changed_flags']}"
            )
    lines += ["", "![PR curves](pr_curves.png)", ""]
    return "\n".join(lines)
