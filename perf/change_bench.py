"""Forwarding while the policy changes: one sgfw worker between a net_pcap
port replaying established flows (infinite_rx=1, 64-byte frames) and a
net_null sink, as perf/appliance_bench.py runs it, with the control socket
on; in one run, windows with no change alternate with windows of 100
changes per second (authorize and revoke of a rule on the policy's
groups, from one client on the socket, each persisted to the policy file,
as sgfwctl would).  Reports the forwarding rate in each kind of window and
their ratio (goal: at least 0.98), and the time sgfwctl itself takes for a
request (process start, connect, reply), which comes on top of the
latency perf/change_latency measures.

    python3 perf/change_bench.py [--build build] [--flows 1000] [--rounds 3] [--seconds 5] [--rate 100] [--worker-cpu 1] [--no-persist]

Needs two CPUs (main on one, the worker on the other: --worker-cpu) and the build's sgfw, sgfwctl.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from appliance_bench import CONFIG, pcap_for, ports  # noqa: E402


class changer:
    """Authorize, revoke, authorize, ... at `rate` per second while on."""

    def __init__(self, path, rate):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.f = self.sock.makefile("rwb")
        self.rate = rate
        self.on = threading.Event()
        self.stop = threading.Event()
        self.done = 0
        self.failed = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def request(self, r):
        self.f.write(json.dumps(r).encode() + b"\n")
        self.f.flush()
        reply = json.loads(self.f.readline())
        if not reply.get("Return"):
            self.failed.append(reply)

    def run(self):
        n = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            if not self.on.wait(0.05):
                next_at = time.monotonic()
                continue
            rule = {"GroupId": "monitoring", "Protocol": "tcp", "Port": str(20000 + n // 2 % 1000),
                    "Cidr": "192.168.200.0/24"}
            action = "AuthorizeSecurityGroupIngress" if n % 2 == 0 else "RevokeSecurityGroupIngress"
            self.request({"Action": action, **rule})
            self.done += 1
            n += 1
            next_at += 1.0 / self.rate
            time.sleep(max(0.0, next_at - time.monotonic()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build"))
    ap.add_argument("--flows", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--data", default=None)
    ap.add_argument("--worker-cpu", type=int, default=1, choices=(0, 1),
                    help="the worker's CPU (0 or 1); main, the control thread and the client take the other. "
                         "Put the worker where the disk's interrupt is not: on a VM whose disk interrupt "
                         "cannot be moved off CPU 1, --worker-cpu 0")
    ap.add_argument("--no-persist", action="store_true",
                    help="[appliance.control] persist = false: changes are not written to the file")
    a = ap.parse_args()
    data_dir = a.data or os.path.join(a.build, "perf-data")
    os.makedirs(data_dir, exist_ok=True)
    pcap = pcap_for(a.flows, data_dir)
    work = tempfile.mkdtemp(prefix="sgfw-change-bench-")
    config = os.path.join(work, "policy.toml")
    other = 1 - a.worker_cpu
    with open(CONFIG) as f:
        text = f.read()
    text, cores = re.subn(r"(?m)^cores = \[1\]$", f"cores = [{a.worker_cpu}]", text)
    text, mains = re.subn(r"(?m)^main_core = 0$", f"main_core = {other}", text)
    if cores != 1 or mains != 1:
        sys.exit(f"{CONFIG}: expected one 'cores = [1]' and one 'main_core = 0' line to place the threads")
    with open(config, "w") as f:
        f.write(text)
    if a.no_persist:
        with open(config, "a") as f:
            f.write("\n[appliance.control]\npersist = false\n")
    sock = os.path.join(work, "sgfw.sock")
    outside, inside = ports(pcap)
    cmd = [os.path.join(a.build, "sgfw"), "run", "--config", config, "--outside", outside, "--inside", inside,
           "--status-interval", "1", "--control-socket", sock]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    # This client (and the sgfwctl processes it starts) on the control
    # thread's CPU (main_core), off the worker's: left to the
    # scheduler on a small machine, it takes turns with the worker on its
    # CPU, and the rate measured is the client's cost, not sgfw's.
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {other})
    rates = []  # (time, Mpps)
    lines = []

    def read():
        for line in p.stdout:
            lines.append(line)
            m = re.match(r"sgfw: gen \d+ \| in [\d.]+ \w+ out ([\d.]+) (Mpps|kpps|pps)", line)
            if m:
                scale = {"Mpps": 1.0, "kpps": 1e-3, "pps": 1e-6}[m.group(2)]
                rates.append((time.monotonic(), float(m.group(1)) * scale))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(sock) or not any(line.startswith("sgfw: running") for line in lines):
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sgfw did not start:\n" + "".join(lines)[-3000:])
            time.sleep(0.2)
        time.sleep(3)  # warm-up: every flow open
        c = changer(sock, a.rate)
        windows = {"quiet": [], "changing": []}
        for _ in range(a.rounds):
            for kind in ("quiet", "changing"):
                if kind == "changing":
                    c.on.set()
                start = time.monotonic()
                time.sleep(a.seconds + 1.2)
                end = time.monotonic()
                c.on.clear()
                # Status lines whose whole second lies in the window.
                windows[kind] += [r for t, r in rates if start + 1.05 <= t - 1.0 and t <= end]
        c.stop.set()
        changes = c.done
        failed = c.failed
        # sgfwctl's own time for a request, a process each time.
        ctl = os.path.join(a.build, "sgfwctl")
        took = []
        for _ in range(50):
            t0 = time.monotonic()
            subprocess.run([ctl, "--socket", sock, "describe-stats"], check=True, capture_output=True)
            took.append((time.monotonic() - t0) * 1000)
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        raise RuntimeError(f"{len(failed)} changes refused, e.g. {failed[0]}")
    quiet, changing = statistics.median(windows["quiet"]), statistics.median(windows["changing"])
    took.sort()
    print(f"| flows | no changes | {a.rate} changes/s | ratio | changes made | sgfwctl request p50 / p99 |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {a.flows:,} | {quiet:.2f} Mpps | {changing:.2f} Mpps | {changing / quiet:.3f} | {changes} | "
          f"{took[len(took) // 2]:.1f} ms / {took[int(len(took) * 0.99)]:.1f} ms |")
    print(f"\nper-second rates, quiet: {', '.join(f'{r:.2f}' for r in windows['quiet'])}")
    print(f"per-second rates, changing: {', '.join(f'{r:.2f}' for r in windows['changing'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
