"""The admin console's browser test study: a consent page with a free-text field, Overcooked
with an AI partner, Overcooked for two, the end."""

from igym_core.config import EndScene, Experiment, FormField, GameScene, StaticScene

experiment = Experiment(
    id="admin_e2e",
    title="Admin console test",
    scenes=[
        StaticScene(
            id="consent",
            title="Consent",
            fields=[
                FormField("consent", "I agree", kind="checkbox"),
                FormField("comment", "Anything to say?", kind="textarea", required=False),
            ],
        ),
        GameScene(
            id="cook",
            env="overcooked.cramped_room",
            seats={"agent_0": "human", "agent_1": "policy:scripted"},
            episodes=1,
            max_steps=90,
            fps=30,
        ),
        GameScene(
            id="duo",
            env="overcooked.cramped_room",
            seats={"agent_0": "human", "agent_1": "human"},
            episodes=2,
            max_steps=60,
            fps=30,
            waiting_timeout_s=120,
        ),
        EndScene(id="end", completion_code="ADMIN-E2E"),
    ],
)
