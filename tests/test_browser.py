"""Each tab driven through a real browser: Debian's Chromium under Playwright (never `playwright install`).

For every tab: upload, Run, at least three distinct images streamed into the output, Stop (the stream stops),
a bad file's error toast, and a screenshot kept in a temporary folder (its path is printed). The DeepDream test
also opens a second session to see its queue position and elapsed time while the first one runs.
Runs use SqueezeNet with random weights and small images, so no download is needed and each run is quick.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import hostile_inputs
from conftest import ROOT
from test_app import served_app

PHOTO = ROOT / "assets" / "coffee.jpg"
STYLE_PICTURE = ROOT / "assets" / "rocket.jpg"
SQUEEZENET = "SqueezeNet"
FIRST_FRAME_SECONDS = 90  # The first run in a process imports TensorFlow and builds the network.

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# --- fixtures ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("gradio")) as (_, url):
        yield url


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    print(f"\nscreenshots of each tab: {folder}")


@pytest.fixture(scope="module")
def bad_file(tmp_path_factory) -> Path:
    """A JPEG cut in half: it passes the browser's file-type filter and fails in our loader."""
    case = next(case for case in hostile_inputs.corpus() if case.name == "truncated_jpeg")
    return case.write(tmp_path_factory.mktemp("bad"))


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    yield page
    context.close()


# --- driving widgets -----------------------------------------------------------------------------------------

def open_tab(page, url: str, name: str):
    """Load the app, switch to tab `name` and return its panel (widgets are looked up inside it)."""
    page.goto(url)
    page.get_by_role("tab", name=name).click()
    panel = page.locator("div[role=tabpanel]:visible")
    panel.wait_for()
    return panel


def open_built_tab(page, url: str, name: str, run_id: str):
    """open_tab, or skip while the tab is still a placeholder without a Run button."""
    panel = open_tab(page, url, name)
    page.wait_for_timeout(500)  # Gradio renders a tab's widgets when it is first shown.
    if page.locator(f"#{run_id}").count() == 0:
        pytest.skip(f"the {name} tab is not built yet")
    return panel


def choose(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=re.compile(re.escape(option))).first.click()


def pick(page, elem_id: str, label: str) -> None:
    page.locator(f"#{elem_id} label", has_text=label).click()


def set_number(panel, label: str, value) -> None:
    box = panel.get_by_label(f"number input for {label}", exact=True)
    box.fill(str(value))
    box.press("Enter")


def upload(page, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))


def tracker(page, elem_id: str):
    return page.locator(f"#{elem_id} [data-testid=status-tracker]")


def output_sources(page, elem_id: str) -> set[str]:
    return {source for source in (image.get_attribute("src") for image in page.locator(f"#{elem_id} img").all())
            if source}


def collect_streamed_images(page, elem_id: str, wanted: int = 3, timeout: float = FIRST_FRAME_SECONDS) -> list:
    """Poll the output image while a run streams: the distinct images it showed, in order."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while len(seen) < wanted and time.monotonic() < deadline:
        seen += [source for source in output_sources(page, elem_id) if source not in seen]
        page.wait_for_timeout(50)
    assert len(seen) >= wanted, f"only {len(seen)} distinct images streamed into #{elem_id}"
    return seen


def assert_in_view(page, output_id: str) -> None:
    """The output image is on screen and shown, though clicking Run scrolled the page down to the button (its
    results column stays in view), rather than above the window and never loaded (Gradio loads images lazily).
    At the very end of the page the column may sit a little higher: the row it sticks within ends there."""
    box = page.locator(f"#{output_id}").bounding_box()
    viewport_height = page.viewport_size["height"]
    assert box is not None and box["y"] + box["height"] / 2 > 0 and box["y"] < viewport_height, \
        f"#{output_id} is off screen: {box}"
    page.wait_for_function(f"document.querySelector('#{output_id} img')?.naturalWidth > 0", timeout=10_000)


def assert_inside(inner: dict, outer: dict) -> None:
    assert (outer["x"] <= inner["x"] and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
            and outer["y"] <= inner["y"] and inner["y"] + inner["height"] <= outer["y"] + outer["height"]), \
        f"{inner} is not inside {outer}"


def stop_and_check_it_stopped(page, tab: str) -> None:
    """Click Stop: the status stops showing progress, and after at most a frame or two already on their way,
    no image arrives for two seconds (several chunks' worth: a run still going would keep sending frames); then
    the status line says the run was stopped, and the last image is offered as a PNG (with the run's recipe)."""
    output_id, status_id = f"{tab}-output", f"{tab}-status"
    before = output_sources(page, output_id)
    page.locator(f"#{tab}-stop").click()
    page.wait_for_function(f"!document.querySelector('#{tab}-progress [data-testid=status-tracker]')"
                           ".classList.contains('generating')", timeout=15_000)
    arrived, quiet_since = set(), time.monotonic()
    deadline = time.monotonic() + 20
    while time.monotonic() - quiet_since < 2.0:
        assert time.monotonic() < deadline, "images kept arriving after Stop"
        new = output_sources(page, output_id) - before - arrived
        if new:
            arrived |= new
            quiet_since = time.monotonic()
        page.wait_for_timeout(100)
    assert len(arrived) <= 2, f"{len(arrived)} images arrived after Stop"
    status = page.locator(f"#{status_id} textarea").input_value()
    assert status.endswith(" · stopped"), f"the status after Stop: {status!r}"
    assert downloaded_name(page, tab).endswith("-stopped.png")


def downloaded_name(page, tab: str, save_to: Path | None = None) -> str:
    """Click the tab's download button until it gives a file (it is empty until a run has ended): its name."""
    deadline = time.monotonic() + FIRST_FRAME_SECONDS
    while True:
        try:
            with page.expect_download(timeout=2_000) as download_info:
                page.locator(f"#{tab}-download").click()
            break
        except Exception:
            assert time.monotonic() < deadline, f"#{tab}-download offered no file"
    if save_to is not None:
        download_info.value.save_as(save_to / download_info.value.suggested_filename)
    return download_info.value.suggested_filename


def assert_not_done_and_screenshot(page, folder: Path, tab: str) -> None:
    assert not page.locator(f"#{tab}-status textarea").input_value().endswith("done")
    screenshot(page, folder, tab)


def stop_then_refuse_a_bad_file(page, folder: Path, tab: str, input_id: str, bad_file: Path) -> None:
    """Stop the streaming run (it stops, unfinished; the tab is photographed), then Run on a corrupt upload:
    a clear error toast."""
    stop_and_check_it_stopped(page, tab)
    assert_not_done_and_screenshot(page, folder, tab)
    upload(page, input_id, bad_file)
    page.locator(f"#{tab}-run").click()
    expect_error_toast(page, r"could not be decoded.*truncated or corrupt")


def expect_error_toast(page, pattern: str) -> None:
    toast = page.locator("[data-testid=toast-body]", has_text=re.compile(pattern))
    toast.first.wait_for(timeout=30_000)


def screenshot(page, folder: Path, name: str) -> None:
    # Gradio's images load lazily: scroll the outputs (top of the tab) into view so the picture shows them.
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(500)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


# --- DeepDream -----------------------------------------------------------------------------------------------

def prepare_dream(page, url: str, iterations: int = 200, longest_side: int = 256):
    panel = open_tab(page, url, "DeepDream")
    choose(page, "dream-backbone", SQUEEZENET)
    pick(page, "dream-weights", "random")
    for label, value in (("Octaves", 2), ("Iterations per octave", iterations), ("Longest side (px)", longest_side)):
        set_number(panel, label, value)
    upload(page, "dream-input", PHOTO)
    page.locator("#dream-input img").first.wait_for()
    return panel


def test_dream_tab_streams_stops_queues_and_reports_bad_files(page, browser, server, screenshots, bad_file):
    prepare_dream(page, server)
    page.locator("#dream-run").click()
    collect_streamed_images(page, "dream-output")
    assert_in_view(page, "dream-output")

    # A second student meanwhile: the status shows their queue position and the time waited so far.
    other = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
    open_tab(other, server, "DeepDream")
    upload(other, "dream-input", PHOTO)
    other.locator("#dream-input img").first.wait_for()
    other.locator("#dream-run").click()
    waiting = tracker(other, "dream-progress")
    waiting.filter(has_text=re.compile(r"queue:\s*\d+/\d+")).wait_for(timeout=20_000)
    assert re.search(r"\d+(\.\d)?\s*s", waiting.inner_text()), waiting.inner_text()
    screenshot(other, screenshots, "dream-queued")
    other.locator("#dream-stop").click()
    other.context.close()

    stop_then_refuse_a_bad_file(page, screenshots, "dream", "dream-input", bad_file)


def test_dream_recipe_drop_restores_the_settings(page, server, tmp_path):
    """Run to the end, download the PNG, drop it on the recipe zone of a fresh page: the settings follow."""
    panel = prepare_dream(page, server, iterations=3, longest_side=96)
    panel.get_by_label("Seed", exact=True).fill("1234")
    page.locator("#dream-run").click()
    recipe_png = tmp_path / downloaded_name(page, "dream", save_to=tmp_path)
    assert recipe_png.suffix == ".png" and recipe_png.is_file()

    fresh = open_tab(page, server, "DeepDream")
    assert "SqueezeNet" not in page.locator("#dream-backbone input").input_value()
    upload(page, "dream-recipe", recipe_png)
    page.locator("[data-testid=toast-body]", has_text="Settings restored").wait_for(timeout=10_000)
    assert "SqueezeNet" in page.locator("#dream-backbone input").input_value()
    assert fresh.get_by_label("number input for Iterations per octave", exact=True).input_value() == "3"
    assert fresh.get_by_label("number input for Longest side (px)", exact=True).input_value() == "96"
    assert fresh.get_by_label("Seed", exact=True).input_value() == "1234"
    assert fresh.get_by_label("number input for fire5_concat", exact=True).is_visible()
    assert not fresh.get_by_label("number input for mixed3", exact=True).is_visible()


def test_full_screen_result_covers_the_whole_page(page, server):
    """The result's full-screen view hides everything else: no label of the settings shows through it (the
    results column stays in view while scrolling, and must not trap that view beneath the settings)."""
    prepare_dream(page, server, iterations=3, longest_side=96)
    page.locator("#dream-run").click()
    downloaded_name(page, "dream")
    page.locator("#dream-output button[aria-label=Fullscreen]").click()
    page.wait_for_timeout(500)
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    points = [(width * column / 8, height * row / 8) for column in range(1, 8) for row in range(1, 8)]
    outside = page.evaluate("""points => points.filter(([x, y]) =>
        !document.querySelector('#dream-output').contains(document.elementFromPoint(x, y)))""", points)
    assert not outside, f"the page shows through the full-screen result at {outside}"


# --- Feature visualization -----------------------------------------------------------------------------------

def test_features_tab_streams_stops_and_reports_bad_files(page, server, screenshots, bad_file):
    panel = open_built_tab(page, server, "Feature visualization", "features-run")
    choose(page, "features-backbone", SQUEEZENET)
    pick(page, "features-weights", "random")
    set_number(panel, "Image size (px)", 64)
    steps = panel.get_by_label(re.compile(r"^number input for Iterations"))
    steps.fill("1000")
    steps.press("Enter")

    upload(page, "features-photo", PHOTO)  # The photo's feature maps appear without a click.
    page.locator("#features-maps img").first.wait_for(timeout=FIRST_FRAME_SECONDS * 1000)

    page.locator("#features-run").click()
    collect_streamed_images(page, "features-output")
    assert_in_view(page, "features-output")
    stop_and_check_it_stopped(page, "features")
    assert_not_done_and_screenshot(page, screenshots, "features")

    upload(page, "features-photo", bad_file)
    expect_error_toast(page, r"could not be decoded.*truncated or corrupt")


# --- Style transfer ------------------------------------------------------------------------------------------

def open_style_tab_with_a_photo_and_a_style(page, server, iterations: int):
    """The style tab set for a quick run: random SqueezeNet, 128 px, the test photo and one style."""
    panel = open_built_tab(page, server, "Style transfer", "style-run")
    choose(page, "style-backbone", SQUEEZENET)
    pick(page, "style-weights", "random")
    set_number(panel, "Iterations (per scale)", iterations)
    set_number(panel, "Longest side (px)", 128)
    upload(page, "style-content", PHOTO)
    upload(page, "style-image-1", STYLE_PICTURE)
    return panel


def test_style_tab_streams_stops_and_reports_bad_files(page, server, screenshots, bad_file):
    open_style_tab_with_a_photo_and_a_style(page, server, iterations=1000)
    page.locator("#style-image-1 img").first.wait_for()

    page.locator("#style-run").click()
    collect_streamed_images(page, "style-output")
    assert_in_view(page, "style-output")
    # The loss plot's legend (which line is which) lies wholly inside the plot's box, not cut off below it.
    plot = page.locator("#style-losses")
    for name in ("total", "content", "style", "total variation"):
        label = plot.locator("svg text").filter(has_text=re.compile(f"^{name}$"))
        label.first.wait_for(timeout=10_000)
        assert_inside(label.first.bounding_box(), plot.bounding_box())
    stop_then_refuse_a_bad_file(page, screenshots, "style", "style-content", bad_file)


def test_style_tab_estimates_before_run_and_paints_regions(page, server, screenshots):
    """The estimate appears once a photo is chosen; the region editors show the photo; a region painted for the
    only style limits it to that region: the result streams and finishes."""
    panel = open_style_tab_with_a_photo_and_a_style(page, server, iterations=3)
    page.locator("#style-estimate", has_text=re.compile(r"A 128-px result: about .* of memory")).wait_for(
        timeout=FIRST_FRAME_SECONDS * 1000)
    # A size typed into the slider's box (not dragged) is followed too.
    set_number(panel, "Longest side (px)", 160)
    page.locator("#style-estimate", has_text="A 160-px result").wait_for(timeout=FIRST_FRAME_SECONDS * 1000)
    set_number(panel, "Longest side (px)", 128)
    page.locator("#style-estimate", has_text="A 128-px result").wait_for(timeout=FIRST_FRAME_SECONDS * 1000)
    panel.get_by_text("Styles by region (optional)").click()
    canvas = page.locator("#style-region-1 canvas").first
    canvas.wait_for(timeout=20_000)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.2 + 0.05 * step), box["y"] + box["height"] * 0.5, steps=2)
    page.mouse.up()
    page.locator("#style-run").click()
    page.locator("#style-status textarea").wait_for()
    page.wait_for_function("document.querySelector('#style-status textarea').value.endsWith('done')",
                           timeout=FIRST_FRAME_SECONDS * 1000)
    screenshot(page, screenshots, "style-regions")


def test_stop_mark_goes_only_on_a_line_still_showing_progress(browser):
    """The page's Stop mark (app.MARK_STOPPED_JS, run after every run's event ends): a progress line gets
    " · stopped"; a finished, budget-stopped, refused or empty status is left as it is."""
    from neuralart.ui import streaming as app

    page = browser.new_page()
    try:
        def marked(status: str) -> str:
            return page.evaluate(f"({app.MARK_STOPPED_JS})", status)

        progress = "Scale 1 of 2 (192×144) · iteration 45 of 600 · total loss 6.1e+05 · 3.5 s"
        assert marked(progress) == progress + " · stopped"
        for unchanged in (progress + " · done", progress + " · stopped early", app.NO_FRAME_STATUS,
                          "Not started: the photo is 5 x 5 pixels, at 2.0 s", ""):
            assert marked(unchanged) == unchanged
    finally:
        page.close()
