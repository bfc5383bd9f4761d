"""The bench's figures as a markdown table, written to ``bench.md`` and between the README's bench markers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from carescreen.config import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def render_markdown(r: dict[str, Any]) -> str:
    """The performance table (service paths next to the naive stack) and the notes under it."""
    c1, c16, b, n = r["c1"], r["c16"], r["batch"], r["naive"]
    return "\n".join(
        [
            f"Measured by `carescreen bench` on {r.get('machine', {}).get('cpus', '?')} CPU cores "
            f"({r.get('machine', {}).get('cpu', 'unknown CPU')}; "
            f"{c1['requests']} posts per run, real care-corpus posts, SQLite, "
            f"{_processes(r.get('serving', {}).get('workers', 1))} serving "
            f"`{r.get('model_version')}`, ONNX {r.get('serving', {}).get('onnx_variant')} with "
            f"{r.get('serving', {}).get('onnx_threads')} intra-op thread(s), "
            f"{'with' if r.get('serving', {}).get('themes', True) else 'without'} practice themes).",
            "",
            "| path | p50 ms | p90 ms | p99 ms | posts/s | errors |",
            "|---|---|---|---|---|---|",
            f"| `/v1/screen`, concurrency 1 | {c1['p50_ms']:.1f} | {c1['p90_ms']:.1f} | {c1['p99_ms']:.1f} | "
            f"{c1['posts_per_s']:.1f} | {c1['errors']} |",
            f"| `/v1/screen`, concurrency 16 | {c16['p50_ms']:.1f} | {c16['p90_ms']:.1f} | {c16['p99_ms']:.1f} | "
            f"{c16['posts_per_s']:.1f} | {c16['errors']} |",
            f"| `/v1/screen/batch` ({b['batch_size']} a call) | | | | {b['posts_per_s']:.1f} | {b['errors']} |",
            f"| naive stack (PyTorch fp32 + vanilla Presidio, in-process) | {n['p50_ms']:.1f} | {n['p90_ms']:.1f} | "
            f"{n['p99_ms']:.1f} | {n['posts_per_s']:.1f} | |",
            "",
            f"- Throughput vs the naive stack: **{r['throughput_ratio_c16_vs_naive']:.1f}x** at concurrency 16, "
            f"**{r['throughput_ratio_batch_vs_naive']:.1f}x** through `/v1/screen/batch`",
            _gpu_line(r.get("gpu", {})),
            _memory_line(r),
            *_length_line(r.get("by_length", {}), c1),
            *_profile_lines(c1, c16),
            *_target_lines(r.get("targets", [])),
        ]
    )


def _processes(workers: int) -> str:
    return "one service process" if workers == 1 else f"{workers} serving processes on one port"


def _memory_line(r: dict[str, Any]) -> str:
    m = r.get("memory") or {"processes": 1, "peak_rss_mb": r["peak_rss_mb"]}
    pss = f", {m['pss_mb']:.0f} MB proportional (shared pages split)" if m.get("pss_mb") else ""
    return (
        f"- Memory of the serving processes ({m['processes']}): peak RSS summed {m['peak_rss_mb']:.0f} MB{pss}; "
        f"start to `/readyz`: {r['start_to_ready_s']:.1f} s"
    )


def _profile_lines(c1: dict[str, Any], c16: dict[str, Any]) -> list[str]:
    """Where the time goes: mean milliseconds per stage from the service's own ``Server-Timing`` headers."""
    if not c1.get("stages_ms"):
        return []
    return [
        f"- Where the time goes (mean ms per stage, Server-Timing), concurrency {c['concurrency']}: "
        + ", ".join(f"{k} {v:.1f}" for k, v in c["stages_ms"].items())
        + f"; end to end p50 {c['p50_ms']:.1f}"
        for c in (c1, c16)
        if c.get("stages_ms")
    ]


def _target_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 22's targets, each as measured, bound and status (a miss says by what factor)."""
    if not rows:
        return []
    out = ["", "| target | measured | bound | status |", "|---|---|---|---|"]
    for t in rows:
        unit = t["unit"]
        status = "met" if t["met"] else f"**missed** ({t['miss_x']:.2f}x off)"
        out.append(
            f"| {t['target']} | {t['value']:.2f} {unit} | {t['op']} {t['bound']:g} {unit} | {status} |"
        )
    return out


def _length_line(by_length: dict[str, Any], c1: dict[str, Any]) -> list[str]:
    if not by_length:
        return []
    cells = ", ".join(
        f"{w} words: p50 {v['p50_ms']:.1f} ms ({v['p50_ms'] / c1['p50_ms']:.1f}x a corpus post)"
        for w, v in by_length.items()
    )
    return [f"- Cost by length (every part is read; concurrency 1): {cells}"]


def _gpu_line(gpu: dict[str, Any]) -> str:
    if not gpu.get("available"):
        return "- GPU: none on this machine, so no GPU figure (CPU is the serving default)"
    return (
        f"- GPU ({gpu['device']}): the classifier alone runs {gpu['posts_per_s']:.0f} posts/s in batches of "
        f"{gpu['batch_size']} (PyTorch fp32)"
    )


def rewrite_readme(md: str, readme: Path = README, *, markers: tuple[str, str] = (BEGIN, END)) -> None:
    """Replace the text between a pair of README markers (the bench's by default; the themes report passes its
    own); a README without both markers is left alone."""
    begin, end = markers
    if not readme.exists():
        return
    text = readme.read_text()
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        readme.write_text(f"{head}{begin}\n{md}\n{end}{tail}")
