"""PettingZoo's tic-tac-toe (an AEC, turn-based env), unmodified, for two participants who
play it turn by turn.

Two participants meet in the waiting room and are matched; the server steps
``pettingzoo.classic.tictactoe_v3.env(render_mode="rgb_array")`` and sends both the board. The
game advances only when the player whose turn it is picks a cell (keys 1-9, as on a phone
keypad: 1 is the top-left cell); the page shows whose turn it is, and each recorded frame names
the mover in ``infos.turn``. An illegal move (a taken cell) ends the round with the mover
losing, as PettingZoo's env rules.

Host it with ``igym run examples/pettingzoo_tictactoe_server.py`` and open the URL in two
browser windows (needs ``pip install pettingzoo pygame pillow``).
"""

from igym_core import EnvironmentSpec
from igym_core.config import EndScene, Experiment, GameScene, StaticScene

# PettingZoo's tic-tac-toe numbers the cells column by column: 0 1 2 is the left column.
_CELL_OF_KEY = {"1": 0, "2": 3, "3": 6, "4": 1, "5": 4, "6": 7, "7": 2, "8": 5, "9": 8}

TICTACTOE = EnvironmentSpec(
    name="tictactoe",
    factory="pettingzoo.classic.tictactoe_v3:env",
    kwargs={"render_mode": "rgb_array"},
    agent_ids=("player_1", "player_2"),
    action_labels={cell: f"cell {cell}" for cell in range(9)},
    default_action=0,
    key_bindings=_CELL_OF_KEY,
    description="PettingZoo tic-tac-toe (AEC): two players take turns.",
)

experiment = Experiment(
    id="tictactoe_pair",
    title="Tic-tac-toe",
    environments=[TICTACTOE],
    scenes=[
        StaticScene(
            id="instructions",
            title="Tic-tac-toe",
            html=(
                "<p>You play tic-tac-toe with another participant. When it is your turn, press "
                "a key from <b>1</b> to <b>9</b>: the cells are numbered like a phone keypad, "
                "1 2 3 on the top row.</p>"
            ),
            continue_label="Find a partner",
        ),
        GameScene(
            id="tictactoe",
            env="tictactoe",
            mode="server",
            seats={"player_1": "human", "player_2": "human"},
            episodes=2,
            max_steps=9,
            fps=30,
            countdown_s=2,
            input_mode="press",
            frame_format="png",
            frame_max_width=360,
        ),
        EndScene(id="end", completion_code="IGYM-TTT-08D4"),
    ],
)
