"""The one command-line entry point: ``carescreen <command>``; each command lives in ``carescreen.commands``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import carescreen  # noqa: F401  (sets offline environment variables before anything else is imported)
from carescreen import commands
from storage.keys import ROLES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="carescreen", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the API and console (trains the default model on first run)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--log-level", default="info")
    s.add_argument("--no-bootstrap", action="store_true", help="do not train a model when none is registered")
    s.add_argument(
        "--workers",
        type=int,
        help="serving processes on the one port (default CARESCREEN_WORKERS, 1); more are forked from a "
        "supervisor that restarts any that dies",
    )
    s.set_defaults(func=commands.cmd_serve)

    t = sub.add_parser("train", help="fine-tune, evaluate and register a classifier in MLflow")
    t.add_argument("--epochs", type=float)
    t.add_argument("--max-steps", type=int)
    t.add_argument("--quick", action="store_true", help="one epoch, small external sample (smoke runs)")
    t.add_argument("--no-external", action="store_true", help="train on the project's own data only")
    t.set_defaults(func=commands.cmd_train)

    k = sub.add_parser("keys", help="API keys")
    ksub = k.add_subparsers(dest="action", required=True)
    kc = ksub.add_parser("create", help="create a key; the key is the last line of stdout")
    kc.add_argument("--org", required=True)
    kc.add_argument("--role", required=True, choices=list(ROLES))
    kc.add_argument("--label")
    kc.set_defaults(func=commands.cmd_keys)
    kl = ksub.add_parser(
        "list", help="list keys (id, org, role, public prefix, state, label); never the secrets"
    )
    kl.add_argument("--org")
    kl.set_defaults(func=commands.cmd_keys)
    kr = ksub.add_parser("revoke", help="revoke a key: refused at once by every replica")
    kr.add_argument("--org", required=True)
    kr.add_argument("key_id", type=int)
    kr.set_defaults(func=commands.cmd_keys)

    d = sub.add_parser("data", help="the care corpus")
    d.add_argument("action", choices=["stats", "build"])
    d.add_argument("--freeze", action="store_true", help="with build: re-pin the test split hash")
    d.set_defaults(func=commands.cmd_data)

    e = sub.add_parser("evaluate", help="evaluate the champion (and the TF-IDF baseline) on frozen test sets")
    e.add_argument("--output", default="evaluation/reports")
    e.set_defaults(func=commands.cmd_evaluate)

    ch = sub.add_parser(
        "challenge", help="the care challenge suite through the served pipeline, per functionality"
    )
    ch.add_argument("--output", default="evaluation/reports")
    ch.add_argument("--name", default="challenge", help="report file stem")
    ch.add_argument("--bundle", help="a model bundle directory instead of the champion")
    ch.add_argument("--version", help="a registered model version instead of the champion")
    ch.add_argument("--whole-post-only", action="store_true", help="ablation: score only the whole text")
    ch.set_defaults(func=commands.cmd_challenge)

    sc = sub.add_parser(
        "shortcuts", help="counterfactual pairs (identifiers, identity terms, names) through the pipeline"
    )
    sc.add_argument("--output", default="evaluation/reports")
    sc.add_argument("--bundle", help="a model bundle directory instead of the champion")
    sc.add_argument("--version", help="a registered model version instead of the champion")
    sc.set_defaults(func=commands.cmd_shortcuts)

    ep = sub.add_parser("evaluate-pii", help="span-level PII evaluation, ours beside vanilla Presidio")
    ep.add_argument("--output", default="evaluation/reports")
    ep.set_defaults(func=commands.cmd_evaluate_pii)

    et = sub.add_parser(
        "evaluate-themes", help="practice themes on the frozen split through the served pipeline (+ cost)"
    )
    et.add_argument("--output", default="evaluation/reports")
    et.add_argument("--bundle", help="a model bundle directory instead of the champion")
    et.add_argument("--version", help="a registered model version instead of the champion")
    et.add_argument("--no-readme", action="store_true", help="do not rewrite the README's themes table")
    et.set_defaults(func=commands.cmd_evaluate_themes)

    a = sub.add_parser("audit", help="the tamper-evident audit trail")
    a.add_argument(
        "action",
        choices=["verify", "export", "checkpoint", "checkpoints"],
        help="verify the chains; export entries as CSV; sign the heads now; export the signed heads as JSON",
    )
    a.add_argument("--org", help="one organisation's keyed chain (verify, export, checkpoints)")
    a.add_argument("--checkpoints", help="verify: a checkpoints JSON exported earlier and kept elsewhere")
    a.set_defaults(func=commands.cmd_audit)

    se = sub.add_parser("secrets", help="the service secret")
    se.add_argument(
        "action", choices=["rotate"], help="re-encrypt stored originals, authors and webhook secrets"
    )
    se.set_defaults(func=commands.cmd_secrets)

    pu = sub.add_parser("purge", help="retention: drop encrypted originals/authors older than N days")
    pu.add_argument("--days", type=int)
    pu.set_defaults(func=commands.cmd_purge)

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
    r.set_defaults(func=commands.cmd_retrain)

    rb = sub.add_parser("rollback", help="restore the previous champion")
    rb.set_defaults(func=commands.cmd_rollback)

    b = sub.add_parser("bench", help="latency/throughput of the real service vs the naive stack")
    b.add_argument("--output", default="evaluation/reports")
    b.add_argument("--requests", type=int, default=300)
    b.add_argument("--no-readme", action="store_true")
    b.set_defaults(func=commands.cmd_bench)

    rl = sub.add_parser(
        "reliability", help="load, SIGKILL, faults, bad input, evasion: writes reliability.md"
    )
    rl.add_argument("--output", default="evaluation/reports")
    rl.set_defaults(func=commands.cmd_reliability)

    dm = sub.add_parser("demo", help="a demo organisation: months of activity through the real pipeline")
    dm.add_argument("action", choices=["seed"])
    dm.add_argument("--org", default="demo", help="an organisation without activity (refused otherwise)")
    dm.add_argument("--months", type=int, default=6)
    dm.add_argument("--per-week", type=int, default=50, help="posts in a typical week (fewer early on)")
    dm.add_argument("--seed", type=int, default=7)
    dm.set_defaults(func=commands.cmd_demo)
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
