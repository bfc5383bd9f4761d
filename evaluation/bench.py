"""``carescreen bench``: the real service over HTTP vs the naive stack, on this machine, in one run.

The service runs as its own process (``carescreen serve``, started by the shared harness in
``evaluation.reliability.harness``); a load generator in another process drives ``/v1/screen`` with real
care-corpus posts at concurrency 1 and 16, then ``/v1/screen/batch``. The naive stack (PyTorch fp32 classifier +
vanilla Presidio with default recognizers, in-process, one post at a time; ``evaluation.bench_inprocess``) is
timed on the same posts. Figures go to ``evaluation/reports/bench.{json,md}`` and the README's performance table
(``evaluation.bench_report``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from carescreen.config import PROJECT_ROOT, Settings, get_settings
from evaluation.bench_inprocess import gpu_report, naive_stack
from evaluation.bench_report import render_markdown, rewrite_readme
from evaluation.reliability.harness import care_texts, create_key, running, server_env
from models.metrics import percentile
from training.care_corpus import load_posts

LENGTHS = (20, 100, 500)
_SERVER_TIMING = re.compile(r"([a-z_]+);dur=([0-9.]+)")


def posts_of_length(words: int, n: int, seed: int = 5) -> list[str]:
    """``n`` posts of about ``words`` words each, joined from real care-corpus posts (as staff write long ones)."""
    texts = [p.text for p in load_posts()]
    rng = random.Random(seed + words)
    out: list[str] = []
    for _ in range(n):
        parts: list[str] = []
        while sum(len(t.split()) for t in parts) < words:
            parts.append(rng.choice(texts))
        out.append(" ".join(" ".join(parts).split()[:words]))
    return out


def posts(n: int, seed: int = 7) -> list[str]:
    """Real posts from the care corpus (so lengths follow the corpus), sampled with replacement."""
    return care_texts(n, seed)


async def _request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    key: str,
    path: str,
    body: bytes,
    stages: dict[str, list[float]] | None = None,
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a kept-alive connection; returns (status, body). With ``stages``, each stage's
    milliseconds from the ``Server-Timing`` header are appended to it: the profile of where the time went."""
    writer.write(
        b"POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (path.encode(), host.encode(), key.encode(), len(body), body)
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if stages is not None:
        timing = re.search(rb"(?i)\r\nserver-timing:\s*([^\r]*)", head)
        for name, dur in _SERVER_TIMING.findall(timing.group(1).decode() if timing else ""):
            stages.setdefault(name, []).append(float(dur))
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if m is None:
        raise RuntimeError("response without Content-Length")
    return status, await reader.readexactly(int(m.group(1)))


def drive(base: str, key: str, texts: list[str], concurrency: int) -> dict[str, Any]:
    """Run in a separate process (see ``run_bench``): latency per request and throughput.

    A lean load generator (asyncio, raw HTTP/1.1 keep-alive, like ``wrk``): on a 2-core machine the client
    shares the cores with the service, so a heavyweight client (httpx in threads, about 1 ms of CPU a request)
    would slow the service it measures.
    """
    return asyncio.run(_drive(base, key, texts, concurrency))


async def _drive(base: str, key: str, texts: list[str], concurrency: int) -> dict[str, Any]:
    host, _, port = base.removeprefix("http://").partition(":")
    conns = [await asyncio.open_connection(host, int(port)) for _ in range(concurrency)]
    for text in texts[:10]:  # warm-up
        await _request(*conns[0], host, key, "/v1/screen", _screen_body(text))
    latencies: list[float] = []
    stages: dict[str, list[float]] = {}
    errors = 0
    todo = list(reversed(texts))

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        while todo:
            body = _screen_body(todo.pop())
            t = time.perf_counter()
            status, _ = await _request(reader, writer, host, key, "/v1/screen", body, stages)
            latencies.append((time.perf_counter() - t) * 1000)
            if status != 200:
                errors += 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(r, w) for r, w in conns))
    finally:
        for _, w in conns:
            w.close()
    wall = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": len(texts),
        "errors": errors,
        "p50_ms": percentile(latencies, 0.5),
        "p90_ms": percentile(latencies, 0.9),
        "p99_ms": percentile(latencies, 0.99),
        "posts_per_s": len(texts) / wall,
        # Mean milliseconds per stage as the service reported them (Server-Timing): where the time goes.
        "stages_ms": {name: sum(v) / len(v) for name, v in sorted(stages.items())},
    }


def _screen_body(text: str) -> bytes:
    return json.dumps({"text": text, "post_id": str(uuid.uuid4())}).encode()


def drive_batch(base: str, key: str, texts: list[str], size: int = 128) -> dict[str, float]:
    """Throughput through ``/v1/screen/batch``, ``size`` posts a call (run in a separate process too)."""
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120.0) as client:
        started = time.perf_counter()
        errors = 0
        for i in range(0, len(texts), size):
            body = {"posts": [{"text": t, "post_id": str(uuid.uuid4())} for t in texts[i : i + size]]}
            if client.post("/v1/screen/batch", json=body).status_code != 200:
                errors += 1
        wall = time.perf_counter() - started
    return {"batch_size": size, "posts": len(texts), "errors": errors, "posts_per_s": len(texts) / wall}


def _in_subprocess(call: str, *args: str) -> dict[str, Any]:
    """``call`` (an expression over ``drive``/``drive_batch`` and ``sys.argv``) in a fresh Python process, so the
    load generator shares neither the server's GIL nor this process's; returns its JSON result."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json,sys; from evaluation.bench import drive, drive_batch; print(json.dumps({call}))",
            *args,
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _status_mb(pid: int, field: str) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    m = re.search(rf"{field}:\s+(\d+) kB", status)
    return int(m.group(1)) / 1024 if m else 0.0


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the serving processes of ``carescreen serve --workers N``)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in children.read_text().split())
            except OSError:  # the thread ended while we looked
                continue
    return pids


def serving_memory(pid: int) -> dict[str, Any]:
    """Resident memory of every serving process: the sum of peak RSS (an upper bound: pages shared by the
    workers after fork are counted once per process) and the sum of proportional set sizes (shared pages split
    between the processes that share them: what the processes really cost together), both in MB."""
    pids = process_tree(pid)
    pss = 0.0
    for p in pids:
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        m = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
        pss += int(m.group(1)) / 1024 if m else 0.0
    return {
        "processes": len(pids),
        "peak_rss_mb": sum(_status_mb(p, "VmHWM") for p in pids),
        "rss_mb": sum(_status_mb(p, "VmRSS") for p in pids),
        "pss_mb": pss,
    }


def run_bench(
    output_dir: Path,
    *,
    requests: int = 300,
    batch_posts: int = 512,
    update_readme: bool = True,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Measure the service (as a subprocess) and the naive stack; write ``bench.{json,md}`` into ``output_dir``
    and, with ``update_readme``, the README's table."""
    import httpx

    settings = settings or get_settings()
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/bench.db"
        key = create_key(db_url, "bench", "poster", isolate=False)
        # isolate=False: the bench measures the serving configuration (CARESCREEN_*) it is run with.
        env = server_env(settings, db_url, isolate=False, CARESCREEN_MAX_IN_FLIGHT="256")
        with running(env, None) as server:
            assert server.proc is not None
            base = server.base
            ready_s = time.perf_counter() - server.started_at
            served = httpx.get(f"{base}/readyz", timeout=5).json().get("model_version")
            texts = posts(requests)
            results: dict[str, Any] = {
                "start_to_ready_s": ready_s,
                "model_version": served,
                "serving": {
                    "onnx_variant": settings.onnx_variant,
                    "onnx_threads": settings.onnx_threads,
                    "batch_max_size": settings.batch_max_size,
                    "batch_workers": settings.batch_workers,
                    "workers": settings.workers,
                    "themes": settings.themes,
                },
            }
            drive_call = "drive(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]))"
            for conc in (1, 16):
                results[f"c{conc}"] = _in_subprocess(drive_call, base, key, json.dumps(texts), str(conc))
            results["batch"] = _in_subprocess(
                "drive_batch(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))",
                base,
                key,
                json.dumps(posts(batch_posts, seed=11)),
            )
            # What reading every part of a post costs as posts grow (issue 23): concurrency 1, one post a call.
            results["by_length"] = {
                str(words): _in_subprocess(drive_call, base, key, json.dumps(posts_of_length(words, 40)), "1")
                for words in LENGTHS
            }
            memory = serving_memory(server.proc.pid)
            results["memory"] = memory
            results["peak_rss_mb"] = memory["peak_rss_mb"]
    results["naive"] = naive_stack(posts(min(requests, 200), seed=3), settings)
    results["throughput_ratio_c16_vs_naive"] = results["c16"]["posts_per_s"] / results["naive"]["posts_per_s"]
    results["throughput_ratio_batch_vs_naive"] = (
        results["batch"]["posts_per_s"] / results["naive"]["posts_per_s"]
    )
    results["targets"] = targets(results)
    results["gpu"] = gpu_report(posts(2048, seed=13), settings)
    results["machine"] = {"cpus": os.cpu_count(), "cpu": cpu_summary(), "python": sys.version.split()[0]}
    md = render_markdown(results)
    (output_dir / "bench.json").write_text(json.dumps(results, indent=2))
    (output_dir / "bench.md").write_text(md + "\n")
    print(md)
    if update_readme:
        rewrite_readme(md)
    return results


#: Issue 22's targets: (name, measured value from the results, comparison, bound, unit). Ratios are to the naive
#: stack measured in the same run, so they hold on a machine whose speed moves 2x from one day to the next.
def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target as measured value, bound, status and (when missed) by how much."""
    n, c1, c16, b = r["naive"], r["c1"], r["c16"], r["batch"]
    rows = [
        ("concurrency 1 p50 vs naive p50", c1["p50_ms"] / n["p50_ms"], "<=", 0.5, "x"),
        ("concurrency 1 p99 vs naive p99", c1["p99_ms"] / n["p99_ms"], "<=", 1.0, "x"),
        ("concurrency 16 throughput vs naive", c16["posts_per_s"] / n["posts_per_s"], ">=", 3.0, "x"),
        ("concurrency 16 p99 vs concurrency 1 p50", c16["p99_ms"] / c1["p50_ms"], "<=", 8.0, "x"),
        ("/v1/screen/batch throughput vs naive", b["posts_per_s"] / n["posts_per_s"], ">=", 5.0, "x"),
        ("total RSS of serving processes", r["memory"]["peak_rss_mb"], "<=", 1536.0, "MB"),
        ("start to /readyz", r["start_to_ready_s"], "<=", 15.0, "s"),
    ]
    out = []
    for name, value, op, bound, unit in rows:
        met = value <= bound if op == "<=" else value >= bound
        # How far off: the factor by which the measured value must still improve to meet the bound.
        miss = None if met else (value / bound if op == "<=" else bound / value)
        out.append(
            {
                "target": name,
                "value": value,
                "op": op,
                "bound": bound,
                "unit": unit,
                "met": met,
                "miss_x": miss,
            }
        )
    return out


def cpu_summary(cpuinfo: str | None = None) -> str:
    """The CPU model and its widest vector/int8 instructions, e.g. "AMD EPYC, AVX-512 + VNNI".

    Every figure of the benchmark depends on them: the same code measured 2.5x faster on an AVX-512 machine
    than on an AVX2 one, so a table without them cannot be compared with another.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return "unknown CPU"
    model, flags = "unknown CPU", set[str]()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown CPU":
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    if "avx512f" in flags:
        simd = "AVX-512"
    elif "avx2" in flags:
        simd = "AVX2"
    else:
        simd = "no AVX2"
    vnni = " + VNNI" if flags & {"avx512_vnni", "avx_vnni"} else " (no VNNI)"
    return f"{model}, {simd}{vnni}" if flags else model
