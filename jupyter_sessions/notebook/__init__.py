"""The notebook side: the ``%session`` magics, their commands and rendering, ``%%session``,
cleanup at kernel exit, cell errors, and (in ``panel/``) the live ipywidgets panel.

Imports ``jupyter_sessions.client`` and ``jupyter_sessions.api``, never the server extension or
the emulator, so a kernel loads none of the Jupyter server's dependencies. Nothing is imported
here: ``%load_ext jupyter_sessions`` loads only what the magics need.
"""
