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
      ``excluded`` (turned away by a rule or by the researcher; see :class:`ExclusionRow`).
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
    - ``termination`` (episodes of a multiplayer match): how it ended for this member, the
      same for every member: ``reason`` (``completed``, ``reload_resumed``, ``left``,
      ``partner_left``, ``reconnect_timeout``, ``excluded``, ``partner_excluded``,
      ``connection_lost``, …), ``disconnected`` (who ended it, as the server decided), ``at``
      and ``frame`` (when and where that member went away), ``disconnections`` (every
      member's, during the episode), ``reconnection_attempts`` and ``pause_ms`` (what this
      member's page reported).
    - ``telemetry`` (episodes with latency telemetry): ``{"p50", "p95", "max"}`` per numeric
      metric of :class:`TelemetryRow`.
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
    termination: NotRequired[dict[str, Any]]
    telemetry: NotRequired[dict[str, dict[str, float] | None]]


class FrameRow(TypedDict):
    """One stepped frame, as the page recorded it.

    - ``participant_id``, ``scene_id``, ``episode``, ``frame`` (from 0): which frame.
    - ``actions``, ``rewards``: every agent id's action and reward.
    - ``terminated``, ``truncated``: the env's end flags after the step.
    - ``isFocused``: whether the participant's page had focus (single player), or every human
      agent's focus (multiplayer: agent id to bool, ``None`` for AI seats; the exported
      ``isFocused.<agent>`` columns, the same in every member's data).
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
    isFocused: bool | dict[str, bool | None]
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


class MatchOutcomeRow(MatchRow):
    """A match with how it went (the exported ``matches`` file).

    - ``match_id``, ``scene_id``, ``members``, ``matchmaker``, ``status``, ``end_reason``,
      ``created_at``, ``updated_at``: as in :class:`MatchRow`.
    - ``left``: the member who ended it (closed the page, lost the connection past the
      reconnect timeout, was excluded), as the server decided it once; else ``None``.
    - ``disconnections``, ``reloads``: how many disconnection records (and page reloads) the
      match had; ``pause_ms``: how long members stood paused in all, as the server saw it.
    - ``ended_episode``, ``ended_frame``: where the member who ended it went away.
    """

    left: str | None
    disconnections: int
    reloads: int
    pause_ms: float
    ended_episode: int | None
    ended_frame: int | None


class DisconnectionRow(TypedDict):
    """A member of a match going away during its game, and how that ended.

    - ``match_id``, ``scene_id``, ``participant_id``: who, in which match.
    - ``episode``, ``frame``: where the game was (``None`` if between episodes).
    - ``kind``: ``closed`` (closed the page or navigated away), ``reload`` (reloaded it),
      ``network`` (its connection went silent) or ``p2p`` (its peer connection failed).
    - ``started_at``, ``ended_at``: when it went and when that ended (``None`` while open).
    - ``outcome``: ``resumed``, ``reload_resumed``, ``left``, ``reconnect_timeout``, … or
      ``None`` while open; ``pause_ms``: how long the others' game stood paused for it.
    """

    match_id: str
    scene_id: str
    participant_id: str
    episode: int | None
    kind: str
    started_at: float
    frame: int | None
    ended_at: float | None
    outcome: str | None
    pause_ms: float | None


class TelemetryRow(TypedDict):
    """One latency sample of a member's page during play (about 1 per second).

    - ``participant_id``, ``scene_id``, ``episode``: whose, where.
    - ``t``: when (Unix seconds on the page's clock).
    - ``metric``: ``p2p_rtt_ms`` (the selected candidate pair's current round-trip time from
      getStats; the worst partner), ``candidate_type`` (that pair's local candidate type:
      ``host``, ``srflx``, ``prflx``, ``relay``), ``engine_rtt_ms`` (the rollback engine's
      ping), ``ws_rtt_ms`` (the websocket's round trip to the server), and per second
      ``rollbacks``, ``rollback_depth`` (the deepest, in frames), ``stalls``, ``stalled_ms``,
      ``relayed`` (game packets through the server relay) and ``paused`` (1 while paused).
    - ``value``: a number, or a string for ``candidate_type``; ``None`` when unknown.
    """

    participant_id: str
    scene_id: str
    episode: int
    t: float
    metric: str
    value: float | str | None


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


class ExclusionRow(TypedDict):
    """A participant who was excluded: by an entry rule, a monitoring rule, or the researcher.

    - ``participant_id``: who (their ``participants.status`` is ``excluded``).
    - ``rule``: the rule's name (``admin`` for the admin console); ``phase``: ``entry``,
      ``continuous`` or ``admin``.
    - ``reason``: why, for the data (``"device is mobile"``, ``"hidden for 31.2 s"``).
    - ``message``: what the participant was shown.
    - ``scene_id``, ``episode``, ``frame``: where they were (``None`` at entry, or unknown).
    - ``redirect_url``, ``completion_code``: what the excluded page offered, if anything.
    - ``at``: when.
    """

    participant_id: str
    rule: str
    phase: str
    reason: str
    message: str
    scene_id: str | None
    episode: int | None
    frame: int | None
    redirect_url: str | None
    completion_code: str | None
    at: float


class FocusPeriodRow(TypedDict):
    """One period a participant's page was hidden (another tab, minimised) during a game scene.

    - ``participant_id``, ``scene_id``: whose page, in which scene; ``period``: its number in
      the scene (from 0).
    - ``episode``, ``start_frame``, ``end_frame``: the episode and the frames the game was at
      when the page was hidden and shown again (``end_frame`` is ``None`` if it never was).
    - ``start_ms``, ``end_ms``, ``duration_ms``: the same moments on the page's clock (ms).
    - ``started_at``, ``ended_at``: when the server heard of them (``ended_at`` ``None`` if it
      never did).
    """

    participant_id: str
    scene_id: str
    period: int
    episode: int | None
    start_frame: int | None
    end_frame: int | None
    start_ms: float | None
    end_ms: float | None
    duration_ms: float | None
    started_at: float
    ended_at: float | None
