"""cogrid's own Overcooked-CrampedRoom-V0 (the reference system's environment), unmodified,
with an AI partner that runs on the server.

The environment is ``cogrid.make("Overcooked-CrampedRoom-V0", render_mode="rgb_array")``:
a PettingZoo parallel env whose agents are the ints 0 and 1 (igym names them "0" and "1"). The
server steps it at 30 frames a second and sends its own rendering as JPEG frames. The AI seat's
policy runs on the server too, in ordinary CPython: here igym_overcooked's scripted cook reading
cogrid's 892-number feature observations (``igym_overcooked.policies:feature_cook``); a policy
trained in cogrid (numpy, torch, onnxruntime...) is plugged in the same way, as a
``module:factory`` returning an object with ``act(observation)``.

Host it with ``igym run examples/cogrid_overcooked_human_ai.py`` (needs ``pip install
cogrid pillow``).
"""

from igym_core import EnvironmentSpec, PolicySpec
from igym_core.config import EndScene, Experiment, GameScene, StaticScene

COGRID_OVERCOOKED = EnvironmentSpec(
    name="cogrid.cramped_room",
    factory="cogrid:make",
    kwargs={"environment_id": "Overcooked-CrampedRoom-V0", "render_mode": "rgb_array"},
    agent_ids=("0", "1"),  # str() of cogrid's possible_agents
    action_labels={
        0: "up",
        1: "down",
        2: "left",
        3: "right",
        4: "pick up / drop",
        5: "toggle",
        6: "no-op",
    },
    default_action=6,
    key_bindings={"ArrowUp": 0, "ArrowDown": 1, "ArrowLeft": 2, "ArrowRight": 3, " ": 4},
    policies=(
        PolicySpec(
            name="cook",
            factory="igym_overcooked.policies:feature_cook",
            kwargs={"layout": "cramped_room"},
            description="A scripted cook that sees only cogrid's feature observations.",
        ),
    ),
    description="cogrid 0.3.2's Overcooked-CrampedRoom-V0, run on the server.",
)

experiment = Experiment(
    id="cogrid_overcooked_human_ai",
    title="Cooking with cogrid",
    environments=[COGRID_OVERCOOKED],
    scenes=[
        StaticScene(
            id="instructions",
            title="How to play",
            html=(
                "<p>Cook onion soup with a computer partner. Arrow keys move you; <b>space</b> "
                "picks up and puts down. Three onions in the pot cook a soup; take it out with "
                "a plate and bring it to the serving window.</p>"
            ),
            continue_label="Start",
        ),
        GameScene(
            id="cooking",
            env="cogrid.cramped_room",
            mode="server",
            seats={"0": "human", "1": "policy:cook"},
            episodes=1,
            max_steps=450,
            fps=30,
            countdown_s=3,
        ),
        EndScene(id="end", completion_code="IGYM-COGRID-51E2"),
    ],
)
