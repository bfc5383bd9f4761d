"""/docs (Swagger UI) and /redoc in a real headless Chromium against a real uvicorn server: both render from the
service's own files, under its Content-Security-Policy, and the browser asks no host but the service.

Screenshots go to test-artifacts/docs-*.png (git-ignored) so a person can look at the pages.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.service.test_console_browser import ARTIFACTS, chromium, serve, watch_csp

pytestmark = pytest.mark.slow


def _record_hosts(page: Any) -> list[str]:
    """Every URL the page requests whose host is not the service's (data: and blob: URLs have none)."""
    elsewhere: list[str] = []

    def seen(request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1":
            elsewhere.append(request.url)

    page.on("request", seen)
    return elsewhere


def _no_csp_errors(errors: list[str]) -> None:
    csp = [e for e in errors if "Content Security Policy" in e or "Content-Security-Policy" in e]
    assert not csp, csp
    assert not errors, errors


def test_swagger_ui_renders_offline(settings, app_state, make_key) -> None:  # type: ignore[no-untyped-def]
    with serve(settings, app_state) as base, chromium() as browser:
        poster = make_key()
        page = browser.new_page()
        errors = watch_csp(page)
        elsewhere = _record_hosts(page)
        page.goto(f"{base}/docs")
        operation = page.locator("#operations-screen-screen_v1_screen_post")
        operation.wait_for(state="visible", timeout=30_000)
        assert "/v1/screen" in operation.inner_text()
        assert page.locator(".swagger-ui .info .title").inner_text().startswith("CareScreen")
        # The bearer scheme: an "Authorize" button, and the lock on an authenticated operation.
        assert page.locator("button.authorize").count() == 1
        assert operation.locator(".authorization__btn").count() == 1
        # Opening the operation shows the roles and the request example.
        operation.locator(".opblock-summary").first.click()
        page.get_by_text("Allowed roles:").first.wait_for(timeout=10_000)
        page.get_by_text("post-8841").first.wait_for(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "docs-swagger.png"), full_page=False)
        # "Authorize" with a poster's key, then "Try it out" on the example body: the scheme works end to end.
        page.locator("button.authorize").click()
        page.locator(".modal-ux input").first.fill(poster)
        page.locator(".modal-ux .auth-btn-wrapper button.authorize").click()
        page.locator(".modal-ux .btn-done").click()
        operation.locator(".try-out__btn").click()
        operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table tr.response .response-col_status").first
        status.wait_for(timeout=30_000)
        assert status.inner_text().strip() == "200", operation.locator(".live-responses-table").inner_text()
        assert '"decision": "escalate"' in operation.locator(".live-responses-table").inner_text()
        _no_csp_errors(errors)
        assert not elsewhere, elsewhere


def test_redoc_renders_offline(settings, app_state) -> None:  # type: ignore[no-untyped-def]
    with serve(settings, app_state) as base, chromium() as browser:
        page = browser.new_page()
        errors = watch_csp(page)
        elsewhere = _record_hosts(page)
        page.goto(f"{base}/redoc")
        # ReDoc lists each operation in its side menu and renders its path in the operation's panel.
        page.locator("[data-section-id='tag/screen/operation/screen_v1_screen_post']").first.wait_for(
            timeout=30_000
        )
        page.get_by_text("/v1/screen", exact=True).first.wait_for(timeout=10_000)
        assert page.get_by_text("Allowed roles:").count() > 0
        page.screenshot(path=str(ARTIFACTS / "docs-redoc.png"), full_page=False)
        _no_csp_errors(errors)
        assert not elsewhere, elsewhere
