"""The serving process never imports PyTorch, Transformers or the training stack (issue 22 §1).

A fresh interpreter runs ``carescreen serve`` (the CLI itself: bootstrap check, logging, uvicorn) over a real
(tiny) champion with its ONNX export, waits for ``/readyz``, screens a post, and reports its ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from carescreen.config import PROJECT_ROOT, Settings
from evaluation.reliability.harness import create_key, free_port, server_env

pytestmark = pytest.mark.slow

#: Run in the subprocess: serve from a thread of this interpreter, then look at what it imported.
SCRIPT = textwrap.dedent(
    """
    import json, os, sys, threading, time

    import httpx

    from carescreen import cli

    port, key = int(sys.argv[1]), sys.argv[2]
    args = ["serve", "--port", str(port), "--log-level", "warning"]
    threading.Thread(target=cli.main, args=(args,), daemon=True).start()
    deadline = time.monotonic() + 240
    while True:
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            if ready.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("not ready in 240 s")
        time.sleep(0.2)
    screened = httpx.post(
        f"http://127.0.0.1:{port}/v1/screen",
        json={"text": "Doris in room 4 had a lovely day at the garden centre", "post_id": "imports-1"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    print(json.dumps({
        "ready": ready.json(),
        "screen_status": screened.status_code,
        "modules": sorted(sys.modules),
        "rss_kib": int(status["VmRSS"].split()[0]),
    }))
    sys.stdout.flush()
    os._exit(0)
    """
)


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def test_serving_process_imports_no_torch_or_transformers(tiny_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = tiny_model[0]
    database_url = f"sqlite:///{tmp_path / 'serve.db'}"
    key = create_key(database_url, "org-a", "poster")
    env = server_env(settings, database_url)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(free_port()), key],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ready"]["ready"] and report["ready"]["model_version"], report["ready"]
    assert report["screen_status"] == 200
    top = {_top(m) for m in report["modules"]}
    assert "onnxruntime" in top and "tokenizers" in top  # the ONNX path served
    heavy = sorted(top & {"torch", "transformers", "training", "evaluation", "safetensors", "accelerate"})
    assert heavy == [], f"the serving process imported {heavy}"
    print(f"serving process ready: {report['rss_kib'] / 1024:.0f} MiB RSS, {len(report['modules'])} modules")
