"""The built book in a real browser: headless Chromium (the system's, driven by selenium) opens every page of the
quick-profile HTML and checks what a reader would see.

Per page: no console errors, no failed request (the browser's network is cut off, so a CDN script or font fails here
as it would offline), every image loads, every figure is drawn large enough for its tick labels to reach
``MIN_TEXT_CSS_PX`` CSS pixels, math is typeset by the local MathJax, toggles (dropdown admonitions, hidden cells,
solutions) open when clicked, and the page has one search box.

The HTML is the ``quick_book`` session fixture's build; set ``OMICSNB_BROWSER_HTML`` to a built ``_build/html``
folder to check that instead (``OMICSNB_BROWSER_HTML=_build/html pytest tests/test_browser.py -m slow -rs``).
Skipped, with the reason shown by ``pytest -rs``, when selenium, Chromium or chromedriver is missing
(``apt-get install -y chromium chromium-driver`` installs the browser; ``.ci/run`` does).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

WINDOW = (1400, 1000)  # the window the book was reviewed in: a 784 px text column
MIN_TEXT_CSS_PX = 9.0  # the smallest tick label a reader should get
TOGGLES_PER_PAGE = 6  # toggles clicked per page (every page's first ones): enough to catch a broken script, fast
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def min_figure_scale() -> float:
    """Smallest rendered/natural width ratio of a figure image at which its tick labels stay >= MIN_TEXT_CSS_PX.

    An inline figure is rasterised at ``figure.dpi``, so a tick label of ``s`` points is ``s * dpi / 72`` image pixels
    tall, and ``s * dpi / 72 * ratio`` CSS pixels once the page scales the image by ``ratio``.
    """
    import matplotlib as mpl

    from omicsnb import plotting

    with mpl.rc_context():
        plotting.use_style()
        dpi = float(mpl.rcParams["figure.dpi"])
        sizes = [mpl.font_manager.FontProperties(size=mpl.rcParams[k]).get_size_in_points()
                 for k in ("xtick.labelsize", "ytick.labelsize")]
    return MIN_TEXT_CSS_PX * 72.0 / (min(sizes) * dpi)


def test_min_figure_scale_from_the_book_style():
    """Hand computation for the book style (9 pt ticks at 110 dpi): 9 * 72 / (9 * 110) = 0.6545."""
    import matplotlib as mpl

    from omicsnb import plotting

    with mpl.rc_context():
        plotting.use_style()
        expected = MIN_TEXT_CSS_PX * 72 / (mpl.rcParams["xtick.labelsize"] * mpl.rcParams["figure.dpi"])
    assert min_figure_scale() == pytest.approx(expected)
    assert 0.3 < min_figure_scale() < 1.0


def _browser_or_skip():
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("browser test skipped: selenium is not installed (pip install -r requirements-lock.txt)")
    binary = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("browser test skipped: no Chromium/chromedriver on PATH "
                    "(apt-get install -y chromium chromium-driver)")
    return binary, driver


class _Handler(http.server.SimpleHTTPRequestHandler):
    failures: list[tuple[str, int]]

    def log_message(self, format, *args):  # quiet
        pass

    def send_response(self, code, message=None):
        if code >= 400:
            self.failures.append((self.path, code))
        super().send_response(code, message)


@pytest.fixture(scope="module")
def html_dir(request) -> Path:
    override = os.environ.get("OMICSNB_BROWSER_HTML")
    _browser_or_skip()
    if override:
        path = Path(override).resolve()
    else:
        path = request.getfixturevalue("quick_book") / "_build" / "html"
    if not (path / "index.html").exists():
        pytest.fail(f"no built book at {path}")
    return path


@pytest.fixture(scope="module")
def crawl(html_dir):
    """Open every page once; returns {page: report} with everything the tests below assert on."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _browser_or_skip()
    failures: list[tuple[str, int]] = []
    handler = type("Handler", (_Handler,), {"failures": failures})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(html_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--force-device-scale-factor=1",
                # no network but the local server: anything fetched from elsewhere fails, as it would offline
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except Exception as exc:  # a browser that cannot start here is an environment problem, not the book's
        server.shutdown()
        pytest.skip(f"browser test skipped: Chromium did not start ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(20)
    pages = sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                   if not any(part.startswith(("_", ".")) for part in p.relative_to(html_dir).parts))
    reports = {}
    try:
        for page in pages:
            reports[page] = _visit(driver, base, page, failures)
    finally:
        driver.quit()
        server.shutdown()
    return reports


_MATH_READY = """
const finish = arguments[arguments.length - 1];
let finished = false;
const done = (value) => { if (!finished) { finished = true; finish(value); } };
setTimeout(() => done('MathJax did not finish within 10 s'), 10000);
if (!document.querySelector('.math, mjx-container') || !window.MathJax) { done('none'); return; }
const wait = (n) => {
  if (window.MathJax.startup && window.MathJax.startup.promise) {
    window.MathJax.startup.promise.then(() => done('typeset')).catch((e) => done('error: ' + e));
  } else if (n > 0) { setTimeout(() => wait(n - 1), 100); } else { done('MathJax did not start'); }
};
wait(50);
"""

_IMAGES = """
return Array.from(document.querySelectorAll('img')).map((img) => ({
  src: img.getAttribute('src') || '', complete: img.complete, natural: img.naturalWidth,
  rendered: img.getBoundingClientRect().width,
  output: !!img.closest('.cell_output, .output, figure, .figure'),
  visible: img.offsetParent !== null,
}));
"""

_TOGGLES = """
const limit = arguments[0];
const results = [];
const shown = (el) => !!el && el.offsetParent !== null && el.getBoundingClientRect().height > 0;
document.querySelectorAll('.bd-article .admonition.toggle, .bd-article .admonition.dropdown').forEach((item, i) => {
  if (i >= limit) return;
  const title = item.querySelector(':scope > .admonition-title');
  const body = Array.from(item.children).filter((c) => !c.classList.contains('admonition-title'));
  const before = item.classList.contains('toggle-hidden');
  if (title) title.click();
  const after = !item.classList.contains('toggle-hidden') && body.length > 0 && body.some(shown);
  results.push({kind: 'admonition', title: title ? title.innerText.trim().slice(0, 60) : '?',
                hidden_before: before, open_after: after});
});
document.querySelectorAll('.bd-article details').forEach((item, i) => {
  if (i >= limit || !item.offsetParent) return;
  const summary = item.querySelector(':scope > summary');
  const before = item.open;
  if (summary) summary.click();
  const body = Array.from(item.children).filter((c) => c.tagName !== 'SUMMARY');
  results.push({kind: 'details', title: summary ? summary.innerText.trim().slice(0, 60) : '?',
                hidden_before: !before, open_after: item.open && (body.length === 0 || body.some(shown))});
});
return results;
"""

_SEARCH = """
const boxes = document.querySelectorAll('input[type=search], .search-button-field, form.bd-search input, .search-button');
return Array.from(boxes).filter((el) => el.offsetParent !== null && el.getBoundingClientRect().width > 0)
  .map((el) => el.className || el.tagName);
"""


def _visit(driver, base: str, page: str, server_failures: list) -> dict:
    driver.get_log("browser")
    driver.get_log("performance")
    start = len(server_failures)
    driver.get(base + page)
    math = driver.execute_async_script(_MATH_READY)
    images = driver.execute_script(_IMAGES)
    search = driver.execute_script(_SEARCH)
    toggles = driver.execute_script(_TOGGLES, TOGGLES_PER_PAGE)
    console = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    urls, failed = {}, []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            urls[params.get("requestId")] = params.get("request", {}).get("url", "")
        elif message.get("method") == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{urls.get(params.get('requestId'), '?')} ({params.get('errorText')})")
        elif message.get("method") == "Network.responseReceived":
            status = params.get("response", {}).get("status", 200)
            if status >= 400:
                failed.append(f"{params['response'].get('url')} (HTTP {status})")
    failed += [f"{path} (HTTP {code} from the server)" for path, code in server_failures[start:]]
    return {"console": console, "failed": sorted(set(failed)), "images": images, "math": math,
            "toggles": toggles, "search": search, "has_math": math != "none"}


def _problems(crawl, key, describe) -> list[str]:
    out = []
    for page, report in crawl.items():
        out += [f"{page}: {d}" for d in describe(report)]
    return out


@pytest.mark.slow
def test_pages_were_found(crawl):
    assert any(p.startswith("book/") for p in crawl), f"no chapter pages among {sorted(crawl)}"


@pytest.mark.slow
def test_no_console_errors(crawl):
    problems = _problems(crawl, "console", lambda r: r["console"])
    assert not problems, "console errors:\n" + "\n".join(problems)


@pytest.mark.slow
def test_no_failed_requests(crawl):
    problems = _problems(crawl, "failed", lambda r: r["failed"])
    assert not problems, "failed requests (the browser has no network):\n" + "\n".join(problems)


@pytest.mark.slow
def test_images_load(crawl):
    problems = _problems(crawl, "images", lambda r: [
        f"image {i['src']} did not load" for i in r["images"] if i["visible"] and not (i["complete"] and i["natural"])])
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_figure_tick_labels_are_legible(crawl):
    """Every raster figure output is drawn at >= min_figure_scale() of its natural width (tick labels >= 9 CSS px)."""
    scale = min_figure_scale()
    problems = _problems(crawl, "images", lambda r: [
        f"{i['src'].rsplit('/', 1)[-1]}: drawn at {i['rendered'] / i['natural']:.2f} of its width "
        f"(tick labels {MIN_TEXT_CSS_PX * i['rendered'] / i['natural'] / scale:.1f} CSS px; needs >= {scale:.2f})"
        for i in r["images"]
        if i["output"] and i["visible"] and i["natural"] and not i["src"].endswith(".svg")
        and i["rendered"] / i["natural"] < scale - 1e-3])
    assert not problems, f"figures too small for {MIN_TEXT_CSS_PX:g} px tick labels:\n" + "\n".join(problems)


@pytest.mark.slow
def test_math_is_typeset_offline(crawl):
    problems = [f"{page}: {r['math']}" for page, r in crawl.items() if r["has_math"] and r["math"] != "typeset"]
    assert not problems, "math not typeset:\n" + "\n".join(problems)


@pytest.mark.slow
def test_toggles_open(crawl):
    problems = []
    for page, report in crawl.items():
        for t in report["toggles"]:
            if not t["hidden_before"]:
                problems.append(f"{page}: {t['kind']} '{t['title']}' is open before it is clicked")
            elif not t["open_after"]:
                problems.append(f"{page}: {t['kind']} '{t['title']}' does not open when clicked")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_one_search_box(crawl):
    problems = [f"{page}: {len(r['search'])} visible search boxes/buttons ({', '.join(r['search'])})"
                for page, r in crawl.items() if len(r["search"]) > 1 and page != "search.html"]  # its own form
    assert not problems, "\n".join(problems)
