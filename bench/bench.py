#!/usr/bin/env python3
"""svar and Kamailio under the same SIPp loads on loopback, in one run.

Measures, for each server:
  - CPU time of the server process(es) per authenticated REGISTER (from /proc),
  - CPU time per call (INVITE/407/INVITE/180/200/ACK/BYE, SIPp UAC -> server -> SIPp UAS),
  - the highest call rate with zero failed calls,
  - call-setup time through the server (authenticated INVITE -> 200, p50/p99, SIPp's clock),
  - the setup latency the server adds, from a packet capture (tcpdump; phase `latency`):
    authenticated INVITE in -> INVITE out, plus 200 in -> 200 out, per call in µs,
  - memory per registered user and per active call,
  - with --phases soak (not in the default set): memory growth per call over a long run.
Prints a table and svar/Kamailio ratios. Usage: python3 bench/bench.py --help
"""
import argparse
import os
import resource
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PASSWORD = "benchpass1"
DOMAIN = "egeskov.example"
# `taskset` prefixes for the server under test and for SIPp (--pin); empty: unpinned
PIN = {"server": [], "load": []}


def cpu_seconds(pids):
    """On-CPU time of every thread of the processes, in seconds, from schedstat (nanoseconds;
    /proc/PID/stat counts 10 ms ticks, ±1 µs per operation over a 10,000-REGISTER round).
    Counts the threads alive at both readings: svar and Kamailio start theirs at startup."""
    return sum(thread_cpu(pids).values()) / 1e9


def thread_cpu(pids):
    """On-CPU nanoseconds by thread name (from schedstat), to say where a server's CPU goes."""
    by_name = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
                ns = int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            by_name[name] = by_name.get(name, 0) + ns
    return by_name


def thread_split(before, after, ops):
    """µs per operation by thread name, largest first, the idle ones left out."""
    split = {k: (after.get(k, 0) - before.get(k, 0)) / 1000 / max(ops, 1) for k in after}
    return {k: round(v, 1) for k, v in sorted(split.items(), key=lambda kv: -kv[1]) if v >= 0.1}


def memory_kb(pids):
    """PSS (shared pages split fairly between processes), so Kamailio's shm counts once."""
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


class Server:
    """A server process under test; subclasses start it and say which PIDs it has."""

    proc: subprocess.Popen

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Svar(Server):
    name = "svar"

    def memory_kb(self):
        return memory_kb(self.pids())

    def __init__(self, binary, port, users, work, media="anchored", warmup=1.0, media_ports=None):
        self.port, self.work = port, work
        cfg = os.path.join(work, "svar-bench.toml")
        with open(cfg, "w") as f:
            f.write(f'[server]\nsip = "127.0.0.1:{port}"\nhttp = "127.0.0.1:{port + 1}"\ndata_dir = "{work}/svar-data"\n')
            f.write(f'[sip]\ndomain = "{DOMAIN}"\nring_timeout_s = 60\nmax_auth_failures = 1000000\n')
            f.write('[municipality]\nname = "Bench"\n')
            if media == "direct":
                f.write('[media]\nanchor = false\n')
            else:
                # two port pairs per call: room for the concurrent phase, clear of SIPp's ports,
                # and no more ports than svar may hold sockets open (it keeps an ended call's
                # sockets bound for the next call; a deployment raises the limit instead)
                limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                first, count = media_ports or (30000, 30000)
                last = first + min(count, limit - 300) - 1
                f.write(f'[media]\nports = [{first}, {last}]\n')
            for i in range(users):
                f.write(f'[[users]]\nextension = "u{i:05d}"\nname = "U {i}"\npassword = "{PASSWORD}"\n')
            f.write(f'[[users]]\nextension = "uas"\nname = "UAS"\npassword = "{PASSWORD}"\n')
        self.log = open(os.path.join(work, "svar.log"), "w")
        self.proc = subprocess.Popen(PIN["server"] + [binary, "serve", "--config", cfg], stdout=self.log, stderr=self.log,
                                     env={**os.environ, "RUST_LOG": "warn"})
        time.sleep(warmup)

    def pids(self):
        return [self.proc.pid]



class Kamailio(Server):
    name = "kamailio"

    def __init__(self, port, work):
        self.port = port
        cfg = os.path.join(work, "kamailio.cfg")
        text = open(os.path.join(HERE, "kamailio.cfg.in")).read()
        self.ctl = os.path.join(work, "kamailio.ctl")
        open(cfg, "w").write(text.replace("@PORT@", str(port)).replace("@PASSWORD@", PASSWORD).replace("@CTL@", self.ctl))
        self.log = open(os.path.join(work, "kamailio.log"), "w")
        # one worker; TLSF allocators and 2 GiB shared memory (Debian's defaults cost it 3-4x CPU)
        self.proc = subprocess.Popen(PIN["server"] + ["kamailio", "-f", cfg, "-DD", "-E", "-x", "tlsf", "-X", "tlsf", "-m", "2048", "-M", "64",
                                      "-Y", os.path.join(work, "kamrun")], stdout=self.log, stderr=self.log)
        os.makedirs(os.path.join(work, "kamrun"), exist_ok=True)
        time.sleep(1.5)

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def memory_kb(self):
        # Kamailio's allocator reuses freed shared memory, so page counts say little: ask
        # it how much shared memory is in use (plus the workers' private PSS).
        out = subprocess.run(["kamcmd", "-s", f"unix:{self.ctl}", "core.shmmem"], capture_output=True, text=True).stdout
        used = 0
        for line in out.splitlines():
            if line.strip().startswith("used:"):
                used = int(line.split(":")[1])
        return used // 1024



def sipp(args, work, timeout_s, tag):
    """Run SIPp; return (exit code, successful, failed) from its statistics file."""
    stat = os.path.join(work, f"{tag}.csv")
    cmd = ["timeout", str(timeout_s)] + PIN["load"] + ["sipp"] + args + ["-nostdin", "-trace_stat", "-stf", stat, "-fd", "1",
                                                     "-trace_err", "-error_file", os.path.join(work, f"{tag}.err"),
                                                     "-default_behaviors", "all,-abortunexp"]
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work).returncode
    ok = failed = 0
    try:
        lines = [l for l in open(stat).read().splitlines() if l.strip()]
        head = lines[0].split(";")
        last = lines[-1].split(";")
        ok = int(last[head.index("SuccessfulCall(C)")])
        failed = int(last[head.index("FailedCall(C)")])
    except (OSError, ValueError, IndexError):
        pass
    return rc, ok, failed


def users_file(work, n, start=0, extra=None):
    path = os.path.join(work, f"users-{start}-{n}.csv")
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(start, start + n):
            f.write(f"u{i:05d};{PASSWORD}\n")
        if extra:
            f.write(f"{extra};{PASSWORD}\n")
    return path


def bench_register(server, work, count, rate, port, memory=True):
    inf = users_file(work, count)
    before_cpu, before_mem = cpu_seconds(server.pids()), server.memory_kb()
    before_threads = thread_cpu(server.pids())
    rc, ok, failed = sipp(["-sf", os.path.join(ROOT, "tests/sipp/register.xml"), "-inf", inf, f"127.0.0.1:{server.port}",
                           "-r", str(rate), "-m", str(count), "-p", str(port), "-l", str(rate * 2)], work, count // rate + 60,
                          f"reg-{server.name}")
    # past svar's store-writer window for registrar changes (1 s), so the last batch's
    # write is counted
    time.sleep(1.5)
    cpu = cpu_seconds(server.pids()) - before_cpu
    threads = thread_split(before_threads, thread_cpu(server.pids()), ok)
    r = {"registers": ok, "failed": failed, "cpu_us_per_register": cpu * 1e6 / max(ok, 1), "us_by_thread": threads}
    if memory:
        # memory once the transactions are gone (64·T1 = 32 s): what the bindings cost
        time.sleep(35)
        r["bytes_per_registration"] = (server.memory_kb() - before_mem) * 1024 / max(ok, 1)
    return r


def start_uas(server, work, port):
    inf = os.path.join(work, "uas.csv")
    open(inf, "w").write(f"SEQUENTIAL\nuas;{PASSWORD}\n")
    sipp(["-sf", os.path.join(ROOT, "tests/sipp/register.xml"), "-inf", inf, f"127.0.0.1:{server.port}", "-m", "1", "-p", str(port)],
         work, 20, f"uasreg-{server.name}")
    log = open(os.path.join(work, f"uas-{server.name}.log"), "w")
    return subprocess.Popen(PIN["load"] + ["sipp", "-sf", os.path.join(HERE, "bench_uas.xml"), "-p", str(port), "-nostdin", "-bg" if False else "-nostdin",
                             "-default_behaviors", "all,-abortunexp"], stdout=log, stderr=log, cwd=work)


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def bench_calls(server, work, rate, seconds, hold_ms, port, tag):
    total = rate * seconds
    inf = users_file(work, 1, 1)
    rtt_dir = os.path.join(work, f"rtt-{tag}")
    os.makedirs(rtt_dir, exist_ok=True)
    before_cpu = cpu_seconds(server.pids())
    before_threads = thread_cpu(server.pids())
    rc, ok, failed = sipp(["-sf", os.path.join(HERE, "bench_uac.xml"), "-inf", inf, "-s", "uas", f"127.0.0.1:{server.port}",
                           "-r", str(rate), "-m", str(total), "-d", str(hold_ms), "-p", str(port), "-l", str(rate * (hold_ms // 1000 + 5)),
                           "-trace_rtt", "-rtt_freq", "1"], rtt_dir, seconds + hold_ms // 1000 + 60, f"calls-{tag}")
    time.sleep(0.5)
    cpu = cpu_seconds(server.pids()) - before_cpu
    threads = thread_split(before_threads, thread_cpu(server.pids()), ok)
    setup = []
    for fn in os.listdir(rtt_dir):
        if fn.endswith("_rtt.csv"):
            for line in open(os.path.join(rtt_dir, fn)).read().splitlines()[1:]:
                parts = line.split(";")
                try:
                    setup.append(float(parts[1]))
                except (ValueError, IndexError):
                    pass
    return {"rate": rate, "calls": ok, "failed": failed, "cpu_us_per_call": cpu * 1e6 / max(ok, 1), "us_by_thread": threads,
            "setup_p50_ms": percentile(setup, 50), "setup_p99_ms": percentile(setup, 99)}


def pcap_datagrams(path):
    """(microseconds, source port, destination port, payload) of each UDP/IPv4 datagram
    in a pcap file (Ethernet framing, as tcpdump writes for `lo`, or Linux cooked)."""
    data = open(path, "rb").read()
    if len(data) < 24:
        return
    magic = struct.unpack_from("<I", data, 0)[0]
    scale = {0xA1B2C3D4: 1.0, 0xA1B23C4D: 0.001}.get(magic)
    if scale is None:
        sys.exit(f"{path}: not a little-endian pcap file")
    link = {1: 14, 113: 16}.get(struct.unpack_from("<I", data, 20)[0], 0)
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack_from("<IIII", data, off)
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[link:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        sport, dport = struct.unpack_from(">HH", ip, ihl)
        yield sec * 1e6 + frac * scale, sport, dport, bytes(ip[ihl + 8:])


def sip_header(lines, *names):
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() in names:
            return value.strip()
    return b""


def added_latency_us(path, server_port):
    """Per call, what the server adds to its setup: the authenticated INVITE in to the
    INVITE out, plus the 200 in to the 200 out (the first of each; retransmissions are
    left out). The two legs of a call are paired by the SDP `o=` session id, which the
    bench UAC sets to its call number and which svar's media anchoring keeps (a B2BUA's
    second leg has its own Call-ID); each leg's 200 by its Call-ID and direction."""
    inv_in, inv_out, ok_in, ok_out = {}, {}, {}, {}
    for t, _, dport, p in pcap_datagrams(path):
        head, _, body = p.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        incoming = dport == server_port
        call_id = sip_header(lines, b"call-id", b"i")
        if lines[0].startswith(b"INVITE "):
            if incoming and not sip_header(lines, b"proxy-authorization"):
                continue  # the first INVITE, answered with 407 before any relaying
            origin = next((l.split() for l in body.split(b"\r\n") if l.startswith(b"o=")), [])
            if len(origin) > 1:
                (inv_in if incoming else inv_out).setdefault(origin[1], (t, call_id))
        elif lines[0].startswith(b"SIP/2.0 200") and sip_header(lines, b"cseq").upper().endswith(b"INVITE"):
            (ok_in if incoming else ok_out).setdefault(call_id, t)
    added = []
    for session, (t_in, a_leg) in inv_in.items():
        if session in inv_out:
            t_out, b_leg = inv_out[session]
            if b_leg in ok_in and a_leg in ok_out:
                added.append((t_out - t_in) + (ok_out[a_leg] - ok_in[b_leg]))
    return added


def bench_latency(server, work, rate, seconds, port, tag):
    """Calls as in the CPU phase, under a packet capture of the server's SIP port (a phase
    of its own: tcpdump's CPU would blur the CPU figures). SIPp's own setup times count
    in whole milliseconds of its clock, 4 ms steps here."""
    if not shutil.which("tcpdump"):
        print("tcpdump missing (apt-get install tcpdump): latency phase skipped", flush=True)
        return None
    pcap = os.path.join(work, f"{tag}.pcap")
    cap = subprocess.Popen(PIN["load"] + ["tcpdump", "-i", "lo", "-n", "-s", "2048", "-B", "65536", "-w", pcap,
                                          "udp", "port", str(server.port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    r = bench_calls(server, work, rate, seconds, 0, port, tag)
    cap.send_signal(signal.SIGINT)
    cap.wait(30)
    added = added_latency_us(pcap, server.port)
    return {"rate": rate, "calls": r["calls"], "measured": len(added), "added_p50_us": percentile(added, 50),
            "added_p99_us": percentile(added, 99), "added_p999_us": percentile(added, 99.9),
            "added_max_us": max(added) if added else float("nan")}


def bench_concurrent(server, work, concurrent, port):
    inf = users_file(work, 1, 1)
    rate = 500
    hold = int(concurrent / rate * 1000) + 20000
    before = server.memory_kb()
    proc = subprocess.Popen(["timeout", str(hold // 1000 + 60)] + PIN["load"] + ["sipp", "-sf", os.path.join(HERE, "bench_uac.xml"), "-inf", inf, "-s", "uas",
                             f"127.0.0.1:{server.port}", "-r", str(rate), "-m", str(concurrent), "-d", str(hold), "-p", str(port),
                             "-l", str(concurrent + 10), "-nostdin", "-default_behaviors", "all,-abortunexp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    time.sleep(concurrent / rate + 5)
    peak = server.memory_kb()
    proc.wait()
    return {"concurrent": concurrent, "bytes_per_call": (peak - before) * 1024 / concurrent}


def bench_soak(server, work, rate, seconds, port):
    """Calls at a steady rate for a long while, memory read every 5 s. Memory rises while
    what svar keeps for a while fills up (finished transactions linger 64·T1 = 32 s, nonce
    counts five minutes) and should then hold level: what still grows over the last
    100 s, divided by the calls made meanwhile, is state kept per call for good (a leak).
    Run at least 450 s so the last 100 s start after every such window."""
    inf = users_file(work, 1, 1)
    total = rate * seconds
    proc = subprocess.Popen(["timeout", str(seconds + 60)] + PIN["load"] + ["sipp", "-sf", os.path.join(HERE, "bench_uac.xml"), "-inf", inf,
                             "-s", "uas", f"127.0.0.1:{server.port}", "-r", str(rate), "-m", str(total), "-d", "0",
                             "-p", str(port), "-l", str(rate * 5), "-nostdin", "-default_behaviors", "all,-abortunexp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    start = time.time()
    samples = []
    while proc.poll() is None and time.time() - start < seconds + 60:
        time.sleep(5)
        samples.append((time.time() - start, server.memory_kb()))
    proc.wait()
    during = [(t, kb) for t, kb in samples if t <= seconds]
    tail = [(t, kb) for t, kb in during if t >= seconds - 100]
    if len(tail) < 2:
        return {"rate": rate, "seconds": seconds, "error": "run too short"}
    (t0, kb0), (t1, kb1) = tail[0], tail[-1]
    at = lambda s: min(during, key=lambda x: abs(x[0] - s))[1]
    return {"rate": rate, "seconds": seconds, "kb_at_40s": at(40), "kb_at_300s": at(300), "kb_at_end": kb1,
            "bytes_per_call_last_100s": (kb1 - kb0) * 1024 / max((t1 - t0) * rate, 1)}


def bench_server(kind, a, first=True):
    """Every phase asked for against one server, started afresh. Memory per registration
    is read in the first round only (it waits out the transactions, 35 s, and does not
    drift as CPU does)."""
    work = tempfile.mkdtemp(prefix=f"bench-{kind}-")
    port = 25060 if kind == "svar" else 26060
    server = Svar(a.svar, port, a.register_count + 10, work, a.media, a.warmup) if kind == "svar" else Kamailio(port, work)
    r = {}
    try:
        phases = a.phases.split(",")
        if "register" in phases:
            r["register"] = bench_register(server, work, a.register_count, a.register_rate, port + 10, memory=first)
            print(kind, "register", r["register"], flush=True)
        uas = start_uas(server, work, port + 20)
        time.sleep(0.5)
        if "calls" in phases:
            r["calls"] = bench_calls(server, work, a.call_rate, a.call_seconds, 0, port + 30, f"{kind}-fixed")
            print(kind, "calls", r["calls"], flush=True)
        if "latency" in phases:
            r["latency"] = bench_latency(server, work, a.call_rate, a.latency_seconds, port + 35, f"{kind}-latency")
            print(kind, "latency", r["latency"], flush=True)
        if "ramp" in phases:
            r["ramp"] = []
            for i, rate in enumerate(int(x) for x in a.ramp.split(",")):
                res = bench_calls(server, work, rate, a.ramp_seconds, 0, port + 40 + i * 2, f"{kind}-ramp{rate}")
                print(kind, "ramp", res, flush=True)
                r["ramp"].append(res)
                if res["failed"] > 0 or res["calls"] < rate * a.ramp_seconds:
                    break
        if "soak" in phases:
            r["soak"] = bench_soak(server, work, a.soak_rate, a.soak_seconds, port + 70)
            print(kind, "soak", r["soak"], flush=True)
        if "concurrent" in phases:
            r["concurrent"] = bench_concurrent(server, work, a.concurrent, port + 60)
            print(kind, "concurrent", r["concurrent"], flush=True)
        uas.kill()
    finally:
        server.stop()
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--svar", default=os.path.join(ROOT, "target/release/svar"))
    ap.add_argument("--register-count", type=int, default=10000)
    ap.add_argument("--register-rate", type=int, default=2000)
    ap.add_argument("--call-rate", type=int, default=1000, help="fixed rate for CPU per call")
    ap.add_argument("--call-seconds", type=int, default=30)
    ap.add_argument("--ramp", default="500,1000,1500,2000,2500", help="rates tried for the highest clean rate")
    ap.add_argument("--ramp-seconds", type=int, default=30)
    ap.add_argument("--concurrent", type=int, default=5000)
    ap.add_argument("--soak-rate", type=int, default=500, help="call rate of the soak phase")
    ap.add_argument("--soak-seconds", type=int, default=450, help="length of the soak phase (at least 450)")
    ap.add_argument("--only", choices=["svar", "kamailio"], default=None)
    ap.add_argument("--latency-seconds", type=int, default=10, help="length of the latency phase (under tcpdump)")
    ap.add_argument("--phases", default="register,calls,latency,ramp,concurrent")
    ap.add_argument("--media", choices=["anchored", "direct"], default="anchored",
                    help="svar relays RTP (anchored, the default) or lets it flow phone to phone")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run both servers this many times, alternating, and print medians (the machine drifts by ±10 %%)")
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="seconds svar gets to start before the load (about 15 under valgrind)")
    ap.add_argument("--pin", action="store_true",
                    help="run the server on CPU 1 and SIPp on CPU 0 (taskset), so that where the scheduler puts "
                         "them does not move the numbers from round to round")
    a = ap.parse_args()
    if a.pin:
        PIN["server"], PIN["load"] = ["taskset", "-c", "1"], ["taskset", "-c", "0"]
    for tool in ("sipp", "kamailio"):
        if not shutil.which(tool):
            sys.exit(f"{tool} missing: apt-get install sip-tester kamailio")
    rounds = []
    for i in range(a.rounds):
        rounds.append({kind: bench_server(kind, a, i == 0) for kind in ("svar", "kamailio") if not a.only or a.only == kind})
    print()
    if a.rounds > 1:
        print(f"medians of {a.rounds} rounds (each round: svar, then Kamailio); the ratio column is the median of the rounds' ratios")
    results = rounds[0]
    print(f"| measure | {' | '.join(results)} |" + (" svar/kamailio |" if len(results) == 2 else ""))
    print("|---|" + "---|" * len(results) + ("---|" if len(results) == 2 else ""))

    def row(label, get, fmt="{:.1f}"):
        per_round = []
        for rnd in rounds:
            try:
                per_round.append([get(r) for r in rnd.values()])
            except (KeyError, TypeError):
                pass  # a phase not run (or skipped) in this round
        if not per_round:
            return
        vals = [statistics.median(col) for col in zip(*per_round)]
        line = f"| {label} | " + " | ".join(fmt.format(v) for v in vals) + " |"
        if len(vals) == 2 and vals[1]:
            ratios = [v[0] / v[1] for v in per_round if v[1]]
            line += f" {statistics.median(ratios):.2f} |"
            if len(ratios) > 1:
                line += " rounds: " + " / ".join(f"{x:.2f}" for x in ratios)
        print(line)

    def clean(r):
        ok = [x["rate"] for x in r["ramp"] if x["failed"] == 0 and x["calls"] >= x["rate"] * a.ramp_seconds]
        return max(ok) if ok else 0

    row("CPU per authenticated REGISTER (µs)", lambda r: r["register"]["cpu_us_per_register"])
    row(f"CPU per call at {a.call_rate}/s (µs)", lambda r: r["calls"]["cpu_us_per_call"])
    row(f"failed calls at {a.call_rate}/s", lambda r: r["calls"]["failed"], "{:.0f}")
    row("setup p50 (ms)", lambda r: r["calls"]["setup_p50_ms"], "{:.2f}")
    row("setup p99 (ms)", lambda r: r["calls"]["setup_p99_ms"], "{:.2f}")
    row("added setup latency p50 (µs, packet capture)", lambda r: r["latency"]["added_p50_us"], "{:.0f}")
    row("added setup latency p99 (µs, packet capture)", lambda r: r["latency"]["added_p99_us"], "{:.0f}")
    row("added setup latency p99.9 (µs, packet capture)", lambda r: r["latency"]["added_p999_us"], "{:.0f}")
    row(f"highest clean rate, {a.ramp_seconds} s (calls/s)", clean, "{:.0f}")
    row("memory per registration (bytes)", lambda r: r["register"]["bytes_per_registration"], "{:.0f}")
    row(f"memory per active call at {a.concurrent} (bytes)", lambda r: r["concurrent"]["bytes_per_call"], "{:.0f}")
    row(f"memory growth per call over the last 100 s of {a.soak_seconds} s at {a.soak_rate}/s (bytes)",
        lambda r: r["soak"]["bytes_per_call_last_100s"], "{:.1f}")


if __name__ == "__main__":
    main()
