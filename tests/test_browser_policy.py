"""Under CI a missing browser fails the page tests; elsewhere it skips them."""
import pytest

import browser


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_chromium(monkeypatch, ci, outcome):
    monkeypatch.setattr(browser, "CHROMIUM", None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(BaseException) as info:  # pytest's skip and fail outcomes are BaseExceptions
        browser.require_browser()
    assert type(info.value) is outcome and "headless Chromium is not installed" in str(info.value)
