"""Overcooked for two people: consent, instructions, two rounds together, a survey, the code.

Two participants who open the study at about the same time wait in a waiting room, are matched
first come first served, connect to each other peer to peer (WebRTC) and cook together; the game
runs in both browsers with rollback netcode, and both upload the same frame-by-frame record.

Host it with ``igym run examples/overcooked_human_human.py`` (``make demo`` does) and open the
URL in two browser windows.
"""

from igym_core.config import EndScene, Experiment, FormField, GameScene, StaticScene

experiment = Experiment(
    id="overcooked_human_human",
    title="Cooking together",
    scenes=[
        StaticScene(
            id="consent",
            title="Consent",
            html=(
                "<p>In this study you cook onion soup together with another participant for two "
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
                "<p>You and your partner each control a chef. Move with the <b>arrow keys</b>; "
                "press <b>space</b> to pick up or put down what is in front of you.</p>"
                "<ol><li>Put three onions into a pot; it starts cooking.</li>"
                "<li>When the soup is done, take a plate to the pot to scoop it.</li>"
                "<li>Carry the soup to the grey serving window: 20 points.</li></ol>"
                "<p>First we find you a partner; each round then lasts 15 seconds.</p>"
            ),
            continue_label="Find a partner",
        ),
        GameScene(
            id="cooking",
            title="Cook with your partner",
            env="overcooked.cramped_room",
            seats={"agent_0": "human", "agent_1": "human"},
            episodes=2,
            max_steps=450,
            fps=30,
            countdown_s=3,
            matchmaker="fifo",
            input_delay=2,
            max_prediction=8,
            waiting_timeout_s=300,
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
            completion_code="IGYM-DUO-7C3A",
        ),
    ],
)
