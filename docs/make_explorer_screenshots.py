"""Remake the explorer's screenshots in docs/ (issue 16), from the real page in headless Chromium.

    .venv/bin/python docs/make_explorer_screenshots.py [--emulator FOLDER] [--scale 0.1] [--replicates 20] [--pairs 8]

Starts ``simmodel explore`` (results in a temporary folder: every run is made afresh), opens
``?scenario=baseline&lang=en&land_quota_mu_per_year=254000.0`` (the question "what if we doubled the
land quota?") with its measure's group (art. 21) open, and writes

- docs/explorer_estimate.png: the emulator's estimate on screen while the model runs;
- docs/explorer_en.png: the model's answer in its place (P(met), cost, decomposition, fan charts);
- docs/explorer_zh.png: the same page after the switch to Chinese.

The emulator is --emulator FOLDER, else results/analyze/explorer when it exists (what `simmodel
analyze method=emulator name=explorer` writes), else a tiny one trained first (2 factors, 12 points at
scale 0.02, 4 replicates: a minute or two). The runs are the explorer's defaults (scale 0.1, 20
replicates, 8 decomposition pairs): several minutes on two cores. Chromium: $SIMMODEL_CHROMIUM or
`chromium` on the PATH.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from bench_explorer import _kill, chromium, start_server, train_emulator  # noqa: E402

URL = "?scenario=baseline&lang=en&land_quota_mu_per_year=254000.0"
VIEW = {"width": 1400, "height": 1250}


def show_lever_group(page) -> None:
    """The changed lever's group at the top of the controls' own scroll area."""
    page.locator(".lever-land_quota_mu_per_year").wait_for(timeout=120_000)
    page.evaluate("""() => {
        const g = document.querySelector('.article-21'), box = document.querySelector('.controls');
        box.scrollTop = g.offsetTop - box.offsetTop;
    }""")


def settle(page) -> None:
    """Fonts and images drawn before the picture is taken."""
    page.evaluate("""async () => {
        await document.fonts.ready;
        await Promise.all([...document.images].map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
    }""")
    time.sleep(1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emulator", type=Path)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--max-error", type=float, default=0.1, help="emulator_max_error (the explorer's default: 0.1)")
    ap.add_argument("--out", type=Path, default=DOCS)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    path = chromium()
    with tempfile.TemporaryDirectory(prefix="explorer_shots_") as tmp:
        emu = args.emulator or (ROOT / "results" / "analyze" / "explorer")
        if not emu.is_dir():
            emu = train_emulator(Path(tmp) / "emulator")
        proc, url = start_server(Path(tmp) / "results", emu.resolve(),
                                 {"scale": args.scale, "replicates": args.replicates, "pairs": args.pairs},
                                 max_error=args.max_error)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
                page = browser.new_page(viewport=VIEW)
                page.goto(url + URL, wait_until="domcontentloaded", timeout=300_000)
                show_lever_group(page)
                page.locator(".estimate table").wait_for(timeout=120_000)
                page.locator(".run-progress").first.wait_for(timeout=120_000)
                settle(page)
                page.screenshot(path=str(args.out / "explorer_estimate.png"))
                print("wrote", args.out / "explorer_estimate.png", flush=True)

                page.locator(".model-result .fan-charts img").first.wait_for(timeout=3_600_000)
                show_lever_group(page)
                settle(page)
                page.screenshot(path=str(args.out / "explorer_en.png"))
                print("wrote", args.out / "explorer_en.png", flush=True)

                page.locator(".lang-switch").get_by_text("中文").click()
                page.wait_for_url("**lang=zh**", timeout=60_000)
                page.locator(".article-21 .article-toggle").filter(has_text="（二十一）").wait_for(timeout=60_000)
                page.locator(".model-result").filter(has_text="实现概率").wait_for(timeout=120_000)
                page.locator(".model-result .fan-charts img").first.wait_for(timeout=120_000)
                show_lever_group(page)
                settle(page)
                page.screenshot(path=str(args.out / "explorer_zh.png"))
                print("wrote", args.out / "explorer_zh.png", flush=True)
                browser.close()
        finally:
            _kill(proc)


if __name__ == "__main__":
    main()
