"""Server-authoritative game scenes (``GameScene(..., mode="server")``).

The environment runs in the server's CPython, one asyncio task per game (:mod:`.game`), its
steps on a thread pool so that the event loop keeps serving everyone else; inputs come over the
websocket (:mod:`.protocol`, sampled per tick by :mod:`.inputs` as the browser's worker does),
every member of the game gets each frame (draw objects, or ``rgb_array`` images encoded by
:mod:`.frames`), and the server records the frames itself into the same tables as browser
games. :mod:`.service` starts a game when the lobby creates a server-mode match and routes the
messages of its members.
"""
