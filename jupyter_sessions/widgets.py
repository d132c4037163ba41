"""``SessionsPanel`` (ipywidgets 8), kept importable here: it lives in ``notebook/panel/``."""

from __future__ import annotations

from .notebook.panel.widget import SessionsPanel

__all__ = ["SessionsPanel"]
