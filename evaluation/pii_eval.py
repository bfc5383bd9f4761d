"""Evaluation of the residents'-privacy redactor against vanilla Presidio.

Span-level precision/recall per entity type and per role, identifier leakage into the redacted text, staff names
kept, and ``analyze`` latency, on: (a) the CareScreen care-posts test split, (b) Presidio's synthetic PII set
(comparable types only) and (c) person names in WNUT-17 test. Absent datasets are skipped, not errors.

Matching rule: a prediction matches a gold span when the character ranges overlap and the types are compatible
(same type, or STREET_ADDRESS with UK_POSTCODE / ROOM, since carers write "Flat 2, 33 Mill Lane, LS6 2QR" as one
address or as parts). Vanilla types are mapped to ours (``VANILLA_TYPE_MAP``); vanilla types without a mapping
(ORGANIZATION, NRP, URL, US_* ...) are ignored for precision but are still redacted in its output.

This module runs the evaluation and writes the report; the datasets and span shapes are in ``pii_data``, the
systems compared in ``pii_systems`` and the scoring in ``pii_scoring``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from evaluation.pii_data import (
    CARE_POSTS,
    OUR_TYPES,
    REPO_ROOT,
    SYNTH_TYPES,
    Example,
    System,
    load_care_posts,
    load_synth,
    load_wnut_persons,
)
from evaluation.pii_scoring import forty_word_posts, score_system, time_analyze
from evaluation.pii_systems import VANILLA_TYPE_MAP, OursSystem, VanillaSystem


def evaluate_pii(
    *,
    care_posts_path: Path = CARE_POSTS,
    split: str | None = "test",
    datasets_dir: Path | None = None,
    include: Collection[str] = ("care", "synth", "wnut"),
    limit: int | None = None,
    systems: Sequence[System] | None = None,
    timing_posts: int = 50,
) -> dict[str, Any]:
    """Score ours and vanilla Presidio side by side on whichever datasets exist."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if systems is None:
        systems = [OursSystem(), VanillaSystem()]
    from training.corpora import shared_datasets_dir

    shared = datasets_dir or shared_datasets_dir()
    report: dict[str, Any] = {"datasets": {}, "skipped": [], "systems": [s.name for s in systems]}
    from models.pii.redactor import load_config

    report["config_version"] = load_config()["version"]
    care_texts: list[str] = []
    sets: list[tuple[str, list[Example], Sequence[str], str]] = []
    if "care" in include:
        care, source = load_care_posts(care_posts_path, split)
        if care:
            care = care[:limit] if limit else care
            care_texts = [e.text for e in care]
            sets.append(("care_posts", care, OUR_TYPES, source))
        else:
            report["skipped"].append(f"care_posts ({care_posts_path} absent)")
    if "synth" in include:
        synth = load_synth(shared, limit) if shared else []
        if synth:
            sets.append(("presidio_synth_pii", synth, SYNTH_TYPES, "synth_dataset_v2.json"))
        else:
            report["skipped"].append("presidio_synth_pii (absent)")
    if "wnut" in include:
        wnut = load_wnut_persons(shared, limit) if shared else []
        if wnut:
            sets.append(("wnut17_person", wnut, ("PERSON",), "emerging.test.conll"))
        else:
            report["skipped"].append("wnut17 (absent)")
    for name, examples, types, source in sets:
        report["datasets"][name] = {
            "source": source,
            "types": list(types),
            **{s.name: score_system(s, examples, types) for s in systems},
        }
    posts = forty_word_posts(care_texts or [e.text for _, ex, _, _ in sets for e in ex][:200], timing_posts)
    report["timing_40_words"] = {s.name: time_analyze(s.analyze_only, posts) for s in systems}
    return report


def _fmt(x: Any) -> str:
    return "–" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def render_markdown(report: dict[str, Any]) -> str:
    """Human-readable report: one table per dataset, ours next to vanilla."""
    systems: list[str] = report["systems"]
    lines = [
        "# PII redaction evaluation",
        "",
        f"Config version: `{report.get('config_version')}`. Systems: {', '.join(systems)}.",
        "",
        "Span matching: overlap + compatible type (STREET_ADDRESS ~ UK_POSTCODE / ROOM). Vanilla types mapped: "
        + ", ".join(f"{k}→{v}" for k, v in VANILLA_TYPE_MAP.items() if k != v)
        + "; other vanilla types are ignored for precision but still redacted. Vanilla gets the staff directory "
        "as Presidio's exact-match `allow_list`; it infers no roles (all its spans are role `other`).",
        "",
    ]
    for name, ds in report["datasets"].items():
        lines += [f"## {name}", "", f"Source: {ds['source']}", ""]
        head = "| | " + " | ".join(f"{s} P | {s} R" for s in systems) + " |"
        lines += [head, "|---|" + "---|---|" * len(systems)]
        lines.append(
            "| **overall** | "
            + " | ".join(
                f"{_fmt(ds[s]['overall']['precision'])} | {_fmt(ds[s]['overall']['recall'])}" for s in systems
            )
            + " |"
        )
        keys = sorted({k for s in systems for k in ds[s]["per_type"]})
        for k in keys:
            cells = []
            for s in systems:
                m = ds[s]["per_type"].get(k, {})
                cells.append(f"{_fmt(m.get('precision'))} | {_fmt(m.get('recall'))}")
            n = max(ds[s]["per_type"].get(k, {}).get("n_gold", 0) for s in systems)
            lines.append(f"| {k} (n={n}) | " + " | ".join(cells) + " |")
        roles = sorted({k for s in systems for k in ds[s]["per_role"]})
        for r in roles:
            cells = []
            for s in systems:
                m = ds[s]["per_role"].get(r, {})
                cells.append(f"{_fmt(m.get('precision'))} | {_fmt(m.get('recall'))}")
            lines.append(f"| role={r} (role must match) | " + " | ".join(cells) + " |")
        lines.append("")
        for s in systems:
            d = ds[s]
            det = ", ".join(f"{r} {v:.3f}" for r, v in d["per_role_detection_recall"].items())
            lines.append(
                f"- {s}: resident/family identifiers surviving = {_fmt(d['resident_family_surviving'])} "
                f"(n={d['n_resident_family_gold']}); staff names kept = {_fmt(d['staff_names_kept'])} "
                f"(n={d['n_staff_gold']}); detection recall by gold role: {det or '–'}"
            )
        lines.append("")
    lines += [
        "## analyze() latency, 40-word posts, single thread",
        "",
        "| system | median ms | p95 ms | calls |",
        "|---|---|---|---|",
    ]
    for s, t in report.get("timing_40_words", {}).items():
        lines.append(f"| {s} | {t['median_ms']:.2f} | {t['p95_ms']:.2f} | {int(t['n_calls'])} |")
    if report.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(report["skipped"])]
    return "\n".join(lines) + "\n"


def run(output_dir: Path = REPO_ROOT / "evaluation" / "reports", **kwargs: Any) -> dict[str, Any]:
    """Evaluate and write ``pii.json`` + ``pii.md``."""
    report = evaluate_pii(**kwargs)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "pii.json").write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    (output_dir / "pii.md").write_text(render_markdown(report), encoding="utf-8")
    return report


if __name__ == "__main__":
    print(render_markdown(run()))
