"""A study's data for analysis: :func:`load` gives every table as a pandas DataFrame, and
:func:`~igym_core.data.checks.check_study` is what ``igym validate --data`` runs."""

from igym_core.data.load import Study, load

__all__ = ["Study", "load"]
