"""A small multiplayer study for the hardening tests: consent, a two-person game, the end."""

from igym_core.config import EndScene, Experiment, FormField, GameScene, StaticScene

experiment = Experiment(
    id="mp_study",
    scenes=[
        StaticScene(id="consent", fields=[FormField("consent", "I agree", kind="checkbox")]),
        GameScene(
            id="game",
            env="overcooked.cramped_room",
            seats={"agent_0": "human", "agent_1": "human"},
            episodes=1,
            max_steps=10,
            validation_timeout_s=2,
        ),
        EndScene(id="end", completion_code="MP-DONE"),
    ],
)
