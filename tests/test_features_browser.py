"""The feature-visualization toolbox driven through a real browser (Debian's Chromium under Playwright, as
tests/test_browser.py does): a class picked by name sets the class index, a typed combined objective fills the
list of terms, and a diversity run streams its row and fills the gallery with captioned tiles."""

from __future__ import annotations

import re

import pytest

import test_browser
from test_browser import FIRST_FRAME_SECONDS, SQUEEZENET, choose, open_built_tab, pick, set_number

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The module's fixtures, shared with the browser tests' own: a served app and a page (the browser is conftest's).
server = test_browser.server
page = test_browser.page


def test_classes_by_name_terms_and_a_diversity_row_in_the_browser(page, server):
    panel = open_built_tab(page, server, "Feature visualization", "features-run")
    choose(page, "features-backbone", SQUEEZENET)
    pick(page, "features-weights", "random")

    picker = page.locator("#features-class input")
    picker.click()
    picker.press("Control+a")
    picker.press_sequentially("volcan", delay=50)  # The list filters as one types.
    page.get_by_role("option", name=re.compile(r"volcano \(980\)")).first.click()
    class_box = panel.get_by_label(re.compile(r"^Class number"))
    page.wait_for_function("[...document.querySelectorAll('input[type=number]')].some(box => box.value === '980')",
                           timeout=10_000)
    assert class_box.input_value() == "980"

    panel.get_by_text("Diversity, interpolation, atlas and combined objectives").click()
    expression = page.locator("#features-expression textarea")
    expression.fill("fire5:7 - 0.5*neuron(fire7:3)")
    expression.press("Tab")
    terms = page.locator("#features-terms")
    terms.get_by_text("fire7", exact=True).wait_for(timeout=10_000)
    rows = re.sub(r"\s+", " ", terms.inner_text())
    assert "1 channel fire5 7 -0.5 neuron fire7 3" in rows, rows
    expression.fill("")
    expression.press("Tab")

    pick(page, "features-figure", "diversity")
    page.locator("#features-filters textarea").fill("3")
    set_number(panel, "Image size (px)", 48)
    set_number(panel, "Images per row", 3)
    steps = panel.get_by_label(re.compile(r"^number input for Iterations"))
    steps.fill("6")
    steps.press("Enter")
    page.locator("#features-run").click()
    page.wait_for_function("document.querySelector('#features-status textarea')?.value.endsWith('done')",
                           timeout=FIRST_FRAME_SECONDS * 1000)
    gallery = page.locator("#features-gallery")
    for caption in ("1", "2", "3"):
        gallery.get_by_text(caption, exact=True).first.wait_for(timeout=10_000)
    assert page.locator("#features-gallery img").count() >= 3
