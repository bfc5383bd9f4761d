"""Reliability evidence (issue 10): overload, SIGKILL, process-level faults, bad input and evasion, measured.

Each check is a function that returns plain figures, so the tests in ``tests/reliability`` (which assert on
them) and ``carescreen reliability`` (which writes ``evaluation/reports/reliability.md``) measure the same
thing. Everything is loopback-only and bounded in request count and wall time; every server this package
starts is a real ``carescreen serve`` subprocess that is stopped (or SIGKILLed, on purpose) before returning.

Modules: ``harness`` (starting servers), ``load``, ``kill``, ``faults``, ``evasion`` (the checks) and
``report`` (all of them, as markdown). The names below are re-exported so ``evaluation.reliability.X`` keeps
working for callers written against the single module this package replaced.
"""

from evaluation.reliability.evasion import VARIANTS, ZWSP, evasion_agreement, positive_test_texts
from evaluation.reliability.faults import BAD_INPUTS, bad_input_table, disk_full_in_process, model_fault
from evaluation.reliability.harness import (
    ServiceProcess,
    care_texts,
    create_key,
    free_port,
    running,
    server_env,
)
from evaluation.reliability.kill import audit_verify, kill_during_decisions, kill_during_screening
from evaluation.reliability.load import Phase, load_test, open_loop
from evaluation.reliability.report import collect, in_process_checks, render_markdown, run

__all__ = [
    "BAD_INPUTS",
    "VARIANTS",
    "ZWSP",
    "Phase",
    "ServiceProcess",
    "audit_verify",
    "bad_input_table",
    "care_texts",
    "collect",
    "create_key",
    "disk_full_in_process",
    "evasion_agreement",
    "free_port",
    "in_process_checks",
    "kill_during_decisions",
    "kill_during_screening",
    "load_test",
    "model_fault",
    "open_loop",
    "positive_test_texts",
    "render_markdown",
    "run",
    "running",
    "server_env",
]
