"""``carescreen evaluate-themes``: the practice-theme tagger on the frozen split, through the served pipeline.

Every post of ``datasets/themes/frozen_eval.jsonl`` goes through ``ScreeningPipeline.screen_many`` (the call
``/v1/screen``'s micro-batcher makes) of the pipeline the service builds (``ModelHolder``: the champion's bundle
and its tagger), so the figure is what is served: redaction, normalisation, the post's kind, the tagger. Nothing
here fits, chooses or tunes: the frozen split is read for this figure only.

Also measured: what the tagger costs. Its ``themes`` lap per post beside the classifier's, and the latency of
screening one post at a time (as at concurrency 1) with and without the tagger, interleaved on the same posts.
Writes ``themes.json`` and ``themes.md`` and the README's table between the themes markers.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from carescreen.config import PROJECT_ROOT
from evaluation.bench_report import rewrite_readme
from models.pipeline import ScreeningPipeline, ScreenRequest, ScreenResult
from models.policy import PUBLISHABLE
from models.theme_fit import DATA_DIR, ThemeExample, label_matrix, read_jsonl, scores
from models.themes import theme_list

FROZEN = DATA_DIR / "frozen_eval.jsonl"
README = PROJECT_ROOT / "README.md"
BEGIN, END = "<!-- themes:begin -->", "<!-- themes:end -->"
#: The issue's targets: macro-F1 on the frozen split, and screening latency with the tagger within 5%.
TARGET_MACRO_F1 = 0.80
TARGET_LATENCY_RATIO = 1.05


def holder_pipeline(bundle: Path | None = None, version: str | None = None) -> ScreeningPipeline:
    """The pipeline as ``carescreen serve`` builds it (``ModelHolder.load``: classifier, PII engine, policy and
    the tagger that goes with the bundle); of ``bundle`` when given, else of the champion."""
    from carescreen.config import get_settings
    from service.runtime import ModelHolder, load_classifier

    settings = get_settings()
    loader = None
    if bundle is not None:
        loader = partial(
            load_classifier,
            bundle,
            version or bundle.name,
            use_onnx=settings.use_onnx,
            variant=settings.onnx_variant,
            threads=settings.onnx_threads,
        )
    holder = ModelHolder(settings, classifier_loader=loader)
    holder.load()
    if holder.pipeline is None:
        raise SystemExit(f"the service could not load its pipeline: {holder.readiness.errors}")
    return holder.pipeline


def screen_all(
    pipeline: ScreeningPipeline, examples: Sequence[ThemeExample], batch_size: int = 16
) -> list[ScreenResult]:
    """Every post through the served call, in micro-batches as the batcher forms them under load."""
    out: list[ScreenResult] = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        out.extend(pipeline.screen_many([ScreenRequest(text=e.text, kind=e.kind) for e in chunk]))
    return out


def stage_cost(results: Sequence[ScreenResult], batch_size: int) -> dict[str, float]:
    """Milliseconds a post per stage (each batch's laps over its posts)."""
    totals: dict[str, float] = {}
    for i in range(0, len(results), batch_size):
        for stage, ms in results[i].timings.items():  # one laps dict per batch
            totals[stage] = totals.get(stage, 0.0) + ms
    return {stage: round(ms / max(1, len(results)), 3) for stage, ms in totals.items()}


def latency_with_and_without(
    pipeline: ScreeningPipeline, examples: Sequence[ThemeExample], posts: int = 160, rounds: int = 3
) -> dict[str, Any]:
    """Median ms to screen one post alone, with and without the tagger, interleaved post by post (so both see
    the same machine load); the better of ``rounds`` medians each."""
    tagger = pipeline.themes
    sample = [ScreenRequest(text=e.text, kind=e.kind) for e in examples[:posts]]
    with_ms: list[float] = []
    without_ms: list[float] = []
    try:
        for _ in range(rounds):
            a: list[float] = []
            b: list[float] = []
            for req in sample:
                for on, sink in ((True, a), (False, b)):
                    pipeline.themes = tagger if on else None
                    started = time.perf_counter()
                    pipeline.screen_many([req])
                    sink.append((time.perf_counter() - started) * 1000)
            with_ms.append(statistics.median(a))
            without_ms.append(statistics.median(b))
    finally:
        pipeline.themes = tagger
    w, wo = min(with_ms), min(without_ms)
    return {
        "posts": len(sample),
        "with_tagger_p50_ms": round(w, 3),
        "without_tagger_p50_ms": round(wo, 3),
        "ratio": round(w / wo, 4) if wo else None,
        "met": bool(wo and w / wo <= TARGET_LATENCY_RATIO),
    }


def evaluate(
    pipeline: ScreeningPipeline,
    examples: Sequence[ThemeExample],
    *,
    batch_size: int = 16,
    latency: bool = True,
) -> dict[str, Any]:
    if pipeline.themes is None:
        raise SystemExit("the served pipeline has no theme tagger: see the log of ModelHolder.load")
    ids = theme_list().ids
    results = screen_all(pipeline, examples, batch_size)
    truth = label_matrix(examples, ids)
    pred = np.array([[t in r.themes for t in ids] for r in results], dtype=bool)
    published = np.array([r.decision in PUBLISHABLE for r in results])
    report: dict[str, Any] = {
        "list_version": theme_list().version,
        "tagger_version": pipeline.themes.version,
        "model_version": pipeline.classifier.version,
        "policy_version": pipeline.policy.version,
        "all_posts": scores(pred, truth, ids),
        "published": {
            "posts": int(published.sum()),
            "decisions": dict(Counter(r.decision for r in results)),
            "macro_f1": scores(pred[published], truth[published], ids)["macro_f1"]
            if published.any()
            else None,
            "themes_tagged": {t: int(pred[published, j].sum()) for j, t in enumerate(ids)},
        },
        "kinds": dict(Counter(e.kind for e in examples)),
        "stage_ms_per_post": stage_cost(results, batch_size),
        "batch_size": batch_size,
        "target_macro_f1": TARGET_MACRO_F1,
    }
    report["met_macro_f1"] = report["all_posts"]["macro_f1"] >= TARGET_MACRO_F1
    cost = report["stage_ms_per_post"]
    if cost.get("classifier"):
        report["themes_vs_classifier"] = round(cost.get("themes", 0.0) / cost["classifier"], 4)
    if latency:
        report["latency_one_post"] = latency_with_and_without(pipeline, examples)
    return report


def render_markdown(r: dict[str, Any]) -> str:
    a = r["all_posts"]
    lines = [
        f"Practice themes ({r['list_version']}) on the frozen split ({a['posts']} posts, "
        f"{a['posts_without_theme']} with no theme), through the served pipeline "
        f"(`{r['model_version']}`, tagger `{r['tagger_version']}`), by `carescreen evaluate-themes`.",
        "",
        "| theme | precision | recall | F1 | posts |",
        "|---|---|---|---|---|",
    ]
    for t, m in a["themes"].items():
        lines.append(f"| `{t}` | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    lines.append(f"| **macro-F1** | | | **{a['macro_f1']:.3f}** | |")
    lines.append(f"| micro-F1 | | | {a['micro_f1']:.3f} | |")
    lines.append("")
    met = "met" if r["met_macro_f1"] else "**missed**"
    lines.append(f"- Target macro-F1 >= {r['target_macro_f1']:.2f}: {met}.")
    pub = r["published"]
    if pub["macro_f1"] is not None:
        lines.append(
            f"- Published by this model: {pub['posts']} of {a['posts']} posts, macro-F1 on them "
            f"{pub['macro_f1']:.3f} (every post is tagged; reports count published ones)."
        )
    cost = r["stage_ms_per_post"]
    if "themes" in cost and "classifier" in cost:
        lines.append(
            f"- Cost in micro-batches of {r['batch_size']}: tagger {cost['themes']:.3f} ms a post, classifier "
            f"{cost['classifier']:.2f} ms ({r['themes_vs_classifier']:.1%} of it), PII {cost.get('pii', 0):.2f} ms."
        )
    lat = r.get("latency_one_post")
    if lat:
        lines.append(
            f"- One post at a time (concurrency 1, in-process, {lat['posts']} posts, interleaved): p50 "
            f"{lat['with_tagger_p50_ms']:.2f} ms with the tagger, {lat['without_tagger_p50_ms']:.2f} ms without "
            f"({lat['ratio']:.3f}x; target <= {TARGET_LATENCY_RATIO:.2f}x: {'met' if lat['met'] else '**missed**'})."
        )
    return "\n".join(lines)


def run_and_report(
    pipeline: ScreeningPipeline,
    output_dir: Path,
    *,
    frozen: Path = FROZEN,
    update_readme: bool = True,
    latency: bool = True,
) -> dict[str, Any]:
    examples = read_jsonl(frozen)
    report = evaluate(pipeline, examples, latency=latency)
    report["frozen_file"] = str(
        frozen.relative_to(PROJECT_ROOT) if frozen.is_relative_to(PROJECT_ROOT) else frozen
    )
    md = render_markdown(report)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "themes.json").write_text(json.dumps(report, indent=1, default=float))
    (output_dir / "themes.md").write_text(md + "\n")
    if update_readme:
        rewrite_readme(md, README, markers=(BEGIN, END))
    report["markdown"] = md
    return report
