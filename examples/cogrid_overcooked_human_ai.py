"""cogrid's own Overcooked-CrampedRoom-V0 (the reference system's environment), unmodified,
with an AI partner that runs on the server.

The environment is ``cogrid.make("Overcooked-CrampedRoom-V0")``: a PettingZoo parallel env
whose agents are the ints 0 and 1 (igym names them "0" and "1"). The server steps it at 30
frames a second. It is drawn by ``igym_overcooked.cogrid_render``, which only adds a
``render()`` that turns cogrid's public ``get_state()`` into draw objects with igym_overcooked's
sprites: cogrid's own ``render_mode="rgb_array"`` draws inside every ``step()`` (about 36 ms a
step here, more than a 30 fps frame lasts). The AI seat's policy runs on the server too, in
ordinary CPython: igym_overcooked's scripted cook reading cogrid's 892-number feature
observations (``igym_overcooked.policies:feature_cook``); a policy trained in cogrid (numpy,
torch, onnxruntime...) plugs in the same way, as a ``module:factory`` returning an object with
``act(observation)``.

Host it with ``igym run examples/cogrid_overcooked_human_ai.py`` (needs ``pip install
cogrid``).
"""

from igym_core import EnvironmentSpec, PolicySpec
from igym_core.config import EndScene, Experiment, GameScene, StaticScene

COGRID_OVERCOOKED = EnvironmentSpec(
    name="cogrid.cramped_room",
    factory="igym_overcooked.cogrid_render:make",  # cogrid.make(...), drawn with sprites
    kwargs={"environment_id": "Overcooked-CrampedRoom-V0"},
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
    assets=("igym_overcooked:assets/overcooked.png", "igym_overcooked:assets/overcooked.json"),
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
