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
