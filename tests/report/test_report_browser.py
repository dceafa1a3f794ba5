"""``omphalos report`` opened from disk in a real headless Chromium, at desktop and phone
width: every panel is there, drawn from the data inlined in the file, with no console error
and no request to any network (the page has no server to ask)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omphalos.htmlreport.panels import PANELS
from tests.conftest import REAL_LOG

webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                 reason="needs Debian chromium and chromium-driver")]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    subprocess.run([sys.executable, "-m", "omphalos.cli.main", "report", str(REAL_LOG),
                    "-o", str(out)], check=True, timeout=300, capture_output=True)
    return out


def chromium(profile: Path, width: int, height: int) -> Any:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--window-size={width},{height}",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(params=[(1280, 1400), (390, 844)], ids=["desktop", "phone"])
def browser(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, int]]:
    width, height = request.param
    driver = chromium(tmp_path / "profile", width, height)
    try:
        yield driver, width
    finally:
        driver.quit()


def test_report_opens_from_disk_with_every_panel(report_file: Path,
                                                 browser: tuple[Any, int]) -> None:
    driver, width = browser
    driver.get(report_file.as_uri())
    assert driver.find_element("tag name", "body").get_attribute("data-rendered") == \
        str(len(PANELS))
    for panel in PANELS:
        section = driver.find_element("id", f"panel-{panel.dimension}")
        assert section.find_element("tag name", "h2").text == panel.title
    # drawn from the inlined data: the visitors chart has one bar per day, the hour chart 24
    bars = driver.execute_script(
        "return [document.querySelectorAll('#panel-visitors rect.bar').length,"
        " document.querySelectorAll('#panel-hour rect.bar').length]")
    assert bars == [4, 24]
    first = driver.find_element("css selector", "#panel-visitors tbody tr td").text
    assert first == "2015-05-17"
    assert driver.find_element("css selector", "#general .card .value").text == "10,000"
    notes = driver.find_element("css selector", "#panel-tls .note").text
    assert notes == "this log's format does not have it"
    errors = [e["message"] for e in driver.get_log("browser")
              if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    requested = [json.loads(e["message"])["message"]["params"]["request"]["url"]
                 for e in driver.get_log("performance")
                 if '"Network.requestWillBeSent"' in e["message"]]
    assert report_file.as_uri() in requested
    # the browser's own new-tab page asks chrome:// pages; the report asks nothing else
    assert [u for u in requested if not u.startswith(("chrome:", "chrome-", "data:"))
            and u != report_file.as_uri()] == []
    # nothing makes the page wider than the screen (tables scroll inside their panel)
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    inner = driver.execute_script("return window.innerWidth")
    assert scroll <= inner, (scroll, inner)
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"report-{width}.png"))
    except OSError:
        pass
