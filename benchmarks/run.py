"""rltheory benchmark suite: one entry point, side-by-side tables against reference libraries.

Usage (``make bench`` runs it in ``.venv-bench``, where the peers are installed)::

    python benchmarks/run.py                    # everything, full sizes
    python benchmarks/run.py --quick            # tiny sizes (smoke test, CI)
    python benchmarks/run.py --only bellman     # one benchmark (repeatable, or comma-separated)
    python benchmarks/run.py --json out.json    # also write all results as JSON
    python benchmarks/run.py --no-peers         # ours only

Benchmarks: ``ucbvi`` (UCBVI episodes/s vs rlberry-scool), ``bellman`` (one dense Bellman
sweep vs NumPy, pymdptoolbox and the memory-bandwidth limit), ``memory`` (peak memory of a
64-replicate run against the number of episodes), one self-contained module per paper that prints its
own table (``stepmix``, ``nash_mp``, ``sqirl``, ``subpo``, ``reward_free``, ``kerns``, ``multibatch``), and
``gpu_batch`` (the CuPy replicate batch against 2-core Numba; its device column reads n/a without a CUDA
device). Speed targets live here and print as
PASS/MISS; they are never asserted by the test suite. Progress goes to stderr, tables to stdout.
The exit status is 0 unless a benchmark raised (``--strict``: also 1 when a target is missed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_bellman  # noqa: E402
import bench_memory  # noqa: E402
import bench_ucbvi  # noqa: E402
import gpu_batch  # noqa: E402
import kerns  # noqa: E402
import multibatch  # noqa: E402
import nash_mp  # noqa: E402
import reward_free  # noqa: E402
import sqirl  # noqa: E402
import stepmix  # noqa: E402
import subpo  # noqa: E402
from bench_common import log_stderr, machine_info, paper_benchmark, render_machine  # noqa: E402

BENCHMARKS = {
    bench_ucbvi.NAME: bench_ucbvi.run,
    bench_bellman.NAME: bench_bellman.run,
    bench_memory.NAME: bench_memory.run,
    "stepmix": paper_benchmark(stepmix),
    "nash_mp": paper_benchmark(nash_mp),
    "sqirl": paper_benchmark(sqirl),
    "subpo": paper_benchmark(subpo),
    "reward_free": paper_benchmark(reward_free),
    "kerns": paper_benchmark(kerns),
    "multibatch": paper_benchmark(multibatch),
    "gpu_batch": paper_benchmark(gpu_batch),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test / CI); timings not meaningful")
    p.add_argument("--only", action="append", metavar="NAME", default=None,
                   help=f"run only these benchmarks (repeatable or comma-separated): {', '.join(BENCHMARKS)}")
    p.add_argument("--json", metavar="PATH", help="write all results (and machine info) to this JSON file")
    p.add_argument("--no-peers", action="store_true", help="do not run the reference libraries")
    p.add_argument("--strict", action="store_true", help="exit with status 1 if a target is missed")
    args = p.parse_args(argv)
    names = []
    for item in args.only or []:
        names += [n.strip() for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    args.names = names or list(BENCHMARKS)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    info = machine_info()
    print(render_machine(info))
    print(f"mode: {'quick' if args.quick else 'full'}; benchmarks: {', '.join(args.names)}\n")
    results, failed = {}, {}
    for name in args.names:
        t0 = time.perf_counter()
        try:
            res = BENCHMARKS[name](quick=args.quick, peers=not args.no_peers, log=log_stderr)
        except Exception as exc:  # report and carry on with the other benchmarks
            failed[name] = f"{type(exc).__name__}: {exc}"
            print(f"== {name}: FAILED ({failed[name]}) ==\n", flush=True)
            continue
        results[name] = res
        print(res.render())
        print(f"({name}: {time.perf_counter() - t0:.1f} s)\n", flush=True)
    targets = [t for r in results.values() for t in r.targets]
    summary = {s: sum(t.status == s for t in targets) for s in ("PASS", "MISS", "n/a")}
    print("targets: " + ", ".join(f"{v} {k}" for k, v in summary.items()))
    info["loadavg_1min_end"] = machine_info()["loadavg_1min"]
    loads = [x for x in (info["loadavg_1min"], info["loadavg_1min_end"]) if x is not None]
    if loads:
        print(f"load average (1 min): {loads[0]:.2f} at start, {loads[-1]:.2f} at end, "
              f"on {info['logical_cpus']} logical CPUs")
        if loads[0] > 0.5:  # the end value includes this run's own load
            print("warning: the machine was busy when the run started; timings are pessimistic and noisy")
    if args.json:
        doc = {"machine": info, "quick": args.quick, "peers": not args.no_peers,
               "results": {k: v.to_dict() for k, v in results.items()}, "failed": failed,
               "summary": summary}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=2))
        print(f"wrote {args.json}")
    if failed:
        return 2
    if args.strict and summary["MISS"]:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
