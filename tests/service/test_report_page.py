"""The lead's printable risk report in headless Chromium: charts render, the page prints to PDF.

Artifacts: test-artifacts/risk-report.png (full page) and test-artifacts/risk-report.pdf.
"""

from __future__ import annotations

import httpx
import pytest

from tests.service.test_console_browser import ARTIFACTS, chromium, screen, serve, sign_in, watch_csp

pytestmark = pytest.mark.slow


def test_risk_report_renders_and_prints(settings, app_state, make_key):  # type: ignore[no-untyped-def]
    with serve(settings, app_state) as base, chromium() as browser:
        poster = make_key(role="poster")
        mod = {"Authorization": f"Bearer {make_key(role='moderator')}"}
        reviews: list[str] = []
        for i in range(7):
            reviews.append(
                screen(base, poster, f"Doris in room {i} has a bruise on her arm", circle="west-wing")[
                    "review"
                ]["id"]
            )
        for i in range(6):
            reviews.append(
                screen(base, poster, f"you idiot number {i}", circle="night-shift")["review"]["id"]
            )
        for i in range(5):
            assert (
                screen(base, poster, f"Lovely shift today, thanks all ({i})", circle="west-wing")["review"]
                is None
            )
        for rid in reviews[:5] + reviews[7:12]:
            assert httpx.post(f"{base}/v1/reviews/{rid}/claim", headers=mod).status_code == 200
            action = "escalate" if rid in reviews[:7] else "reject"
            cat = "safeguarding" if action == "escalate" else "toxicity"
            r = httpx.post(
                f"{base}/v1/reviews/{rid}/decision",
                headers=mod,
                json={"action": action, "labels": {cat: True}},
            )
            assert r.status_code == 200, r.text

        page = browser.new_page(viewport={"width": 1100, "height": 900}, locale="en-GB")
        errors = watch_csp(page)
        sign_in(page, base, make_key(role="safeguarding_lead"))
        page.get_by_role("link", name="Reports").click()
        page.wait_for_url(f"{base}/console/reports")
        assert page.title() == "Risk report · CareScreen console"
        page.wait_for_load_state("load")
        images = page.locator("figure.chart img")
        assert images.count() == 3
        widths = images.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        assert all(w > 0 for w in widths), widths
        assert all(
            src.startswith("data:image/png;base64,")
            for src in images.evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
        )
        text = page.locator("main").inner_text()
        assert "Small numbers are suppressed" in text and "<5" in text
        assert "Posts screened\n18" in text
        page.screenshot(path=str(ARTIFACTS / "risk-report.png"), full_page=True)

        # The circle filter narrows the report.
        page.locator("#r-circle").fill("night-shift")
        page.get_by_role("button", name="Update report").click()
        page.wait_for_url("**/console/reports?*circle=night-shift*")
        assert "Posts screened\n6" in page.locator("main").inner_text()

        # CSV download through the session.
        with page.expect_download() as dl:
            page.get_by_role("link", name="Download CSV").click()
        csv = dl.value.path().read_text()
        assert csv.startswith("section,key,value") and "by_category,toxicity,6" in csv

        # Print to PDF (the print stylesheet hides the navigation and the form).
        page.goto(f"{base}/console/reports")
        page.emulate_media(media="print")
        assert not page.locator("header.topbar").is_visible()
        assert not page.get_by_role("button", name="Update report").is_visible()
        page.screenshot(path=str(ARTIFACTS / "risk-report-print.png"), full_page=True)
        pdf = ARTIFACTS / "risk-report.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=True)
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and len(data) > 20_000
        assert not [e for e in errors if "Content Security Policy" in e], errors
