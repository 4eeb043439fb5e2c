"""The appliance's main job on a machine without NICs: a client and a web
server in two network namespaces, joined only through `sgfw run` on DPDK
ports, with config/examples/web-server.toml as the policy.  Real traffic
(curl, TCP connects, ping, UDP) goes both ways; the report says what passed,
what was blocked, whether that is what the policy says, and ends with sgfw's
own counters.  Everything is torn down on exit, also on Ctrl-C.

    sudo python3 tests/e2e/demo.py [--sgfw build/sgfw] [--ports af_packet|tap]
                                   [--workers N] [--hold]

--hold keeps the topology up after the report, so that you can try things
yourself (the commands are printed), until Ctrl-C.

Exit status: 0 when every check came out as the policy says, 1 otherwise,
77 (a test harness's "skipped") when not run as root.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from topology import (ADMIN_V4, CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6, SYS_PYTHON,  # noqa: E402
                      Topology, install_signal_cleanup)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
POLICY = os.path.join(ROOT, "config", "examples", "web-server.toml")
PROBE = os.path.join(HERE, "probe.py")
SERVERS = os.path.join(HERE, "servers.py")
UDP_PORT = 5000
CLIENT_TCP_PORT = 8022  # a listener on the client, for the server's outbound connection


class Demo:
    def __init__(self, topology):
        self.t = topology
        self.rows = []  # (what, passed, expected, why, detail)
        self.root = None  # the web server's files

    def check(self, what, expected, why, run):
        passed, detail = run()
        self.rows.append((what, passed, expected, why, detail))
        mark = "ok " if passed == expected else "!! "
        print(f"  {mark}{what:<46} {'passed ' if passed else 'blocked'}  {detail}", flush=True)

    # --- the probes --------------------------------------------------------

    def http(self, host):
        def run():
            code, size, rc = self.t.http(host, timeout=4)
            if rc == 0 and code == "200":
                return True, f"HTTP 200, {size} bytes"
            return False, f"curl: no response ({'timed out' if rc == 28 else f'exit {rc}'})"
        return run

    def tcp(self, host, port, source=None, ns=None):
        def run():
            ok = self.t.connect(host, port, source=source, timeout=2, ns=ns)
            return ok, "connection established" if ok else "no connection (SYN unanswered, timed out)"
        return run

    def ping(self, host, ns):
        def run():
            r = self.t.ns(ns, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", host, check=False, timeout=15)
            m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
            sent, got = (int(m.group(1)), int(m.group(2))) if m else (3, 0)
            return got > 0, f"{got} of {sent} echo replies"
        return run

    def udp(self, host, ns):
        def run():
            r = self.t.ns(ns, SYS_PYTHON, PROBE, "udp", host, str(UDP_PORT), "--count", "5", "--interval", "0.05",
                          "--timeout", "0.5", check=False, timeout=30)
            m = re.search(r"sent (\d+) received (\d+)", r.stdout)
            sent, got = (int(m.group(1)), int(m.group(2))) if m else (5, 0)
            return got > 0, f"{got} of {sent} datagrams echoed"
        return run

    # --- the run -----------------------------------------------------------

    def run(self):
        t = self.t
        root = self.root = tempfile.mkdtemp(prefix="sgfw-demo-")
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<h1>web-1, behind sgfw</h1>\n")
        t.serve(80, 443, 22, root=root, udp_echo=(UDP_PORT,))
        client_side = t.spawn(t.client_ns, SYS_PYTHON, SERVERS, "--tcp", str(CLIENT_TCP_PORT), "--udp-echo",
                              str(UDP_PORT))
        if not client_side.stdout.readline().startswith("listening"):
            raise RuntimeError("the client's UDP echo did not start")

        c, s = t.client_ns, t.server_ns
        print("\nclient -> server (inbound to web-1: only the security group's rules let traffic in)")
        self.check(f"HTTP  curl http://{SERVER_V4}/", True, "tcp 80 from 0.0.0.0/0", self.http(SERVER_V4))
        self.check(f"HTTP  curl http://[{SERVER_V6}]/", True, "tcp 80 from ::/0", self.http(SERVER_V6))
        self.check(f"HTTPS tcp {SERVER_V4}:443", True, "tcp 443 from 0.0.0.0/0", self.tcp(SERVER_V4, 443))
        self.check(f"SSH   tcp :22 from the admin {ADMIN_V4}", True, "tcp 22 from 10.99.0.100/32",
                   self.tcp(SERVER_V4, 22, source=ADMIN_V4))
        self.check(f"SSH   tcp :22 from {CLIENT_V4}", False, "no rule: SSH is admin-only",
                   self.tcp(SERVER_V4, 22, source=CLIENT_V4))
        self.check(f"ping  {SERVER_V4}", False, "no ICMP rule: inbound is default-deny", self.ping(SERVER_V4, c))
        self.check(f"UDP   {SERVER_V4}:{UDP_PORT}", False, "no UDP rule", self.udp(SERVER_V4, c))
        print("\nserver -> client (outbound from web-1: the default egress rule; replies are tracked)")
        self.check(f"ping  {CLIENT_V4}", True, "egress allows all; replies are tracked", self.ping(CLIENT_V4, s))
        self.check(f"UDP   {CLIENT_V4}:{UDP_PORT}", True, "egress allows all; replies are tracked",
                   self.udp(CLIENT_V4, s))
        self.check(f"TCP   [{CLIENT_V6}]:{CLIENT_TCP_PORT}", True, "egress allows all; replies are tracked",
                   self.tcp(CLIENT_V6, CLIENT_TCP_PORT, ns=s))
        print("\nlive change: the blocked ping allowed with sgfwctl, then taken back (no file edit, no signal)")
        rule = ("--group-id", "web", "--protocol", "icmp", "--port", "-1", "--cidr", "10.99.0.0/24")
        self.ctl("authorize-security-group-ingress", *rule)
        self.check(f"ping  {SERVER_V4}", True, "icmp from 10.99.0.0/24, authorized by sgfwctl just now",
                   self.ping(SERVER_V4, c))
        self.ctl("revoke-security-group-ingress", *rule)
        self.check(f"ping  {SERVER_V4}", False, "the rule revoked again: default-deny", self.ping(SERVER_V4, c))
        return all(passed == expected for _, passed, expected, _, _ in self.rows)

    def ctl(self, *args):
        sgfwctl = os.path.join(os.path.dirname(self.t.sgfw), "sgfwctl")
        cmd = [sgfwctl, "--socket", self.t.socket, "--output", "text", *args]
        print("  $ sgfwctl " + " ".join(args))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"sgfwctl failed ({r.returncode}): {r.stderr.strip()}")
        generation = json.loads(subprocess.run([sgfwctl, "--socket", self.t.socket, "describe-stats"],
                                               capture_output=True, text=True, timeout=30).stdout)["PolicyGeneration"]
        print(f"    applied: policy generation {generation}")

    def summary(self):
        allowed = sum(1 for r in self.rows if r[1])
        print(f"\n{allowed} passed, {len(self.rows) - allowed} blocked; ", end="")
        wrong = [r for r in self.rows if r[1] != r[2]]
        if not wrong:
            print("every one as the policy says.")
        else:
            print(f"{len(wrong)} NOT as the policy says:")
            for what, passed, expected, why, _ in wrong:
                print(f"  {what}: {'passed' if passed else 'blocked'}, expected "
                      f"{'passed' if expected else 'blocked'} ({why})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sgfw", default=os.environ.get("SGFW_BIN", os.path.join(ROOT, "build", "sgfw")))
    ap.add_argument("--ports", choices=("af_packet", "tap"), default="af_packet")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--hold", action="store_true", help="keep running after the report until Ctrl-C")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("demo: needs root (network namespaces, DPDK ports); run it as root", file=sys.stderr)
        return 77
    if not os.access(a.sgfw, os.X_OK):
        print(f"demo: no sgfw binary at {a.sgfw} (build first: ./setup.sh)", file=sys.stderr)
        return 2

    t = Topology(a.sgfw, ports=a.ports)
    install_signal_cleanup()
    ok = False
    demo = None
    policy_dir = None
    try:
        t.open()
        cores = ",".join(str(i % os.cpu_count()) for i in range(a.workers)) if a.workers > 1 else None
        # A copy: the live change writes its policy file (persist), and the
        # example stays as it is.
        policy_dir = tempfile.mkdtemp(prefix="sgfw-demo-policy-")
        running_policy = os.path.join(policy_dir, os.path.basename(POLICY))
        shutil.copyfile(POLICY, running_policy)
        t.start(running_policy, workers=a.workers, cores=cores, extra=("--status-interval", "1"))
        outside, inside = t.devargs(a.workers)
        print(f"sgfw demo: policy {os.path.relpath(POLICY, ROOT)} (resource web-1, security group 'web')")
        print(f"  client  {f'{CLIENT_V4}, admin {ADMIN_V4}, {CLIENT_V6}':<46}namespace {t.client_ns}")
        print(f"  server  {f'{SERVER_V4}, {SERVER_V6}':<46}namespace {t.server_ns}")
        print(f"  sgfw    outside {outside}, inside {inside}, {a.workers} worker{'s' if a.workers > 1 else ''}")
        print(f"  {next(line for line in t.output if line.startswith('sgfw: running')).strip()}")
        demo = Demo(t)
        ok = demo.run()
        time.sleep(1.1)  # one more status line, with the whole run in it
        demo.summary()
        if a.hold:
            print(f"\nholding; try e.g.\n  ip netns exec {t.client_ns} curl http://{SERVER_V4}/\n"
                  f"  ip netns exec {t.client_ns} ping {SERVER_V4}\n"
                  f"  kill -HUP {t.proc.pid}    # reload {POLICY}\nCtrl-C to stop and tear down.", flush=True)
            # Ctrl-C here ends the hold: sgfw's counters are still reported.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            try:
                while t.proc.poll() is None:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                print()
        status_lines = [line for line in t.output if line.startswith("sgfw: gen ")]
        status, output = t.stop()
        print("\nsgfw's last status line:\n  " + (status_lines[-1].strip() if status_lines else "(none)"))
        print("sgfw's counters at exit:")
        final = output[output.find("sgfw: stopped"):] if "sgfw: stopped" in output else output
        print("  " + final.strip().replace("\n", "\n  "))
        if status != 0:
            print(f"sgfw exited with status {status}")
            ok = False
    except Exception as e:  # noqa: BLE001 - report, then tear down
        print(f"demo: {e}", file=sys.stderr)
        ok = False
    finally:
        t.close()
        if demo is not None and demo.root:
            shutil.rmtree(demo.root, ignore_errors=True)
        if policy_dir:
            shutil.rmtree(policy_dir, ignore_errors=True)
        print("torn down: namespaces, veths and processes removed.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
