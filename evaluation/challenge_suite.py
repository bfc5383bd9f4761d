"""The care challenge suite (``evaluation/challenge/``): judgement on posts written apart from the corpus.

Each case names a functionality (``functionalities.yaml``) whose ``expected`` decisions it must get. Cases are run
through a ``ScreeningPipeline`` built exactly as the service builds it (``service.runtime.ModelHolder``: the
served ONNX classifier, the PII engine, the policy), so a figure here is the figure ``/v1/screen`` would give.
The suite is frozen (``suite.sha256``) and never used for training, thresholds or early stopping.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from models.pipeline import ScreeningPipeline, ScreenRequest
from models.policy import PUBLISHABLE

CHALLENGE_DIR = Path(__file__).resolve().parent / "challenge"
CASES_DIR = CHALLENGE_DIR / "cases"
FUNCTIONALITIES_FILE = CHALLENGE_DIR / "functionalities.yaml"
HASH_FILE = CHALLENGE_DIR / "suite.sha256"
#: The retrain gate refuses a challenger that loses more than this on any urgent functionality.
URGENT_TOLERANCE = 0.02
PUBLISHED = PUBLISHABLE


@dataclass(frozen=True)
class Case:
    id: str
    functionality: str
    kind: str
    text: str


@dataclass(frozen=True)
class Functionality:
    name: str
    group: str
    expected: frozenset[str]
    definition: str
    kind: str = "post"


def load_spec(path: Path = FUNCTIONALITIES_FILE) -> tuple[dict[str, Any], dict[str, Functionality]]:
    """The groups (targets, which are urgent) and the functionalities, by name."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    funcs = {
        f["name"]: Functionality(
            name=f["name"],
            group=f["group"],
            expected=frozenset(f["expected"]),
            definition=" ".join(str(f["definition"]).split()),
            kind=f.get("kind", "post"),
        )
        for f in data["functionalities"]
    }
    return data["groups"], funcs


def load_cases(cases_dir: Path = CASES_DIR) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(cases_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                cases.append(Case(row["id"], row["functionality"], row.get("kind", "post"), row["text"]))
    return cases


def suite_hash(cases: Sequence[Case] | None = None, spec: Path = FUNCTIONALITIES_FILE) -> str:
    """Hash of every case and the expected decisions: a test fails if anyone edits the frozen suite."""
    cases = load_cases() if cases is None else cases
    _, funcs = load_spec(spec)
    rows = sorted(
        (c.id, c.functionality, c.kind, c.text, sorted(funcs[c.functionality].expected)) for c in cases
    )
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def run_suite(
    pipeline: ScreeningPipeline, cases: Sequence[Case] | None = None, *, batch_size: int = 32
) -> list[dict[str, Any]]:
    """Every case through the pipeline (in micro-batches, as the service screens); one row per case."""
    cases = load_cases() if cases is None else list(cases)
    rows: list[dict[str, Any]] = []
    for i in range(0, len(cases), batch_size):
        chunk = cases[i : i + batch_size]
        results = pipeline.screen_many([ScreenRequest(text=c.text, kind=c.kind) for c in chunk])
        for c, r in zip(chunk, results, strict=True):
            rows.append(
                {
                    "id": c.id,
                    "functionality": c.functionality,
                    "decision": r.decision,
                    "flags": list(r.flags),
                    "scores": r.scores,
                    "redacted_text": r.redacted_text,
                }
            )
    return rows


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pass rate per functionality and per group, with each target's status."""
    groups, funcs = load_spec()
    by_func: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_func[r["functionality"]].append(r)
    per: dict[str, dict[str, Any]] = {}
    for name, f in funcs.items():
        items = by_func.get(name, [])
        passed = sum(1 for r in items if r["decision"] in f.expected)
        target = float(groups[f.group]["target"])
        rate = passed / len(items) if items else float("nan")
        per[name] = {
            "group": f.group,
            "n": len(items),
            "passed": passed,
            "rate": rate,
            "target": target,
            "met": bool(items) and rate >= target,
            "urgent": bool(groups[f.group].get("urgent")),
            "decisions": dict(Counter(r["decision"] for r in items)),
        }
    per_group: dict[str, dict[str, Any]] = {}
    for g, spec in groups.items():
        members = [v for v in per.values() if v["group"] == g and v["n"]]
        n = sum(v["n"] for v in members)
        passed = sum(v["passed"] for v in members)
        per_group[g] = {
            "n": n,
            "passed": passed,
            "rate": passed / n if n else float("nan"),
            "target": float(spec["target"]),
            "functionalities_met": sum(v["met"] for v in members),
            "functionalities": len(members),
        }
    total = sum(v["n"] for v in per.values())
    return {
        "cases": total,
        "passed": sum(v["passed"] for v in per.values()),
        "functionalities": per,
        "groups": per_group,
    }


def urgent_regressions(
    champion: dict[str, Any], challenger: dict[str, Any], tolerance: float = URGENT_TOLERANCE
) -> list[str]:
    """Urgent functionalities where the challenger's pass rate is more than ``tolerance`` below the champion's."""
    out: list[str] = []
    for name, c in champion["functionalities"].items():
        ch = challenger["functionalities"].get(name)
        if not c["urgent"] or ch is None or not c["n"]:
            continue
        if ch["rate"] < c["rate"] - tolerance:
            out.append(f"{name}: {ch['rate']:.3f} < {c['rate']:.3f} - {tolerance}")
    return out


def format_markdown(summary: dict[str, Any], title: str = "Care challenge suite") -> str:
    lines = [
        f"## {title}",
        "",
        f"{summary['passed']} of {summary['cases']} cases got an expected decision.",
        "",
        "| group | cases | passed | target | functionalities met |",
        "|---|---|---|---|---|",
    ]
    for g, v in summary["groups"].items():
        lines.append(
            f"| {g} | {v['n']} | {v['rate']:.3f} | {v['target']:.2f} | "
            f"{v['functionalities_met']} of {v['functionalities']} |"
        )
    lines += [
        "",
        "| functionality | group | n | passed | target | status | decisions |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, v in summary["functionalities"].items():
        status = "met" if v["met"] else "**missed**"
        decisions = ", ".join(f"{k} {n}" for k, n in sorted(v["decisions"].items()))
        lines.append(
            f"| {name} | {v['group']} | {v['n']} | {v['rate']:.3f} | {v['target']:.2f} | {status} | {decisions} |"
        )
    return "\n".join(lines) + "\n"


def pipeline_for_bundle(bundle: Path, version: str, analyzer: Any | None = None) -> ScreeningPipeline:
    """The pipeline the service would build around this bundle (served ONNX fp32 path, PII engine, policy)."""
    from models.pii import Redactor
    from models.policy import default_policy
    from service.runtime import load_classifier

    classifier = load_classifier(bundle, version, use_onnx=True)
    return ScreeningPipeline(classifier=classifier, analyzer=analyzer or Redactor(), policy=default_policy())


def served_pipeline(settings: Any | None = None) -> ScreeningPipeline:
    """The champion's pipeline, loaded exactly as ``carescreen serve`` loads it (``ModelHolder``)."""
    from carescreen.config import get_settings
    from service.runtime import ModelHolder

    holder = ModelHolder(settings or get_settings())
    holder.load()
    if holder.pipeline is None:
        raise SystemExit(f"the service could not load its pipeline: {holder.readiness.errors}")
    return holder.pipeline


def run_and_report(
    pipeline: ScreeningPipeline, output_dir: Path, *, name: str = "challenge"
) -> dict[str, Any]:
    """Run the suite, write ``<name>.json`` (per case and per functionality) and ``<name>.md``."""
    rows = run_suite(pipeline)
    summary = summarise(rows)
    summary["model_version"] = pipeline.classifier.version
    summary["policy_version"] = pipeline.policy.version
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{name}.json").write_text(
        json.dumps({"summary": summary, "cases": rows}, indent=1, ensure_ascii=False, default=float)
    )
    md = format_markdown(summary, f"Care challenge suite: {summary['model_version']}")
    (output_dir / f"{name}.md").write_text(md)
    summary["markdown"] = md
    return summary


def challenge_gate(champion_dir: Path, challenger_dir: Path) -> list[str]:
    """The retrain gate's functionality rule: refuse a challenger that loses more than ``URGENT_TOLERANCE`` on
    any urgent (safeguarding or self-harm) functionality of the suite, both run through the served pipeline."""
    from models.pii import Redactor

    analyzer = Redactor()
    champion = summarise(run_suite(pipeline_for_bundle(champion_dir, "champion", analyzer)))
    challenger = summarise(run_suite(pipeline_for_bundle(challenger_dir, "challenger", analyzer)))
    return [f"challenge suite: {r}" for r in urgent_regressions(champion, challenger)]
