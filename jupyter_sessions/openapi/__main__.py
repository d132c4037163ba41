"""``python -m jupyter_sessions.openapi [--check]``: regenerate (or check) the documents."""

from __future__ import annotations

import sys

from .generate import main

sys.exit(main())
