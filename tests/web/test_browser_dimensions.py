"""The dashboard shows the new dimensions and one source host, in a real headless Chromium
(the ``browser`` fixture of :mod:`.test_browser`), at desktop and phone width."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.support.ui import Select

from omphalos.query import DIMENSIONS
from tests.conftest import wait_for

from .conftest import WebRun
from .test_browser import CHROMIUM, DRIVER, browser, console_errors

__all__ = ["browser"]  # the fixture, used by name below

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                 reason="needs Debian chromium and chromium-driver")]


def first_rows(driver: Any) -> list[str]:
    rows: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#top-paths tbody tr'),"
        " tr => tr.cells[0].textContent + '=' + tr.cells[1].textContent)")
    return rows


@pytest.mark.timeout(120)
def test_browsers_and_one_host_on_the_page(start_web: Any, browser: Any) -> None:
    run: WebRun = start_web({"update_secs": 0.5},
                            summary={"dimensions": ", ".join(DIMENSIONS)})  # with country
    assert run.pipeline.wait_idle(30)
    host = run.pipeline.query("top", collector="summary", dimension="host",
                              window="all")["rows"][0]["key"]
    browser.get(run.url + "/?window=all")
    Select(browser.find_element("id", "more-dims")).select_by_value("browser")
    # the real log's browsers, as the summary counts them (tests/report checks those)
    wait_for(lambda: first_rows(browser)[:2] == ["Chrome=2,892", "Firefox=2,607"], timeout=20)
    assert browser.find_element("id", "top-title").text == "browsers"
    # the only source host: the same rows, asked with host=
    wait_for(lambda: len(browser.find_elements("css selector", "#host-filter option")) == 2,
             timeout=20)
    Select(browser.find_element("id", "host-filter")).select_by_value(host)
    Select(browser.find_element("id", "more-dims")).select_by_value("visitors")
    day = run.pipeline.query("top", collector="summary", dimension="visitors",
                             window="all", host=host)["rows"][0]
    assert day["key"] == "2015-05-19" and day["hits"] == 2896
    wait_for(lambda: first_rows(browser)[:1] == [f"2015-05-19=2,896 ({day['visitors']} "
                                                 "visitors)"], timeout=20)
    # countries (the data iptocc ships), as the summary counts them for this host
    Select(browser.find_element("id", "more-dims")).select_by_value("country")
    countries = run.pipeline.query("top", collector="summary", dimension="country",
                                   window="all", host=host, limit=2)["rows"]
    assert countries[0]["key"] == "US"
    wait_for(lambda: first_rows(browser)[:2] == [f"{r['key']}={r['hits']:,}"
                                                  for r in countries], timeout=20)
    assert browser.find_element("id", "top-title").text == "countries"
    browser.set_window_size(390, 844)
    wait_for(lambda: browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"), timeout=10)
    assert console_errors(browser) == []
