"""The service over a real registered model: model_version from the registry, hot swap without a failed request."""

from __future__ import annotations

import threading
import time

import pytest

from tests.helpers import auth

pytestmark = pytest.mark.slow


def test_screen_reports_registry_version_and_hot_swaps_champion(tiny_model, redactor) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import build_state
    from storage import keys
    from storage import model_store as registry
    from training.mlflow_model import log_bundle

    base, outcome = tiny_model
    settings = base.model_copy(update={"model_poll_seconds": 0.5})
    state = build_state(settings, analyzer_factory=lambda: redactor)
    with TestClient(create_app(settings, state=state)) as client:
        deadline = time.monotonic() + 120
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.1)
        with state.require_db().session() as s:
            key = keys.create_api_key(s, org="e2e", role="poster")[1]
        champion = registry.get_alias(registry.CHAMPION, settings)
        assert champion is not None
        r = client.post("/v1/screen", json={"text": "Lovely shift today, thanks all"}, headers=auth(key))
        assert r.status_code == 200
        assert (
            r.json()["model_version"]
            == champion.label
            == f"{settings.registered_model_name}/{champion.version}"
        )

        # Register the same bundle again as a new version and promote it while requests keep flowing.
        import numpy as np

        registry.configure(settings)
        new_version = log_bundle(
            outcome.bundle_dir, registered_name=settings.registered_model_name, example_probs=np.zeros((1, 8))
        )
        failures: list[int] = []
        versions: set[str] = set()
        stop = threading.Event()

        def traffic() -> None:
            i = 0
            while not stop.is_set():
                resp = client.post("/v1/screen", json={"text": f"handover done {i}"}, headers=auth(key))
                if resp.status_code != 200:
                    failures.append(resp.status_code)
                else:
                    versions.add(resp.json()["model_version"])
                i += 1

        t = threading.Thread(target=traffic)
        t.start()
        registry.promote(new_version, settings)
        deadline = time.monotonic() + 60
        while state.holder.model_version != f"{settings.registered_model_name}/{new_version}":
            assert time.monotonic() < deadline, "the poller never picked up the new champion"
            time.sleep(0.2)
        time.sleep(0.5)
        stop.set()
        t.join()
        assert failures == []
        assert f"{settings.registered_model_name}/{new_version}" in versions
        assert registry.get_alias(registry.PREVIOUS, settings).version == champion.version
        rolled = registry.rollback(settings)
        assert rolled.version == champion.version
