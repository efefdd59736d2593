"""The pages as served: the shared head and top bar filled in, the current page marked."""

import re

import pytest

from backend.pages import PAGES, plotly_js_url, render_page


@pytest.mark.parametrize(("path", "filename"), [*PAGES.items(), (None, "run.html")])
def test_every_page_gets_the_shared_head_and_top_bar(path, filename):
    html = render_page(filename, path)
    assert "<!-- reglab:" not in html
    assert html.index('<meta charset="utf-8">') < html.index("<title>")
    assert html.count('<header class="topbar">') == 1
    current = re.findall(r'<a href="([^"]*)" aria-current="page">', html)
    assert current == ([path] if path else [])
    assert "/static/vendor/plotly.min.js" not in html
    if filename not in ("index.html", "signin.html"):
        assert plotly_js_url() in html


def test_the_live_indicator_is_on_the_pages_that_stream():
    assert 'id="live"' in render_page("compare.html", "/compare")
    assert 'id="live"' in render_page("run.html")
    assert 'id="live"' not in render_page("new.html", "/new")
