"""Overcooked with an AI partner: consent, instructions, two rounds, a short survey, the code.

Host it with ``igym run examples/overcooked_human_ai.py`` (``make demo`` does).
"""

from igym_core.config import EndScene, Experiment, FormField, GameScene, StaticScene

experiment = Experiment(
    id="overcooked_human_ai",
    title="Cooking together",
    scenes=[
        StaticScene(
            id="consent",
            title="Consent",
            html=(
                "<p>In this study you cook onion soup together with a computer partner for two "
                "short rounds, then answer three questions. It takes about five minutes. We "
                "record your key presses and answers under a random participant id.</p>"
            ),
            fields=[FormField("consent", "I agree to take part", kind="checkbox")],
            continue_label="I agree",
        ),
        StaticScene(
            id="instructions",
            title="How to play",
            html=(
                "<p>You are the <b>blue</b> chef. Move with the <b>arrow keys</b>; press "
                "<b>space</b> to pick up or put down what is in front of you.</p>"
                "<ol><li>Put three onions into a pot; it starts cooking.</li>"
                "<li>When the soup is done, take a plate to the pot to scoop it.</li>"
                "<li>Carry the soup to the grey serving window: 20 points.</li></ol>"
                "<p>Each round lasts 15 seconds; a counter shows the time left.</p>"
            ),
            continue_label="Start",
        ),
        GameScene(
            id="cooking",
            title="Cook with your partner",
            env="overcooked.cramped_room",
            seats={"agent_0": "human", "agent_1": "policy:scripted"},
            episodes=2,
            max_steps=450,
            fps=30,
            countdown_s=3,
            instructions="<p>Arrow keys move, space picks up and puts down.</p>",
        ),
        StaticScene(
            id="survey",
            title="A few questions",
            fields=[
                FormField(
                    "partner_helpful",
                    "My partner was helpful.",
                    kind="likert",
                    choices=("Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"),
                ),
                FormField(
                    "lag",
                    "Did the game feel slow to respond to your keys?",
                    kind="choice",
                    choices=("No", "A little", "Yes"),
                ),
                FormField("comments", "Anything else?", kind="textarea", required=False),
            ],
        ),
        EndScene(
            id="end",
            html="<p>Thank you! Enter this code on the study platform.</p>",
            completion_code="IGYM-COOK-41D2",
        ),
    ],
)
