#!/usr/bin/env python3
"""svar and Kamailio taking the same load at the same time, side by side.

bench.py runs the servers one after the other, and this machine's speed drifts by ±10-20 %
between runs a minute apart, more than the difference being measured. Here both servers
run at once, both pinned to CPU 1, each loaded by its own SIPp on CPU 0 (the same scenario,
users, rate and digest as bench.py's register phase), so whatever the machine does during
a round it does to both. `--phase calls` does the same with bench.py's calls phase: each
server gets its own registered SIPp UAS and SIPp UAC (both on CPU 0) and takes calls at
`--call-rate` for `--call-seconds`. Each round starts every server afresh; the order in
which they are started and loaded flips every round. The servers share a core and its
caches, and the ratio moves a little with how many share it (calls: 0.96 with three
servers on the core, 0.98-1.00 with two), so compare with Kamailio in two-server runs.
Given `--svar` twice, two svar builds and Kamailio run at once and the second build is
also compared with the first, round by round: that resolves differences under 1 %.

Prints each round's CPU per authenticated REGISTER or per call (all threads and
processes, from schedstat), then the medians and, for each ratio, a distribution-free
95 % interval for its median (order statistics of the rounds' ratios; no assumption
about their spread).

Usage: python3 bench/together.py [--rounds 12] [--rate 2000] [--count 10000]
       python3 bench/together.py --phase calls [--rounds 8] [--call-rate 500]
       python3 bench/together.py --svar OLD_SVAR --svar NEW_SVAR [--phase calls]
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def median_interval(values, level=0.95):
    """The order-statistic interval [x_(k), x_(n+1-k)] for the median: the largest k with
    P(Binomial(n, 1/2) < k) <= (1 - level) / 2, so it covers the true median at least
    `level` of the time whatever the distribution. None when n is too small (n < 6)."""
    xs, n = sorted(values), len(values)
    tail, k, cumulative = (1 - level) / 2, 0, 0.0
    for j in range(n + 1):
        p = 0.5 ** n * _binomial(n, j)
        if cumulative + p > tail:
            break
        cumulative += p
        k = j + 1
    if k < 1:
        return None
    return xs[k - 1], xs[n - k]


def _binomial(n, k):
    out = 1
    for i in range(k):
        out = out * (n - i) // (i + 1)
    return out


def run_phase(phase, a, server, work, out):
    """One server's share of a round: bench.py's register phase (10,000 first
    registrations) or its calls phase (a registered SIPp UAS answering a SIPp UAC's calls
    at a fixed rate, 30 s)."""
    if phase == "register":
        r = bench.bench_register(server, work, a.count, a.rate, server.port + 10, memory=False)
        out.update(us=r["cpu_us_per_register"], ok=r["registers"], failed=r["failed"], by_thread=r["us_by_thread"],
                   complete=r["registers"] >= a.count)
    else:
        r = bench.bench_calls(server, work, a.call_rate, a.call_seconds, 0, server.port + 30, f"{server.name}-together")
        out.update(us=r["cpu_us_per_call"], ok=r["calls"], failed=r["failed"], by_thread=r["us_by_thread"],
                   complete=r["calls"] >= a.call_rate * a.call_seconds)


def one_round(a, builds, flip):
    """Start every svar build and Kamailio, load them all at once, and return each one's
    result by name (the build's path, or "kamailio"). `flip` reverses the start order.
    Each svar gets RTP ports of its own below the kernel's ephemeral range (32768-60999),
    where another process's socket could take one and fail a call with 503."""
    names = list(builds) + ["kamailio"]
    work = {n: tempfile.mkdtemp(prefix="together-") for n in names}
    starts = {n: (lambda n=n, i=i: bench.Svar(n, 25060 + 2000 * i, a.count + 10, work[n],
                                                      media_ports=(10000 + 5000 * i, 5000))) for i, n in enumerate(builds)}
    starts["kamailio"] = lambda: bench.Kamailio(24060, work["kamailio"])
    order = names[::-1] if flip else names
    servers, uases = {}, []
    try:
        for name in order:
            servers[name] = starts[name]()
        if a.phase == "calls":
            for name in order:
                uases.append(bench.start_uas(servers[name], work[name], servers[name].port + 20))
            time.sleep(0.5)
        results = {name: {} for name in order}
        threads = [threading.Thread(target=run_phase, args=(a.phase, a, servers[n], work[n], results[n])) for n in order]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results
    finally:
        for u in uases:
            u.kill()
        for s in servers.values():
            s.stop()


def summary(label, values):
    line = f"  {label}: median {statistics.median(values):.3f}"
    interval = median_interval(values)
    if interval:
        line += f", 95 % interval for the median {interval[0]:.3f}-{interval[1]:.3f}"
    below = sum(1 for x in values if x < 1)
    print(line + f"; {below} of {len(values)} rounds below 1")
    print("    rounds: " + " / ".join(f"{x:.3f}" for x in values))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--svar", action="append",
                    help="an svar binary (default target/release/svar); given twice or more, the builds run "
                         "side by side too, and each later one is also compared with the first")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--rate", type=int, default=2000, help="REGISTER exchanges per second, for each server")
    ap.add_argument("--count", type=int, default=10000, help="users registered per server and round")
    ap.add_argument("--phase", choices=["register", "calls"], default="register")
    ap.add_argument("--call-rate", type=int, default=500, help="calls per second, for each server (calls phase)")
    ap.add_argument("--call-seconds", type=int, default=30)
    a = ap.parse_args()
    builds = a.svar or [os.path.join(bench.ROOT, "target/release/svar")]
    bench.PIN["server"], bench.PIN["load"] = ["taskset", "-c", "1"], ["taskset", "-c", "0"]
    us = {n: [] for n in builds + ["kamailio"]}
    for i in range(a.rounds):
        r = one_round(a, builds, flip=i % 2 == 1)
        bad = [n for n, x in r.items() if x["failed"] or not x["complete"]]
        if bad:
            detail = ", ".join(f"{n}: {r[n]['ok']} ok, {r[n]['failed']} failed" for n in bad)
            print(f"round {i + 1}: incomplete ({detail}); not counted", flush=True)
            continue
        for n, x in r.items():
            us[n].append(x["us"])
        print(f"round {i + 1}: " + ", ".join(f"{n} {x['us']:.1f} µs {x['by_thread']}" for n, x in r.items() if n != "kamailio")
              + f", Kamailio {r['kamailio']['us']:.1f} µs", flush=True)
    if not us["kamailio"]:
        sys.exit("no complete round")
    print()
    what = (f"CPU per authenticated REGISTER, {len(us['kamailio'])} rounds, all servers loaded at once at {a.rate}/s each"
            if a.phase == "register" else
            f"CPU per call, {len(us['kamailio'])} rounds, all servers loaded at once at {a.call_rate} calls/s each "
            f"for {a.call_seconds} s")
    print(what + ":")
    print("  medians: " + ", ".join(f"{n} {statistics.median(v):.1f} µs" for n, v in us.items()))
    for n in builds:
        summary(f"{n}/Kamailio", [x / k for x, k in zip(us[n], us["kamailio"])])
    for n in builds[1:]:
        summary(f"{n}/{builds[0]}", [x / f for x, f in zip(us[n], us[builds[0]])])


if __name__ == "__main__":
    main()
