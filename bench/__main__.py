"""python -m bench <scenario> [--smoke] [--out DIR] [--workers N] [--profile]

Scenarios: fanout, ceiling, idle, history, filters, search, sharing, storm, overload, soak;
`all` runs the first nine in turn, then puts the tables into bench/README.md (full size
only). `soak` takes 35 minutes, so it runs only when named. `report` only rewrites the README
tables.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
from pathlib import Path

from bench.report import SCENARIO_ORDER, update_readme
from bench.scenarios.common import Options, wait_for_quiet_machine
from bench.targets import raise_open_files_limit

# What `all` runs: every scenario but the 35-minute soak (bench/report.py keeps their order).
LONG = "soak"
SCENARIOS = SCENARIO_ORDER
IN_ALL = tuple(name for name in SCENARIOS if name != LONG)
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenario", choices=[*SCENARIOS, "all", "report"])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (CI)")
    parser.add_argument("--out", type=Path, help="results directory (default bench/results)")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument(
        "--profile", action="store_true", help="fanout: an extra py-spy run of the server"
    )
    return parser.parse_args(argv)


async def run_scenarios(names: list[str], options: Options) -> None:
    for name in names:
        module = importlib.import_module(f"bench.scenarios.{name}")
        if not options.smoke:
            await wait_for_quiet_machine()
        started = time.perf_counter()
        await module.run(options)
        print(f"[{name} took {time.perf_counter() - started:.1f} s]", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    out = args.out or (DEFAULT_OUT / "smoke" if args.smoke else DEFAULT_OUT)
    if args.scenario == "report":
        update_readme(out)
        return 0
    raise_open_files_limit()
    options = Options(smoke=args.smoke, out=out, workers=args.workers, profile=args.profile)
    names = list(IN_ALL) if args.scenario == "all" else [args.scenario]
    asyncio.run(run_scenarios(names, options))
    if args.scenario == "all" and not args.smoke and args.out is None:
        update_readme(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
