#!/usr/bin/env python3
"""Anchored RTP through svar and through rtpengine, under the same load, in one run.

For each call count: G.711 both ways (2 legs x 50 packets/s per call) for --seconds,
from rtpload (crates/rtpload), through
  - svar: calls set up by SIPp (a registered UAS, an authenticated UAC) with SDP naming
    rtpload's two ports; a fresh svar gives call k the ports 30000+4k and 30000+4k+2;
  - rtpengine (Debian's rtpengine-daemon, userspace only: --table=-1, one worker
    thread), calls set up by rtpload over the ng protocol.
Measures loss, the jitter each relay adds (p50/p99/max of transit over the stream's
best), and the relay's CPU time from /proc: packets relayed per CPU-second is the
per-core throughput compared. Prints a table. Usage: python3 bench/media_bench.py --help
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import HERE, ROOT, PASSWORD, Svar, cpu_seconds, sipp, start_uas, users_file  # noqa: E402

A_PORT, B_PORT = 47000, 47002
FIRST_RTP = 30000


def templated(src, dst, replacements):
    text = open(src).read()
    for a, b in replacements:
        if a not in text:
            sys.exit(f"{src}: no {a!r}")
        text = text.replace(a, b)
    open(dst, "w").write(text)
    return dst


def rtpload(args):
    out = subprocess.run([os.path.join(ROOT, "target/release/rtpload")] + args, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"rtpload failed: {out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_svar(binary, calls, seconds, work):
    port = 25060
    server = Svar(binary, port, 2, work)
    uas_sf = templated(os.path.join(HERE, "bench_uas.xml"), os.path.join(work, "uas_media.xml"),
                       [("m=audio 6000 RTP/AVP 0 101", f"m=audio {B_PORT} RTP/AVP 0")])
    # start_uas registers "uas" and runs bench_uas.xml: run our templated copy instead
    inf = os.path.join(work, "uas.csv")
    open(inf, "w").write(f"SEQUENTIAL\nuas;{PASSWORD}\n")
    sipp(["-sf", os.path.join(ROOT, "tests/sipp/register.xml"), "-inf", inf, f"127.0.0.1:{port}", "-m", "1", "-p", str(port + 20)],
         work, 20, "uasreg")
    uas = subprocess.Popen(["sipp", "-sf", uas_sf, "-p", str(port + 20), "-nostdin", "-default_behaviors", "all,-abortunexp"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    uac_sf = templated(os.path.join(HERE, "bench_uac.xml"), os.path.join(work, "uac_media.xml"),
                       [("m=audio [media_port] RTP/AVP 0 8 101", f"m=audio {A_PORT} RTP/AVP 0")])
    rate = 200
    setup_s = calls / rate + 3
    hold_ms = int((setup_s + seconds + 10) * 1000)
    uac = subprocess.Popen(["timeout", str(int(hold_ms / 1000) + 60), "sipp", "-sf", uac_sf, "-inf", users_file(work, 1, 1),
                            "-s", "uas", f"127.0.0.1:{port}", "-r", str(rate), "-m", str(calls), "-l", str(calls),
                            "-d", str(hold_ms), "-p", str(port + 30), "-nostdin", "-default_behaviors", "all,-abortunexp"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    time.sleep(setup_s)
    before = cpu_seconds(server.pids())
    t0 = time.time()
    r = rtpload(["svar", "--first-port", str(FIRST_RTP), "--calls", str(calls), "--seconds", str(seconds),
                 "--a-port", str(A_PORT), "--b-port", str(B_PORT)])
    r["cpu_s"] = cpu_seconds(server.pids()) - before
    r["wall_s"] = time.time() - t0
    uac.wait()
    uas.kill()
    server.stop()
    return r


IVR_CONFIG = """
[server]
sip = "127.0.0.1:{port}"
http = "127.0.0.1:{http}"
data_dir = "{work}/svar-data"

[sip]
domain = "egeskov.example"

[municipality]
name = "Bench"

[[users]]
extension = "1001"
name = "Omstilling"
password = "{password}"
team = "omstilling"

[[trunks]]
name = "load"
proxy = "127.0.0.1:{trunk}"
allowed_sources = ["127.0.0.1:{trunk}"]
caller_id = "+4570000000"

[[dids]]
number = "+4570102000"
ivr = true

[[departments]]
id = "omstillingen"
name = "Omstillingen"
mon = "00:00-24:00"
tue = "00:00-24:00"
wed = "00:00-24:00"
thu = "00:00-24:00"
fri = "00:00-24:00"
sat = "00:00-24:00"
sun = "00:00-24:00"

[[teams]]
id = "omstilling"
name = "Omstillingen"
department = "omstillingen"

[media]
ports = [{first}, 59999]

[ivr]
prompts_dir = "{root}/prompts"
language = "da"

[[ivr.menus]]
id = "hoved"
prompt = ["hovedmenu", "hovedmenu", "hovedmenu", "hovedmenu", "hovedmenu", "hovedmenu", "hovedmenu", "hovedmenu"]
timeout_s = 120
retries = 0
fallback = "operator"
options = {{ "1" = "operator" }}
"""


def run_ivr(binary, sessions, seconds, work):
    """Sessions in the menus: each hears prompts (svar's 20 ms clock, one per call) while
    its audio goes to svar, which listens for keys."""
    port, trunk = 25060, 25090
    cfg = os.path.join(work, "ivr.toml")
    open(cfg, "w").write(IVR_CONFIG.format(port=port, http=port + 1, work=work, password=PASSWORD, trunk=trunk,
                                           first=FIRST_RTP, root=ROOT))
    log = open(os.path.join(work, "svar.log"), "w")
    proc = subprocess.Popen([binary, "serve", "--config", cfg], stdout=log, stderr=log, cwd=ROOT,
                            env={**os.environ, "RUST_LOG": "warn"})
    time.sleep(1.5)
    uac_sf = templated(os.path.join(HERE, "ivr_uac.xml"), os.path.join(work, "ivr_uac.xml"), [("@A_PORT@", str(A_PORT))])
    rate = 200
    setup_s = sessions / rate + 3
    hold_ms = int((setup_s + seconds + 5) * 1000)
    uac = subprocess.Popen(["timeout", str(int(hold_ms / 1000) + 60), "sipp", "-sf", uac_sf, "-s", "+4570102000",
                            f"127.0.0.1:{port}", "-r", str(rate), "-m", str(sessions), "-l", str(sessions),
                            "-d", str(hold_ms), "-p", str(trunk), "-nostdin", "-default_behaviors", "all,-abortunexp"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    time.sleep(setup_s)
    try:
        before = cpu_seconds([proc.pid])
        r = rtpload(["ivr", "--first-port", str(FIRST_RTP), "--calls", str(sessions), "--seconds", str(seconds),
                     "--a-port", str(A_PORT), "--b-port", str(B_PORT)])
        r["cpu_s"] = cpu_seconds([proc.pid]) - before
        uac.wait()
    finally:
        proc.terminate()
        proc.wait(30)
    return r


def run_rtpengine(calls, seconds, work):
    log = open(os.path.join(work, "rtpengine.log"), "w")
    proc = subprocess.Popen(["rtpengine", "--foreground", "--log-stderr", "--table=-1", "--interface=127.0.0.1",
                             "--listen-ng=127.0.0.1:2223", "--port-min=50000", "--port-max=59999", "--num-threads=1",
                             "--no-fallback", "--log-level=4"], stdout=log, stderr=log)
    time.sleep(1.5)
    try:
        before = cpu_seconds([proc.pid])
        r = rtpload(["rtpengine", "--ng", "127.0.0.1:2223", "--calls", str(calls), "--seconds", str(seconds),
                     "--a-port", str(A_PORT), "--b-port", str(B_PORT)])
        r["cpu_s"] = cpu_seconds([proc.pid]) - before
    finally:
        proc.terminate()
        proc.wait(10)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--svar", default=os.path.join(ROOT, "target/release/svar"))
    ap.add_argument("--calls", default="500,1000,2000", help="concurrent call counts")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--only", choices=["svar", "rtpengine"], default=None)
    ap.add_argument("--ivr", default="", help="IVR session counts (svar only), e.g. 1000")
    a = ap.parse_args()
    for tool in ("sipp", "rtpengine"):
        if not shutil.which(tool):
            sys.exit(f"{tool} missing: apt-get install sip-tester rtpengine-daemon")
    if not os.path.exists(os.path.join(ROOT, "target/release/rtpload")):
        sys.exit("build it first: cargo build --release -p rtpload -p server")
    rows = []
    for calls in (int(x) for x in a.calls.split(",") if x):
        row = {"calls": calls}
        for kind in ("svar", "rtpengine"):
            if a.only and a.only != kind:
                continue
            work = tempfile.mkdtemp(prefix=f"media-{kind}-")
            r = run_svar(a.svar, calls, a.seconds, work) if kind == "svar" else run_rtpengine(calls, a.seconds, work)
            print(kind, calls, json.dumps(r), flush=True)
            row[kind] = r
        rows.append(row)
    kinds = [k for k in ("svar", "rtpengine") if not a.only or a.only == k]
    print()
    print("| calls | relay | loss % | added jitter p50 / p99 / max (ms) | CPU (% of a core) | packets relayed per CPU-second |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        for k in kinds:
            r = row.get(k)
            if not r:
                continue
            core = 100 * r["cpu_s"] / a.seconds
            pps = r["received"] / r["cpu_s"] if r["cpu_s"] > 0 else float("inf")
            r["pps_per_core"] = pps
            print(f"| {row['calls']} | {k} | {r['loss_pct']:.3f} | {r['added_jitter_p50_us']/1000:.2f} / "
                  f"{r['added_jitter_p99_us']/1000:.2f} / {r['added_jitter_max_us']/1000:.2f} | {core:.0f} | {pps:,.0f} |")
        if "svar" in row and "rtpengine" in row:
            ratio = row["svar"]["pps_per_core"] / row["rtpengine"]["pps_per_core"]
            print(f"| {row['calls']} | svar/rtpengine per-core throughput | | | | {ratio:.2f} |")
    ivr = []
    for n in (int(x) for x in a.ivr.split(",") if x):
        r = run_ivr(a.svar, n, a.seconds, tempfile.mkdtemp(prefix="media-ivr-"))
        print("ivr", n, json.dumps(r), flush=True)
        ivr.append(r)
    if ivr:
        print()
        print("| IVR sessions | heard | prompt packets received / expected | spacing off 20 ms p50 / p99 / max (ms) | CPU (% of a core) |")
        print("|---|---|---|---|---|")
        for r in ivr:
            print(f"| {r['sessions']} | {r['sessions_heard']} | {r['received']:,} / {r['expected']:,} | "
                  f"{r['pacing_p50_us']/1000:.2f} / {r['pacing_p99_us']/1000:.2f} / {r['pacing_max_us']/1000:.2f} | "
                  f"{100 * r['cpu_s'] / a.seconds:.0f} |")


if __name__ == "__main__":
    main()
