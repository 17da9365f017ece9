"""A study that screens its participants (tests/e2e/test_screening_e2e.py): desktop computers
with a large enough screen only; a phone is turned away with the rule's message and a
screened-out completion code."""

from igym_core.config import EndScene, Experiment, Rule, StaticScene

experiment = Experiment(
    id="screening_e2e",
    scenes=[
        StaticScene(id="welcome", html="<p>Welcome.</p>"),
        EndScene(id="end", completion_code="DONE-E2E"),
    ],
    entry_rules=[
        Rule(
            "device",
            message="This study needs a desktop or laptop computer.",
            completion_code="SCREENED-E2E",
        ),
        Rule("screen_size", {"min_width": 1000, "min_height": 600}),
    ],
)
