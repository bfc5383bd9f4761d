"""``carescreen bench`` runs end to end on a tiny real model and writes a consistent report. Timings are the
benchmark's output, never asserted here: only that every path answered and the report agrees with itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carescreen.config import Settings

pytestmark = pytest.mark.slow


def test_bench_runs_and_reports(tiny_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from evaluation.bench import run_bench

    settings: Settings = tiny_model[0]
    r = run_bench(tmp_path, requests=16, batch_posts=40, update_readme=False, settings=settings)
    for path in ("c1", "c16"):
        assert r[path]["requests"] == 16 and r[path]["errors"] == 0
        assert 0 < r[path]["p50_ms"] <= r[path]["p90_ms"] <= r[path]["p99_ms"]
    assert r["batch"]["posts"] == 40 and r["batch"]["errors"] == 0
    assert r["naive"]["requests"] == 16 and r["naive"]["posts_per_s"] > 0
    assert r["throughput_ratio_c16_vs_naive"] == pytest.approx(
        r["c16"]["posts_per_s"] / r["naive"]["posts_per_s"]
    )
    assert r["peak_rss_mb"] > 0 and r["start_to_ready_s"] > 0
    assert "available" in r["gpu"]
    assert json.loads((tmp_path / "bench.json").read_text())["c1"] == r["c1"]
    md = (tmp_path / "bench.md").read_text()
    assert "| `/v1/screen`, concurrency 16 |" in md and "naive stack" in md
    assert r["machine"]["cpu"] in md


def test_classifier_throughput_runs_on_the_cpu(tiny_model) -> None:  # type: ignore[no-untyped-def]
    """The GPU report's measuring code, exercised on the CPU (this machine has no GPU)."""
    from evaluation.bench import posts
    from evaluation.bench_inprocess import classifier_throughput

    out = classifier_throughput(posts(20), "cpu", batch_size=8, settings=tiny_model[0])
    assert out["device"] == "cpu" and out["posts"] == 20 and out["posts_per_s"] > 0


def test_cpu_summary_names_the_model_and_the_vector_instructions_the_figures_depend_on() -> None:
    from evaluation.bench import cpu_summary

    zen4 = "processor\t: 0\nmodel name\t: AMD EPYC 9654\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
    older = "model name\t: AMD EPYC 7B12\nflags\t\t: fpu sse avx2 fma\nmodel name\t: ignored\n"
    assert cpu_summary(zen4) == "AMD EPYC 9654, AVX-512 + VNNI"
    assert cpu_summary(older) == "AMD EPYC 7B12, AVX2 (no VNNI)"
    assert cpu_summary("model name: Some ARM core\n") == "Some ARM core"
    assert cpu_summary("") == "unknown CPU"
