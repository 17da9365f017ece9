"""``igym check-env NAME_OR_MODULE:FACTORY``: is an environment deterministic and rollback-safe?

Runs the sync-test battery of :func:`igym_core.runtime.synctest.check_game` (plain-data state,
or, for an env without ``get_state``/``set_state``, the generic pickle/deepcopy snapshot; two
instances in lock-step; snapshot restore; rollback and replay at every frame) and exits 1 if
any check fails. ``--kwargs`` passes keyword arguments to ``MODULE:FACTORY``: ``igym check-env
gymnasium:make --kwargs '{"id": "CartPole-v1"}'``. ``NAME`` is an environment a plugin provides (``igym plugins`` lists them); an
Overcooked layout name also finds the plugin environment built on it.
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from igym_core.commands import CommandError
from igym_core.runtime.adapter import AdapterError, action_space_of, possible_agents
from igym_core.runtime.game import GameError, Policy, RollbackGame, as_game, load_callable
from igym_core.runtime.synctest import check_game


@dataclass(frozen=True)
class EnvTarget:
    """An environment resolved from the command line: how to make it, and its action space."""

    name: str
    factory: Callable[..., Any]
    kwargs: dict[str, Any]
    action_count: int
    default_action: int
    scripted: Callable[[int, int], Policy] | None = None

    def make_game(self, seed: int, **extra: Any) -> RollbackGame:
        """A fresh game reset with ``seed`` (``extra`` kwargs are passed when accepted)."""
        kwargs = dict(self.kwargs)
        kwargs.update({k: v for k, v in extra.items() if _accepts(self.factory, k)})
        return as_game(self.factory(**kwargs), seed)


def _accepts(factory: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _probe_actions(factory: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[int, int]:
    """``(action count, default action)`` of an env made by ``factory``, read from its first
    agent's action space (7 and 0 when it declares none; an env may name its idle action in a
    ``default_action`` attribute)."""
    env = factory(**kwargs)
    raw = possible_agents(env)
    try:
        space = action_space_of(env, raw[0] if raw else None)
    except AdapterError as exc:
        raise CommandError(f"{env!r:.60}: {exc}") from None
    count = space.start + space.n if space is not None else 7
    default = getattr(env, "default_action", 0)
    return count, default if isinstance(default, int) and 0 <= default < count else 0


def _policy_factory(path: str, kwargs: dict[str, Any]) -> Callable[[int, int], Policy]:
    factory = load_callable(path)

    def make(agent_index: int, seed: int) -> Policy:
        return factory(f"agent_{agent_index}", seed, **kwargs)

    return make


def resolve_env(target: str, kwargs: dict[str, Any] | None = None) -> EnvTarget:
    """Find ``target``: ``module:callable`` (called with ``kwargs``), a plugin environment
    name, or the layout of one."""
    if ":" in target:
        try:
            factory = load_callable(target)
        except GameError as exc:
            raise CommandError(str(exc)) from None
        kwargs = dict(kwargs or {})
        try:
            count, default = _probe_actions(factory, kwargs)
        except CommandError:
            raise
        except Exception as exc:
            raise CommandError(f"{target}() raised {type(exc).__name__}: {exc}") from None
        return EnvTarget(target, factory, kwargs, count, default)
    from igym_core.plugins import PluginError, PluginManager

    manager = PluginManager()
    try:
        spec = manager.environment(target)
    except PluginError as exc:
        matches = [s for s in manager.environments.values() if s.kwargs.get("layout") == target]
        if not matches:
            raise CommandError(str(exc)) from None
        spec = sorted(matches, key=lambda s: s.name)[0]
    try:
        factory = load_callable(spec.factory)
    except GameError as exc:
        raise CommandError(f"environment {spec.name!r}: {exc}") from None
    scripted = None
    ranked = sorted(spec.policies, key=lambda p: ("script" not in p.name.lower(), p.name))
    for policy in ranked:
        try:
            scripted = _policy_factory(policy.factory, dict(policy.kwargs))
            break
        except GameError:
            continue
    return EnvTarget(
        spec.name,
        factory,
        dict(spec.kwargs),
        max(spec.action_labels) + 1,
        spec.default_action,
        scripted,
    )


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "check-env",
        help="check that an environment is deterministic and rollback-safe",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("env", metavar="NAME_OR_MODULE:FACTORY")
    parser.add_argument(
        "--kwargs",
        type=_json_object,
        default=None,
        help='keyword arguments of MODULE:FACTORY as a JSON object, e.g. \'{"id": "CartPole-v1"}\'',
    )
    parser.add_argument("--frames", type=int, default=300, help="frames per seed (default 300)")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1], help="reset seeds to try (default 0 1)"
    )
    parser.add_argument(
        "--max-distance", type=int, default=8, help="deepest rollback to test (default 8)"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the verdict")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.frames < 1 or args.max_distance < 1:
        raise CommandError("--frames and --max-distance must be at least 1")
    env = resolve_env(args.env, args.kwargs)
    try:
        report = check_game(
            lambda seed: env.make_game(seed),
            seeds=args.seeds,
            frames=args.frames,
            max_distance=args.max_distance,
            action_count=env.action_count,
        )
    except Exception as exc:  # the env itself crashed: that is a failed check, not a bug here
        print(f"{env.name}: FAILED: the environment raised {type(exc).__name__}: {exc}")
        return 1
    if not args.quiet:
        for line in report.checks:
            print(f"  ok    {line}")
        for line in report.problems:
            print(f"  FAIL  {line}")
    if report.ok:
        print(f"{env.name}: deterministic and rollback-safe ({len(report.checks)} checks)")
        return 0
    print(f"{env.name}: NOT rollback-safe ({len(report.problems)} problems)")
    return 1
