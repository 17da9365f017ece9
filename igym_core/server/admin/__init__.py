"""The admin console under ``/admin``: a live view of the study and its controls.

``console.py`` builds it (``AdminConsole``), ``routes.py`` is the Quart blueprint, ``auth.py``
the password, login sessions and CSRF tokens, ``controls.py`` the study controls (open/closed,
cap, ending and excluding), ``queries.py`` the read-only SQL and ``live.py`` the dashboard that
the browser receives as server-sent events. This package imports nothing at import time, so
``igym_core.settings`` can use the password helpers without pulling in Quart.
"""
