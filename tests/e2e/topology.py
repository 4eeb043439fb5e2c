"""Two network namespaces joined through sgfw: the end-to-end tests' and the
demo's shared harness.

    client namespace                 root namespace                 server namespace
    c<tag> 10.99.0.1, .100 ==veth== o<tag> [sgfw outside  inside] i<tag> ==veth== s<tag> 10.99.0.2
           fd00:99::1                       (net_af_packet ports)                  fd00:99::2

With ports="tap", sgfw creates tap interfaces itself (net_tap, several
queues) and the harness moves them into the namespaces.

Everything is torn down by close(), which runs on every exit path: the
context manager, atexit, and SIGINT/SIGTERM/SIGHUP handlers installed by
the caller (install_signal_cleanup).  Even a SIGKILL of the harness leaves
no process running: sgfw and everything spawned get SIGTERM when the
harness dies (PR_SET_PDEATHSIG); namespaces are named after the harness's
process id, and stale ones of dead processes are removed on the next setup.
"""

import atexit
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time

SYS_PYTHON = "/usr/bin/python3"  # Debian's, with scapy; not a virtualenv's
CLIENT_V4, ADMIN_V4, SERVER_V4 = "10.99.0.1", "10.99.0.100", "10.99.0.2"
CLIENT_V6, SERVER_V6 = "fd00:99::1", "fd00:99::2"
HERE = os.path.dirname(os.path.abspath(__file__))


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_live = []  # topologies not closed yet, for the signal handler


def die_with_harness():
    """preexec_fn: the child gets SIGTERM when this process dies, however."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def sh(*cmd, check=True, capture=True, timeout=60):
    r = subprocess.run(list(cmd), capture_output=capture, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def remove_stale():
    """Namespaces of earlier runs whose process is gone."""
    out = sh("ip", "netns", "list", check=False).stdout
    for line in out.splitlines():
        m = re.match(r"^(sgfw(\d+)[cs])\b", line)
        if m and not os.path.exists(f"/proc/{m.group(2)}"):
            pids = sh("ip", "netns", "pids", m.group(1), check=False).stdout.split()
            for pid in pids:
                sh("kill", "-9", pid, check=False)
            sh("ip", "netns", "delete", m.group(1), check=False)


class Topology:
    def __init__(self, sgfw, ports="af_packet", tag=None):
        self.sgfw = sgfw
        self.ports = ports
        self.tag = tag or str(os.getpid())
        self.socket = f"/tmp/sgfw{self.tag}.sock"  # the control socket sgfwctl talks to
        self.client_ns = f"sgfw{self.tag}c"
        self.server_ns = f"sgfw{self.tag}s"
        self.out_if, self.in_if = f"o{self.tag}", f"i{self.tag}"
        self.proc = None
        self.output = []
        self.background = []
        self._closed = False
        self._reader = None
        atexit.register(self.close)
        _live.append(self)

    # --- setup -------------------------------------------------------------

    def open(self):
        remove_stale()
        for ns in (self.client_ns, self.server_ns):
            sh("ip", "netns", "add", ns)
            self.ns(ns, "ip", "link", "set", "lo", "up")
        if self.ports == "af_packet":
            for ns, inner, outer in ((self.client_ns, f"c{self.tag}", self.out_if),
                                     (self.server_ns, f"s{self.tag}", self.in_if)):
                sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
                # sgfw's side carries no addresses: no neighbour or router
                # solicitations of its own in the traffic.
                sh("sysctl", "-qw", f"net.ipv6.conf.{outer}.disable_ipv6=1")
                sh("ip", "link", "set", outer, "up")
                self._no_offloads(None, outer)
                self._address(ns, inner)
        return self

    def _no_offloads(self, ns, ifname):
        # veth hands af_packet oversized (TSO/GSO/GRO) or partially
        # checksummed frames; a bump in the wire must see what the wire sees.
        cmd = ["ethtool", "-K", ifname, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"]
        if ns:
            self.ns(ns, *cmd, check=False)
        else:
            sh(*cmd, check=False)

    def _address(self, ns, ifname):
        client = ns == self.client_ns
        self._no_offloads(ns, ifname)
        self.ns(ns, "sysctl", "-qw", f"net.ipv6.conf.{ifname}.accept_dad=0")
        for addr in ((CLIENT_V4, ADMIN_V4) if client else (SERVER_V4,)):
            self.ns(ns, "ip", "addr", "add", f"{addr}/24", "dev", ifname)
        self.ns(ns, "ip", "addr", "add", f"{CLIENT_V6 if client else SERVER_V6}/64", "dev", ifname, "nodad")
        self.ns(ns, "ip", "link", "set", ifname, "up")

    def devargs(self, queues=1):
        if self.ports == "af_packet":
            q = f",qpairs={queues}" if queues > 1 else ""
            return (f"net_af_packet0,iface={self.out_if}{q}", f"net_af_packet1,iface={self.in_if}{q}")
        return (f"net_tap0,iface=t{self.tag}o", f"net_tap1,iface=t{self.tag}i")

    def start(self, config, workers=1, cores=None, extra=()):
        outside, inside = self.devargs(workers)
        cmd = [self.sgfw, "run", "--config", config, "--outside", outside, "--inside", inside,
               "--workers", str(workers), "--eal", f"--file-prefix=sgfw{self.tag}",
               "--control-socket", self.socket, *extra]
        if cores:
            cmd += ["--cores", cores]
        self.output = []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                     preexec_fn=die_with_harness)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.time() + 30
        while time.time() < deadline:
            if any(line.startswith("sgfw: running") for line in self.output):
                break
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise RuntimeError("sgfw did not start:\n" + "".join(self.output))
            time.sleep(0.05)
        else:
            raise RuntimeError("sgfw did not report running within 30 s:\n" + "".join(self.output))
        if self.ports == "tap":
            for ns, tap in ((self.client_ns, f"t{self.tag}o"), (self.server_ns, f"t{self.tag}i")):
                sh("ip", "link", "set", tap, "netns", ns)
                self._address(ns, tap)
        return self

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line)

    def wait_for_output(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in line for line in self.output):
                return True
            time.sleep(0.05)
        return False

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout=15):
        """SIGINT; returns sgfw's exit status and everything it printed."""
        if self.proc is None:
            return None, ""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader:
            self._reader.join(timeout=5)
        self.proc.stdout.close()
        status, self.proc = self.proc.returncode, None
        return status, "".join(self.output)

    # --- traffic -------------------------------------------------------------

    def ns(self, ns, *cmd, check=True, timeout=60):
        return sh("ip", "netns", "exec", ns, *cmd, check=check, timeout=timeout)

    def spawn(self, ns, *cmd, stdin=None):
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=stdin, text=True, preexec_fn=die_with_harness)
        self.background.append(p)
        return p

    def serve(self, *ports, root=None, udp_echo=()):
        """TCP servers in the server namespace (HTTP on 80, plain accept on the
        others), optionally UDP echo; returns when they listen."""
        args = [SYS_PYTHON, os.path.join(HERE, "servers.py"), "--root", root or "/tmp"]
        args += ["--tcp", ",".join(str(p) for p in ports)]
        if udp_echo:
            args += ["--udp-echo", ",".join(str(p) for p in udp_echo)]
        p = self.spawn(self.server_ns, *args)
        line = p.stdout.readline()
        if not line.startswith("listening"):
            raise RuntimeError("servers did not start: " + line + p.stdout.read())
        return p

    def client(self, *cmd, check=False, timeout=60):
        return self.ns(self.client_ns, *cmd, check=check, timeout=timeout)

    def http(self, host, path="/", out="/dev/null", timeout=5):
        """curl from the client namespace: (HTTP status, bytes received,
        curl's exit status); status "000" when nothing came back."""
        url = f"http://[{host}]{path}" if ":" in host else f"http://{host}{path}"
        r = self.client("curl", "-s", "-m", str(timeout), "-o", out, "-w", "%{http_code} %{size_download}", url,
                        timeout=timeout + 10)
        code, size = (r.stdout.split() + ["000", "0"])[:2]
        return code, int(size), r.returncode

    def connect(self, host, port, source=None, timeout=3.0, ns=None):
        """A TCP connect from the client namespace: True when established."""
        args = [SYS_PYTHON, os.path.join(HERE, "probe.py"), "tcp", host, str(port), "--timeout", str(timeout)]
        if source:
            args += ["--source", source]
        r = self.ns(ns or self.client_ns, *args, check=False, timeout=timeout + 10)
        return r.returncode == 0

    # --- teardown ------------------------------------------------------------

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self in _live:
            _live.remove(self)
        try:
            self.stop(timeout=10)
        except Exception:  # noqa: BLE001 - teardown must go on
            pass
        for p in self.background:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=5)
                for f in (p.stdout, p.stdin):
                    if f:
                        f.close()
            except Exception:  # noqa: BLE001
                pass
        for ns in (self.client_ns, self.server_ns):
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                sh("kill", "-9", pid, check=False)
            sh("ip", "netns", "delete", ns, check=False)
        for ifname in (self.out_if, self.in_if):
            sh("ip", "link", "delete", ifname, check=False)

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()


def install_signal_cleanup():
    """Ctrl-C, a kill or a test runner's timeout still tears down every
    topology that is up."""
    def handler(signum, _frame):
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C must not cut the teardown short
        if _live:
            for topology in list(_live):
                topology.close()
            print(f"\ninterrupted (signal {signum}): namespaces, veths and processes removed", file=sys.stderr)
        sys.stdout.flush()
        os._exit(128 + signum)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)
