"""What each ``carescreen`` command does (thin: each calls the package that owns the job). The parser is
``carescreen.cli``."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import carescreen  # noqa: F401  (sets offline environment variables before anything else is imported)
from carescreen.config import get_settings


def _db():  # type: ignore[no-untyped-def]
    from storage.db import Database

    settings = get_settings()
    return Database(settings.resolved_database_url(), secrets=settings.secrets())


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.logs import configure_logging

    settings = get_settings()
    if args.workers is not None:
        if args.workers < 1:
            print("--workers must be at least 1", file=sys.stderr)
            return 2
        settings.workers = args.workers
    # JSON (or text) lines with request ids; our access line replaces uvicorn's (log_config=None below).
    configure_logging(
        settings.log_format,
        level=logging.getLogger().level,
        access=args.log_level.lower() in ("trace", "debug", "info"),
    )
    if settings.cookie_secure is None:
        # Outside local development the console is reached over HTTPS (behind a proxy): Secure cookies.
        settings.cookie_secure = args.host not in ("127.0.0.1", "localhost", "::1")
    if not args.no_bootstrap and not _champion_exists(settings):
        print("No trained model yet: training the default model first (one-off, a few minutes).", flush=True)
        # In its own process: the serving process never imports PyTorch (DEVELOPMENT.md, serving processes).
        rc = subprocess.call([sys.executable, "-m", "carescreen.cli", "train"])
        if rc:
            return rc
    from service.app import create_app

    options: dict[str, Any] = {"log_level": args.log_level, "log_config": None, "access_log": False}
    if settings.workers > 1:
        from service import workers

        app = create_app(settings)
        return workers.serve(
            app, host=args.host, port=args.port, workers=settings.workers, uvicorn_options=options
        )
    uvicorn.run(create_app(settings), host=args.host, port=args.port, workers=1, **options)
    return 0


def _champion_exists(settings: Any) -> bool:
    """Whether a model holds the served alias. With several workers the look-up runs in a child process, so
    the supervisor forks them without an open MLflow store (a SQLite connection must not cross a fork)."""
    from storage import model_store as registry

    if settings.workers == 1:
        return registry.get_alias(settings.model_alias, settings) is not None
    from service.workers import in_child

    code = in_child(lambda: 0 if registry.get_alias(settings.model_alias, settings) else 10)
    if code not in (0, 10):  # an unreachable registry is not "no model yet": never train over it
        raise RuntimeError("could not read the model registry (its error is logged above)")
    return code == 0


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


def cmd_evaluate_themes(args: argparse.Namespace) -> int:
    from evaluation.themes_eval import holder_pipeline, run_and_report

    pipeline = _pipeline_for(args, holder_pipeline, holder_pipeline)
    report = run_and_report(pipeline, Path(args.output), update_readme=not args.no_readme)
    print(report["markdown"])
    return 0


def cmd_evaluate_pii(args: argparse.Namespace) -> int:
    from evaluation.pii_eval import render_markdown, run

    report = run(Path(args.output))
    print(render_markdown(report))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from storage import audit

    db = _db()
    if args.action == "verify":
        checkpoints = (
            json.loads(Path(args.checkpoints).read_text())["checkpoints"] if args.checkpoints else []
        )
        with db.read_session() as s:  # a snapshot: the walk never holds the write lock
            r = audit.verify(s, org=args.org, checkpoints=checkpoints)
        print(
            json.dumps(
                {
                    "ok": r.ok,
                    "entries": r.entries,
                    "keyed": r.keyed,
                    "checkpoints": r.checkpoints,
                    "problem": r.problem,
                    "seq": r.seq,
                }
            )
        )
        return 0 if r.ok else 1
    if args.action == "checkpoint":
        with db.session() as s:
            print(f"{audit.checkpoint_all(s)} checkpoint(s) signed")
        return 0
    with db.read_session() as s:
        if args.action == "checkpoints":
            sys.stdout.write(json.dumps(audit.export_checkpoints(s, org=args.org), indent=1) + "\n")
        else:
            sys.stdout.write(audit.export_csv(s, org=args.org))
    return 0


def cmd_secrets(args: argparse.Namespace) -> int:
    """Re-encrypt everything stored under the current secret (the old one listed as previous)."""
    from storage.crypto import Vault
    from storage.secrets_rotation import reencrypt_all

    settings = get_settings()
    with _db().session() as s:
        counts = reencrypt_all(s, vault=Vault(settings.secrets()), actor="cli:secrets-rotate")
    print(json.dumps(counts))
    print(
        "re-encrypted under the current secret; keep the previous secret in CARESCREEN_PREVIOUS_SECRET_KEYS while "
        "audit entries it keyed must be verified",
        file=sys.stderr,
    )
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


def cmd_demo(args: argparse.Namespace) -> int:
    from evaluation.demo_seed import DemoError, run_demo

    try:
        summary = run_demo(
            get_settings(), org=args.org, months=args.months, per_week=args.per_week, seed=args.seed
        )
    except DemoError as exc:
        print(f"carescreen demo seed: {exc}", file=sys.stderr)
        return 2
    print(summary.text())
    return 0 if summary.audit_ok else 1
