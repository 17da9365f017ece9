"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from igym_core.config import EndScene, Experiment, FormField, StaticScene
from igym_core.plugins import PluginManager

ROOT = Path(__file__).resolve().parent.parent


def small_experiment(experiment_id: str = "study") -> Experiment:
    return Experiment(
        id=experiment_id,
        scenes=[
            StaticScene(
                id="consent",
                title="Consent",
                html="<p>consent</p>",
                fields=[FormField("agree", "I agree", kind="checkbox")],
            ),
            StaticScene(
                id="survey",
                title="Survey",
                html="<p>questions</p>",
                fields=[
                    FormField("age", "Age", kind="number", min=18, max=120),
                    FormField("hand", "Hand", kind="choice", choices=("left", "right")),
                    FormField("note", "Note", kind="textarea", required=False),
                ],
            ),
            EndScene(id="end", completion_code="CODE-123", redirect_url="https://example.org/done"),
        ],
    )


@pytest.fixture
def experiment() -> Experiment:
    return small_experiment()


@pytest.fixture
def plugins() -> PluginManager:
    return PluginManager()


# -- real database servers (tests/services.py) ----------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the session (each test gets its own database)."""
    from tests.services import postgres

    with postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty PostgreSQL database (dropped after the test)."""
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def redis_server():
    """One Redis server for the session."""
    from tests.services import redis_server

    with redis_server() as server:
        yield server


@pytest.fixture
def redis_url(redis_server) -> str:
    """An emptied Redis database."""
    return redis_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request) -> str | None:
    """``Settings.database`` once per backend: None (SQLite files), then a PostgreSQL URL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path) -> Path | str:
    """Where a store lives, once per backend: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "study.sqlite3"
    return request.getfixturevalue("postgres_url")
