"""igym's entry point for this pack: one environment per kitchen, with the AI partners.

Registered in ``pyproject.toml`` as ``[project.entry-points.igym] overcooked =
"igym_overcooked.plugin"``; ``igym plugins`` lists what it offers.
"""

from __future__ import annotations

from igym_core import EnvironmentSpec, PolicySpec, hookimpl
from igym_overcooked.env import ACTION_LABELS, NOOP
from igym_overcooked.layouts import LAYOUTS, N_AGENTS

KEY_BINDINGS = {
    "ArrowUp": 0,
    "ArrowDown": 1,
    "ArrowLeft": 2,
    "ArrowRight": 3,
    " ": 4,
    "e": 5,
}

POLICIES = (
    PolicySpec(
        name="scripted",
        factory="igym_overcooked.policies:scripted_cook",
        description=(
            "A scripted cook: fetches onions, fills pots, plates and delivers soups, passes "
            "items over counters when it cannot reach the pots. Deterministic and memoryless "
            "(a function of the observation and the seed), so rollback-safe."
        ),
    ),
    PolicySpec(
        name="random",
        factory="igym_overcooked.policies:random_policy",
        description="Uniformly random actions, seeded by (seed, seat, time step).",
    ),
)

_DESCRIPTIONS = {
    "cramped_room": "A small kitchen, one pot: the classic warm-up.",
    "asymmetric_advantages": "Two separate halves with different stations near each chef.",
    "coordination_ring": "A ring around a centre counter; chefs must not block each other.",
    "forced_coordination": "One chef has the ingredients, the other the pots: pass items over.",
    "counter_circuit": "A long loop around a counter island; passing over it saves time.",
    "three_chefs": "This pack's kitchen for three chefs: two pots, a ring around an island.",
}


def environment_specs() -> list[EnvironmentSpec]:
    specs = []
    for layout in LAYOUTS:
        n = N_AGENTS[layout]
        specs.append(
            EnvironmentSpec(
                name=f"overcooked.{layout}",
                factory="igym_overcooked:make",
                kwargs={"layout": layout},
                agent_ids=tuple(f"agent_{i}" for i in range(n)),
                action_labels=ACTION_LABELS,
                default_action=NOOP,
                key_bindings=KEY_BINDINGS,
                packages=("igym_overcooked",),
                policies=POLICIES,
                assets=(
                    "igym_overcooked:assets/overcooked.png",
                    "igym_overcooked:assets/overcooked.json",
                ),
                description=f"Overcooked ({n} chefs, cogrid 0.3.2 rules). {_DESCRIPTIONS[layout]}",
            )
        )
    return specs


@hookimpl
def igym_environments() -> list[EnvironmentSpec]:
    """The Overcooked kitchens: the five classic layouts and ``three_chefs``."""
    return environment_specs()
