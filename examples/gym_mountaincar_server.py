"""Gymnasium's MountainCar-v0, unmodified, driven with the arrow keys; the server runs it.

Rock the car back and forth until it reaches the flag on the right hill. The environment is
``gymnasium.make("MountainCar-v0", render_mode="rgb_array")`` stepped on the server (numpy,
pygame), its frames sent to the page as WebP images; holding a key keeps pushing. A round ends
at the flag (terminated) or after 200 steps (truncated), as in Gymnasium.

Host it with ``igym run examples/gym_mountaincar_server.py``.
"""

from igym_core import EnvironmentSpec
from igym_core.config import EndScene, Experiment, GameScene, StaticScene

MOUNTAIN_CAR = EnvironmentSpec(
    name="mountain_car",
    factory="gymnasium:make",
    kwargs={"id": "MountainCar-v0", "render_mode": "rgb_array"},
    agent_ids=("agent_0",),
    action_labels={0: "push left", 1: "no push", 2: "push right"},
    default_action=1,  # nothing held: no push
    key_bindings={"ArrowLeft": 0, "ArrowRight": 2},
    description="Gymnasium MountainCar-v0: build momentum to climb the hill.",
)

experiment = Experiment(
    id="gym_mountain_car",
    title="Mountain car",
    environments=[MOUNTAIN_CAR],
    scenes=[
        StaticScene(
            id="instructions",
            title="Reach the flag",
            html=(
                "<p>The car's engine is too weak to drive up the hill. Hold the <b>left</b> "
                "and <b>right arrow keys</b> to rock it back and forth until it reaches the "
                "flag.</p>"
            ),
            continue_label="Start",
        ),
        GameScene(
            id="mountain_car",
            env="mountain_car",
            mode="server",
            seats={"agent_0": "human"},
            episodes=2,
            max_steps=200,
            fps=30,
            countdown_s=3,
            frame_format="webp",
            frame_quality=70,
        ),
        EndScene(id="end", completion_code="IGYM-CAR-93B0"),
    ],
)
