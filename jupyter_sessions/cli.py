"""The ``jupyter-sessions`` command (also ``jupyter sessions``)."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from .emulator.server import add_arguments

    parser = argparse.ArgumentParser(
        prog="jupyter-sessions",
        description="Manage serverless interactive sessions (Dataproc v1 Sessions API).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    emu = sub.add_parser("emulator", help="run the local Dataproc-compatible Sessions API")
    add_arguments(emu)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "emulator":
        from .emulator.server import run

        return run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
