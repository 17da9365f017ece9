"""Experiment configurations fail at load time with a message naming the field."""

from __future__ import annotations

import pytest

from igym_core.config import ConfigError, EndScene, Experiment, FormField, StaticScene
from igym_core.experiment import load_experiment
from tests.conftest import ROOT


def test_example_experiment_loads():
    experiment = load_experiment(ROOT / "examples" / "static_study.py")
    assert experiment.id == "static_study"
    assert [s.id for s in experiment.scenes] == ["consent", "instructions", "end"]


@pytest.mark.parametrize(
    ("build", "names"),
    [
        (lambda: Experiment(id="bad id", scenes=[EndScene(id="end")]), "Experiment('bad id').id"),
        (lambda: Experiment(id="x", scenes=[]), "Experiment.scenes must not be empty"),
        (lambda: Experiment(id="x", scenes="end"), "Experiment.scenes"),
        (
            lambda: Experiment(id="x", scenes=[StaticScene(id="a")]),
            "must finish with an EndScene",
        ),
        (
            lambda: Experiment(id="x", scenes=[EndScene(id="e"), StaticScene(id="a")]),
            "Experiment.scenes[0] ('e') is an EndScene but not the last",
        ),
        (
            lambda: Experiment(
                id="x", scenes=[StaticScene(id="a"), StaticScene(id="a"), EndScene(id="e")]
            ),
            "two scenes have the id 'a'",
        ),
        (
            lambda: Experiment(id="x", scenes=[{"id": "a"}, EndScene(id="e")]),
            "Experiment.scenes[0]",
        ),
        (lambda: StaticScene(id="a", html=3), "StaticScene('a').html"),
        (lambda: StaticScene(id="a", fields=["q"]), "StaticScene('a').fields[0]"),
        (
            lambda: StaticScene(id="a", fields=[FormField("q", "Q"), FormField("q", "Q")]),
            "two fields named 'q'",
        ),
        (lambda: FormField("q", "Q", kind="slider"), "FormField('q').kind"),
        (lambda: FormField("q", "Q", kind="choice", choices=("one",)), "FormField('q').choices"),
        (lambda: FormField("q", "Q", required="yes"), "FormField('q').required"),
        (lambda: FormField("has space", "Q"), "FormField('has space').name"),
        (lambda: EndScene(id="e", redirect_url="ftp://x"), "EndScene('e').redirect_url"),
        (lambda: EndScene(id="e", redirect_delay_s=-1), "EndScene('e').redirect_delay_s"),
    ],
)
def test_invalid_configuration_names_the_field(build, names):
    with pytest.raises(ConfigError) as info:
        build()
    assert names in str(info.value)


def test_experiment_file_errors_name_the_file(tmp_path):
    path = tmp_path / "study.py"
    path.write_text(
        "from igym_core.config import *\n"
        "experiment = Experiment(id='s', scenes=[StaticScene(id='a', title=1), EndScene(id='e')])\n"
    )
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert str(path) in str(info.value)
    assert "StaticScene('a').title" in str(info.value)


def test_experiment_file_must_define_an_experiment(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    with pytest.raises(ConfigError, match="define one Experiment"):
        load_experiment(path)
    with pytest.raises(ConfigError, match="no such experiment file"):
        load_experiment(tmp_path / "missing.py")


@pytest.mark.parametrize(
    ("field", "value", "expected", "problem"),
    [
        (FormField("a", "A", kind="checkbox"), True, True, None),
        (FormField("a", "A", kind="checkbox"), False, None, "required"),
        (FormField("a", "A", kind="checkbox", required=False), None, False, None),
        (FormField("a", "A", kind="number", min=0, max=10), 5, 5, None),
        (FormField("a", "A", kind="number", min=0, max=10), 11, None, "at most 10"),
        (FormField("a", "A", kind="number"), "5", None, "must be a number"),
        (FormField("a", "A", kind="number"), True, None, "must be a number"),
        (FormField("a", "A", kind="number"), float("nan"), None, "finite"),
        (FormField("a", "A", kind="choice", choices=("x", "y")), "y", "y", None),
        (FormField("a", "A", kind="choice", choices=("x", "y")), "z", None, "one of"),
        (
            FormField("a", "A", kind="multichoice", choices=("x", "y")),
            ["y", "x", "y"],
            ["x", "y"],
            None,
        ),
        (FormField("a", "A", kind="multichoice", choices=("x", "y")), ["q"], None, "drawn from"),
        (FormField("a", "A"), "hello", "hello", None),
        (FormField("a", "A", max_length=3), "hello", None, "longer than 3"),
        (FormField("a", "A"), 7, None, "must be text"),
        (FormField("a", "A"), "", None, "required"),
        (FormField("a", "A", required=False), "", None, None),
    ],
)
def test_form_field_cleaning(field, value, expected, problem):
    cleaned, message = field.clean(value)
    if problem is None:
        assert message is None
        assert cleaned == expected
    else:
        assert problem in message
        assert "'a'" in message


def test_end_scene_appends_participant_id():
    end = EndScene(id="e", redirect_url="https://app.example.org/complete?cc=ABC")
    assert end.redirect_for("p 1") == "https://app.example.org/complete?cc=ABC&participant_id=p+1"
    plain = EndScene(id="e", redirect_url="https://x.org/done", redirect_id_param="PROLIFIC_PID")
    assert plain.redirect_for("abc") == "https://x.org/done?PROLIFIC_PID=abc"
