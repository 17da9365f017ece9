"""docs/plugins.md is generated from the docstrings and up to date; every public name, member,
field and key is documented where it is declared."""

from __future__ import annotations

import re

import igym_core
from igym_core import plugin_docs
from igym_core.specs import EnvironmentSpec
from tests.conftest import ROOT


def test_every_public_name_is_documented():
    assert plugin_docs.undocumented() == []


def test_the_plugin_guide_is_up_to_date():
    assert plugin_docs.OUTPUT == ROOT / "docs" / "plugins.md"
    assert plugin_docs.OUTPUT.read_text() == plugin_docs.render(), (
        "docs/plugins.md is stale: run `.venv/bin/python -m igym_core.plugin_docs`"
    )
    assert plugin_docs.main(["--check"]) == 0


def test_the_guide_has_a_section_per_hook_and_per_public_name():
    text = plugin_docs.render()
    for name, _ in plugin_docs.hooks():
        assert f"### `{name}`" in text
    for name in igym_core.__all__:
        assert f"### `{name}`" in text


def test_the_draw_objects_documented_are_those_the_page_draws():
    renderer = (ROOT / "client" / "src" / "game" / "renderer.js").read_text()
    drawn = set(re.findall(r'case "(\w+)":', renderer))
    documented = set(re.findall(r"^    \| ``(\w+)`` \|", EnvironmentSpec.__doc__, re.MULTILINE)) - {
        "kind"
    }
    assert drawn == documented == {"rect", "circle", "text", "sprite"}


def test_a_new_public_class_is_picked_up_and_an_undocumented_one_is_caught(monkeypatch):
    class Documented:
        """A class added to the public API later, documented where it is declared."""

        def run(self) -> None:
            """Runs it, which is what it is for (a member with a docstring)."""

    class Bare:
        def run(self) -> None:
            pass

    monkeypatch.setattr(igym_core, "Documented", Documented, raising=False)
    monkeypatch.setattr(igym_core, "Bare", Bare, raising=False)
    monkeypatch.setattr(igym_core, "__all__", [*igym_core.__all__, "Documented", "Bare"])
    text = plugin_docs.render()
    assert "## More" in text and "### `Documented`" in text and "#### `Documented.run`" in text
    assert plugin_docs.undocumented() == ["Bare has no docstring"]
