"""Every hook igym calls. Each docstring here is that hook's documentation.

Plugins implement hooks with ``from igym_core import hookimpl``::

    @hookimpl
    def igym_environments():
        return [EnvironmentSpec(...)]

Hooks take keyword arguments; an implementation may accept any subset of them. The core calls
each implementation separately: when one raises or returns the wrong type, the error is reported
with the plugin's name (in ``igym plugins`` and the server log) and the other plugins still
count. No plugin error ever stops the server.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("igym")


# -- contributions ------------------------------------------------------------------------------


@hookspec
def igym_environments():
    """Environments this plugin offers to game scenes.

    Called once when the plugin manager starts (and by ``igym plugins``).
    Return a list of :class:`igym_core.EnvironmentSpec`. Names must be unique across all
    installed plugins; a duplicate name is reported and the later one ignored.
    An exception or a non-``EnvironmentSpec`` item is reported against this plugin and its
    environments are left out.
    """


@hookspec
def igym_matchmakers():
    """Matchmaker classes this plugin offers to multiplayer scenes.

    Called once when the plugin manager starts. Return a list of subclasses of
    :class:`igym_core.Matchmaker`, each with a unique ``name``. A scene chooses one by name.
    An exception or a wrong item is reported against this plugin and its matchmakers are
    left out.
    """


@hookspec
def igym_exclusion_rules():
    """Exclusion rule classes this plugin offers.

    Called once when the plugin manager starts. Return a list of subclasses of
    :class:`igym_core.ExclusionRule`, each with a unique ``name``; experiments enable rules by
    name with their options. An exception or a wrong item is reported against this plugin.
    """


@hookspec
def igym_exporters():
    """Exporters that turn the store into researcher-facing files.

    Called once when the plugin manager starts and used by ``igym export``. Return a list of
    :class:`igym_core.Exporter` instances, each with a unique ``name``. An exporter that raises
    while exporting is reported by name; the other exporters still write their files.
    """


# -- lifecycle events ---------------------------------------------------------------------------
# Observers: return values are ignored. They run on the server's event loop after the event is
# stored, so they must be quick; an exception is logged with the plugin's name and swallowed.


@hookspec
def igym_on_participant_joined(experiment_id, participant_id, params, resumed):
    """A participant opened the study (``resumed`` is True for a reload or reconnect).

    ``params`` are the URL parameters the participant arrived with.
    """


@hookspec
def igym_on_scene_started(experiment_id, participant_id, scene_id, scene_index):
    """A participant was shown scene ``scene_id`` (index ``scene_index``) for the first time."""


@hookspec
def igym_on_scene_finished(experiment_id, participant_id, scene_id, scene_index, responses):
    """A participant completed scene ``scene_id``; ``responses`` maps form field names to answers."""


@hookspec
def igym_on_match(experiment_id, scene_id, match_id, participant_ids, matchmaker):
    """A matchmaker put ``participant_ids`` together as ``match_id`` in scene ``scene_id``."""


@hookspec
def igym_on_episode_end(experiment_id, participant_id, scene_id, episode, frames, partial):
    """An episode's records were stored; ``partial`` is True when it was cut short."""


@hookspec
def igym_on_session_end(experiment_id, participant_id, reason):
    """A participant's session ended: ``reason`` is ``"completed"`` or names an exclusion."""
