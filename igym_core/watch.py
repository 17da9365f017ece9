"""What the server is built from, as a fingerprint: the experiment's files and every installed
plugin distribution (its version and the files it was installed from). ``igym run --reload``
restarts the server when the fingerprint changes (:mod:`igym_core.reloader`); a server without
``--reload`` warns when an installed plugin changed since it started (:class:`PluginWatch`).

Nothing here imports a plugin: distributions are found by their ``igym`` entry points, and their
files from their install record, or, for an editable install (``pip install -e``), from the
project folder it points at.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from importlib.metadata import Distribution, distributions
from pathlib import Path
from urllib.parse import unquote, urlsplit

import attrs

from igym_core.plugins import ENTRY_POINT_GROUP

log = logging.getLogger("igym.watch")

#: Files whose change matters: code, data the browser loads, metadata.
SUFFIXES = frozenset({".py", ".json", ".txt", ".png", ".jpg", ".svg", ".toml", ".cfg"})
#: Folders never looked into (caches, builds, tools' own state).
SKIP = frozenset(
    {"__pycache__", ".git", ".hg", "build", "dist", "node_modules", ".venv", ".tox", ".nox"}
)


def plugin_distributions() -> dict[str, Distribution]:
    """Every installed distribution with an ``igym`` entry point, by name (the first found)."""
    found: dict[str, Distribution] = {}
    for dist in distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if not name or name in found:
            continue
        if any(ep.group == ENTRY_POINT_GROUP for ep in dist.entry_points):
            found[name] = dist
    return found


def _project_dir(dist: Distribution) -> Path | None:
    """The folder an editable install points at, or None."""
    try:
        raw = dist.read_text("direct_url.json")
        info = json.loads(raw) if raw else {}
    except (OSError, ValueError):
        return None
    if not info.get("dir_info", {}).get("editable"):
        return None
    url = urlsplit(info.get("url", ""))
    return Path(unquote(url.path)) if url.scheme == "file" else None


def _walk(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.iterdir()) if root.is_dir() else ():
        if path.is_dir():
            if path.name not in SKIP and not path.name.endswith(".egg-info"):
                yield from _walk(path)
        elif path.suffix in SUFFIXES:
            yield path


def distribution_files(dist: Distribution) -> list[Path]:
    """The files a plugin distribution is made of (for an editable install, its project's)."""
    project = _project_dir(dist)
    if project is not None:
        return list(_walk(project))
    files = []
    for record in dist.files or ():
        path = Path(str(dist.locate_file(record)))
        if path.suffix in SUFFIXES and "__pycache__" not in path.parts:
            files.append(path)
    return sorted(files)


def _digests(paths: Iterable[Path]) -> dict[str, str]:
    """Each file's content digest: a reinstall that rewrites every file changes only those whose
    content changed, and so does an editor that saves without changes (none)."""
    digests = {}
    for path in paths:
        try:
            digests[str(path)] = hashlib.blake2b(path.read_bytes(), digest_size=12).hexdigest()
        except OSError:
            continue
    return digests


@attrs.frozen
class Snapshot:
    """A fingerprint: ``plugins`` maps each plugin distribution to ``(version, {file: content
    digest})``; ``files`` the experiment's own files."""

    plugins: dict[str, tuple[str, dict[str, str]]]
    files: dict[str, str]


def experiment_files(path: Path) -> list[Path]:
    """The experiment file and the Python files next to it (modules it may import)."""
    path = path.resolve()
    return sorted({path, *path.parent.glob("*.py")})


def take(experiment: Path | None = None) -> Snapshot:
    """The fingerprint now."""
    plugins = {
        name: (dist.version, _digests(distribution_files(dist)))
        for name, dist in sorted(plugin_distributions().items())
    }
    files = _digests(experiment_files(experiment)) if experiment is not None else {}
    return Snapshot(plugins, files)


def _relative(path: str) -> str:
    p = Path(path)
    return "/".join(p.parts[-2:])


def differences(old: Snapshot, new: Snapshot) -> list[str]:
    """What changed between two fingerprints, in words (empty when nothing did)."""
    said = []
    for name in sorted(set(old.plugins) | set(new.plugins)):
        if name not in old.plugins:
            said.append(f"plugin {name} was installed")
            continue
        if name not in new.plugins:
            said.append(f"plugin {name} was removed")
            continue
        (old_version, old_files), (new_version, new_files) = old.plugins[name], new.plugins[name]
        if old_version != new_version:
            said.append(f"plugin {name} went from version {old_version} to {new_version}")
        changed = sorted(  # the plugin's own files before its install metadata
            (p for p in set(old_files) | set(new_files) if old_files.get(p) != new_files.get(p)),
            key=lambda p: (".dist-info" in p, p),
        )
        if changed:
            more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
            said.append(f"plugin {name} changed ({_relative(changed[0])}{more})")
    changed = sorted(
        p for p in set(old.files) | set(new.files) if old.files.get(p) != new.files.get(p)
    )
    if changed:
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        said.append(f"the experiment changed ({Path(changed[0]).name}{more})")
    return said


def _stat_stamp(paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """Each path's modification time and size (missing ones left out)."""
    stamp = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        stamp.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(stamp)


#: a file changed less than this long before it was looked at may change again unseen within
#: the file system's clock tick: it is read in full at the next check (as git does)
RACY_NS = 2_000_000_000


class PluginWatch:
    """Warns, once per change, when an installed plugin changed since the server started: the
    server keeps serving (and shipping to browsers) what it loaded at start.

    A full fingerprint reads every distribution's metadata and every plugin file (tens of ms of
    Python a server would spend in the middle of its participants' messages), so a check first
    compares the modification times of those files and of the folders installs go to, and takes
    the fingerprint again only when one of them moved."""

    def __init__(self) -> None:
        self.start = take()
        self.warned: set[str] = set()
        self._changes: list[str] = []
        self._paths = self._watched()
        self._stamp = _stat_stamp(self._paths)
        self._stamped_ns = time.time_ns()

    def _watched(self) -> list[Path]:
        files = [Path(f) for _, digests in self.start.plugins.values() for f in digests]
        folders = {f.parent for f in files} | {Path(p) for p in sys.path if p and Path(p).is_dir()}
        return sorted(folders) + files

    def _unchanged(self) -> bool:
        stamp = _stat_stamp(self._paths)
        now = time.time_ns()
        racy = any(mtime >= self._stamped_ns - RACY_NS for _, mtime, _ in stamp)
        same = stamp == self._stamp and not racy
        self._stamp, self._stamped_ns = stamp, now
        return same

    def check(self) -> list[str]:
        """Log a warning for each change not yet reported; return what changed."""
        if self._unchanged():
            return list(self._changes)
        changes = self._changes = differences(self.start, take())
        for change in changes:
            if change not in self.warned:
                self.warned.add(change)
                log.warning(
                    "%s since the server started; it still serves what it loaded then. "
                    "Restart it to use the change (or run it with igym run --reload)",
                    change,
                )
        return changes


async def watch_plugins(period_s: float) -> None:
    """Check the installed plugins every ``period_s`` (in a thread: a check reads the file
    system) and warn when they changed since this started; runs until cancelled."""
    plugin_watch = await asyncio.to_thread(PluginWatch)
    while True:
        await asyncio.sleep(period_s)
        try:
            await asyncio.to_thread(plugin_watch.check)
        except Exception:
            log.exception("checking the installed plugins failed")
