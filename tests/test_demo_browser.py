"""The classroom demo in a real browser: Debian's chromium driven by Playwright.

Starts ``replisim demo --port <free port> --no-open`` (through ``python -m replisim.demo.cli``), opens the page,
moves the replication-success slider, resets (sliders apply on Reset), presses play, and checks that the step
counter advances and the population chart changes. Saves a screenshot (outputs/screenshots/demo.png; figures/demo.png
under `make figures`).

Playwright only drives /usr/bin/chromium (it never downloads a browser). Without chromium the test skips, except
when the environment variable CI is set: there a missing browser is a failure (.ci/run installs it).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
# outputs/screenshots/ (ignored by git) unless REPLISIM_SCREENSHOT_DIR names another folder: `make figures` points
# it at figures/, so `make test` leaves the tree clean and figures/demo.png changes only when the figures do
SCREENSHOT = Path(os.environ.get("REPLISIM_SCREENSHOT_DIR") or Path(__file__).resolve().parents[1] / "outputs"
                  / "screenshots") / "demo.png"
START_TIMEOUT = 240  # s: a cold start imports solara, mesa, numba and hydra; shared CI machines are slow
STEP = re.compile(r"Step (\d+) of (\d+)")


def require_browser():
    """Skip (or, under CI, fail) with a clear reason when chromium or playwright is missing."""
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"no chromium at {CHROMIUM} (install it with: apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (pip install -e '.[dev]')"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the browser test cannot run: {missing}")
        pytest.skip(missing)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo_url():
    """A running demo server; its whole process group (CLI and solara) is always killed afterwards."""
    require_browser()
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "replisim.demo.cli", "--port", str(port), "--no-open"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"replisim demo exited with {proc.returncode}:\n{log.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"replisim demo did not answer on {url} within {START_TIMEOUT} s")
            time.sleep(1)
        yield url
    finally:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)  # the group this test started: the CLI and its solara child
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


def current_step(page) -> int:
    return int(STEP.search(page.inner_text(".replisim-step")).group(1))


def chart_image(page, name: str) -> bytes:
    return page.locator(f".replisim-chart-{name} img").first.screenshot()


@pytest.mark.browser
def test_demo_slider_play_and_charts(demo_url):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1050})
            page.goto(demo_url, timeout=START_TIMEOUT * 1000)
            page.wait_for_selector(".replisim-step", timeout=START_TIMEOUT * 1000)
            expect(page.locator(".replisim-step")).to_have_text("Step 0 of 200", timeout=60_000)
            expect(page.locator(".replisim-settings")).to_contain_text("success 0.50")

            # move the replication-success slider five steps to the right, then Reset applies it
            slider = page.locator(".v-input", has_text="Replication success").locator("[role=slider]")
            slider.focus()
            for _ in range(5):
                slider.press("ArrowRight")
            expect(slider).to_have_attribute("aria-valuenow", "0.55")
            page.get_by_role("button", name="Reset", exact=True).click()
            expect(page.locator(".replisim-settings")).to_contain_text("success 0.55", timeout=60_000)
            assert current_step(page) == 0
            before = chart_image(page, "replicas")

            page.get_by_role("button", name="▶", exact=True).click()
            deadline = time.monotonic() + 120
            while current_step(page) < 25 and time.monotonic() < deadline:
                time.sleep(0.5)
            page.get_by_role("button", name="❚❚", exact=True).click()  # pause, so the screenshot shows one state
            expect(page.get_by_role("button", name="▶", exact=True)).to_be_visible(timeout=60_000)
            reached = current_step(page)
            assert reached >= 25, f"the step counter only reached {reached} in 120 s of play"
            time.sleep(1.0)  # let the last render land
            after = chart_image(page, "replicas")
            assert after != before, "the population chart did not change while the model played"

            from replisim.files import atomic

            shot = page.screenshot(type="png")
            atomic(SCREENSHOT, lambda tmp: Path(tmp).write_bytes(shot))  # a reader never sees half a picture
        finally:
            browser.close()


# --- without a browser: the command line and the page's configuration ------------------------------------


@pytest.mark.parametrize("argv, expected", [([], (8765, True)), (["--no-open"], (8765, False)),
                                            (["--port", "9000"], (9000, True)), (["--port=1", "--no-open"], (1, False))])
def test_demo_cli_parses_port_and_no_open(argv, expected):
    from replisim.demo.cli import parse

    assert parse(argv) == expected


@pytest.mark.parametrize("argv", [["--port", "0"], ["--port", "70000"], ["--port", "abc"], ["--port"], ["--open"]])
def test_demo_cli_bad_input_is_one_line_and_exit_2(argv, capsys):
    from replisim.demo.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("replisim demo: ") and "allowed" in err


def test_demo_binds_to_localhost_only():
    from replisim.demo.cli import command

    cmd = command(8765, False)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"


def test_demo_offers_every_packaged_governance_preset_and_validates_sliders():
    from importlib.resources import files

    from replisim import ConfigError
    from replisim.demo.model import demo_config, governance_presets

    shipped = {p.name[:-5] for p in (files("replisim.conf") / "governance").iterdir() if p.name.endswith(".yaml")}
    assert set(governance_presets()) == shipped and governance_presets()[0] == "none"
    cfg = demo_config(detection=0.3, kill_switch=0.7, governance="none")
    assert all(t.monitoring == 0.3 and t.kill_switch == 0.7 for t in cfg.network.types.values())
    assert cfg.network.nodes == 300 and cfg.network.kind == "complete"
    with pytest.raises(ConfigError):
        demo_config(detection=1.5)


@pytest.mark.parametrize("engine", ["mesa", "numba"])
def test_page_frames_for_both_engines(engine):
    """What the page draws, without a browser: a Mesa run drawn live, or a Numba run played back."""
    from replisim.demo.app import CHARTS, chart_figure, network_figure
    from replisim.demo.model import LARGE_NODES, ClassroomModel

    model = ClassroomModel(engine=engine, seed=3)
    for _ in range(4):
        model.step()
    view = model.view("monitoring")
    assert view.step == 4 and all(len(view.series[name]) == 5 for name, _, _ in CHARTS)
    assert view.series["replicas"][0] == 5
    for name, title, colour in CHARTS:
        chart_figure(view.series[name], model.horizon, name, title, colour)
    if engine == "mesa":
        assert len(view.replica_xy) == view.series["replicas"][-1]
        assert len(view.node_values) == 300
        network_figure(view, "monitoring", model.nodes)
    else:
        assert model.nodes == LARGE_NODES and view.replica_xy is None
