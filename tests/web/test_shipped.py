"""The shipped single-host config (``etc/omphalos.conf``) in a real headless Chromium.

``omphalos --config etc/omphalos.conf run`` runs as a real process on a live log written
by the demo's generator (only the log's path, the port and the state directory are set
by a second config file). The page must show every panel at 1400x1000 and at 400x900
without scrolling sideways; with the page open for 60 s the log must hold no traceback; a
headless screenshot with a virtual time budget must finish (the page settles).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from omphalos.cli.demolog import DemoLog
from tests.conftest import wait_for

webdriver = pytest.importorskip("selenium.webdriver")

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "etc" / "omphalos.conf"
CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = ROOT / "artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                 reason="needs Debian chromium and chromium-driver")]

#: Every panel of the page, by the element that shows it has content.
PANELS = {
    "cards": "#stat-requests",
    "rate chart": "#chart-rate svg path",
    "status chart": "#chart-status svg path",
    "alerts": "#alerts-note, #alerts li",  # "no alert firing", or the alerts
    "latency chart": "#chart-latency svg path[stroke]",
    "top paths": "#top-paths tbody tr",
    "hosts": "#hosts tbody tr",
}


@dataclass
class Shipped:
    """The shipped config running as ``omphalos run``; its stderr goes to ``err``."""

    proc: subprocess.Popen[bytes]
    url: str
    err: Path
    writer: DemoLog


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[Shipped]:
    log = tmp_path / "access.log"
    writer = DemoLog(log, rate=30.0)
    writer.backfill()
    local = tmp_path / "here.conf"
    local.write_text(f"[omphalos]\nstate_dir = {tmp_path / 'state'}\n"
                     f"[monitor:web]\npaths = {log}\n[output:web]\nport = 0\n")
    err = tmp_path / "omphalos.err"
    with err.open("wb") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "omphalos.cli.main", "--config",
                                 str(SHIPPED), "--config", str(local), "run"],
                                stdout=subprocess.DEVNULL, stderr=err_file,
                                env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        found = wait_for(lambda: re.search(r"dashboard at (http://127\.0\.0\.1:\d+)",
                                           err.read_text()), timeout=30, interval=0.1)
        writer.start()
        yield Shipped(proc, found.group(1), err, writer)
    finally:
        writer.stop()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def chromium(tmp_path: Path, width: int, height: int) -> Any:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--hide-scrollbars",
                f"--window-size={width},{height}",
                f"--user-data-dir={tmp_path / f'profile-{width}'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    return driver


#: What the page shows where it has no value yet (an en dash).
NO_VALUE = "\u2013"


def panels_shown(driver: Any) -> list[str]:
    """The panels that show content now."""
    shown = []
    for name, selector in PANELS.items():
        found = [e for e in driver.find_elements("css selector", selector) if e.is_displayed()
                 and (e.tag_name == "path" or e.text.strip() not in ("", NO_VALUE))]
        if found:
            shown.append(name)
    return shown


def no_sideways_scroll(driver: Any) -> bool:
    return bool(driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"))


def cut_cells(driver: Any) -> list[str]:
    """Numbers of the top-paths table that wrap (two lines) or are cut off."""
    cut: list[str] = driver.execute_script("""
        var out = [];
        document.querySelectorAll('#top-paths td.num').forEach(function (td) {
          if (td.offsetParent === null) { return; }
          var r = td.getBoundingClientRect();
          var line = parseFloat(getComputedStyle(td).lineHeight) || 20;
          if (r.right > window.innerWidth + 0.5 || td.scrollWidth > td.clientWidth + 1
              || r.height > 2 * line) { out.push(td.textContent); }
        });
        return out;""")
    return cut


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE",)]


def screenshot(driver: Any, name: str, width: int) -> None:
    """The whole page (as tall as its content) as ``artifacts/NAME``: the pictures of
    docs/ and the README are these."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    time.sleep(0.5)  # one redraw at the new size
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / name))
    except OSError:
        pass


@pytest.mark.timeout(150)
@pytest.mark.parametrize("size", [(1400, 1000), (400, 900)], ids=["laptop", "phone"])
def test_shipped_config_shows_every_panel(shipped: Shipped, tmp_path: Path,
                                          size: tuple[int, int]) -> None:
    width, height = size
    driver = chromium(tmp_path, width, height)
    try:
        driver.get(shipped.url + "/")
        wait_for(lambda: len(panels_shown(driver)) == len(PANELS), timeout=60, interval=0.3)
        assert driver.find_element("id", "live").text == "live"
        assert no_sideways_scroll(driver)
        assert cut_cells(driver) == []
        header = [th.text for th in driver.find_elements("css selector", "#top-paths th")
                  if th.is_displayed()]
        assert header == (["path", "hits", "req/s", "bytes", "5xx", "p95"] if width > 600
                          else ["path", "hits", "bytes", "p95"])
        assert "alerts unavailable" not in driver.find_element("id", "alerts-note").text
        for window in ("1m", "1h", "all"):
            driver.find_element("css selector", f'#windows button[data-window="{window}"]'
                                ).click()
            wait_for(lambda: len(panels_shown(driver)) == len(PANELS), timeout=30,
                     interval=0.3)
            assert no_sideways_scroll(driver)
        # the all window: since start, with the last hour's chart, latency and hosts
        title = driver.find_element("css selector", "#chart-rate").find_element(
            "xpath", "..").find_element("css selector", "h2").text
        assert " ".join(title.split()) == "Request rate (last 1h)"
        driver.find_element("css selector", '#windows button[data-window="5m"]').click()
        wait_for(lambda: len(panels_shown(driver)) == len(PANELS), timeout=30, interval=0.3)
        assert console_errors(driver) == []
        screenshot(driver, f"dashboard-{width}.png", width)
        assert console_errors(driver) == []
    finally:
        driver.quit()


@pytest.mark.timeout(180)
def test_shipped_config_with_the_page_open_logs_no_traceback(shipped: Shipped,
                                                             tmp_path: Path) -> None:
    driver = chromium(tmp_path, 1400, 1000)
    try:
        driver.get(shipped.url + "/")
        wait_for(lambda: len(panels_shown(driver)) == len(PANELS), timeout=60, interval=0.3)
        started = time.monotonic()
        while time.monotonic() - started < 20:
            time.sleep(5)
            assert shipped.proc.poll() is None
        assert driver.find_element("id", "live").text == "live"
    finally:
        driver.quit()
    text = shipped.err.read_text()
    assert "pipeline started" in text
    assert "Traceback" not in text
    assert " ERROR " not in text


@pytest.mark.timeout(120)
def test_headless_screenshot_with_a_virtual_time_budget_finishes(shipped: Shipped,
                                                                  tmp_path: Path) -> None:
    """Chromium's --virtual-time-budget waits for the page to settle: no request may stay
    open (the page polls snapshots instead of holding an event stream)."""
    target = tmp_path / "shot.png"
    result = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--hide-scrollbars",
                             f"--user-data-dir={tmp_path / 'shot-profile'}",
                             "--window-size=1400,1000", "--virtual-time-budget=8000",
                             f"--screenshot={target}", shipped.url + "/"],
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    assert target.stat().st_size > 10_000


@pytest.mark.timeout(150)
def test_page_has_the_consoles_views_filter_and_drill(shipped: Shipped,
                                                      tmp_path: Path) -> None:
    """The top table lists clients, status codes, agents and referrers too, filters by a
    regular expression, and a click on a path opens its details (drill)."""
    driver = chromium(tmp_path, 1400, 1000)

    def keys() -> list[str]:
        found: list[str] = driver.execute_script(
            "return Array.from(document.querySelectorAll('#top-paths tbody td.path'),"
            " td => td.textContent)")
        return found

    try:
        driver.get(shipped.url + "/")
        wait_for(lambda: len(keys()) == 10, timeout=60, interval=0.3)
        for dim, title, check in (
                ("client", "client", lambda k: re.fullmatch(r"[\d.]+", k) is not None),
                ("status", "status", lambda k: re.fullmatch(r"[1-5]\d\d", k) is not None),
                ("agent", "agent", lambda k: "/" in k),
                ("referer", "referrer", lambda k: k == "-" or k.startswith("https://"))):
            driver.find_element("css selector", f'#dimensions button[data-dim="{dim}"]').click()
            wait_for(lambda title=title, check=check: driver.find_element(
                "id", "top-key").text == title and keys() and all(check(k) for k in keys()),
                timeout=20, interval=0.3)
        driver.find_element("css selector", '#dimensions button[data-dim="path"]').click()
        wait_for(lambda: keys() and all(k.startswith("/") for k in keys()), timeout=20)
        driver.find_element("id", "filter").send_keys("^/static/")
        wait_for(lambda: keys() and all(k.startswith("/static/") for k in keys()),
                 timeout=20, interval=0.3)
        first = keys()[0]
        driver.find_element("css selector", "#top-paths tbody tr td.path").click()
        wait_for(lambda: driver.find_element("id", "drill").is_displayed()
                 and "requests over 5m" in driver.find_element("id", "drill-summary").text,
                 timeout=20, interval=0.3)
        assert driver.find_element("id", "drill-path").text == first
        wait_for(lambda: driver.find_elements("css selector", "#drill-clients tbody tr"),
                 timeout=20)
        assert console_errors(driver) == []
    finally:
        driver.quit()
