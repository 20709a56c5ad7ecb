#!/usr/bin/env python3
"""Two or more svar builds against each other on bench.py's register phase.

Each build runs a fresh, pinned server (server on CPU 1, SIPp on CPU 0) taking 10,000
first registrations with digest at 2,000/s; the builds alternate, the order flipping
every pair, so the machine's drift falls on all of them alike. Prints CPU per REGISTER
(all threads, and by thread) and minor page faults per REGISTER for each run, then each
build's median. Identical builds differ by ±10 % from run to run here: compare medians
of several pairs, and count instructions with callgrind for small changes.

Usage: python3 bench/ab_register.py BUILD_A BUILD_B [...] [--pairs N]
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def minor_faults(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[7])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("builds", nargs="+", help="svar binaries")
    ap.add_argument("--pairs", type=int, default=4, help="rounds of every build")
    a = ap.parse_args()
    bench.PIN["server"], bench.PIN["load"] = ["taskset", "-c", "1"], ["taskset", "-c", "0"]
    results = {b: [] for b in a.builds}
    for i in range(a.pairs):
        for build in a.builds if i % 2 == 0 else a.builds[::-1]:
            work = tempfile.mkdtemp(prefix="ab-")
            server = bench.Svar(build, 25060, 10010, work)
            try:
                before = minor_faults(server.proc.pid)
                r = bench.bench_register(server, work, 10000, 2000, 25070, memory=False)
                faults = (minor_faults(server.proc.pid) - before) / max(r["registers"], 1)
            finally:
                server.stop()
            results[build].append(r["cpu_us_per_register"])
            print(f"{build}: {r['cpu_us_per_register']:.1f} µs per REGISTER {r['us_by_thread']}, "
                  f"{faults:.2f} faults per REGISTER, {r['failed']} failed", flush=True)
    for build, values in results.items():
        print(f"{build}: median {statistics.median(values):.1f} µs ({' / '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
