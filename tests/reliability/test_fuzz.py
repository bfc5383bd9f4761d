"""Fuzzing (issue 10 §6): schemathesis against the service's own OpenAPI schema, in-process over ASGI, each
route called with a key of the role allowed to call it. No 5xx, and every documented response matches its
schema. Bounded: 50 derandomised examples per operation and a hard timeout (the whole run takes ~20 s)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.helpers import auth

# Which role may call a path (longest matching prefix wins); everything else is public.
ROLE_BY_PREFIX = {
    "/v1/screen": "poster",
    "/v1/posts/": "poster",
    "/v1/reviews": "moderator",
    "/v1/reports": "safeguarding_lead",
    "/v1/audit": "safeguarding_lead",
    "/v1/staff-directory": "admin",
    "/v1/admin/": "admin",
}
LEAD_ONLY_SUFFIXES = ("/original", "/reveal-author")


def role_for(path: str) -> str | None:
    if path.startswith("/v1/reviews/") and path.endswith(LEAD_ONLY_SUFFIXES):
        return "safeguarding_lead"
    matches = [p for p in ROLE_BY_PREFIX if path.startswith(p)]
    return ROLE_BY_PREFIX[max(matches, key=len)] if matches else None


@pytest.fixture
def fuzz_app(settings, classifier, redactor) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The app over the deterministic classifier, with rate limits out of the way (they are tested elsewhere)."""
    from schemathesis.python import asgi

    from service.app import create_app
    from service.state import build_state

    cfg = settings.model_copy(update={"rate_limit_per_minute": 10**7})
    state = build_state(cfg, classifier_loader=lambda: classifier, analyzer_factory=lambda: redactor)
    app = create_app(cfg, state=state)
    yield app
    asgi.shutdown_lifespans()


@pytest.fixture
def api_schema(fuzz_app):  # type: ignore[no-untyped-def]
    # Loading the schema starts the app's lifespan on schemathesis' own event loop (DB, model, batcher).
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@pytest.fixture
def role_headers(fuzz_app, api_schema) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from schemathesis.python.asgi import get_client

    from storage import keys, staff

    state = fuzz_app.state.cs
    client = get_client(fuzz_app)
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").text
        time.sleep(0.05)
    headers = {}
    with state.require_db().session() as s:
        for role in ("poster", "moderator", "safeguarding_lead", "admin"):
            headers[role] = auth(keys.create_api_key(s, org="org-fuzz", role=role)[1])
        staff.replace_staff_directory(s, org="org-fuzz", names=["Priya Shah"], actor="test")
    return headers


MAX_EXAMPLES = 50


def _fuzzer(operation: Any, headers: dict[str, str]) -> Any:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

    return fuzz


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_api_matches_its_schema_and_never_5xx(api_schema, role_headers) -> None:  # type: ignore[no-untyped-def]
    """One Hypothesis run per operation (schemathesis' own pytest plugin predates pytest 9's node ids)."""
    failures: list[str] = []
    timings: dict[str, float] = {}
    operations = [r.ok() for r in api_schema.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    for op in operations:
        role = role_for(op.path)
        started = time.perf_counter()
        try:
            _fuzzer(op, role_headers[role] if role else {})()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{op.label}: {exc}")
        timings[op.label] = round(time.perf_counter() - started, 2)
    print(timings)
    assert not failures, "\n\n".join(failures)
