"""The attrs classes a researcher writes an experiment with.

Every class validates itself when it is built, so a mistake in an experiment file fails at load
time with a message that names the field::

    Experiment(
        id="pilot",
        scenes=[
            StaticScene(id="consent", title="Consent", html="<p>...</p>",
                        fields=[FormField("agree", "I agree", kind="checkbox")]),
            EndScene(id="end", completion_code="C0DE"),
        ],
    )
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

import attrs

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
FIELD_KINDS = ("text", "textarea", "number", "choice", "multichoice", "checkbox", "likert")


class ConfigError(ValueError):
    """An experiment configuration is invalid; the message names the field."""


def _where(instance: Any, attribute: attrs.Attribute) -> str:
    own_id = getattr(instance, "id", None) or getattr(instance, "name", None)
    label = (
        f"{type(instance).__name__}({own_id!r})"
        if isinstance(own_id, str)
        else type(instance).__name__
    )
    return f"{label}.{attribute.name}"


def identifier(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise ConfigError(
            f"{_where(instance, attribute)} must be 1-64 letters, digits, '_' or '-' "
            f"(starting with a letter or digit), got {value!r}"
        )


_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def env_name(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ConfigError(
            f"{_where(instance, attribute)} must name an environment (as `igym plugins` lists "
            f"them, e.g. 'overcooked.cramped_room'), got {value!r}"
        )


def text(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"{_where(instance, attribute)} must be a string, got {value!r}")


def optional_text(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None:
        text(instance, attribute, value)


@attrs.frozen
class FormField:
    """One question on a static page; its answer is stored with the participant's responses.

    ``kind`` is one of text, textarea, number, choice (one of ``choices``), multichoice (any of
    ``choices``), checkbox (must be ticked when required) and likert (one of ``choices``,
    shown as a scale).
    """

    name: str = attrs.field(validator=identifier)
    label: str = attrs.field(validator=text)
    kind: str = attrs.field(default="text")
    required: bool = attrs.field(default=True)
    choices: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    min: float | None = None
    max: float | None = None
    max_length: int = attrs.field(default=2000)

    @kind.validator
    def _kind(self, attribute: attrs.Attribute, value: Any) -> None:
        if value not in FIELD_KINDS:
            raise ConfigError(
                f"{_where(self, attribute)} must be one of {', '.join(FIELD_KINDS)}, got {value!r}"
            )

    @choices.validator
    def _choices(self, attribute: attrs.Attribute, value: tuple[Any, ...]) -> None:
        if self.kind in ("choice", "multichoice", "likert") and len(value) < 2:
            raise ConfigError(
                f"{_where(self, attribute)} needs at least two choices for a {self.kind}"
            )
        if not all(isinstance(c, str) and c for c in value):
            raise ConfigError(f"{_where(self, attribute)} must be non-empty strings, got {value!r}")
        if len(set(value)) != len(value):
            raise ConfigError(f"{_where(self, attribute)} has duplicates: {value!r}")

    @required.validator
    def _required(self, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, bool):
            raise ConfigError(f"{_where(self, attribute)} must be True or False, got {value!r}")

    @max_length.validator
    def _max_length(self, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100_000:
            raise ConfigError(
                f"{_where(self, attribute)} must be an int in 1..100000, got {value!r}"
            )

    def clean(self, value: Any) -> tuple[Any, str | None]:
        """Check a submitted answer; return ``(value, None)`` or ``(None, problem)``."""
        missing = (
            value is None
            or value == ""
            or value == []
            or (self.kind == "checkbox" and value is False)
        )
        if missing:
            if self.required:
                return None, f"field {self.name!r} is required"
            return (False if self.kind == "checkbox" else None), None
        if self.kind in ("text", "textarea"):
            if not isinstance(value, str):
                return None, f"field {self.name!r} must be text, got {type(value).__name__}"
            if len(value) > self.max_length:
                return None, f"field {self.name!r} is longer than {self.max_length} characters"
            return value, None
        if self.kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None, f"field {self.name!r} must be a number, got {type(value).__name__}"
            if value != value or value in (float("inf"), float("-inf")):
                return None, f"field {self.name!r} must be a finite number"
            if self.min is not None and value < self.min:
                return None, f"field {self.name!r} must be at least {self.min}"
            if self.max is not None and value > self.max:
                return None, f"field {self.name!r} must be at most {self.max}"
            return value, None
        if self.kind in ("choice", "likert"):
            if value not in self.choices:
                return None, f"field {self.name!r} must be one of {list(self.choices)}"
            return value, None
        if self.kind == "multichoice":
            if not isinstance(value, list) or not all(v in self.choices for v in value):
                return None, f"field {self.name!r} must be a list drawn from {list(self.choices)}"
            return sorted(set(value), key=self.choices.index), None
        # checkbox
        if value is not True:
            return None, f"field {self.name!r} must be true or false"
        return True, None

    def to_client(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "required": self.required,
            "choices": list(self.choices),
            "min": self.min,
            "max": self.max,
        }


def _fields(value: Any) -> tuple[FormField, ...]:
    return tuple(value)


@attrs.frozen
class Scene:
    """Base class of every scene; ``id`` is unique within an experiment."""

    kind: ClassVar[str] = ""
    id: str = attrs.field(validator=identifier)

    def to_client(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind}


@attrs.frozen
class StaticScene(Scene):
    """An HTML page with optional form fields and a continue control (consent, instructions...).

    ``html`` is trusted markup written by the researcher.
    """

    kind: ClassVar[str] = "static"
    title: str = attrs.field(default="", validator=text)
    html: str = attrs.field(default="", validator=text)
    fields: tuple[FormField, ...] = attrs.field(default=(), converter=_fields)
    continue_label: str = attrs.field(default="Continue", validator=text)

    @fields.validator
    def _check_fields(self, attribute: attrs.Attribute, value: tuple[Any, ...]) -> None:
        names: set[str] = set()
        for i, field in enumerate(value):
            if not isinstance(field, FormField):
                raise ConfigError(
                    f"{_where(self, attribute)}[{i}] must be a FormField, got {field!r}"
                )
            if field.name in names:
                raise ConfigError(f"{_where(self, attribute)} has two fields named {field.name!r}")
            names.add(field.name)

    def to_client(self) -> dict[str, Any]:
        return {
            **super().to_client(),
            "title": self.title,
            "html": self.html,
            "fields": [f.to_client() for f in self.fields],
            "continue_label": self.continue_label,
        }


@attrs.frozen
class EndScene(Scene):
    """The last page: shows a completion code and/or redirects.

    With ``redirect_url`` the participant is sent there after ``redirect_delay_s`` seconds with
    their id appended as the query parameter ``redirect_id_param``.
    """

    kind: ClassVar[str] = "end"
    title: str = attrs.field(default="Thank you!", validator=text)
    html: str = attrs.field(default="", validator=text)
    completion_code: str | None = attrs.field(default=None, validator=optional_text)
    redirect_url: str | None = attrs.field(default=None, validator=optional_text)
    redirect_id_param: str = attrs.field(default="participant_id", validator=identifier)
    redirect_delay_s: float = attrs.field(default=3.0)

    @redirect_url.validator
    def _redirect(self, attribute: attrs.Attribute, value: str | None) -> None:
        if value is None:
            return
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"{_where(self, attribute)} must be an absolute http(s) URL, got {value!r}"
            )

    @redirect_delay_s.validator
    def _delay(self, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 600:
            raise ConfigError(f"{_where(self, attribute)} must be 0..600 seconds, got {value!r}")

    def redirect_for(self, participant_id: str) -> str | None:
        if self.redirect_url is None:
            return None
        sep = "&" if urlsplit(self.redirect_url).query else "?"
        return f"{self.redirect_url}{sep}{urlencode({self.redirect_id_param: participant_id})}"

    def to_client(self) -> dict[str, Any]:
        return {
            **super().to_client(),
            "title": self.title,
            "html": self.html,
            "fields": [],
            "continue_label": "",
            "completion_code": self.completion_code,
            "redirect_delay_s": self.redirect_delay_s,
        }


def _url(where: str, value: Any) -> None:
    if value is None:
        return
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where} must be an absolute http(s) URL, got {value!r}")


@attrs.frozen
class Rule:
    """A screening rule (in ``Experiment.entry_rules``) or a monitoring rule (in
    ``GameScene.rules``).

    ``rule`` is one of: the name of an exclusion rule an installed plugin offers (``igym
    plugins`` lists them; ``Rule("device", {"allow": "desktop"})``), an ``ExclusionRule``
    subclass, or a plain callable ``check(context)`` that returns ``None``, an ``Exclusion``,
    a ``RuleWarning``, or a string (the reason: the participant is excluded). A bare name,
    class or callable may be listed without ``Rule(...)``.

    - ``options``: the rule class's keyword arguments, checked when the experiment loads.
    - ``message``: what an excluded (or warned) participant reads instead of the rule's own.
    - ``redirect_url``: where the excluded page sends the participant (after a few seconds,
      with a link); ``completion_code``: a code it shows (Prolific pays screen-outs with a
      code of their own).
    - ``exclude_on_error``: a rule that raises excludes the participant (by default it is
      logged, counted, and lets them go on).
    - ``name``: the name recorded for a callable (default: its ``__name__``).
    """

    rule: Any = attrs.field(repr=lambda r: _rule_repr(r))
    options: dict[str, Any] = attrs.field(factory=dict, converter=dict)
    message: str | None = attrs.field(default=None, validator=optional_text)
    redirect_url: str | None = attrs.field(default=None)
    completion_code: str | None = attrs.field(default=None, validator=optional_text)
    exclude_on_error: bool = False
    name: str | None = attrs.field(default=None, validator=optional_text)

    @redirect_url.validator
    def _redirect(self, attribute: attrs.Attribute, value: Any) -> None:
        _url("Rule.redirect_url", value)

    @property
    def kind(self) -> str:
        """``"name"`` (an installed rule), ``"class"`` or ``"callable"``."""
        from igym_core.specs import ExclusionRule

        if isinstance(self.rule, str):
            return "name"
        if isinstance(self.rule, type) and issubclass(self.rule, ExclusionRule):
            return "class"
        return "callable"

    @property
    def label(self) -> str:
        """The rule's name in the data."""
        if self.name:
            return self.name
        if isinstance(self.rule, str):
            return self.rule
        if self.kind == "class":
            return self.rule.name or self.rule.__name__
        return getattr(self.rule, "__name__", None) or type(self.rule).__name__


def phase_text(phase: str) -> str:
    """``"an entry"`` / ``"a continuous"``: a rule's phase in an error message."""
    return {"entry": "an entry", "continuous": "a continuous"}.get(phase, repr(phase))


def _rule_repr(rule: Any) -> str:
    """A callable's or class's dotted name (not its address: the config digest must not change
    from one start to the next)."""
    if isinstance(rule, str):
        return repr(rule)
    module = getattr(rule, "__module__", None) or "?"
    return f"{module}:{getattr(rule, '__qualname__', type(rule).__qualname__)}"


def rules_list(value: Any, where: str, phase: str) -> tuple[Rule, ...]:
    """A list of rules as :class:`Rule` objects; ``where`` names the field, ``phase`` the
    rules it may hold (``"entry"`` or ``"continuous"``)."""
    from igym_core.specs import ExclusionRule

    if isinstance(value, str | bytes | Rule) or callable(value) or not hasattr(value, "__iter__"):
        raise ConfigError(f"{where} must be a list of rules, got {value!r:.80}")
    out = []
    for i, item in enumerate(value):
        spot = f"{where}[{i}]"
        rule = item if isinstance(item, Rule) else Rule(item)
        target = rule.rule
        if isinstance(target, str):
            identifier_like = bool(_ENV_NAME.match(target))
            if not identifier_like:
                raise ConfigError(f"{spot} must name an exclusion rule, got {target!r}")
            if rule.name is not None:
                raise ConfigError(f"{spot}.name is only for callables")
        elif isinstance(target, type):
            if not issubclass(target, ExclusionRule):
                raise ConfigError(
                    f"{spot} must be an ExclusionRule subclass, a rule's name or a callable, "
                    f"got the class {target.__name__}"
                )
            if target.phase != phase:
                raise ConfigError(
                    f"{spot}: {rule.label!r} is {phase_text(target.phase)} rule; this list holds "
                    f"{phase} rules"
                )
        elif isinstance(target, ExclusionRule):
            raise ConfigError(
                f"{spot}: give the class {type(target).__name__} (with options), not an instance"
            )
        elif not callable(target):
            raise ConfigError(
                f"{spot} must be a rule's name, an ExclusionRule subclass or a callable, "
                f"got {target!r:.80}"
            )
        elif rule.options:
            raise ConfigError(f"{spot}.options: a callable takes no options")
        if not isinstance(rule.exclude_on_error, bool):
            raise ConfigError(f"{spot}.exclude_on_error must be True or False")
        out.append(rule)
    labels = [r.label for r in out]
    for label in labels:
        if labels.count(label) > 1:
            raise ConfigError(f"{where} lists two rules named {label!r} (give one a name)")
    return tuple(out)


SEAT_KINDS = ("human", "policy", "random")


@attrs.frozen
class Seat:
    """Who plays one agent of a game scene: ``Seat("human")``, ``Seat("policy", "name")`` (an AI
    policy the environment's plugin offers) or ``Seat("random")``."""

    kind: str = attrs.field()
    policy: str | None = attrs.field(default=None, validator=optional_text)

    @kind.validator
    def _kind(self, attribute: attrs.Attribute, value: Any) -> None:
        if value not in SEAT_KINDS:
            raise ConfigError(f"Seat.kind must be one of {', '.join(SEAT_KINDS)}, got {value!r}")

    @policy.validator
    def _policy(self, attribute: attrs.Attribute, value: Any) -> None:
        if (self.kind == "policy") != (value is not None):
            raise ConfigError(
                "Seat.policy names the AI policy of a 'policy' seat and only of one"
                f" (kind={self.kind!r}, policy={value!r})"
            )

    def to_client(self) -> dict[str, Any]:
        return {"kind": self.kind, "policy": self.policy}


def _seats(value: Any) -> dict[str, Seat]:
    if not isinstance(value, dict):
        raise ConfigError(f"GameScene.seats must map agent ids to seats, got {value!r}")
    out = {}
    for agent, seat in value.items():
        if isinstance(seat, str):
            kind, _, policy = seat.partition(":")
            seat = Seat(kind, policy or None)
        out[agent] = seat
    return out


def _int_in(low: int, high: int) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(
                f"{_where(instance, attribute)} must be an int in {low}..{high}, got {value!r}"
            )

    return check


GAME_MODES = ("browser", "server")
STEP_ON = ("tick", "input")
FRAME_FORMATS = ("jpeg", "webp", "png")


@attrs.frozen
class GameScene(Scene):
    """Episodes of an environment played by one or more participants.

    ``env`` names an environment a plugin (or the experiment's ``environments``) provides
    (``igym plugins`` lists them) and ``env_kwargs`` override its defaults. ``seats`` maps
    every agent id to a seat: ``"human"``, ``"policy:<name>"`` or ``"random"`` (or
    :class:`Seat` objects). ``input_mode`` is ``"held"`` (the action of the key held at each
    tick) or ``"press"`` (each key press acts once). ``step_on`` is ``"tick"`` (the game
    advances every 1/fps s, idle players doing the default action) or ``"input"`` (it advances
    only when a player pressed a key: grid worlds, puzzles). Turn-based (PettingZoo AEC) envs
    always advance when the player whose turn it is acts.

    ``mode`` is where the environment runs: ``"browser"`` (Pyodide in each participant's
    browser; pure-Python envs; several humans play peer to peer with rollback) or ``"server"``
    (CPython on the igym server at ``fps``: any env, numpy, torch...; inputs go to the server
    over the websocket and every member gets each frame; the server records the frames).
    Server scenes, with one human or several, go through the waiting room and the scene's
    matchmaker. When the env renders images (``render_mode="rgb_array"``) they are sent as
    ``frame_format`` (``"jpeg"``, ``"webp"`` or ``"png"``) at ``frame_quality``, scaled down
    to at most ``frame_max_width`` pixels wide when set.

    Matched scenes (several human seats, or any server scene) also have a waiting room
    (``waiting_timeout_s``), a P2P check in browser mode that must be done within
    ``validation_timeout_s`` (members who sent theirs go back to waiting, silent ones are
    dropped with ``validation_timeout_message``), and a game that the server ends after
    :attr:`play_timeout_s` (``match_timeout_message``). In a peer-to-peer game, a member whose
    inputs stop arriving pauses the game for everyone; it ends after ``reconnect_timeout_s``
    (a member whose page reloads gets ``reload_timeout_s`` to come back and rebuild the
    episode).
    """

    kind: ClassVar[str] = "game"
    env: str = attrs.field(default="", validator=env_name)
    seats: dict[str, Seat] = attrs.field(factory=dict, converter=_seats)
    env_kwargs: dict[str, Any] = attrs.field(factory=dict, converter=dict)
    episodes: int = attrs.field(default=1, validator=_int_in(1, 1000))
    max_steps: int = attrs.field(default=400, validator=_int_in(1, 1_000_000))
    fps: int = attrs.field(default=30, validator=_int_in(1, 120))
    countdown_s: int = attrs.field(default=3, validator=_int_in(0, 60))
    input_mode: str = attrs.field(default="held")
    default_action: int | None = None
    key_bindings: dict[str, int] | None = None
    title: str = attrs.field(default="", validator=text)
    instructions: str = attrs.field(default="", validator=text)
    seed: int = attrs.field(default=0, validator=_int_in(0, 2**31 - 1))
    # -- multiplayer (more than one human seat) --
    matchmaker: str = attrs.field(default="fifo", validator=identifier)
    matchmaker_options: dict[str, Any] = attrs.field(factory=dict, converter=dict)
    max_p2p_rtt_ms: float | None = attrs.field(default=None)
    waiting_timeout_s: float = attrs.field(default=300.0)
    waiting_timeout_message: str = attrs.field(
        default="Sorry, no partner could be found in time. Thank you for waiting.",
        validator=text,
    )
    waiting_timeout_redirect: str | None = attrs.field(default=None, validator=optional_text)
    show_waiting_count: bool = True
    input_delay: int = attrs.field(default=2, validator=_int_in(0, 30))
    max_prediction: int = attrs.field(default=8, validator=_int_in(1, 120))
    hash_interval: int = attrs.field(default=30, validator=_int_in(1, 10_000))
    partner_left_message: str = attrs.field(
        default="Your partner left the game. Your data is saved; you can go on.", validator=text
    )
    connection_lost_message: str = attrs.field(
        default="The connection to your partner was lost. Your data is saved; you can go on.",
        validator=text,
    )
    reconnect_timeout_message: str = attrs.field(
        default="Your partner's connection was lost and did not come back in time. Your data is "
        "saved; you can go on.",
        validator=text,
    )
    #: a partner's inputs stop arriving: the game pauses for everyone and ends after this long
    reconnect_timeout_s: float = attrs.field(default=5.0)
    #: a partner's page reloads (or its tab crashed and is reopened): it gets this long to come
    #: back and rebuild the episode before the game ends
    reload_timeout_s: float = attrs.field(default=30.0)
    validation_timeout_s: float = attrs.field(default=15.0)
    validation_timeout_message: str = attrs.field(
        default="We could not connect you with your partner in time. You can go on.",
        validator=text,
    )
    match_timeout_message: str = attrs.field(
        default="The game went on far longer than it can take, so it was ended. Your data is "
        "saved; you can go on.",
        validator=text,
    )
    # -- where it runs and when it steps --
    mode: str = attrs.field(default="browser")
    step_on: str = attrs.field(default="tick")
    frame_format: str = attrs.field(default="jpeg")
    frame_quality: int = attrs.field(default=80, validator=_int_in(1, 100))
    frame_max_width: int | None = attrs.field(default=None)
    # -- monitoring (see Rule) --
    rules: tuple[Rule, ...] = attrs.field(default=())
    monitor_interval_s: float = attrs.field(default=1.0)
    partner_excluded_message: str = attrs.field(
        default="Your partner could not go on with the game, so it has ended. Your data is "
        "saved; you can go on.",
        validator=text,
    )
    partner_excluded_code: str | None = attrs.field(default=None, validator=optional_text)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self, "rules", rules_list(self.rules, f"GameScene({self.id!r}).rules", "continuous")
        )

    @monitor_interval_s.validator
    def _check_interval(self, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.2 <= value <= 60:
            raise ConfigError(f"{_where(self, attribute)} must be 0.2..60 seconds, got {value!r}")

    @mode.validator
    def _check_mode(self, attribute: attrs.Attribute, value: Any) -> None:
        if value not in GAME_MODES:
            raise ConfigError(
                f"{_where(self, attribute)} must be one of {', '.join(GAME_MODES)}, got {value!r}"
            )

    @step_on.validator
    def _check_step_on(self, attribute: attrs.Attribute, value: Any) -> None:
        if value not in STEP_ON:
            raise ConfigError(
                f"{_where(self, attribute)} must be one of {', '.join(STEP_ON)}, got {value!r}"
            )
        if value == "input" and self.mode == "browser" and self.multiplayer:
            raise ConfigError(
                f"{_where(self, attribute)}='input' cannot drive a peer-to-peer game (rollback "
                "steps every tick); use mode='server' for several players"
            )

    @frame_format.validator
    def _check_format(self, attribute: attrs.Attribute, value: Any) -> None:
        if value not in FRAME_FORMATS:
            raise ConfigError(
                f"{_where(self, attribute)} must be one of {', '.join(FRAME_FORMATS)}, "
                f"got {value!r}"
            )

    @frame_max_width.validator
    def _check_width(self, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None:
            _int_in(16, 8192)(self, attribute, value)

    @seats.validator
    def _check_seats(self, attribute: attrs.Attribute, value: dict[str, Any]) -> None:
        if not value:
            raise ConfigError(f"{_where(self, attribute)} must name a seat for every agent")
        humans = [a for a, s in value.items() if isinstance(s, Seat) and s.kind == "human"]
        for agent, seat in value.items():
            if not isinstance(seat, Seat):
                raise ConfigError(
                    f"{_where(self, attribute)}[{agent!r}] must be a Seat, got {seat!r}"
                )
        if not humans:
            raise ConfigError(f"{_where(self, attribute)} must have at least one human seat")

    @max_p2p_rtt_ms.validator
    def _rtt(self, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        ):
            raise ConfigError(f"{_where(self, attribute)} must be a positive number of ms or None")

    @waiting_timeout_s.validator
    def _timeout(self, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 86400:
            raise ConfigError(f"{_where(self, attribute)} must be 1..86400 seconds, got {value!r}")

    @reconnect_timeout_s.validator
    @reload_timeout_s.validator
    def _reconnect_timeout(self, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 300:
            raise ConfigError(f"{_where(self, attribute)} must be 1..300 seconds, got {value!r}")

    @validation_timeout_s.validator
    def _validation_timeout(self, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 600:
            raise ConfigError(f"{_where(self, attribute)} must be 1..600 seconds, got {value!r}")

    @property
    def play_timeout_s(self) -> float:
        """How long a multiplayer game may be played before the server ends it: twice what
        every episode takes at full length with its countdown, plus ten minutes."""
        per_episode = self.max_steps / self.fps + self.countdown_s + 10
        return 2 * self.episodes * per_episode + 600

    @input_mode.validator
    def _mode(self, attribute: attrs.Attribute, value: Any) -> None:
        if value not in ("held", "press"):
            raise ConfigError(f"{_where(self, attribute)} must be 'held' or 'press', got {value!r}")

    @property
    def human_agents(self) -> tuple[str, ...]:
        return tuple(a for a, s in self.seats.items() if s.kind == "human")

    @property
    def human_agent(self) -> str:
        """The human seat of a single-player scene."""
        return self.human_agents[0]

    @property
    def multiplayer(self) -> bool:
        """Several human seats: participants are matched and play together."""
        return len(self.human_agents) > 1

    @property
    def server_mode(self) -> bool:
        """The environment runs on the server (``mode="server"``)."""
        return self.mode == "server"

    @property
    def matched(self) -> bool:
        """Participants go through the waiting room: several humans, or a server scene."""
        return self.multiplayer or self.server_mode

    def episode_seed(self, participant_id: str, episode: int) -> int:
        """The seed of one episode: fixed by the scene's seed, the participant and the episode."""
        digest = hashlib.blake2b(
            f"{self.seed}:{self.id}:{participant_id}:{episode}".encode(), digest_size=4
        ).digest()
        return int.from_bytes(digest, "big") & 0x7FFFFFFF


def _scenes(value: Any) -> tuple[Scene, ...]:
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise ConfigError(f"Experiment.scenes must be a list of scenes, got {value!r}")
    return tuple(value)


@attrs.frozen
class ExperimentSource:
    """The file an experiment was loaded from: its path and the SHA-256 of its bytes."""

    path: str
    sha256: str


@attrs.frozen
class Experiment:
    """An ordered list of scenes; the last one is an :class:`EndScene` and is the only one.

    ``environments`` may define environments in the experiment file itself. ``source`` is set
    by :func:`igym_core.experiment.load_experiment` (the file and its hash, recorded with the
    data); it takes no part in comparisons."""

    id: str = attrs.field(validator=identifier)
    scenes: tuple[Scene, ...] = attrs.field(converter=_scenes)
    title: str = attrs.field(default="", validator=text)
    #: environments defined in the experiment file itself (``EnvironmentSpec``), next to those
    #: of installed plugins: e.g. ``gymnasium:make`` with ``kwargs={"id": "CartPole-v1"}``
    environments: tuple[Any, ...] = attrs.field(default=(), converter=tuple)
    #: screening before the first scene (see :class:`Rule`)
    entry_rules: tuple[Rule, ...] = attrs.field(default=())
    source: ExperimentSource | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self, "entry_rules", rules_list(self.entry_rules, "Experiment.entry_rules", "entry")
        )

    @environments.validator
    def _check_envs(self, attribute: attrs.Attribute, value: tuple[Any, ...]) -> None:
        from igym_core.specs import EnvironmentSpec

        names: set[str] = set()
        for i, spec in enumerate(value):
            if not isinstance(spec, EnvironmentSpec):
                raise ConfigError(
                    f"Experiment.environments[{i}] must be an EnvironmentSpec, got {spec!r:.80}"
                )
            if spec.name in names:
                raise ConfigError(f"Experiment.environments has two named {spec.name!r}")
            names.add(spec.name)

    @scenes.validator
    def _check(self, attribute: attrs.Attribute, value: tuple[Any, ...]) -> None:
        if not value:
            raise ConfigError("Experiment.scenes must not be empty")
        seen: set[str] = set()
        for i, scene in enumerate(value):
            if not isinstance(scene, Scene):
                raise ConfigError(f"Experiment.scenes[{i}] must be a scene, got {scene!r}")
            if scene.id in seen:
                raise ConfigError(f"Experiment.scenes[{i}]: two scenes have the id {scene.id!r}")
            seen.add(scene.id)
            if isinstance(scene, EndScene) and i != len(value) - 1:
                raise ConfigError(
                    f"Experiment.scenes[{i}] ({scene.id!r}) is an EndScene but not the last scene"
                )
        if not isinstance(value[-1], EndScene):
            raise ConfigError(
                f"Experiment.scenes must finish with an EndScene; the last is {value[-1].id!r}"
            )

    def scene(self, scene_id: str) -> Scene:
        for scene in self.scenes:
            if scene.id == scene_id:
                return scene
        raise KeyError(scene_id)
