"""The CLI stays thin: ``retrain``'s exit status tells cron whether someone must look."""

from __future__ import annotations

from typing import Any

import pytest

from carescreen import cli, commands


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
    monkeypatch.setattr(commands, "get_settings", lambda: settings)
    monkeypatch.setattr(service.app, "create_app", lambda s: s)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    import service.logs

    # serve's logging set-up replaces the root handlers: not in a shared test process (tests/service/test_logs.py
    # checks it on its own).
    monkeypatch.setattr(service.logs, "configure_logging", lambda *a, **k: None)
    assert cli.main(["serve", "--host", host, "--no-bootstrap"]) == 0
    assert settings.cookie_secure is secure


def test_keys_create_list_revoke(monkeypatch, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``carescreen keys``: a created key is listed by id and prefix (never its secret) and revoked at once."""
    from carescreen.config import get_settings
    from storage import keys
    from storage.db import Database

    monkeypatch.setenv("CARESCREEN_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CARESCREEN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        assert (
            cli.main(["keys", "create", "--org", "home-1", "--role", "moderator", "--label", "nights"]) == 0
        )
        secret = capsys.readouterr().out.strip().splitlines()[-1]
        assert cli.main(["keys", "list", "--org", "home-1"]) == 0
        listed = capsys.readouterr().out
        assert "moderator" in listed and "active" in listed and "nights" in listed
        assert secret not in listed and secret.split("_", 2)[2] not in listed
        key_id = int(listed.split("\t", 1)[0])
        assert cli.main(["keys", "revoke", "--org", "other-home", str(key_id)]) == 1  # not theirs
        assert cli.main(["keys", "revoke", "--org", "home-1", str(key_id)]) == 0
        assert "revoked" in capsys.readouterr().out
        db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
        with db.session() as s:
            assert keys.authenticate(s, plaintext=secret) is None
        db.dispose()
    finally:
        get_settings.cache_clear()
