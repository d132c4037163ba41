"""``make bench``: run every benchmark and print one table of figures and ratios."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback

from .common import Row

MODULES = [
    "bench.bench_emulator",
    "bench.bench_server",
    "bench.bench_live",
    "bench.bench_kernels",
    "bench.bench_magics",
    "bench.bench_spark",
]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    parser.add_argument("--only", default="", help="comma-separated module suffixes")
    parser.add_argument("--json", default="", help="also write the rows to this file")
    args = parser.parse_args()
    rows: list[Row] = []
    failed = 0
    for name in MODULES:
        if args.only and not any(name.endswith(o) for o in args.only.split(",")):
            continue
        start = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(name)
            rows.extend(module.run(quick=args.quick))
        except Exception:
            failed += 1
            traceback.print_exc()
            rows.append(Row(name.rsplit(".", 1)[-1], "FAILED", "-", note="see stderr"))
        print(f"  {name} took {time.perf_counter() - start:.0f}s", file=sys.stderr, flush=True)
    _print(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.__dict__ for r in rows], f, indent=2, default=str)
    return 1 if failed else 0


def _print(rows: list[Row]) -> None:
    headers = ("group", "benchmark", "value", "unit", "compared with")
    table = [
        (
            r.group,
            r.name,
            str(r.value),
            r.unit,
            (r.versus + ("; " + r.note if r.note else "")).strip("; "),
        )
        for r in rows
    ]
    widths = [
        max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-" * len(line))
    for t in table:
        print("  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)))


if __name__ == "__main__":
    sys.exit(main())
