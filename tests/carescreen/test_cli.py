"""The CLI stays thin: ``retrain``'s exit status tells cron whether someone must look."""

from __future__ import annotations

from typing import Any

import pytest

from carescreen import cli


@pytest.mark.parametrize(
    ("report", "code"),
    [
        ({"promoted": True, "refused_because": []}, 0),
        ({"promoted": False, "skipped": "only 3 new decisions"}, 0),
        ({"promoted": False, "refused_because": ["self_harm recall dropped from 0.93 to 0.91"]}, 3),
    ],
)
def test_retrain_exit_status(monkeypatch, capsys, report: dict[str, Any], code: int) -> None:  # type: ignore[no-untyped-def]
    import training.retrain

    seen: list[Any] = []
    monkeypatch.setattr(
        training.retrain, "retrain", lambda opts, extra_gates=(): seen.append((opts, extra_gates)) or report
    )
    assert cli.main(["retrain", "--min-new-decisions", "7"]) == code
    opts, gates = seen[0]
    assert opts.min_new_decisions == 7
    # The challenge suite's urgent-functionality rule is part of the gate the CLI applies (issue 16).
    from evaluation.challenge_suite import challenge_gate

    assert list(gates) == [challenge_gate]
    assert '"promoted"' in capsys.readouterr().out


@pytest.mark.parametrize(("host", "secure"), [("127.0.0.1", False), ("0.0.0.0", True)])
def test_console_cookie_is_secure_outside_local_development(monkeypatch, host: str, secure: bool) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    import service.app
    from carescreen.config import Settings

    settings = Settings()
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    monkeypatch.setattr(service.app, "create_app", lambda s: s)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    assert cli.main(["serve", "--host", host, "--no-bootstrap"]) == 0
    assert settings.cookie_secure is secure
