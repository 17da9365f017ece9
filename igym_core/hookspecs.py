"""Every hook igym calls. Each docstring here is that hook's documentation (docs/plugins.md is
generated from them by ``python -m igym_core.plugin_docs``).

Plugins implement hooks with ``from igym_core import hookimpl``::

    @hookimpl
    def igym_environments():
        return [EnvironmentSpec(...)]

Hooks take keyword arguments; an implementation may accept any subset of them, so a hook that
gains an argument later does not break old plugins. Implementations run in pluggy's order: the
plugin registered last runs first, ``@hookimpl(tryfirst=True)`` moves an implementation to the
front and ``trylast=True`` to the back; ``@hookimpl(wrapper=True)`` wraps the others as pluggy
documents. When an implementation raises or returns the wrong type, the error is reported with
the plugin's name (in ``igym plugins`` and the server log) and the other plugins still count. No
plugin error ever stops the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from igym_core.specs import EnvironmentSpec, ExclusionRule, Exporter, Matchmaker

hookspec = pluggy.HookspecMarker("igym")


# -- contributions ------------------------------------------------------------------------------
# Each returns a list; the core joins the lists of all plugins. A name must be unique across all
# installed plugins: when two plugins offer the same name, the one called first keeps it and the
# other is reported.


@hookspec
def igym_environments() -> list[EnvironmentSpec]:
    """Environments this plugin offers to game scenes.

    Called when the plugin manager first needs them (``igym run``, ``igym validate``,
    ``igym plugins``, ``igym check-env``). Return a list of :class:`igym_core.EnvironmentSpec`;
    a scene names one in ``GameScene.env``. An exception or a non-``EnvironmentSpec`` item is
    reported against this plugin and its environments are left out.
    """


@hookspec
def igym_matchmakers() -> list[type[Matchmaker]]:
    """Matchmaker classes this plugin offers to multiplayer scenes.

    Return a list of subclasses of :class:`igym_core.Matchmaker`, each with a unique ``name``.
    A scene chooses one with ``GameScene.matchmaker`` and configures it with
    ``GameScene.matchmaker_options``, which are checked against the class's constructor when
    the experiment loads. An exception or a wrong item is reported against this plugin and its
    matchmakers are left out.
    """


@hookspec
def igym_exclusion_rules() -> list[type[ExclusionRule]]:
    """Exclusion rule classes this plugin offers.

    Return a list of subclasses of :class:`igym_core.ExclusionRule`, each with a unique
    ``name``; their options are checked against the class's constructor when an experiment that
    uses them loads. An exception or a wrong item is reported against this plugin.
    """


@hookspec
def igym_exporters() -> list[Exporter]:
    """Exporters that turn the store into researcher-facing files.

    Used by ``igym export``. Return a list of :class:`igym_core.Exporter` instances, each with a
    unique ``name``; each writes into its own folder ``<--out>/<name>/``. An exporter that raises
    while exporting is reported by name; the other exporters still write their files.
    """


# -- lifecycle events ---------------------------------------------------------------------------
# Observers: return values are ignored. They run on the server's event loop after the event is
# stored, so they must be quick; an exception is logged with the plugin's name and swallowed.


@hookspec
def igym_on_participant_joined(
    experiment_id: str, participant_id: str, params: dict[str, str], resumed: bool
) -> None:
    """A participant opened the study in experiment ``experiment_id``.

    ``participant_id`` is their id (from the URL or a new random one), ``params`` the URL
    parameters they arrived with, and ``resumed`` is True for a reload or reconnect of a
    participant the store already knows.
    """


@hookspec
def igym_on_scene_started(
    experiment_id: str, participant_id: str, scene_id: str, scene_index: int
) -> None:
    """Participant ``participant_id`` of ``experiment_id`` was shown scene ``scene_id``
    (position ``scene_index`` in the experiment, from 0) for the first time."""


@hookspec
def igym_on_scene_finished(
    experiment_id: str,
    participant_id: str,
    scene_id: str,
    scene_index: int,
    responses: dict[str, Any],
) -> None:
    """Participant ``participant_id`` of ``experiment_id`` completed scene ``scene_id``
    (position ``scene_index``); ``responses`` maps the scene's form field names to the answers
    as stored (empty for scenes without fields)."""


@hookspec
def igym_on_match(
    experiment_id: str,
    scene_id: str,
    match_id: str,
    participant_ids: list[str],
    matchmaker: str,
) -> None:
    """The matchmaker named ``matchmaker`` put ``participant_ids`` together as ``match_id`` in
    multiplayer scene ``scene_id`` of ``experiment_id``. The members still have to pass their
    P2P check; when it fails they go back to waiting and may be matched again."""


@hookspec
def igym_on_episode_end(
    experiment_id: str,
    participant_id: str,
    scene_id: str,
    episode: int,
    frames: int,
    partial: bool,
) -> None:
    """Episode ``episode`` (from 0) of scene ``scene_id`` was stored for ``participant_id`` of
    ``experiment_id`` with ``frames`` frames; ``partial`` is True when it was cut short or
    frames are missing (its status is then ``partial``, else ``complete``)."""


@hookspec
def igym_on_session_end(experiment_id: str, participant_id: str, reason: str) -> None:
    """Participant ``participant_id`` of ``experiment_id`` reached the end of the study:
    ``reason`` is ``"completed"`` or names an exclusion."""
