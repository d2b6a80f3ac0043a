"""What a student meets in a real browser (Debian's Chromium): networks without their weights, readable errors,
results in view on laptop screens, every tab on a phone, words a student knows, a progress bar with the time
left, and bad files named when they are dropped."""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import SQUEEZENET_WEIGHTS
from test_app import served_app
from test_browser import (FIRST_FRAME_SECONDS, PHOTO, SQUEEZENET, STYLE_PICTURE, choose, collect_streamed_images,
                          open_tab, pick, set_number, upload)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LAPTOPS = [(1366, 768), (1440, 900), (1920, 1080)]
TAB_NAMES = {"features": "Feature visualization", "dream": "DeepDream", "style": "Style transfer"}


@pytest.fixture(scope="module")
def keras_home(tmp_path_factory):
    """A weights cache holding SqueezeNet's file only: every other network is missing (tests never go online)."""
    if not SQUEEZENET_WEIGHTS.is_file():
        pytest.skip(f"real SqueezeNet weights not found at {SQUEEZENET_WEIGHTS}")
    home = tmp_path_factory.mktemp("keras")
    (home / "models").mkdir()
    shutil.copyfile(SQUEEZENET_WEIGHTS, home / "models" / "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5")
    return home


@pytest.fixture(scope="module")
def server(tmp_path_factory, keras_home):
    with served_app(tmp_path_factory.mktemp("gradio"), KERAS_HOME=str(keras_home)) as (_, url):
        yield url


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(width: int = 1400, height: int = 1100):
        contexts.append(browser.new_context(viewport={"width": width, "height": height}))
        return contexts[-1].new_page()
    yield make
    for context in contexts:
        context.close()


def status_of(page, tab: str) -> str:
    return page.locator(f"#{tab}-status textarea").input_value()


def wait_for_status(page, tab: str, pattern: str, timeout: float = FIRST_FRAME_SECONDS) -> str:
    page.wait_for_function(f"new RegExp({pattern!r}).test(document.querySelector('#{tab}-status textarea').value)",
                           timeout=timeout * 1000)
    return status_of(page, tab)


def readable_at_its_centre(page, elem_id: str) -> bool:
    """Whether the element itself (nothing laid over it) is what shows at its centre."""
    return page.evaluate(f"""() => {{ const element = document.querySelector('#{elem_id} textarea');
        const box = element.getBoundingClientRect();
        return element === document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2); }}""")


def prepare_small_run(page, tab: str) -> None:
    """SqueezeNet with random weights, a small image and many iterations: a run that streams until stopped."""
    choose(page, f"{tab}-backbone", SQUEEZENET)
    pick(page, f"{tab}-weights", "random")
    panel = page.locator("div[role=tabpanel]:visible")
    if tab == "dream":
        upload(page, "dream-input", PHOTO)
        set_number(panel, "Iterations per octave", 200)
        set_number(panel, "Longest side (px)", 256)
    elif tab == "style":
        upload(page, "style-content", PHOTO)
        upload(page, "style-image-1", STYLE_PICTURE)
        set_number(panel, "Iterations (per scale)", 1000)
        set_number(panel, "Longest side (px)", 256)
    else:
        set_number(panel, "Image size (px)", 64)
        box = panel.get_by_label(re.compile(r"^number input for Iterations"))
        box.fill("1000")
        box.press("Enter")
    page.wait_for_timeout(500)


def test_a_missing_network_says_so_and_one_click_switches_to_a_ready_one(new_page, server, keras_home):
    """Offline, the feature tab's default VGG16 has no weights: the dropdown says so before Run; Run says it in a
    sentence without server paths, in a status line that stays readable after the toast has gone; one click
    switches to SqueezeNet, whose weights are here, and the next Run streams."""
    page = new_page()
    open_tab(page, server, TAB_NAMES["features"])
    page.locator("#features-backbone input").click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    assert any("SqueezeNet 1.1 · ready" in option for option in options), options
    assert any("VGG16 · not available offline" in option for option in options), options
    page.locator("#features-run").click()
    status = wait_for_status(page, "features", "^Not started")
    assert "VGG16's trained weights are not on this server" in status and "SqueezeNet 1.1 is ready" in status
    assert str(keras_home) not in page.content() and "URL fetch" not in page.content()
    switch = page.locator("#features-use-ready-network")
    switch.wait_for(state="visible", timeout=10_000)
    page.locator("[data-testid=toast-body]").first.wait_for(state="detached", timeout=30_000)
    assert status_of(page, "features") == status and readable_at_its_centre(page, "features-status")
    switch.click()
    page.wait_for_function("document.querySelector('#features-backbone input').value.startsWith('SqueezeNet')")
    assert page.locator("#features-layer input").input_value() == "fire5_concat"
    assert not switch.is_visible()
    page.locator("#features-run").click()
    collect_streamed_images(page, "features-output", wanted=2)
    page.locator("#features-stop").click()


@pytest.mark.parametrize("width, height", LAPTOPS, ids=lambda value: str(value))
@pytest.mark.parametrize("tab", ["style", "dream", "features"])
def test_results_stay_in_view_while_a_run_streams_on_laptop_screens(new_page, server, tab, width, height):
    """After scrolling down to Run, the streamed image is wholly on screen, with its progress bar, and the empty
    download takes a button's height, not a box's."""
    page = new_page(width, height)
    open_tab(page, server, TAB_NAMES[tab])
    prepare_small_run(page, tab)
    assert page.locator(f"#{tab}-download").bounding_box()["height"] < 60
    page.locator(f"#{tab}-run").scroll_into_view_if_needed()
    page.locator(f"#{tab}-run").click()
    collect_streamed_images(page, f"{tab}-output", wanted=2)
    for part in (f"{tab}-output img", f"{tab}-progress"):
        box = page.locator(f"#{part}").first.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (part, box, width, height)
    assert page.locator(f"#{tab}-run").bounding_box()["y"] < height  # The page did scroll down to Run.
    page.locator(f"#{tab}-stop").click()


def test_a_phone_reaches_all_three_tabs_at_a_glance(new_page, server):
    page = new_page(390, 844)
    page.goto(server)
    tabs = page.get_by_role("tab")
    tabs.first.wait_for()
    page.wait_for_timeout(1000)  # Gradio sorts tabs into the bar and its overflow menu once it has measured them.
    assert [tabs.nth(index).inner_text() for index in range(tabs.count())] == list(TAB_NAMES.values())
    for index, tab in enumerate(TAB_NAMES):
        assert tabs.nth(index).is_visible()
        tabs.nth(index).click()
        page.locator(f"#{tab}-run").wait_for(state="visible")


def test_a_run_speaks_plainly_with_a_progress_bar_and_details_one_click_away(new_page, server):
    page = new_page()
    open_tab(page, server, TAB_NAMES["dream"])
    prepare_small_run(page, "dream")
    page.locator("#dream-run").click()
    collect_streamed_images(page, "dream-output", wanted=2)
    bar = page.locator("#dream-progress [role=progressbar]")
    first = int(bar.get_attribute("aria-valuenow"))
    page.wait_for_function(f"+document.querySelector('#dream-progress [role=progressbar]')"
                           f".getAttribute('aria-valuenow') > {first}", timeout=30_000)
    page.wait_for_function("/\\d+% · about .* left/.test(document.querySelector('#dream-progress "
                           "[role=progressbar]').innerText)", timeout=30_000)
    status = status_of(page, "dream")
    assert re.match(r"Octave \d of \d \(\d+×\d+\) · iteration \d+ of \d+ · dream strength ", status), status
    page.locator("#dream-details-box").click()
    details = page.locator("#dream-details")
    for term in ("dream strength", "fire5_concat", "fire7_concat", "fire9_concat"):
        details.get_by_text(term).first.wait_for(timeout=10_000)
    page.locator("#dream-stop").click()
    open_tab(page, server, TAB_NAMES["style"])
    colours = page.locator("#style-colors label").all_inner_texts()
    assert colours == ["no: the result takes the style's colours", "yes: the style on brightness only",
                       "yes: recolour the style to the photo's colours first"]


def test_the_status_never_answers_for_an_earlier_run_and_bad_files_are_named_at_once(new_page, server, tmp_path):
    import hostile_inputs

    page = new_page()
    panel = open_tab(page, server, TAB_NAMES["dream"])
    prepare_small_run(page, "dream")
    set_number(panel, "Iterations per octave", 2)
    page.locator("#dream-run").click()
    wait_for_status(page, "dream", "done$")
    for label in ("fire2_concat", "fire3_concat", "fire4_concat", "fire5_concat", "fire6_concat", "fire7_concat",
                  "fire8_concat", "fire9_concat"):
        set_number(panel, label, 0)
    page.locator("#dream-run").click()
    assert "give at least one layer a non-zero weight" in wait_for_status(page, "dream", "^Not started")

    bad = next(case for case in hostile_inputs.corpus() if case.name == "truncated_jpeg").write(tmp_path)
    open_tab(page, server, TAB_NAMES["style"])
    page.get_by_text("More styles, blended").click()
    upload(page, "style-image-2", bad)
    page.locator("[data-testid=toast-body]", has_text=re.compile("Style 2: .*could not be decoded")).first.wait_for(
        timeout=30_000)
    assert status_of(page, "style").startswith("Not used: Style 2: ")


def test_the_zoom_section_streams_its_frames_and_ends_with_a_video_that_plays(new_page, server):
    """The DeepDream tab's zoom: frames stream in, a progress bar tells the time left, and the frames become a
    video the page plays: its duration is the frames over the frames per second."""
    page = new_page()
    open_tab(page, server, TAB_NAMES["dream"])
    choose(page, "dream-backbone", SQUEEZENET)
    pick(page, "dream-weights", "random")
    upload(page, "dream-input", PHOTO)
    page.get_by_text("Zoom animation: dream, zoom in, dream again").click()
    section = page.locator("#zoom-run").locator("xpath=ancestor::div[contains(@class, 'accordion')][1]")
    for label, value in (("Frames", 6), ("Frames per second", 3), ("Iterations per octave", 1),
                         ("Octaves per frame", 1), ("Longest side (px)", 96)):
        set_number(section, label, value)
    page.locator("#zoom-run").click()
    collect_streamed_images(page, "zoom-output", wanted=2)
    wait_for_status(page, "zoom", "done$")
    video = page.locator("#zoom-video video")
    video.wait_for(timeout=60_000)
    page.wait_for_function("document.querySelector('#zoom-video video').readyState >= 1", timeout=30_000)
    assert video.evaluate("element => element.duration") == pytest.approx(6 / 3, abs=0.1)
