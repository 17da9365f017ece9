"""Zips of the Python packages an environment needs in the browser, addressed by content.

The worker unpacks one zip into Pyodide's site-packages. Each zip holds the environment's own
packages (``EnvironmentSpec.packages``) and igym's pure-Python runtime; its URL carries the hash
of its bytes, so the browser may cache it forever and a changed package gets a new URL.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

import attrs

RUNTIME_PACKAGE = "igym_core.runtime"
_STUB = b'"""igym in the browser: only the pure-Python runtime is shipped."""\n'
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", "tests", "test"}
_SHIP = {".py", ".json", ".txt"}


class PackageError(Exception):
    """A package named by an environment cannot be found or shipped."""


@attrs.frozen
class Bundle:
    digest: str
    data: bytes = attrs.field(repr=False)
    packages: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"/packages/{self.digest}.zip"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise PackageError(f"package {name!r} is not installed as a package (a folder)")
    return Path(next(iter(spec.submodule_search_locations)))


def _files(name: str) -> Iterable[tuple[str, Path]]:
    root = _package_dir(name)
    prefix = Path(*name.split("."))
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and path.suffix in _SHIP and not _SKIP_DIRS & set(rel.parts):
            yield (prefix / rel).as_posix(), path


def build_bundle(packages: Iterable[str]) -> Bundle:
    """Zip ``packages`` plus igym's runtime, deterministically (sorted, fixed timestamps)."""
    names = tuple(dict.fromkeys([*packages, RUNTIME_PACKAGE]))
    entries: dict[str, bytes] = {"igym_core/__init__.py": _STUB}
    for name in names:
        for arcname, path in _files(name):
            entries[arcname] = path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, entries[arcname])
    data = buffer.getvalue()
    return Bundle(hashlib.sha256(data).hexdigest()[:20], data, names)


class Bundles:
    """The bundles of one server, built once per package set."""

    def __init__(self) -> None:
        self._by_packages: dict[tuple[str, ...], Bundle] = {}
        self._by_digest: dict[str, Bundle] = {}

    def for_packages(self, packages: Iterable[str]) -> Bundle:
        key = tuple(packages)
        bundle = self._by_packages.get(key)
        if bundle is None:
            bundle = build_bundle(key)
            self._by_packages[key] = bundle
            self._by_digest[bundle.digest] = bundle
        return bundle

    def get(self, digest: str) -> Bundle | None:
        return self._by_digest.get(digest)
