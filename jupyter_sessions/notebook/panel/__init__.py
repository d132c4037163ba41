"""The live sessions panel (ipywidgets 8): its state, its HTML, its actions and the widget.

``state``, ``html`` and ``actions`` are plain Python (tested without a kernel); ``widget`` holds
``SessionsPanel`` and is the only module that imports ipywidgets.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SessionsPanel"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the state or the html does not import ipywidgets.
    if name == "SessionsPanel":
        from .widget import SessionsPanel

        return SessionsPanel
    raise AttributeError(name)
