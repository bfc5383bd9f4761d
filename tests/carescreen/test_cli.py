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
    monkeypatch.setattr(training.retrain, "retrain", lambda opts: seen.append(opts) or report)
    assert cli.main(["retrain", "--min-new-decisions", "7"]) == code
    assert seen[0].min_new_decisions == 7
    assert '"promoted"' in capsys.readouterr().out
