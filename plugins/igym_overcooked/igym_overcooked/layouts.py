"""Kitchen layouts, drawn with cogrid's symbols.

Symbols: ``C`` counter, ``U`` pot, ``O`` onion dispenser, ``T`` tomato dispenser, ``=`` plate
dispenser, ``@`` delivery zone, ``#`` wall, ``1``/``2`` onion/tomato soup dispensers,
``+`` a spawn cell (floor), space floor.

The five classic layouts are cogrid 0.3.2's ``Overcooked-<Layout>-V0`` grids, cell for cell.

``three_chefs`` is this project's own kitchen for three-player studies (9 x 5)::

    CCUCCCUCC
    O       O
    C+ CCC +C
    =   +   =
    CCC@C@CCC

Two pots on the top wall, onions on the left and right walls, plates at the ends of the middle
row, two delivery windows at the bottom, and an island of three counters in the middle that
splits the floor into a ring. The three spawn cells put one chef on each side of the island and
one below it, so no chef starts next to another. Every station is reachable from every floor
cell, so any chef can do any job; the ring lets chefs pass each other, and the island gives
them counters to hand items over.
"""

from __future__ import annotations

LAYOUTS: dict[str, tuple[str, ...]] = {
    "cramped_room": (
        "CCUCC",
        "O   O",
        "C   C",
        "C=C@C",
    ),
    "asymmetric_advantages": (
        "CCCCCCCCC",
        "O C@COC @",
        "C+  U  +C",
        "C   U   C",
        "CCC=C=CCC",
    ),
    "coordination_ring": (
        "CCCUC",
        "C   U",
        "= C C",
        "O   C",
        "CO@CC",
    ),
    "forced_coordination": (
        "CCCUC",
        "O+C U",
        "O C C",
        "= C+C",
        "CCC@C",
    ),
    "counter_circuit": (
        "CCCUUCCC",
        "C      C",
        "= CCCC @",
        "C      C",
        "CCCOOCCC",
    ),
    "three_chefs": (
        "CCUCCCUCC",
        "O       O",
        "C+ CCC +C",
        "=   +   =",
        "CCC@C@CCC",
    ),
}

# The number of chefs each layout is meant for.
N_AGENTS: dict[str, int] = {name: 2 for name in LAYOUTS}
N_AGENTS["three_chefs"] = 3

CLASSIC = (
    "cramped_room",
    "asymmetric_advantages",
    "coordination_ring",
    "forced_coordination",
    "counter_circuit",
)

# cogrid's registered environment names for the classic layouts (for reference and tests).
COGRID_NAMES = {
    "cramped_room": "Overcooked-CrampedRoom-V0",
    "asymmetric_advantages": "Overcooked-AsymmetricAdvantages-V0",
    "coordination_ring": "Overcooked-CoordinationRing-V0",
    "forced_coordination": "Overcooked-ForcedCoordination-V0",
    "counter_circuit": "Overcooked-CounterCircuit-V0",
}
