"""Every HTML report the suite writes, opened in a real browser (headless Chromium driven by
Playwright): no JavaScript error, every chart drawn, masked counts shown as <10, a screenshot of
each page kept in the test's output folder (issue 19). Chromium comes from the Debian archive
(`apt-get install chromium`; .ci/run installs it); VEILLE_CHROMIUM names another binary."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from test_audit import SUITE_EXPORTS

# what each chart kind looks like once drawn: plotly fills its div with an SVG of class main-svg;
# the study and fraud reports draw inline SVG
_CHARTS = """() => {
    const out = [];
    document.querySelectorAll('.plotly-graph-div').forEach((div, i) => {
        const svg = div.querySelector('svg.main-svg');
        const box = svg ? svg.getBoundingClientRect() : null;
        const marks = div.querySelectorAll('.trace, .slice, .sankey-node, .point, .bars path, image, canvas').length;
        out.push({chart: 'plotly #' + (i + 1), width: box ? box.width : 0, height: box ? box.height : 0, marks});
    });
    document.querySelectorAll('svg').forEach((svg, i) => {
        if (svg.closest('.plotly-graph-div') || svg.closest('svg') !== svg || svg.id === 'js-plotly-tester') return;
        const box = svg.getBoundingClientRect();
        const marks = svg.querySelectorAll('path, rect, circle, line, polyline, text').length;
        out.push({chart: 'svg #' + (i + 1), width: box.width, height: box.height, marks});
    });
    return out;
}"""


def _chromium() -> str:
    found = os.environ.get("VEILLE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("headless Chromium not installed: `apt-get install chromium` (.ci/run does it), "
                    "or set VEILLE_CHROMIUM to a Chromium binary")
    return found


@pytest.mark.after_exports
def test_every_report_renders_in_a_real_browser(request, exports, tmp_path):
    from playwright.sync_api import sync_playwright

    modules = {Path(str(item.fspath)).name for item in request.session.items}
    expected = [f for m, files in SUITE_EXPORTS.items() if m in modules for f in files if f.endswith(".html")]
    if not expected:
        pytest.skip("no report test in this session: run the whole suite")
    pages = sorted(exports.rglob("*.html"))
    assert {str(p.relative_to(exports)) for p in pages} >= set(expected)

    shots = tmp_path / "screenshots"
    shots.mkdir()
    problems: list[str] = []
    drawn = masked = declared = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            for path in pages:
                name = str(path.relative_to(exports))
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.on("request", lambda r, errors=errors: errors.append(f"network request {r.url}")
                        if not r.url.startswith(("file:", "data:", "about:")) else None)
                page.goto(path.as_uri(), wait_until="load")
                page.wait_for_timeout(300)  # plotly draws after load
                problems += [f"{name}: {e}" for e in errors]
                for chart in page.evaluate(_CHARTS):
                    if chart["width"] <= 0 or chart["height"] <= 0 or chart["marks"] == 0:
                        problems.append(f"{name}: {chart['chart']} not drawn ({chart})")
                    else:
                        drawn += 1
                # every chart the page declares was found drawn (plotly divs, inline SVG)
                source = re.sub(r"<script.*?</script>", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
                declared += source.count('class="plotly-graph-div"') + len(re.findall(r"<svg[\s>]", source))
                text = page.inner_text("body")
                if "&lt;10" in source:
                    if "<10" in text:
                        masked += 1
                    else:
                        problems.append(f"{name}: masked counts do not show as <10")
                page.screenshot(path=str(shots / (name.replace("/", "__") + ".png")), full_page=True)
                page.close()
        finally:
            browser.close()
    print(f"screenshots of {len(pages)} reports in {shots}")
    assert problems == []
    assert drawn == declared > 0 and masked > 0  # the reports have charts and masked cells to show
    assert len(list(shots.glob("*.png"))) == len(pages)
