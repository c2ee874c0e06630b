"""``{% nav_url %}`` (medilens/templatetags/medilens_links.py) answers what ``{% url %}`` answers."""

import re

import pytest
from django.conf import settings
from django.template import Context, Template
from django.urls import NoReverseMatch, clear_script_prefix, reverse, set_script_prefix


def _base_template_routes() -> list[str]:
    text = (settings.BASE_DIR / "templates" / "base.html").read_text()
    return re.findall(r"\{% nav_url '([a-z_:]+)' %\}", text)


def _render(name: str) -> str:
    return Template("{% nav_url name %}").render(Context({"name": name}))


def test_every_link_of_the_base_template_is_the_one_url_gives():
    routes = _base_template_routes()
    assert len(set(routes)) >= 14
    for name in routes:
        assert _render(name) == reverse(name)


def test_a_site_mounted_under_a_prefix_gets_links_under_it_and_the_cache_keeps_the_two_apart():
    plain = _render("portal:dashboard")
    set_script_prefix("/medilens/")
    try:
        assert _render("portal:dashboard") == reverse("portal:dashboard") == "/medilens" + plain
    finally:
        clear_script_prefix()
    assert _render("portal:dashboard") == plain


def test_an_unknown_view_is_refused_as_url_refuses_it():
    with pytest.raises(NoReverseMatch):
        _render("portal:no_such_page")
