"""Whole-appliance benchmark, testpmd-style: sgfw with one worker between a
net_pcap port replaying many flows (infinite_rx=1, 64-byte frames) and a
net_null sink, against plain io forwarding (perf/io_forward, what
`dpdk-testpmd --forward-mode=io` does) on the same vdevs, in the same run,
alternating, so that the ratio holds on a noisy machine.

    python3 perf/appliance_bench.py [--build build] [--flows 1000,1000000]
                                    [--rounds 3] [--seconds 5] [--warmup 3]

Per flow count and round: io_forward, then sgfw, each for --warmup seconds
(the first pass over the pcap opens every flow in sgfw; what follows is
established-flow traffic) and then --seconds measured.  sgfw's rate is the
mean of its per-second status lines in the measured window; cycles per
packet = TSC Hz / packets per second on the one forwarding core (both
programs poll it all the time).  Prints a Markdown table (the medians of
the rounds, each round's ratio) for docs/performance.md.

Needs: about 6 GiB of memory for the 1M-flow pcap without hugepages (every
packet buffer takes a 4 KiB page), two CPUs (main on 0, forwarding on 1).
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIG = os.path.join(HERE, "appliance_bench.toml")


def pcap_for(flows, data_dir):
    path = os.path.join(data_dir, f"flows-{flows}.pcap")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(HERE, "make_flows_pcap.py"), "--flows", str(flows), "--out",
                        path + ".tmp"], check=True)
        os.replace(path + ".tmp", path)
    return path


def ports(pcap):
    return f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "net_null0,no-rx=1"


def buffers(flows):
    return flows + 100000


def run_io_forward(build, pcap, flows, warmup, seconds):
    outside, inside = ports(pcap)
    memory = 1024 + buffers(flows) * 4 // 1024
    cmd = [os.path.join(build, "perf", "io_forward"), "--no-huge", "-m", str(memory), "--no-pci",
           "--file-prefix", "sgfw-bench-io", "--lcores", "0@0,1@1", "--main-lcore", "0",
           "--log-level", "lib.eal:warning", "--vdev", outside, "--vdev", inside, "--",
           "--seconds", str(seconds), "--warmup", str(warmup), "--packet-buffers", str(buffers(flows))]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120 + warmup + seconds)
    m = re.search(r"mpps=([\d.]+) cycles_per_packet=([\d.]+) tsc_hz=(\d+)", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError("io_forward failed:\n" + r.stdout + r.stderr)
    return float(m.group(1)), float(m.group(2)), int(m.group(3))


def variant_config(settings, data_dir, label):
    """CONFIG with [appliance.conntrack] keys set as `settings` says."""
    if not settings:
        return CONFIG
    with open(CONFIG) as f:
        text = f.read()
    extra = "".join(f"  {k} = {v}\n" for k, v in settings)
    text = text.replace("  [appliance.conntrack]\n", "  [appliance.conntrack]\n" + extra, 1)
    path = os.path.join(data_dir, f"appliance_bench-{label}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def parse_variant(text, data_dir):
    """LABEL=BUILD[,KEY=VALUE...]: another sgfw build, or other conntrack settings."""
    label, _, rest = text.partition("=")
    parts = rest.split(",")
    settings = [tuple(p.split("=", 1)) for p in parts[1:]]
    return label, os.path.abspath(parts[0]), variant_config(settings, data_dir, label)


def run_sgfw(build, pcap, flows, warmup, seconds, config=CONFIG):
    outside, inside = ports(pcap)
    cmd = [os.path.join(build, "sgfw"), "run", "--config", config, "--outside", outside, "--inside", inside,
           "--status-interval", "1"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    # A wedged sgfw must not hang the benchmark: killed after twice its time.
    watchdog = threading.Timer(2 * (120 + warmup + seconds), p.kill)
    watchdog.start()
    lines, rates = [], []
    try:
        start = None
        for line in p.stdout:
            lines.append(line)
            if line.startswith("sgfw: running"):
                start = time.time()
            m = re.match(r"sgfw: gen \d+ \| in [\d.]+ \w+ out ([\d.]+) (Mpps|kpps|pps)", line)
            if m and start is not None:
                elapsed = time.time() - start
                scale = {"Mpps": 1.0, "kpps": 1e-3, "pps": 1e-6}[m.group(2)]
                if elapsed > warmup + 0.5:
                    rates.append(float(m.group(1)) * scale)
                if len(rates) >= seconds:
                    p.send_signal(signal.SIGINT)
                    break
        out, _ = p.communicate(timeout=60)
        lines.append(out)
    finally:
        watchdog.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    text = "".join(lines)
    if p.returncode != 0 or len(rates) < seconds:
        raise RuntimeError("sgfw failed:\n" + text[-3000:])
    dropped = re.search(r"packets: received \d+, sent \d+, dropped (\d+)", text)
    opened = re.search(r"flows: (\d+) open", text)
    if not dropped or int(dropped.group(1)) != 0 or not opened or int(opened.group(1)) != flows:
        raise RuntimeError(f"sgfw did not pass every packet of {flows} open flows:\n" + text[-3000:])
    return statistics.mean(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--flows", default="1000,1000000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--data", default=None, help="where the pcaps are written (default BUILD/perf-data)")
    ap.add_argument("--variant", action="append", default=[],
                    help="LABEL=BUILD[,KEY=VALUE...]: also run this sgfw build (with these [appliance.conntrack] "
                         "keys) in every round, e.g. base=/tmp/old/build or no-counters=build,flow_counters=false")
    a = ap.parse_args()
    data_dir = a.data or os.path.join(a.build, "perf-data")
    os.makedirs(data_dir, exist_ok=True)
    variants = [parse_variant(v, data_dir) for v in a.variant]

    rows = []
    for flows in [int(x) for x in a.flows.split(",")]:
        pcap = pcap_for(flows, data_dir)
        ceiling, sgfw, ratios, hz = [], [], [], 0
        others = {label: [] for label, _, _ in variants}  # this variant's rate / sgfw's, per round
        other_rates = {label: [] for label, _, _ in variants}
        for i in range(a.rounds):
            io_mpps, _, hz = run_io_forward(a.build, pcap, flows, a.warmup, a.seconds)
            fw_mpps = run_sgfw(a.build, pcap, flows, a.warmup, a.seconds)
            ceiling.append(io_mpps)
            sgfw.append(fw_mpps)
            ratios.append(fw_mpps / io_mpps)
            line = (f"flows {flows} round {i + 1}: io_forward {io_mpps:.2f} Mpps, sgfw {fw_mpps:.2f} Mpps, "
                    f"ratio {fw_mpps / io_mpps:.3f}")
            for label, build, config in variants:
                v = run_sgfw(build, pcap, flows, a.warmup, a.seconds, config)
                others[label].append(fw_mpps / v)
                other_rates[label].append(v)
                line += f"; {label} {v:.2f} Mpps (sgfw/{label} {fw_mpps / v:.3f})"
            print(line, flush=True)
        io_m, fw_m = statistics.median(ceiling), statistics.median(sgfw)
        rows.append((flows, io_m, hz / (io_m * 1e6), fw_m, hz / (fw_m * 1e6), statistics.median(ratios), ratios))
        for label in others:
            v_m = statistics.median(other_rates[label])
            print(f"flows {flows}: {label} {v_m:.2f} Mpps ({hz / (v_m * 1e6):.0f} cycles/packet); "
                  f"sgfw / {label} median {statistics.median(others[label]):.3f} (rounds "
                  + ", ".join(f"{r:.3f}" for r in others[label]) + ")", flush=True)

    print("\n| flows | io forwarding (ceiling) | cycles/packet | sgfw, 1 worker | cycles/packet | sgfw / ceiling "
          "| rounds' ratios |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for flows, io_m, io_c, fw_m, fw_c, ratio, ratios in rows:
        print(f"| {flows:,} | {io_m:.2f} Mpps | {io_c:.0f} | {fw_m:.2f} Mpps | {fw_c:.0f} | {ratio:.2f} | "
              + ", ".join(f"{r:.2f}" for r in ratios) + " |")
    print(f"\nTSC {hz / 1e9:.2f} GHz; sgfw's own cost per packet = its cycles/packet minus the ceiling's.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
