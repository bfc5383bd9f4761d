"""The one command-line entry point, ``carescreen``. Thin: each sub-command calls into the owning package."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import carescreen  # noqa: F401  (sets offline environment variables before anything else is imported)
from carescreen.config import get_settings
from storage.keys import ROLES


def _db():  # type: ignore[no-untyped-def]
    from storage.db import Database

    return Database(get_settings().resolved_database_url())


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app

    settings = get_settings()
    if settings.cookie_secure is None:
        # Outside local development the console is reached over HTTPS (behind a proxy): Secure cookies.
        settings.cookie_secure = args.host not in ("127.0.0.1", "localhost", "::1")
    if not args.no_bootstrap:
        from storage import model_store as registry

        if registry.get_alias(settings.model_alias, settings) is None:
            print(
                "No trained model yet: training the default model first (one-off, a few minutes).", flush=True
            )
            rc = cmd_train(argparse.Namespace(quick=False, epochs=None, max_steps=None, no_external=False))
            if rc:
                return rc
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        workers=1,
        access_log=False,
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from training.run import train_and_register
    from training.trainer import TrainingArguments

    targs = TrainingArguments()
    if args.epochs:
        targs.epochs = args.epochs
    if args.max_steps:
        targs.max_steps = args.max_steps
    if args.no_external:
        targs.external_corpora = ()
    if args.quick:
        targs.epochs, targs.external_per_corpus = 1.0, 100
    outcome = train_and_register(targs)
    test = outcome.test
    print(
        f"trained in {outcome.seconds:.0f}s; registered version {outcome.version}"
        f"{' (champion)' if outcome.promoted else ''}"
    )
    print(f"frozen test: macro-F1 {test['macro_f1']:.3f}, clean posts flagged {test['clean_flag_rate']:.1%}")
    for c, m in test["categories"].items():
        print(f"  {c:<16} P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}  (n+={m['support']})")
    if outcome.olid:
        print(f"OLID test macro-F1 (toxicity head): {outcome.olid['macro_f1']:.3f}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from storage import keys

    db = _db()
    if args.action == "list":
        with db.session() as s:
            for row in keys.list_api_keys(s, org=args.org):
                state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
                print(f"{row.id}\t{row.org}\t{row.role}\tcs_{row.prefix}_…\t{state}\t{row.label or ''}")
        return 0
    if args.action == "revoke":
        with db.session() as s:
            done = keys.revoke_api_key(s, org=args.org, key_id=args.key_id)
        print(
            f"key {args.key_id} revoked: every replica refuses it from now on"
            if done
            else "no such key in that org"
        )
        return 0 if done else 1
    with db.session() as s:
        row, plaintext = keys.create_api_key(s, org=args.org, role=args.role, label=args.label)
        key_id = row.id
    print(f"created {args.role} key {key_id} for org {args.org!r}; it is shown once:", file=sys.stderr)
    print(plaintext)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from training import care_corpus

    if args.action == "build":
        posts = care_corpus.build()
        care_corpus.TEST_HASH_FILE.write_text(care_corpus.frozen_test_hash() + "\n") if args.freeze else None
    else:
        posts = care_corpus.load_posts()
    print(care_corpus.format_stats(care_corpus.stats(posts)))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from evaluation.evaluate import run_evaluation

    report = run_evaluation(Path(args.output))
    print(report["markdown"])
    return 0


def _pipeline_for(args: argparse.Namespace, for_bundle: Any, served: Any) -> Any:
    """The pipeline of ``--bundle DIR``, of registered ``--version N``, or of the champion as served."""
    if args.bundle:
        return for_bundle(Path(args.bundle), Path(args.bundle).name)
    if args.version:
        from storage import model_store as registry

        settings = get_settings()
        ref = registry.ModelRef(settings.registered_model_name, str(args.version), None)
        return for_bundle(registry.download_bundle(ref, settings), ref.label)
    return served()


def cmd_challenge(args: argparse.Namespace) -> int:
    from evaluation.challenge_suite import pipeline_for_bundle, run_and_report, served_pipeline

    pipeline = _pipeline_for(args, pipeline_for_bundle, served_pipeline)
    pipeline.read_parts = not args.whole_post_only
    summary = run_and_report(pipeline, Path(args.output), name=args.name)
    print(summary["markdown"])
    return 0


def cmd_shortcuts(args: argparse.Namespace) -> int:
    from evaluation import shortcuts
    from evaluation.challenge_suite import pipeline_for_bundle, served_pipeline

    pipeline = _pipeline_for(args, pipeline_for_bundle, served_pipeline)
    report = shortcuts.run_and_report(pipeline, Path(args.output))
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def cmd_evaluate_pii(args: argparse.Namespace) -> int:
    from evaluation.pii_eval import render_markdown, run

    report = run(Path(args.output))
    print(render_markdown(report))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from storage import audit

    with _db().session() as s:
        if args.action == "verify":
            r = audit.verify(s)
            print(json.dumps({"ok": r.ok, "entries": r.entries, "problem": r.problem, "seq": r.seq}))
            return 0 if r.ok else 1
        sys.stdout.write(audit.export_csv(s, org=args.org))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from storage import retention
    from storage.tables import utcnow

    days = args.days if args.days is not None else get_settings().retention_days
    with _db().session() as s:
        purged = retention.purge_before(s, cutoff=utcnow() - timedelta(days=days), actor="cli:purge")
    print(json.dumps({"retention_days": days, "purged": purged}))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from storage import model_store as registry

    ref = registry.rollback()
    print(f"champion is now {ref.label}")
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    from evaluation.challenge_suite import challenge_gate
    from training.retrain import RetrainOptions, retrain

    report = retrain(
        RetrainOptions(
            min_new_decisions=args.min_new_decisions, force=args.force, epochs=args.epochs, org=args.org
        ),
        extra_gates=[] if args.no_challenge_gate else [challenge_gate],
    )
    print(json.dumps(report, indent=2, default=str))
    # Cron mails on a non-zero exit: a refused challenger (recall drop, macro-F1 drop, suspected poisoning)
    # is exactly what an ML engineer should look at. Promoted or nothing to do: 0.
    return 3 if report.get("refused_because") else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from evaluation.bench import run_bench

    run_bench(Path(args.output), requests=args.requests, update_readme=not args.no_readme)
    return 0


def cmd_reliability(args: argparse.Namespace) -> int:
    from evaluation.reliability.report import run

    run(Path(args.output))
    print(Path(args.output) / "reliability.md")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="carescreen", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the API and console (trains the default model on first run)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--log-level", default="info")
    s.add_argument("--no-bootstrap", action="store_true", help="do not train a model when none is registered")
    s.set_defaults(func=cmd_serve)

    t = sub.add_parser("train", help="fine-tune, evaluate and register a classifier in MLflow")
    t.add_argument("--epochs", type=float)
    t.add_argument("--max-steps", type=int)
    t.add_argument("--quick", action="store_true", help="one epoch, small external sample (smoke runs)")
    t.add_argument("--no-external", action="store_true", help="train on the project's own data only")
    t.set_defaults(func=cmd_train)

    k = sub.add_parser("keys", help="API keys")
    ksub = k.add_subparsers(dest="action", required=True)
    kc = ksub.add_parser("create", help="create a key; the key is the last line of stdout")
    kc.add_argument("--org", required=True)
    kc.add_argument("--role", required=True, choices=list(ROLES))
    kc.add_argument("--label")
    kc.set_defaults(func=cmd_keys)
    kl = ksub.add_parser(
        "list", help="list keys (id, org, role, public prefix, state, label); never the secrets"
    )
    kl.add_argument("--org")
    kl.set_defaults(func=cmd_keys)
    kr = ksub.add_parser("revoke", help="revoke a key: refused at once by every replica")
    kr.add_argument("--org", required=True)
    kr.add_argument("key_id", type=int)
    kr.set_defaults(func=cmd_keys)

    d = sub.add_parser("data", help="the care corpus")
    d.add_argument("action", choices=["stats", "build"])
    d.add_argument("--freeze", action="store_true", help="with build: re-pin the test split hash")
    d.set_defaults(func=cmd_data)

    e = sub.add_parser("evaluate", help="evaluate the champion (and the TF-IDF baseline) on frozen test sets")
    e.add_argument("--output", default="evaluation/reports")
    e.set_defaults(func=cmd_evaluate)

    ch = sub.add_parser(
        "challenge", help="the care challenge suite through the served pipeline, per functionality"
    )
    ch.add_argument("--output", default="evaluation/reports")
    ch.add_argument("--name", default="challenge", help="report file stem")
    ch.add_argument("--bundle", help="a model bundle directory instead of the champion")
    ch.add_argument("--version", help="a registered model version instead of the champion")
    ch.add_argument("--whole-post-only", action="store_true", help="ablation: score only the whole text")
    ch.set_defaults(func=cmd_challenge)

    sc = sub.add_parser(
        "shortcuts", help="counterfactual pairs (identifiers, identity terms, names) through the pipeline"
    )
    sc.add_argument("--output", default="evaluation/reports")
    sc.add_argument("--bundle", help="a model bundle directory instead of the champion")
    sc.add_argument("--version", help="a registered model version instead of the champion")
    sc.set_defaults(func=cmd_shortcuts)

    ep = sub.add_parser("evaluate-pii", help="span-level PII evaluation, ours beside vanilla Presidio")
    ep.add_argument("--output", default="evaluation/reports")
    ep.set_defaults(func=cmd_evaluate_pii)

    a = sub.add_parser("audit", help="the tamper-evident audit trail")
    a.add_argument("action", choices=["verify", "export"])
    a.add_argument("--org")
    a.set_defaults(func=cmd_audit)

    pu = sub.add_parser("purge", help="retention: drop encrypted originals/authors older than N days")
    pu.add_argument("--days", type=int)
    pu.set_defaults(func=cmd_purge)

    r = sub.add_parser(
        "retrain",
        help="train a challenger on moderator decisions; promote only if it wins (exit 3 when refused)",
    )
    r.add_argument("--min-new-decisions", type=int, default=50)
    r.add_argument("--force", action="store_true")
    r.add_argument("--epochs", type=float)
    r.add_argument("--org")
    r.add_argument(
        "--no-challenge-gate",
        action="store_true",
        help="skip the challenge-suite rule (a refusal for any urgent functionality losing > 0.02)",
    )
    r.set_defaults(func=cmd_retrain)

    rb = sub.add_parser("rollback", help="restore the previous champion")
    rb.set_defaults(func=cmd_rollback)

    b = sub.add_parser("bench", help="latency/throughput of the real service vs the naive stack")
    b.add_argument("--output", default="evaluation/reports")
    b.add_argument("--requests", type=int, default=300)
    b.add_argument("--no-readme", action="store_true")
    b.set_defaults(func=cmd_bench)

    rl = sub.add_parser(
        "reliability", help="load, SIGKILL, faults, bad input, evasion: writes reliability.md"
    )
    rl.add_argument("--output", default="evaluation/reports")
    rl.set_defaults(func=cmd_reliability)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
