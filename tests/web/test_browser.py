"""The dashboard in a real headless Chromium (Debian's chromium and chromium-driver).

The page must load without console errors, show numbers that rise while a writer appends to
the monitored log, and remove an alert when its clear button is pressed. A screenshot is
saved as an artifact (``artifacts/dashboard.png``, git-ignored).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for

from .conftest import WebRun, Writer, combined_line, windowed_collector

webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                 reason="needs Debian chromium and chromium-driver")]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, console messages kept."""
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,1400",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def number(driver: Any, element_id: str) -> int:
    """The integer shown in an element (``10,250`` -> 10250; no number -> -1)."""
    text = driver.find_element("id", element_id).text.replace(",", "").strip()
    return int(text) if text.isdigit() else -1


def alert_ids(driver: Any) -> list[str]:
    """Ids of the alerts listed now (read in one go: the list changes under us)."""
    ids: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#alerts li'), li => li.dataset.id)")
    return ids


def console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] in ("SEVERE", "ERROR")]


def save_screenshot(driver: Any, tmp_path: Path) -> Path:
    """Save the page as ``artifacts/dashboard.png`` (and in pytest's tmp dir)."""
    target = ARTIFACTS / "dashboard.png"
    try:
        ARTIFACTS.mkdir(exist_ok=True)
    except OSError:
        target = tmp_path / "dashboard.png"
    driver.save_screenshot(str(target))
    if target.parent != tmp_path:
        shutil.copy(target, tmp_path / "dashboard.png")
    return target


@pytest.mark.timeout(90)
def test_dashboard_updates_live_without_console_errors(start_web: Any, browser: Any,
                                                      tmp_path: Path) -> None:
    run: WebRun = start_web({"update_secs": 0.5}, windowed={})
    assert run.pipeline.wait_idle(30)
    writer = Writer(run.log, lambda n: [combined_line(f"/live/{n % 7}", 200 if n % 5 else 503)
                                        for _ in range(20)])
    run.writers.append(writer)
    browser.get(run.url + "/?window=all")
    wait_for(lambda: number(browser, "stat-requests") >= 10_000, timeout=30)
    first = number(browser, "stat-requests")
    writer.start()
    wait_for(lambda: number(browser, "stat-requests") >= first + 100, timeout=30)
    assert browser.find_element("id", "live").text == "live"
    rows = browser.find_elements("css selector", "#top-paths tbody tr")
    assert rows and "/favicon.ico" in rows[0].text
    assert browser.find_elements("css selector", "#chart-rate svg .axis.x .tick")
    assert browser.find_elements("css selector", "#chart-status svg path")
    # readable on a phone: at 390 px nothing makes the page scroll sideways
    browser.set_window_size(390, 844)
    wait_for(lambda: browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"), timeout=10)
    browser.set_window_size(1280, 1400)
    # the window selector reconnects the stream and marks the chosen window
    browser.find_element("css selector", '#windows button[data-window="5m"]').click()
    wait_for(lambda: browser.find_element(
        "css selector", '#windows button[data-window="5m"]').get_attribute("aria-pressed")
        == "true", timeout=10)
    # over 5 minutes the window collector answers: the writer's lines, with a series
    wait_for(lambda: number(browser, "stat-requests") > 0, timeout=20)
    shown = number(browser, "stat-requests")
    wait_for(lambda: number(browser, "stat-requests") > shown, timeout=20)
    save_screenshot(browser, tmp_path)
    assert console_errors(browser) == []
    writer.stop()


@pytest.mark.timeout(90)
@pytest.mark.skipif(windowed_collector() is None,
                    reason="needs the windowed collector (alerts) of issue 5")
def test_clearing_an_alert_from_the_page_removes_it(start_web: Any, browser: Any) -> None:
    """Also: a format that logs durations (nginx ``$request_time``) gets latency charts."""
    run: WebRun = start_web({"update_secs": 0.5}, copy_real_log=False, windowed={},
                            parser={"nginx": {"format": "combined_rt"}})
    writer = Writer(run.log, lambda n: [combined_line("/broken", 500).rstrip("\n") + " 0.250\n"
                                        for _ in range(30)], interval=0.1)
    run.writers.append(writer)
    writer.start()
    browser.get(run.url + "/?window=1m")
    wait_for(lambda: browser.find_elements("css selector", "#alerts li button"), timeout=45)
    # this format logs durations: the latency chart draws the percentiles
    wait_for(lambda: browser.find_element("id", "chart-latency").is_displayed()
             and browser.find_element("id", "stat-latency").text.count(" ms") == 3,
             timeout=20)
    assert browser.find_elements("css selector", "#chart-latency svg path[stroke]")
    writer.stop()
    alert_id = alert_ids(browser)[0]
    browser.find_element("css selector", f'#alerts li[data-id="{alert_id}"] button').click()
    wait_for(lambda: alert_id not in alert_ids(browser)
             and "cleared" in browser.find_element("id", "alerts-note").text, timeout=15)
    assert console_errors(browser) == []



@pytest.mark.timeout(120)
@pytest.mark.skipif(windowed_collector() is None, reason="needs the windowed collector")
def test_steady_rate_does_not_drop_at_the_right_edge(start_web: Any, browser: Any) -> None:
    """50 requests a second, steadily: the rate chart's last point is not the bucket still
    filling (which, drawn as complete, fell to a few requests a second)."""
    run: WebRun = start_web({"update_secs": 0.5}, copy_real_log=False, windowed={})
    writer = Writer(run.log, lambda n: [combined_line(f"/s/{i}") for i in range(10)],
                    interval=0.2)
    run.writers.append(writer)
    writer.start()
    browser.get(run.url + "/?window=1m")

    def drawn() -> list[float]:
        values: list[float] = browser.execute_script("""
            return Array.from(document.querySelectorAll('#chart-rate svg path'))
              .map(function (p) { return p.__data__; })
              .filter(function (d) { return d && d.values; })
              .map(function (d) { return d.values.map(function (v) { return v.requests; }); })[0]
              || [];""")
        return values

    # twelve seconds of traffic drawn (the window's older buckets are empty: zeros)
    wait_for(lambda: min(drawn()[-13:-1] or [0]) > 0, timeout=60, interval=0.5)
    for _ in range(10):  # every redraw over five seconds ends at the steady rate
        values = drawn()
        middle = sorted(values[-12:-1])[5]
        last = float(browser.find_element("id", "chart-rate").get_attribute("data-last"))
        assert last == values[-1]
        assert last >= 0.6 * middle, (last, values[-12:])
        time.sleep(0.5)
    writer.stop()
