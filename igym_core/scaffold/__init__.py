"""``igym new``'s templates: a complete plugin distribution for each kind of plugin.

Each kind is a folder of files under ``templates/<kind>/`` plus the files every kind shares
(``templates/common/``). Contents name ``{{package}}`` and friends (see :class:`Names`) and paths
``__package__`` and ``__name__``, replaced when written; a template is otherwise exactly the file
written (``.tmpl`` keeps tools from taking templates for code), so the output can be read in the
templates. The bundled plugins in ``plugins/`` have the same shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import attrs

import igym_core

TEMPLATES = Path(__file__).resolve().parent / "templates"
KINDS = ("env", "matchmaker", "rule", "exporter")

_DESCRIPTIONS = {
    "env": "an igym environment pack",
    "matchmaker": "an igym matchmaker",
    "rule": "igym exclusion rules",
    "exporter": "an igym exporter",
}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ScaffoldError(ValueError):
    """The name or the target folder cannot be used."""


@attrs.frozen
class Names:
    """How one plugin name appears in its distribution."""

    name: str  #: the entry-point name, e.g. ``gems``
    package: str  #: the import package, ``igym_gems``
    distribution: str  #: the pip name, ``igym-gems``
    title: str  #: the class-name stem, ``Gems``
    description: str

    @classmethod
    def of(cls, kind: str, name: str) -> Names:
        name = name.strip().replace("-", "_")
        name = name.removeprefix("igym_")
        if not _NAME.match(name):
            raise ScaffoldError(
                f"the plugin name must be 1-40 lower-case letters, digits or '_', starting with "
                f"a letter, got {name!r}"
            )
        title = "".join(part.capitalize() for part in name.split("_"))
        return cls(
            name=name,
            package=f"igym_{name}",
            distribution=f"igym-{name.replace('_', '-')}",
            title=title,
            description=f"{title}: {_DESCRIPTIONS[kind]}",
        )

    def substitutions(self) -> dict[str, str]:
        return {
            "{{name}}": self.name,
            "{{package}}": self.package,
            "{{distribution}}": self.distribution,
            "{{Title}}": self.title,
            "{{description}}": self.description,
            "{{igym_version}}": igym_core.__version__,
        }


def _templates(kind: str) -> Iterator[tuple[str, Path]]:
    for root in (TEMPLATES / "common", TEMPLATES / kind):
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                yield path.relative_to(root).as_posix(), path


def _fill(text: str, names: Names) -> str:
    for key, value in names.substitutions().items():
        text = text.replace(key, value)
    left = re.findall(r"\{\{\w+\}\}", text)
    if left:
        raise AssertionError(f"template placeholders without a value: {sorted(set(left))}")
    return text


def files(kind: str, names: Names) -> dict[str, str]:
    """Every file of a ``kind`` plugin called ``names``: relative path → text."""
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    out = {}
    for rel, path in _templates(kind):
        target = rel.removesuffix(".tmpl").replace("__package__", names.package)
        target = target.replace("__name__", names.name)
        out[target] = _fill(path.read_text(), names)
    return out


def write(kind: str, name: str, parent: Path) -> Path:
    """Write a new ``kind`` plugin distribution called ``name`` into ``parent/<package>/``;
    returns that folder. Refuses to write into a folder that exists and is not empty."""
    names = Names.of(kind, name)
    contents = files(kind, names)
    root = parent / names.package
    if root.exists() and any(root.iterdir()):
        raise ScaffoldError(f"{root} already exists and is not empty")
    for rel, text in contents.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
