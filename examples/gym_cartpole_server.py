"""Gymnasium's CartPole-v1, unmodified, played with the arrow keys; the server runs it.

CartPole needs numpy (and pygame to draw), which the browser does not have, so the scene runs
in server mode: the igym server steps ``gymnasium.make("CartPole-v1")`` at 30 frames a second,
takes the participant's keys over the websocket, sends every frame as a JPEG drawn from
``render_mode="rgb_array"``, and records every step (actions, rewards, terminated/truncated,
key-to-drawn latency) in the same tables as any game scene. The episode ends when the pole
falls (terminated) or after 500 steps (CartPole's TimeLimit: truncated).

Host it with ``igym run examples/gym_cartpole_server.py`` (needs ``pip install
'gymnasium[classic-control]' pillow``).
"""

from igym_core import EnvironmentSpec
from igym_core.config import EndScene, Experiment, FormField, GameScene, StaticScene

CARTPOLE = EnvironmentSpec(
    name="cartpole",
    factory="gymnasium:make",
    kwargs={"id": "CartPole-v1", "render_mode": "rgb_array"},
    agent_ids=("agent_0",),  # a single-agent Gymnasium env has one agent: name it here
    action_labels={0: "push left", 1: "push right"},
    default_action=0,
    key_bindings={"ArrowLeft": 0, "ArrowRight": 1},
    description="Gymnasium CartPole-v1: keep the pole up by pushing the cart.",
)

experiment = Experiment(
    id="gym_cartpole",
    title="Balance the pole",
    environments=[CARTPOLE],
    scenes=[
        StaticScene(
            id="instructions",
            title="Balance the pole",
            html=(
                "<p>A pole stands on a cart. Push the cart with the <b>left</b> and "
                "<b>right arrow keys</b> to keep the pole upright. Each step it stays up scores "
                "a point; a round ends when it falls or after 500 steps.</p>"
            ),
            continue_label="Start",
        ),
        GameScene(
            id="cartpole",
            env="cartpole",
            mode="server",
            seats={"agent_0": "human"},
            episodes=3,
            max_steps=500,
            fps=30,
            countdown_s=3,
            frame_format="jpeg",
            frame_max_width=600,
            instructions="<p>Left and right arrow keys push the cart.</p>",
        ),
        StaticScene(
            id="survey",
            fields=[
                FormField(
                    "hard", "How hard was it?", kind="likert", choices=("Easy", "So-so", "Hard")
                )
            ],
        ),
        EndScene(id="end", completion_code="IGYM-POLE-7C1A"),
    ],
)
