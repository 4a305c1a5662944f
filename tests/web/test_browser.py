"""The published catalogue in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def page(site, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    yield page
    page.close()


def test_runs_page_with_status_facet(site, page, tmp_path):
    from playwright.sync_api import expect

    page.goto(f"{site}/public/runs", wait_until="networkidle")
    expect(page.locator("h1")).to_contain_text("runs")
    expect(page.locator(".facet-info")).not_to_have_count(0)
    page.locator(".facet-info[data-column=status] a", has_text="qc_failed").click()
    page.wait_for_load_state("networkidle")
    assert "status=qc_failed" in page.url
    expect(page.locator("h3").first).to_contain_text('1 row where status = "qc_failed"')
    expect(page.locator("td.col-accession")).to_have_text(["ERR0000005"])
    page.screenshot(path=tmp_path / "runs.png")
    assert (tmp_path / "runs.png").stat().st_size > 10_000


def test_study_search_and_descriptions(site, page):
    from playwright.sync_api import expect

    page.goto(f"{site}/public/studies?_search=mock", wait_until="networkidle")
    expect(page.locator("h3").first).to_contain_text('1 row where search matches "mock"')
    expect(page.locator("td.col-accession")).to_have_text([re.compile(r"MGYS\d{8}")])
    # the table description from the metadata is shown
    expect(page.locator(".metadata-description")).to_contain_text("MGYS accession")
    page.goto(f"{site}/public/analyses", wait_until="networkidle")
    expect(page.locator("td.col-accession")).to_have_count(3)
