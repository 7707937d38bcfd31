"""The pages in a real headless browser (Debian's chromium and chromedriver): the front page, a search, an article
with its highlighted evidence, a statements timeline. Skipped, with the reason, where no browser can start.

The browser is kept on loopback: every request to anything but loopback goes to a closed local proxy port, and
Chromium's background services are off. ``BROWSER_SCREENSHOTS=DIR`` keeps a screenshot of each page in DIR (the
README's come from here: ``BROWSER_SCREENSHOTS=docs/screenshots pytest tests/test_browser.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from monitor.core.config import Settings
from monitor.service.app import open_app
from monitor.store.models import Article, ArticleTag
from tests.corpus import store_corpus
from tests.test_ops import free_port
from tests.test_process_safety import wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium (pip)")
    from selenium.common.exceptions import WebDriverException

    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip(f"no headless browser: chromium and chromedriver not found (Debian: {INSTALL})")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,1000",
        "--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-sync",
        "--disable-component-update", "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
        "--metrics-recording-only", "--no-pings", "--dns-prefetch-disable", "--disable-breakpad",
        # Anything not on loopback goes to a closed local port (loopback itself is never proxied).
        "--proxy-server=http://127.0.0.1:9", f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except WebDriverException as exc:
        pytest.skip(f"the headless browser does not start here: {str(exc).strip().splitlines()[0]}")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(config_file: Path, settings: Settings) -> Iterator[str]:
    """`monitor web` serving the seed corpus and the test corpus on a loopback port."""
    app = open_app(settings)
    store_corpus(app.store)
    published = datetime.now(UTC) - timedelta(days=2)  # in the overview's window, by its publication day
    app.store.save_article(
        Article(id="00000000000000b1", content_hash="00000000000000b1", title="Recent strike on Kharkiv",
                text="Russian missiles struck Kharkiv.", source="feed", tags=["ukraine-war"], published=published,
                fetched_at=published + timedelta(hours=30)),
        None, tags=[ArticleTag(article_id="00000000000000b1", tag="ukraine-war", score=1.0, evidence=[])],
    )
    # a story of two copies: the wire copy fetched first but published later than the other outlet's piece
    day = datetime(2026, 3, 2, tzinfo=UTC)
    for aid, title, published, fetched in (
        ("00000000000000c1", "Wire copy", day.replace(hour=9, minute=10), day.replace(hour=9, minute=20)),
        ("00000000000000c2", "Early piece", day.replace(hour=6, minute=30), day.replace(hour=11)),
    ):
        app.store.save_article(Article(id=aid, content_hash=aid, title=title, text=f"{title} on Kyiv.", source="page",
                                       published=published, fetched_at=fetched), None)
    with app.store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE article SET story_id = '00000000000000c1', duplicate_of = '00000000000000c1' "
                             "WHERE id = '00000000000000c2'"))
    app.store.engine.dispose()
    port = free_port()
    log = config_file.parent / "web.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "web", "--port", str(port)], stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return httpx.get(url + "/api/v1/feeds", timeout=2).status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None

        wait_for(up, timeout=60)
        assert proc.poll() is None, log.read_text()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def shoot(driver: object, name: str) -> None:
    folder = os.environ.get("BROWSER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))  # type: ignore[attr-defined]


def test_front_page_search_article_evidence_and_statements_timeline(browser: object, site: str) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(site + "/")  # type: ignore[attr-defined]
    assert driver.title.startswith("Overview")  # type: ignore[attr-defined]
    bars = driver.find_elements(By.CSS_SELECTOR, "svg.chart rect title")  # type: ignore[attr-defined]
    day = (datetime.now(UTC) - timedelta(days=2)).strftime("%d %b")
    assert [b.get_attribute("textContent") for b in bars] == [f"{day}: ukraine-war 1"]  # its publication day
    labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "svg.chart text")]  # type: ignore[attr-defined]
    assert datetime.now(UTC).strftime("%d %b") in labels  # the last day is labelled
    assert "not charted" in driver.find_element(By.CSS_SELECTOR, "p.meta").text  # the undated seeds, said so
    shoot(driver, "overview")

    box = driver.find_element(By.CSS_SELECTOR, "header form.search input[name=q]")  # type: ignore[attr-defined]
    box.send_keys("ukraine -eurovision")
    box.submit()
    wait_for(lambda: "/articles?" in driver.current_url, timeout=30)  # type: ignore[attr-defined]
    titles = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#results h3 a")]  # type: ignore[attr-defined]
    assert "Missiles hit Kyiv overnight" in titles and "Ukraine wins Eurovision" not in titles
    marks = driver.find_elements(By.CSS_SELECTOR, "#results mark")  # type: ignore[attr-defined]
    assert marks and all(m.text.lower() == "ukraine" for m in marks)
    shoot(driver, "search")

    driver.find_element(By.LINK_TEXT, "Missiles hit Kyiv overnight").click()  # type: ignore[attr-defined]
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".body mark"), timeout=30)  # type: ignore[attr-defined]
    evidence = driver.find_elements(By.CSS_SELECTOR, ".body mark")  # type: ignore[attr-defined]
    ukraine = next(m for m in evidence if m.text == "Ukraine")
    assert "ukraine-war" in ukraine.get_attribute("title")
    assert ukraine.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "transparent")
    shoot(driver, "article")

    driver.get(site + "/articles?q=putin")  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "#results h3 a").click()  # type: ignore[attr-defined]
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".body mark"), timeout=30)  # type: ignore[attr-defined]
    marks = driver.find_elements(By.CSS_SELECTOR, ".body mark")  # type: ignore[attr-defined]
    colours = {m.get_attribute("class"): m.value_of_css_property("background-color") for m in marks}
    assert {"tag-0", "tag-1"} <= set(colours) and colours["tag-0"] != colours["tag-1"]  # one colour per tag
    shoot(driver, "article-seed")

    driver.find_element(By.LINK_TEXT, "Statements").click()  # type: ignore[attr-defined]
    wait_for(lambda: "/statements" in driver.current_url, timeout=30)  # type: ignore[attr-defined]
    driver.get(site + "/statements?group=role&role=defence+secretary")  # type: ignore[attr-defined]
    timeline = driver.find_element(By.ID, "timeline").text  # type: ignore[attr-defined]
    assert timeline.index("Ben Wallace") < timeline.index("John Healey")
    assert driver.find_elements(By.CSS_SELECTOR, "svg.chart polyline")  # type: ignore[attr-defined]
    driver.get(site + "/statements?speaker=healey")  # type: ignore[attr-defined]
    dots = driver.find_elements(By.CSS_SELECTOR, "svg.chart circle")  # type: ignore[attr-defined]
    assert len(dots) == 1 and dots[0].is_displayed()  # one month of data still draws its point
    driver.get(site + "/statements?group=role")  # type: ignore[attr-defined]
    chart = driver.find_element(By.CSS_SELECTOR, "svg.chart")  # type: ignore[attr-defined]
    bottom = chart.rect["y"] + chart.rect["height"]
    legend = [e for e in chart.find_elements(By.CSS_SELECTOR, "text") if e.text in ("Ministry of Defence",)]
    assert legend and all(e.rect["y"] + e.rect["height"] <= bottom + 1 for e in legend)  # inside, not cut off
    driver.get(site + "/statements")  # type: ignore[attr-defined]
    shoot(driver, "statements")
    driver.get(site + "/stories/00000000000000c1")  # type: ignore[attr-defined]
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "tbody tr")]  # type: ignore[attr-defined]
    assert "Early piece" in rows[0] and "original" in rows[0] and "Wire copy" in rows[1] and "+2.7 h" in rows[1]
    driver.get(site + "/feeds")  # type: ignore[attr-defined]
    shoot(driver, "feeds")

    problems = [e["message"] for e in driver.get_log("browser")]  # type: ignore[attr-defined]
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
