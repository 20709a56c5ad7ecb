#!/usr/bin/env python3
"""svar and Kamailio taking the same REGISTER load at the same time, side by side.

bench.py runs the servers one after the other, and this machine's speed drifts by ±10-20 %
between runs a minute apart, more than the difference being measured. Here both servers
run at once, both pinned to CPU 1, each loaded by its own SIPp on CPU 0 (the same scenario,
users, rate and digest as bench.py's register phase), so whatever the machine does during
a round it does to both. Each round starts both servers afresh; which server is started
and loaded first alternates. The two share a core and its caches, which costs both a
little (each round's absolute figures read somewhat above bench.py's); the ratio is what
this measures.

Prints each round's CPU per authenticated REGISTER (all threads and processes, from
schedstat) and the ratio, then the medians and a distribution-free 95 % interval for the
median ratio (order statistics of the rounds' ratios; no assumption about their spread).

Usage: python3 bench/together.py [--rounds 12] [--rate 2000] [--count 10000]
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


def load(server, work, count, rate, port, out):
    inf = bench.users_file(work, count)
    out["rc"], out["ok"], out["failed"] = bench.sipp(
        ["-sf", os.path.join(bench.ROOT, "tests/sipp/register.xml"), "-inf", inf, f"127.0.0.1:{server.port}",
         "-r", str(rate), "-m", str(count), "-p", str(port), "-l", str(rate * 2)],
        work, count // rate + 60, f"reg-{server.name}")


def one_round(a, svar_first):
    work_s, work_k = tempfile.mkdtemp(prefix="together-svar-"), tempfile.mkdtemp(prefix="together-kam-")
    servers = []
    try:
        starts = [lambda: bench.Svar(a.svar, 25060, a.count + 10, work_s), lambda: bench.Kamailio(26060, work_k)]
        for start in starts if svar_first else starts[::-1]:
            servers.append(start())
        svar, kam = (servers[0], servers[1]) if svar_first else (servers[1], servers[0])
        before = {s.name: bench.thread_cpu(s.pids()) for s in servers}
        results = {s.name: {} for s in servers}
        loads = [threading.Thread(target=load, args=(s, w, a.count, a.rate, s.port + 10, results[s.name]))
                 for s, w in ((svar, work_s), (kam, work_k))]
        for t in loads if svar_first else loads[::-1]:
            t.start()
        for t in loads:
            t.join()
        time.sleep(1.5)  # past svar's store-writer window (1 s), so its last batch counts
        r = {}
        for s in servers:
            after = bench.thread_cpu(s.pids())
            ns = sum(after.values()) - sum(before[s.name].get(k, 0) for k in after)
            ok = results[s.name]["ok"]
            r[s.name] = {"us": ns / 1000 / max(ok, 1), "ok": ok, "failed": results[s.name]["failed"],
                         "by_thread": bench.thread_split(before[s.name], after, ok)}
        return r
    finally:
        for s in servers:
            s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--svar", default=os.path.join(bench.ROOT, "target/release/svar"))
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--rate", type=int, default=2000, help="REGISTER exchanges per second, for each server")
    ap.add_argument("--count", type=int, default=10000, help="users registered per server and round")
    a = ap.parse_args()
    bench.PIN["server"], bench.PIN["load"] = ["taskset", "-c", "1"], ["taskset", "-c", "0"]
    ratios, svar_us, kam_us = [], [], []
    for i in range(a.rounds):
        r = one_round(a, svar_first=i % 2 == 0)
        s, k = r["svar"], r["kamailio"]
        if s["failed"] or k["failed"] or s["ok"] < a.count or k["ok"] < a.count:
            print(f"round {i + 1}: incomplete (svar {s['ok']} ok {s['failed']} failed, "
                  f"Kamailio {k['ok']} ok {k['failed']} failed); not counted", flush=True)
            continue
        ratios.append(s["us"] / k["us"])
        svar_us.append(s["us"])
        kam_us.append(k["us"])
        print(f"round {i + 1}: svar {s['us']:.1f} µs {s['by_thread']}, Kamailio {k['us']:.1f} µs, "
              f"ratio {ratios[-1]:.3f}", flush=True)
    if not ratios:
        sys.exit("no complete round")
    print()
    print(f"CPU per authenticated REGISTER, {len(ratios)} rounds, both servers loaded at once at {a.rate}/s each:")
    print(f"  svar median {statistics.median(svar_us):.1f} µs, Kamailio median {statistics.median(kam_us):.1f} µs")
    line = f"  svar/Kamailio: median {statistics.median(ratios):.3f}"
    interval = median_interval(ratios)
    if interval:
        line += f", 95 % interval for the median {interval[0]:.3f}-{interval[1]:.3f}"
    below = sum(1 for x in ratios if x < 1)
    print(line + f"; {below} of {len(ratios)} rounds below 1")
    print("  rounds: " + " / ".join(f"{x:.3f}" for x in ratios))


if __name__ == "__main__":
    main()
