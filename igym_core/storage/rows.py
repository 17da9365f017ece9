"""The rows :class:`~igym_core.storage.reader.StoreReader` yields, one typed record per table.

They are plain dicts (what ``json.dumps`` and the built-in exporters take), typed with
``TypedDict`` so that an exporter's editor and type checker know every key. Times are Unix
seconds (float) on the server's clock unless a field says otherwise.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class ParticipantRow(TypedDict):
    """One participant.

    - ``participant_id``: from the URL (``PROLIFIC_PID``, ``subject_id``) or a random one.
    - ``params``: the URL parameters they first arrived with.
    - ``scene_index``: the scene they are at (from 0).
    - ``status``: ``active`` (somewhere in the study), ``completed`` (reached the end) or
      ``excluded`` (turned away, e.g. by the researcher in the admin console).
    - ``created_at``, ``updated_at``: first arrival and last change.
    """

    participant_id: str
    params: dict[str, str]
    scene_index: int
    status: str
    created_at: float
    updated_at: float


class SceneProgressRow(TypedDict):
    """A scene a participant was shown.

    - ``participant_id``, ``scene_id``: who and which scene.
    - ``scene_index``: the scene's position in the experiment (from 0).
    - ``status``: how the participant left it: ``completed``, or for a game scene the reason
      the server ended its game (``partner_left:…``, ``connection_lost``, ``waiting_timeout``,
      …); ``None`` while they are still at it.
    - ``started_at``: when it was first shown; ``finished_at``: when it was left, or ``None``
      while it is not.
    """

    participant_id: str
    scene_index: int
    scene_id: str
    status: str | None
    started_at: float
    finished_at: float | None


class ResponseRow(TypedDict):
    """One answer to one form field.

    - ``participant_id``, ``scene_id``: who answered, on which scene.
    - ``field``: the form field's name.
    - ``value``: as the field's kind gives it (str, number, bool, a list of str), or ``None``
      for an optional field left empty.
    - ``submitted_at``: when the scene was submitted.
    """

    participant_id: str
    scene_id: str
    field: str
    value: Any
    submitted_at: float


class EventRow(TypedDict):
    """Something that happened, in the order it was stored.

    - ``event_id``: increasing in the order events were stored.
    - ``participant_id``: whose event, or ``None`` for one of no single participant.
    - ``kind``: the server's name for it (e.g. ``session_phase``) or ``client:<name>``
      for what the page reported (e.g. ``client:game_error``).
    - ``data``: the event's details.
    - ``at``: when it was stored.
    """

    event_id: int
    participant_id: str | None
    kind: str
    data: dict[str, Any]
    at: float


class EpisodeRow(TypedDict):
    """One episode of one participant in one game scene.

    - ``participant_id``, ``scene_id``, ``episode`` (from 0): which episode.
    - ``seed``: the episode's reset seed.
    - ``status``: ``playing`` (being played now), ``interrupted`` (the page went away
      mid-episode and may come back to finish it), ``complete`` (the server holds every frame
      ``0 … n-1`` and the last one ends it) or ``partial``.
    - ``reason``: why a ``partial`` episode is partial (``missing_frames``, ``superseded``,
      ``ended_by_page``, or why the game was ended, e.g. ``partner_left:…``); else ``None``.
    - ``partial``: True for every status but ``complete``.
    - ``frames``: how many frames are stored.
    - ``summary``: what the page reported at the end (``score``, timing percentiles such as
      ``latency_p50_ms``, relay counts, ``resumed_at`` after a reload) and what the server
      adds (``frames_reported``, ``missing_ranges``).
    - ``started_at``, ``ended_at`` (``None`` while it is open).
    """

    participant_id: str
    scene_id: str
    episode: int
    seed: int
    status: str
    reason: str | None
    frames: int
    summary: dict[str, Any]
    started_at: float
    ended_at: float | None
    partial: bool


class FrameRow(TypedDict):
    """One stepped frame, as the page recorded it.

    - ``participant_id``, ``scene_id``, ``episode``, ``frame`` (from 0): which frame.
    - ``actions``, ``rewards``: every agent id's action and reward.
    - ``terminated``, ``truncated``: the env's end flags after the step.
    - ``focused``: whether the participant's page had focus (single player), or every human
      agent's focus (multiplayer: agent id to bool, ``None`` for AI seats).
    - ``infos``: the env's infos, flattened to scalars.
    - ``t``: latency timestamps in ms on the page's clock: ``key`` (the input's key event, or
      ``None``), ``tick`` (sampled), ``step`` (stepped) and ``drawn`` (``None`` if never drawn).
    - ``state_hash``: the canonical state hash (hex), on frames where the page took one
      (multiplayer); absent otherwise.
    """

    participant_id: str
    scene_id: str
    episode: int
    frame: int
    actions: dict[str, int]
    rewards: dict[str, float]
    terminated: bool
    truncated: bool
    focused: bool | dict[str, bool | None]
    infos: dict[str, Any]
    t: dict[str, float | None]
    state_hash: NotRequired[str]


class MatchRow(TypedDict):
    """One match the lobby created.

    - ``match_id``, ``scene_id``: which match, in which scene.
    - ``members``: participant ids, in seat order.
    - ``matchmaker``: the name of the matchmaker that grouped them.
    - ``status``: ``matched`` (peers connecting), ``requeued`` (the P2P check failed or a
      member left before the game: everyone went back to waiting), ``playing`` or ``ended``.
    - ``end_reason``: why it ended or was requeued (e.g. ``p2p_rtt_too_high``), else ``None``.
    - ``created_at``, ``updated_at``.
    """

    match_id: str
    scene_id: str
    members: list[str]
    matchmaker: str
    status: str
    end_reason: str | None
    created_at: float
    updated_at: float


class ParityRow(TypedDict):
    """The comparison of one multiplayer episode across its members.

    - ``match_id``, ``scene_id``, ``episode``: which episode.
    - ``status``: ``identical``, ``identical_partial`` (identical as far as every member got)
      or ``mismatch``.
    - ``hashes``: each member's ``{"sha256", "status", "frames"}`` of their canonical log.
    - ``first_difference``: where the logs first differ (``index``, ``frame``, ``column``,
      ``values`` by member), or ``None``.
    - ``checked_at``: when the last member's episode was closed and compared.
    """

    match_id: str
    scene_id: str
    episode: int
    status: str
    hashes: dict[str, dict[str, Any]]
    first_difference: dict[str, Any] | None
    checked_at: float


class ValidationRow(TypedDict):
    """The validation document of one multiplayer episode.

    - ``match_id``, ``episode``: which episode.
    - ``document``: per member, every confirmed frame's actions, focus and state hash, with
      the parity status (what the built-in ``validation`` exporter writes).
    """

    match_id: str
    episode: int
    document: dict[str, Any]


class ProvenanceRow(TypedDict):
    """What produced the data from ``recorded_at`` on: the server appends one when a study
    starts and again whenever one of these changed (a restart with the same software adds
    none).

    - ``provenance_id``: increasing; ``recorded_at``: when the server started with it.
    - ``igym_version``, ``python_version``: the core and the interpreter that ran the server.
    - ``experiment_file``, ``experiment_sha256``: the experiment file and the SHA-256 of its
      bytes (``None`` for an experiment built in code).
    - ``config_sha256``: a digest of the experiment's configuration as loaded, every scene and
      field included.
    - ``plugins``: every installed plugin by entry-point name, with its ``distribution`` and
      ``version``.
    """

    provenance_id: int
    recorded_at: float
    igym_version: str
    python_version: str
    experiment_file: str | None
    experiment_sha256: str | None
    config_sha256: str
    plugins: dict[str, dict[str, str | None]]
