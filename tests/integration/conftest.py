from __future__ import annotations

import json
from typing import Any

import pytest

from igym_core.server.app import create_app
from igym_core.settings import Settings


class Page:
    """A participant's page speaking the protocol over a Quart test websocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.seq = 0
        self.token: str | None = None
        self.participant_id: str | None = None
        self.scene: dict | None = None

    async def send(self, message: dict | str | bytes) -> None:
        await self.ws.send(message if isinstance(message, str | bytes) else json.dumps(message))

    async def recv(self) -> dict:
        return json.loads(await self.ws.receive())

    async def hello(self, **params: str) -> dict:
        await self.send(
            {
                "type": "hello",
                "params": params,
                "participant_id": self.participant_id,
                "token": self.token,
            }
        )
        welcome = await self.recv()
        if welcome["type"] != "welcome":
            return welcome
        self.token = welcome["token"]
        self.participant_id = welcome["participant_id"]
        self.scene = await self.recv()
        return welcome

    async def submit(self, responses: dict, scene_id: str | None = None) -> list[dict]:
        self.seq += 1
        await self.send(
            {
                "type": "submit",
                "token": self.token,
                "seq": self.seq,
                "scene_id": scene_id or self.scene["scene"]["id"],
                "responses": responses,
            }
        )
        first = await self.recv()
        if first["type"] != "ack":
            return [first]
        self.scene = await self.recv()
        return [first, self.scene]


@pytest.fixture
def make_app(tmp_path, experiment, plugins, database):
    """Apps of the test's experiment; their stores are closed after the test (an app that was
    never served would keep its writer, which outlives a dropped test database)."""
    made = []

    def make(**settings: Any):
        settings.setdefault("database", database)
        app = create_app(
            experiment, Settings(data_dir=tmp_path / "data", **settings), plugins=plugins
        )
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["igym"].store.close()


@pytest.fixture
def app(make_app):
    return make_app()
