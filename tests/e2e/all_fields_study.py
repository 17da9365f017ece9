"""A study with one field of every kind and an end page that redirects, for the browser tests."""

from igym_core.config import EndScene, Experiment, FormField, StaticScene

experiment = Experiment(
    id="all_fields",
    scenes=[
        StaticScene(
            id="questions",
            title="Every kind of question",
            html="<p>Researcher's <strong>trusted</strong> markup.</p>",
            fields=[
                FormField("name", "Your name", kind="text"),
                FormField("story", "Tell us a story", kind="textarea", required=False),
                FormField("age", "Age", kind="number", min=18, max=99),
                FormField("colour", "Favourite colour", kind="choice", choices=("red", "green")),
                FormField(
                    "pets", "Pets you have", kind="multichoice", choices=("cat", "dog", "fish")
                ),
                FormField("adult", "I am over 18", kind="checkbox"),
                FormField(
                    "fun",
                    "This was fun",
                    kind="likert",
                    choices=("disagree", "neutral", "agree"),
                ),
            ],
        ),
        EndScene(
            id="bye",
            html="<p>Done.</p>",
            completion_code="ALL-FIELDS-1",
            redirect_url="http://localhost:9/finished?study=all",
            redirect_delay_s=1,
        ),
    ],
)
