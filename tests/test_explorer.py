"""The explorer in headless Chromium, offline from file://: the overview's feature grid, a view per
feature (#conv2/3) and per class (#class/3), links, arrow keys, back and forward."""
import re

import torch

from browser import is_blank, offline_page

DRAWN = """() => Array.from(document.querySelectorAll('#view canvas')).map(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  return c.width > 0 && d.some((v, i) => i % 4 !== 3 && v > 0);
})"""


def heading(page) -> str:
    return page.locator("#view h2").inner_text()


def shows(page, text: str) -> bool:
    """Wait until the view's heading is `text` (the view is drawn on the hashchange event)."""
    page.wait_for_function("t => document.querySelector('#view h2')?.textContent === t && "
                           "!document.getElementById('view').hidden", arg=text, timeout=120_000)
    return True


def test_explorer_views(stage_outputs, tmp_path):
    page_path = (stage_outputs / "reports/index.html").resolve()
    config = torch.load(stage_outputs / "data/model/model.pt", weights_only=True)["config"]
    channels = {f"conv{i + 1}": n for i, n in enumerate(config["conv_channels"])}
    with offline_page(1280) as (page, seen):
        page.goto(page_path.as_uri())
        links = page.eval_on_selector_all("#features a", "as => as.map(a => a.getAttribute('href'))")
        assert links == [f"#{layer}/{n}" for layer, count in channels.items() for n in range(1, count + 1)]
        assert page.is_visible("#overview") and not page.is_visible("#view")
        page.screenshot(path=str(tmp_path / "overview.png"))
        assert not is_blank(tmp_path / "overview.png")

        page.click("#features a[href='#conv2/3']")
        assert shows(page, "conv2 \u00b7 feature 3") and page.evaluate("location.hash") == "#conv2/3"
        drawn = page.evaluate(DRAWN)
        assert len(drawn) > 40 and all(drawn)  # every canvas of the view has content
        assert page.locator("#view .box").count() > 0  # receptive-field boxes on the top examples
        page.keyboard.press("ArrowRight")
        assert shows(page, "conv2 \u00b7 feature 4") and page.evaluate("location.hash") == "#conv2/4"
        page.keyboard.press("ArrowLeft")
        assert shows(page, "conv2 \u00b7 feature 3")
        page.go_back()
        assert shows(page, "conv2 \u00b7 feature 4") and page.evaluate("location.hash") == "#conv2/4"
        page.go_forward()
        assert shows(page, "conv2 \u00b7 feature 3")

        page.goto(page_path.as_uri() + "#conv1/3")  # a link typed or pasted
        assert shows(page, "conv1 \u00b7 feature 3") and all(page.evaluate(DRAWN))
        page.screenshot(path=str(tmp_path / "feature.png"), full_page=True)

        for layer, count in channels.items():  # every feature of every layer has a view
            for n in range(1, count + 1):
                page.evaluate(f"location.hash = '#{layer}/{n}'")
                assert shows(page, f"{layer} \u00b7 feature {n}")

        page.goto(page_path.as_uri() + "#class/3")
        page.wait_for_selector("#view h2")
        assert re.fullmatch(r"class 3\b.*", heading(page)) and all(page.evaluate(DRAWN))
        target = page.locator("#view a[href^='#conv2/']").first.get_attribute("href")
        page.locator("#view a[href^='#conv2/']").first.click()
        assert shows(page, f"conv2 \u00b7 feature {target.split('/')[1]}") and page.evaluate("location.hash") == target
        page.evaluate("location.hash = '#nonsense/99'")
        page.wait_for_selector("#overview", state="visible")
        # a layer this network does not have (another run's link): said above the overview
        page.goto(page_path.as_uri() + "#conv3/2")
        page.wait_for_selector("#route-note", state="visible")
        note = page.locator("#route-note").inner_text()
        assert note.startswith("No view #conv3/2 in this report: its layers are conv1 (features 1-") and \
            "Showing the overview." in note and page.is_visible("#overview"), note
        page.screenshot(path=str(tmp_path / "unknown.png"))
        page.evaluate("location.hash = '#conv1/2'")
        assert shows(page, "conv1 \u00b7 feature 2") and not page.is_visible("#route-note")
    assert seen["external"] == [] and seen["failed"] == [] and seen["console_errors"] == []


def test_explorer_on_a_phone(stage_outputs, tmp_path):
    page_path = (stage_outputs / "reports/index.html").resolve()
    with offline_page(390, 844) as (page, seen):
        page.goto(page_path.as_uri() + "#conv2/1")
        assert shows(page, "conv2 \u00b7 feature 1")
        # nothing but scrollable tables and charts is wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        assert not is_blank(tmp_path / "phone.png")
    assert seen["console_errors"] == [] and seen["failed"] == []
