"""Zips of the Python code an environment needs in the browser, addressed by content.

The worker unpacks one zip into Pyodide's site-packages. Each zip holds the environment's own
packages and modules (``EnvironmentSpec.packages``: package folders with their data files, or
single-file modules such as ``typing_extensions``), the pure-Python distributions they require
(read from their installed metadata, recursively, with the markers evaluated for Pyodide), and
igym's pure-Python runtime. Its URL carries the hash of its bytes, so the browser may cache it
forever and a changed package gets a new URL.

Pyodide runs only pure Python here: a package with compiled extension modules (``.so``,
``.pyd``) cannot be shipped, and :class:`PackageError` says so and suggests running the scene
on the server (``GameScene(..., mode="server")``).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.metadata
import importlib.util
import io
import re
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import attrs

RUNTIME_PACKAGE = "igym_core.runtime"
_STUB = b'"""igym in the browser: only the pure-Python runtime is shipped."""\n'
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", "tests", "test"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}
_COMPILED = {*importlib.machinery.EXTENSION_SUFFIXES, ".so", ".pyd", ".dylib", ".dll"}
#: distributions never shipped: igym itself (its runtime is shipped on its own)
_NOT_SHIPPED = {"igym"}
#: what the browser is, for the environment markers of requirements
PYODIDE_MARKERS = {
    "implementation_name": "cpython",
    "implementation_version": "3.14.2",
    "os_name": "posix",
    "platform_machine": "wasm32",
    "platform_release": "",
    "platform_system": "Emscripten",
    "platform_version": "",
    "python_full_version": "3.14.2",
    "platform_python_implementation": "CPython",
    "python_version": "3.14",
    "sys_platform": "emscripten",
    "extra": "",
}
SERVER_HINT = (
    "run this scene on the server instead: GameScene(..., mode='server') steps the "
    "environment in the server's Python, where any package works"
)


class PackageError(Exception):
    """A package named by an environment cannot be found or shipped."""


@attrs.frozen
class Bundle:
    digest: str
    data: bytes = attrs.field(repr=False)
    packages: tuple[str, ...]
    #: every top-level module in the zip, the dependencies found in metadata included
    modules: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"/packages/{self.digest}.zip"


def _compiled(path: Path) -> bool:
    return any(path.name.endswith(suffix) for suffix in _COMPILED)


def _files(name: str) -> list[tuple[str, Path]]:
    """``(name in the zip, file)`` of an importable package or single-file module."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise PackageError(f"package {name!r} cannot be found: {exc}") from None
    if spec is None:
        raise PackageError(f"package {name!r} is not installed on the server")
    prefix = Path(*name.split("."))
    if spec.submodule_search_locations:
        out = []
        compiled = []
        for root in (Path(p) for p in spec.submodule_search_locations):
            for path in sorted(root.rglob("*")):
                rel = path.relative_to(root)
                if not path.is_file() or _SKIP_DIRS & set(rel.parts):
                    continue
                if _compiled(path):
                    compiled.append(str(rel))
                elif path.suffix not in _SKIP_SUFFIXES:
                    out.append(((prefix / rel).as_posix(), path))
        if compiled:
            raise PackageError(
                f"package {name!r} contains compiled extension modules ({', '.join(compiled[:3])}"
                f"{', ...' if len(compiled) > 3 else ''}), which cannot run in the browser "
                f"(Pyodide); {SERVER_HINT}"
            )
        return out
    origin = Path(spec.origin or "")
    if spec.origin in ("built-in", "frozen") or name in sys.stdlib_module_names:
        return []  # the standard library is in Pyodide already
    if _compiled(origin):
        raise PackageError(
            f"module {name!r} is a compiled extension ({origin.name}), which cannot run in the "
            f"browser (Pyodide); {SERVER_HINT}"
        )
    if origin.suffix != ".py" or not origin.is_file():
        raise PackageError(f"module {name!r} ({spec.origin}) is not a Python source file")
    return [(prefix.with_suffix(".py").as_posix(), origin)]


def _distribution_of(
    module: str, owners: dict[str, list[str]]
) -> importlib.metadata.Distribution | None:
    for name in owners.get(module.split(".")[0], []):
        try:
            return importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _top_level(dist: importlib.metadata.Distribution) -> list[str]:
    """The importable top-level names a distribution installs."""
    text = dist.read_text("top_level.txt")
    if text:
        return sorted({line.strip() for line in text.splitlines() if line.strip()})
    names = set()
    for file in dist.files or ():
        parts = Path(str(file)).parts
        if (
            not parts
            or parts[0].endswith((".dist-info", ".egg-info", ".data"))
            or parts[0]
            in (
                "..",
                "__pycache__",
                "bin",
            )
        ):
            continue
        if len(parts) == 1 and parts[0].endswith(".py"):
            names.add(parts[0][:-3])
        elif len(parts) > 1:
            names.add(parts[0])
    return sorted(names)


def _requirements(dist: importlib.metadata.Distribution) -> list[str]:
    """The distributions ``dist`` requires in Pyodide (its extras left out)."""
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for line in dist.requires or ():
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None and not req.marker.evaluate(PYODIDE_MARKERS):
            continue
        out.append(req.name)
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve_modules(packages: Iterable[str], why: dict[str, str] | None = None) -> list[str]:
    """``packages`` and the top-level modules of every distribution they require, recursively
    (igym itself and the standard library left out), in a stable order. ``why`` (if given)
    gets, for each dependency, the module that required it."""
    why = {} if why is None else why
    modules = list(dict.fromkeys(packages))
    owners = importlib.metadata.packages_distributions()
    seen_dists: set[str] = set()
    queue = list(modules)
    while queue:
        module = queue.pop(0)
        dist = _distribution_of(module, owners)
        if dist is None:
            continue
        key = _canonical(dist.metadata["Name"] or "")
        if key in seen_dists:
            continue
        seen_dists.add(key)
        for requirement in _requirements(dist):
            if _canonical(requirement) in _NOT_SHIPPED or _canonical(requirement) in seen_dists:
                continue
            try:
                required = importlib.metadata.distribution(requirement)
            except importlib.metadata.PackageNotFoundError:
                raise PackageError(
                    f"{module!r} requires {requirement!r} ({key}'s metadata), which is not "
                    "installed on the server"
                ) from None
            for top in _top_level(required):
                if top not in modules and top not in sys.stdlib_module_names:
                    modules.append(top)
                    queue.append(top)
                    why[top] = module
    return modules


def check_packages(packages: Iterable[str]) -> list[str]:
    """Check that ``packages`` and their dependencies can be shipped to the browser, without
    zipping them; returns the modules a bundle would hold. Raises :class:`PackageError`."""
    return list(_entries(packages)[1])


def _entries(packages: Iterable[str]) -> tuple[dict[str, Path], tuple[str, ...]]:
    names = tuple(dict.fromkeys(packages))
    why: dict[str, str] = {}
    modules = resolve_modules([n for n in names if n != RUNTIME_PACKAGE], why)
    entries: dict[str, Path] = {}
    for name in [*modules, RUNTIME_PACKAGE]:
        try:
            files = _files(name)
        except PackageError as exc:
            chain = []
            at = name
            while at in why:
                at = why[at]
                chain.append(at)
            if chain:
                raise PackageError(
                    f"{' -> '.join(reversed(chain))} requires {name!r}: {exc}"
                ) from None
            raise
        entries.update(files)
    return entries, tuple(modules)


def build_bundle(packages: Iterable[str]) -> Bundle:
    """Zip ``packages``, their pure-Python dependencies and igym's runtime, deterministically
    (sorted, fixed timestamps). Raises :class:`PackageError` naming what cannot be shipped."""
    names = tuple(dict.fromkeys([*packages, RUNTIME_PACKAGE]))
    files, modules = _entries(names)
    entries: dict[str, bytes] = {"igym_core/__init__.py": _STUB}
    for arcname, path in files.items():
        entries[arcname] = path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, entries[arcname])
    data = buffer.getvalue()
    return Bundle(hashlib.sha256(data).hexdigest()[:20], data, names, modules)


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
