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
    # The profile: the service's own Server-Timing stages, each a positive mean.
    assert {"pii", "classifier", "policy"} <= set(r["c1"]["stages_ms"]) and all(
        v >= 0 for v in r["c1"]["stages_ms"].values()
    )
    # Every target of issue 22 is reported with its measured value and status, and agrees with the figures.
    by_name = {t["target"]: t for t in r["targets"]}
    assert len(by_name) == 7
    c1_ratio = by_name["concurrency 1 p50 vs naive p50"]
    assert c1_ratio["value"] == pytest.approx(r["c1"]["p50_ms"] / r["naive"]["p50_ms"])
    assert c1_ratio["met"] == (c1_ratio["value"] <= 0.5)
    assert (c1_ratio["miss_x"] is None) == c1_ratio["met"]
    assert "| concurrency 16 throughput vs naive |" in md
    assert r["memory"]["processes"] >= 1 and r["memory"]["pss_mb"] > 0


def test_classifier_throughput_runs_on_the_cpu(tiny_model) -> None:  # type: ignore[no-untyped-def]
    """The GPU report's measuring code, exercised on the CPU (this machine has no GPU)."""
    from evaluation.bench import posts
    from evaluation.bench_inprocess import classifier_throughput

    out = classifier_throughput(posts(20), "cpu", batch_size=8, settings=tiny_model[0])
    assert out["device"] == "cpu" and out["posts"] == 20 and out["posts_per_s"] > 0


def test_serving_memory_counts_every_process_of_the_tree() -> None:
    """A parent and two children: the bench sums all three (workers after fork), not only the parent."""
    import subprocess
    import sys
    import time

    from evaluation.bench import process_tree, serving_memory

    code = (
        "import subprocess,sys,time; "
        "kids=[subprocess.Popen([sys.executable,'-c','import time; time.sleep(30)']) for _ in range(2)]; "
        "time.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while len(process_tree(parent.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(process_tree(parent.pid)) == 3
        memory = serving_memory(parent.pid)
        assert memory["processes"] == 3
        assert memory["rss_mb"] > 3 * 5 and memory["peak_rss_mb"] >= memory["rss_mb"] * 0.99
        assert 0 < memory["pss_mb"] <= memory["rss_mb"] * 1.01
    finally:
        for pid in process_tree(parent.pid)[1:]:
            subprocess.run(["kill", str(pid)], check=False)
        parent.kill()
        parent.wait()


def test_targets_report_met_and_missed_with_the_factor() -> None:
    from evaluation.bench import targets

    r = {
        "naive": {"p50_ms": 20.0, "p99_ms": 50.0, "posts_per_s": 50.0},
        "c1": {"p50_ms": 8.0, "p99_ms": 60.0},
        "c16": {"posts_per_s": 100.0, "p99_ms": 40.0},
        "batch": {"posts_per_s": 300.0},
        "memory": {"peak_rss_mb": 900.0},
        "start_to_ready_s": 7.0,
    }
    rows = {t["target"]: t for t in targets(r)}
    assert rows["concurrency 1 p50 vs naive p50"]["met"] is True
    p99 = rows["concurrency 1 p99 vs naive p99"]
    assert p99["met"] is False and p99["miss_x"] == pytest.approx(1.2)
    tput = rows["concurrency 16 throughput vs naive"]
    assert tput["met"] is False and tput["miss_x"] == pytest.approx(1.5)
    assert rows["/v1/screen/batch throughput vs naive"]["met"] is True
    assert rows["total RSS of serving processes"]["met"] is True


def test_cpu_summary_names_the_model_and_the_vector_instructions_the_figures_depend_on() -> None:
    from evaluation.bench import cpu_summary

    zen4 = "processor\t: 0\nmodel name\t: AMD EPYC 9654\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
    older = "model name\t: AMD EPYC 7B12\nflags\t\t: fpu sse avx2 fma\nmodel name\t: ignored\n"
    assert cpu_summary(zen4) == "AMD EPYC 9654, AVX-512 + VNNI"
    assert cpu_summary(older) == "AMD EPYC 7B12, AVX2 (no VNNI)"
    assert cpu_summary("model name: Some ARM core\n") == "Some ARM core"
    assert cpu_summary("") == "unknown CPU"


def test_rewrite_readme_replaces_only_between_its_own_markers(tmp_path: Path) -> None:
    """The bench and the themes report share one README writer, each with its own markers."""
    from evaluation.bench_report import BEGIN, END, rewrite_readme

    readme = tmp_path / "README.md"
    themes = ("<!-- themes:begin -->", "<!-- themes:end -->")
    readme.write_text(f"top\n{BEGIN}\nold bench\n{END}\nmid\n{themes[0]}\nold themes\n{themes[1]}\nend\n")
    rewrite_readme("new themes", readme, markers=themes)
    rewrite_readme("new bench", readme)
    assert readme.read_text() == (
        f"top\n{BEGIN}\nnew bench\n{END}\nmid\n{themes[0]}\nnew themes\n{themes[1]}\nend\n"
    )
    no_markers = tmp_path / "other.md"
    no_markers.write_text("untouched\n")
    rewrite_readme("x", no_markers)
    assert no_markers.read_text() == "untouched\n"
