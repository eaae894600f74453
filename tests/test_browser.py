"""The book in a real browser: render it from the smoke-executed chapters, then open every page in headless Chromium.

The build must pass ``jupyter-book build -W -n`` with no warning. In the
browser, every page must load with no JavaScript console error and no failed
request, every image must have loaded, every formula must be typeset by
MathJax (no raw ``$$`` or ``\\(`` left in the text), every reference and
citation must be resolved (no ``??``, no role left as text), the search must
find "GAP", and the sidebar of every page must reach every page of _toc.yml.
Full-page screenshots are kept under ``<book>/_build/screenshots/``.

A second, fast test builds a one-page book broken on purpose and checks that
the same checker reports each defect, so that a pass above means something.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from camlib.book import runner

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed: apt-get install chromium, or run .ci/run with CI set"
)

NOT_PAGES = {"genindex.html", "py-modindex.html", "search.html"}  # Sphinx's generated pages; search is checked apart
ANSI = re.compile(r"\x1b\[[0-9;]*m")
WARNING = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE):")
RAW_MATH = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]")
UNRESOLVED = re.compile(r"\?\?")  # what Sphinx prints for a number it could not resolve
RAW_ROLE = re.compile(r"\{(?:cite|ref|numref|doc|eq|glue|term|download|math)(?::[\w-]+)*\}")
REDIRECT = re.compile(r'http-equiv="Refresh" content="0; url=([^"]+)"', re.IGNORECASE)

# Run in each page once it has loaded: force lazy images to load and wait for them, wait for MathJax's first
# typesetting, then collect what the checks need. Text inside code, scripts and typeset math is not prose.
PAGE_FACTS = """async () => {
    const images = [...document.images];
    for (const img of images) img.loading = "eager";
    await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
        img.addEventListener("load", done); img.addEventListener("error", done); setTimeout(done, 15000);
    })));
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
    const skip = "pre, code, kbd, script, style, noscript, textarea, mjx-container";
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const texts = [];
    while (walker.nextNode()) {
        const node = walker.currentNode;
        if (!node.parentElement.closest(skip)) texts.push(node.nodeValue);
    }
    const maths = [...document.querySelectorAll(".math")];
    return {
        images: images.length,
        broken_images: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src")),
        math: maths.length,
        untypeset_math: maths.filter(m => !m.querySelector("mjx-container")).map(m => m.textContent.trim()),
        math_errors: [...document.querySelectorAll("mjx-merror")]
            .map(e => e.getAttribute("data-mjx-error") || e.textContent),
        unresolved_xrefs: [...document.querySelectorAll(".xref")].filter(e => !e.closest("a"))
            .map(e => e.textContent.trim()),
        unresolved_citations: [...document.querySelectorAll(".bibtex-citation")].filter(e => !e.querySelector("a"))
            .map(e => e.textContent.trim()),
        sidebar: [...document.querySelectorAll("nav.bd-docs-nav a[href]")].map(a => a.href),
        text: texts.join(" "),
    };
}"""

SEARCH_DONE = """() => {
    const summary = document.querySelector("#search-results .search-summary");
    return summary !== null && /found|did not match/i.test(summary.textContent);
}"""


def toc_pages(toc: dict) -> list[str]:
    """The documents of a jb-book ``_toc.yml`` (root first), as paths without suffix."""
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [entry["file"] for entry in part.get("chapters", [])]
    return pages


def build_book(root: Path, *options: str) -> tuple[int, str]:
    """``jupyter-book build root *options`` with the environment's binary; its exit status and its log."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "JUPYTER_PLATFORM_DIRS": "1"}
    run = subprocess.run(
        [str(bin_dir / "jupyter-book"), "build", str(root), *options],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    return run.returncode, ANSI.sub("", run.stdout)


def build_warnings(log: str) -> list[str]:
    """The lines of a Sphinx log that report a warning or an error."""
    return [line.strip() for line in log.splitlines() if WARNING.search(line)]


class _Quiet(SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/favicon.ico":  # the browser asks the site's root, which is not the book's on GitHub Pages
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # the browser dropping a connection is no defect
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on a free local port, as the published book is; yields the base URL."""
    server = _Server(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _excerpts(pattern: re.Pattern, text: str, limit: int = 3) -> list[str]:
    return [repr(text[max(0, m.start() - 30) : m.end() + 30]) for m in list(pattern.finditer(text))[:limit]]


def read_book(html: Path, pages: list[str], screenshots: Path, query: str = "GAP") -> list[str]:
    """Open every page of the built book ``html`` in headless Chromium; the problems found, one line each.

    Args:
        html: the built book (``_build/html``).
        pages: the documents that the sidebar of every page must reach (``toc_pages``).
        screenshots: where each page's full-page screenshot is written (same relative path, ``.png``).
        query: a word that the search page must find.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    seen = {"pages": 0, "images": 0, "formulas": 0}
    files = sorted(
        p.relative_to(html).as_posix()
        for p in html.rglob("*.html")
        if not p.relative_to(html).parts[0].startswith("_") and p.name not in NOT_PAGES
    )
    expected = {f"{page}.html" for page in pages}
    with serve(html) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            current = [""]  # the page that the listeners report for
            page.on(
                "console",
                lambda m: (
                    m.type == "error"
                    and problems.append(f"{current[0]}: console error: {m.text} ({m.location.get('url')})")
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"{current[0]}: uncaught JavaScript error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"{current[0]}: request failed: {r.url} ({r.failure})"))
            page.on(
                "response", lambda r: r.status >= 400 and problems.append(f"{current[0]}: HTTP {r.status}: {r.url}")
            )
            for name in files:
                current[0] = name
                redirect = REDIRECT.search((html / name).read_text(errors="replace"))
                if redirect:  # the landing page (index.html) forwards to the root document
                    target = urlsplit(f"{base}/{name}").path.rsplit("/", 1)[0] + "/" + redirect.group(1)
                    page.goto(f"{base}/{name}")
                    try:
                        page.wait_for_url(f"{base}{target}", timeout=15_000)
                    except PlaywrightError:
                        problems.append(f"{name}: does not forward to {redirect.group(1)} (stays at {page.url})")
                    continue
                page.goto(f"{base}/{name}", wait_until="load")
                facts = page.evaluate(PAGE_FACTS)
                seen["pages"] += 1
                seen["images"] += facts["images"]
                seen["formulas"] += facts["math"]
                shot = screenshots / Path(name).with_suffix(".png")
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=True)
                problems += [f"{name}: image not loaded: {src}" for src in facts["broken_images"]]
                problems += [f"{name}: math not typeset by MathJax: {m!r}" for m in facts["untypeset_math"]]
                problems += [f"{name}: MathJax error: {e!r}" for e in facts["math_errors"]]
                problems += [f"{name}: unresolved reference: {x!r}" for x in facts["unresolved_xrefs"]]
                problems += [f"{name}: unresolved citation: {c!r}" for c in facts["unresolved_citations"]]
                text = facts["text"]
                problems += [f"{name}: raw math left in the text: {e}" for e in _excerpts(RAW_MATH, text)]
                problems += [f"{name}: '??' in the text: {e}" for e in _excerpts(UNRESOLVED, text)]
                problems += [f"{name}: role left as text: {e}" for e in _excerpts(RAW_ROLE, text)]
                reached = {urlsplit(href).path.removeprefix("/") for href in facts["sidebar"]} | {name}
                missing = sorted(expected - reached)
                if missing:
                    problems.append(f"{name}: the sidebar does not reach {', '.join(missing)}")
            current[0] = "search.html"
            page.goto(f"{base}/search.html?q={query}")
            try:
                page.wait_for_function(SEARCH_DONE, timeout=30_000)
                hits = page.locator("#search-results ul.search li").count()
            except PlaywrightError:
                hits = 0
            if hits == 0:
                problems.append(f"search.html: no result for {query!r}")
            shot = screenshots / "search.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"\nread {seen['pages']} pages, {seen['images']} images, {seen['formulas']} formulas, and the search")
    return problems


# The front page's claims table, as a phone shows it: where each verdict lies, its colour, and the colour behind it.
FRONT_FACTS = """() => {
    const table = document.querySelector(".claims-at-a-glance");
    const background = el => {
        for (let e = el; e; e = e.parentElement) {
            const c = getComputedStyle(e).backgroundColor;
            if (c && c !== "transparent" && !c.startsWith("rgba(0, 0, 0, 0")) return c;
        }
        return getComputedStyle(document.body).backgroundColor;
    };
    return {
        theme: document.documentElement.dataset.theme || "",
        width: window.innerWidth,
        table: table ? table.getBoundingClientRect().right : null,
        abstract: document.body.innerText.includes("Abstract."),
        verdicts: [...document.querySelectorAll(".claims-at-a-glance .verdict")].map(v => ({
            text: v.innerText, right: v.getBoundingClientRect().right,
            colour: getComputedStyle(v).color, background: background(v)})),
        reasons: document.querySelectorAll(".claims-at-a-glance details").length,
    };
}"""


def _rgb(css: str) -> str:
    """``#rrggbb`` of a computed ``rgb(r, g, b)`` or ``rgba(r, g, b, 1)`` colour."""
    values = [int(float(v)) for v in re.findall(r"[\d.]+", css)[:3]]
    return "#" + "".join(f"{v:02x}" for v in values)


def front_page_problems(html: Path, screenshots: Path, width: int = 420) -> list[str]:
    """The front page at a phone's width, in the light and the dark theme: the problems found, one line each.

    Every verdict must lie within the screen (no column off to the right), and its colour must keep
    WCAG's contrast ratio >= 4.5 against what is behind it, as the browser computes both.
    """
    from playwright.sync_api import sync_playwright

    from camlib.book.report import contrast_ratio

    problems: list[str] = []
    with serve(html) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for scheme in ("light", "dark"):
                context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
                page = context.new_page()
                page.goto(f"{base}/book/intro.html")
                page.wait_for_load_state("networkidle")
                facts = page.evaluate(FRONT_FACTS)
                screenshots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshots / f"front-{width}px-{scheme}.png"), full_page=False)
                where = f"front page at {width} px, {scheme} theme"
                if facts["theme"] != scheme:
                    problems.append(f"{where}: the page's theme is {facts['theme']!r}, not the system's {scheme!r}")
                if facts["table"] is None:
                    problems.append(f"{where}: no claims table")
                    continue
                if not facts["abstract"]:
                    problems.append(f"{where}: no abstract")
                if facts["table"] > facts["width"] + 1:
                    problems.append(f"{where}: the claims table reaches {facts['table']:.0f} px, off the screen")
                for v in facts["verdicts"]:
                    if v["right"] > facts["width"] + 1:
                        problems.append(f"{where}: verdict {v['text']!r} lies off the screen ({v['right']:.0f} px)")
                    ratio = contrast_ratio(_rgb(v["colour"]), _rgb(v["background"]))
                    if ratio < 4.5:
                        problems.append(
                            f"{where}: verdict {v['text']!r} has contrast {ratio:.2f} < 4.5 "
                            f"({v['colour']} on {v['background']})"
                        )
                context.close()
        finally:
            browser.close()
    return problems


@pytest.fixture(scope="module")
def smoke_book(executed, tmp_path_factory) -> tuple[Path, int, str, float]:
    """The book built from the smoke-executed chapters in a fresh folder: (its root, exit status, log, seconds).

    The chapters come from the session's ``executed`` notebooks (no extra run);
    only the summary runs again, beside them, since it reads their results.
    """
    root = tmp_path_factory.mktemp("smoke-book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "book", root / "book", ignore=shutil.ignore_patterns("chapters", "_build", ".*"))
    for bib in yaml.safe_load((ROOT / "_config.yml").read_text()).get("bibtex_bibfiles", []):
        (root / bib).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / bib, root / bib)
    (root / "notebooks").mkdir()  # the profiles, which book/gpu.md includes
    for profile in (ROOT / "notebooks").glob("*.yml"):
        shutil.copy(profile, root / "notebooks" / profile.name)
    chapters = root / "book" / "chapters"
    chapters.mkdir()
    notebooks = runner.notebook_paths("all")
    for path in notebooks:
        if not path.stem.startswith("S"):
            shutil.copy(executed(path.stem).metadata["camlib_output"], chapters / path.name)
    for path in notebooks:
        if path.stem.startswith("S"):  # its chapters_dir is the folder it runs in
            runner.execute(path, profile="smoke", output_dir=chapters)
    start = time.perf_counter()
    status, log = build_book(root, "-W", "-n", "--keep-going")
    return root, status, log, time.perf_counter() - start


@pytest.mark.notebook
def test_the_book_builds_with_no_warning(smoke_book):
    root, status, log, seconds = smoke_book
    print(f"\njupyter-book build of the smoke book: {seconds:.0f} s ({root})")
    assert build_warnings(log) == [] and status == 0, "\n".join(build_warnings(log) or log.splitlines()[-40:])


@needs_chromium
@pytest.mark.notebook
def test_every_page_reads_in_chromium(smoke_book):
    root = smoke_book[0]
    pages = toc_pages(yaml.safe_load((root / "_toc.yml").read_text()))
    screenshots = root / "_build" / "screenshots"
    start = time.perf_counter()
    problems = read_book(root / "_build" / "html", pages, screenshots)
    print(f"\nbrowser pass: {time.perf_counter() - start:.0f} s; screenshots: {screenshots}")
    assert problems == [], "\n".join(problems)


@needs_chromium
@pytest.mark.notebook
def test_the_front_page_reads_on_a_phone_and_in_dark_mode(smoke_book):
    root = smoke_book[0]
    problems = front_page_problems(root / "_build" / "html", root / "_build" / "screenshots")
    assert problems == [], "\n".join(problems)


BROKEN_PAGE = r"""# A broken page

A formula $a^2$, one that MathJax cannot parse $\frac{a}$, a dangling reference {ref}`no-such-label` and an
unknown citation {cite}`no-such-key`.

![a missing image](missing.png)

<p>Left as text: $$x$$, ?? and {cite}.</p>

<script>undefined_function()</script>
"""


@needs_chromium
def test_the_checker_reports_each_defect_of_a_broken_page(tmp_path):
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext")  # the config's local extension
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    for bib in yaml.safe_load((ROOT / "_config.yml").read_text()).get("bibtex_bibfiles", []):
        shutil.copy(ROOT / bib, tmp_path / bib)
    (tmp_path / "book" / "intro.md").write_text(BROKEN_PAGE)
    status, log = build_book(tmp_path)  # without -W: the page must exist for the browser to read it
    assert status == 0, log
    warned = "\n".join(build_warnings(log))
    for expected in ("image file not readable", "undefined label: 'no-such-label'", 'bibtex key "no-such-key"'):
        assert expected in warned, f"the build warnings lack {expected!r}:\n{warned}"
    problems = read_book(
        tmp_path / "_build" / "html", ["book/intro", "book/absent"], tmp_path / "shots", query="zyzzyva"
    )
    report = "\n".join(problems)
    for expected in (
        "book/intro.html: image not loaded: book/missing.png",  # Sphinx keeps the source's path when it finds no file
        "book/intro.html: HTTP 404",
        "book/intro.html: uncaught JavaScript error: undefined_function is not defined",
        "book/intro.html: MathJax error: 'Missing argument for ",
        "book/intro.html: raw math left in the text: ",
        "book/intro.html: '??' in the text: ",
        "book/intro.html: role left as text: ",
        "book/intro.html: unresolved reference: 'no-such-label'",
        "book/intro.html: unresolved citation: '[]'",
        "book/intro.html: the sidebar does not reach book/absent.html",
        "search.html: no result for 'zyzzyva'",
    ):
        assert expected in report, f"the checker missed {expected!r}; it reported:\n{report}"
    assert (tmp_path / "shots" / "book" / "intro.png").is_file()
