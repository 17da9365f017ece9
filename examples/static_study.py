"""A small static study: consent, instructions with a question, and a completion code.

Host it with ``igym run examples/static_study.py``.
"""

from igym_core.config import EndScene, Experiment, FormField, StaticScene

experiment = Experiment(
    id="static_study",
    title="A short study",
    scenes=[
        StaticScene(
            id="consent",
            title="Consent",
            html=(
                "<p>This study takes about two minutes. Your answers are stored with a random "
                "participant id and used for research only. You may stop at any time.</p>"
            ),
            fields=[
                FormField(
                    "consent", "I have read the above and agree to take part", kind="checkbox"
                )
            ],
            continue_label="I agree",
        ),
        StaticScene(
            id="instructions",
            title="Before we start",
            html="<p>Please answer one question about yourself.</p>",
            fields=[
                FormField("age", "How old are you?", kind="number", min=18, max=120),
                FormField(
                    "games",
                    "How often do you play video games?",
                    kind="choice",
                    choices=("Never", "Monthly", "Weekly", "Daily"),
                ),
                FormField(
                    "comment",
                    "Anything you would like to tell us?",
                    kind="textarea",
                    required=False,
                ),
            ],
        ),
        EndScene(
            id="end",
            html="<p>Thank you for taking part. Copy the code below into the study platform.</p>",
            completion_code="IGYM-STATIC-7F3A",
        ),
    ],
)
