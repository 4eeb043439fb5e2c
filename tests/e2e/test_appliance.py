"""End-to-end tests: real TCP/IP stacks in two network namespaces, joined
through `sgfw run` on DPDK af_packet (or tap) ports.  One scenario per test;
every test builds and tears down its own topology, also when it fails."""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from topology import (ADMIN_V4, CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6, SYS_PYTHON, Topology,
                      die_with_harness, install_signal_cleanup)

SGFW = os.environ.get("SGFW_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "sgfw"))
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config", "examples")
WEB = os.path.join(EXAMPLES, "web-server.toml")
SGFWCTL = os.path.join(os.path.dirname(SGFW), "sgfwctl")


def setUpModule():  # noqa: N802 - unittest's name
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: network namespaces and raw sockets")
    if not os.path.exists(SGFW):
        raise unittest.SkipTest(f"no sgfw binary at {SGFW} (set SGFW_BIN)")
    # A runner's timeout (SIGTERM) or Ctrl-C mid-test still removes the
    # test's namespaces and processes.
    install_signal_cleanup()


_SCRATCH = tempfile.mkdtemp(prefix="sgfw-e2e-")


def tearDownModule():  # noqa: N802 - unittest's name
    shutil.rmtree(_SCRATCH, ignore_errors=True)


def policy(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False, dir=_SCRATCH)
    f.write(text)
    f.close()
    return f.name


def counter(output, reason):
    m = re.search(rf"^\s+{reason}: (\d+)$", output, re.M)
    return int(m.group(1)) if m else 0


class ApplianceTest(unittest.TestCase):
    ports = "af_packet"

    def topology(self, config=WEB, workers=1, cores=None, extra=()):
        t = Topology(SGFW, ports=self.ports)
        self.addCleanup(t.close)
        t.open()
        t.start(config, workers=workers, cores=cores, extra=extra)
        return t

    def http(self, t, host, path="/", out="/dev/null", timeout=5):
        return t.http(host, path, out, timeout)[0]

    def stop(self, t):
        status, output = t.stop()
        self.assertEqual(status, 0, output)
        return output


class Basics(ApplianceTest):
    def test_allowed_http_gets_its_response(self):
        t = self.topology()
        t.serve(80)
        self.assertEqual(self.http(t, SERVER_V4), "200")
        out = self.stop(t)
        self.assertRegex(out, r"flows: [1-9]\d* open")

    def test_blocked_port_never_connects_and_is_counted(self):
        t = self.topology()
        t.serve(8080)
        self.assertFalse(t.connect(SERVER_V4, 8080, timeout=2))
        out = self.stop(t)
        self.assertGreaterEqual(counter(out, "policy_denied"), 1, out)

    def test_ssh_only_from_the_admin_address(self):
        t = self.topology()
        t.serve(22)
        self.assertTrue(t.connect(SERVER_V4, 22, source=ADMIN_V4))
        self.assertFalse(t.connect(SERVER_V4, 22, source=CLIENT_V4, timeout=2))

    def test_server_connection_out_gets_replies_without_ingress_rule(self):
        t = self.topology()
        listener = t.spawn(t.client_ns, SYS_PYTHON, os.path.join(os.path.dirname(__file__), "servers.py"),
                           "--tcp", "9000", "--udp-echo", "9001")
        self.assertTrue(listener.stdout.readline().startswith("listening"))
        self.assertTrue(t.connect(CLIENT_V4, 9000, ns=t.server_ns))
        r = t.ns(t.server_ns, SYS_PYTHON, os.path.join(os.path.dirname(__file__), "probe.py"), "udp", CLIENT_V4,
                 "9001", "--count", "5", check=False)
        self.assertEqual(r.returncode, 0, r.stdout)
        # ... while the client cannot start one towards the server's 9000.
        t.serve(9000)
        self.assertFalse(t.connect(SERVER_V4, 9000, timeout=2))

    def test_union_of_two_groups(self):
        config = policy("""
[[security_group]]
id = "admins"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  cidr = "10.99.0.100/32"
[[security_group]]
id = "everyone-ssh"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 22
  cidr = "0.0.0.0/0"
[[resource]]
name = "server"
addresses = ["10.99.0.2", "fd00:99::2"]
security_groups = ["admins", "everyone-ssh"]
""")
        t = self.topology(config)
        t.serve(22, 80)
        self.assertTrue(t.connect(SERVER_V4, 22, source=CLIENT_V4))
        self.assertTrue(t.connect(SERVER_V4, 22, source=ADMIN_V4))
        self.assertFalse(t.connect(SERVER_V4, 80, timeout=2))

    def test_ipv6(self):
        t = self.topology()
        t.serve(80, 8080)
        self.assertEqual(self.http(t, SERVER_V6), "200")
        self.assertFalse(t.connect(SERVER_V6, 8080, timeout=2))
        listener = t.spawn(t.client_ns, SYS_PYTHON, os.path.join(os.path.dirname(__file__), "servers.py"),
                           "--tcp", "9000")
        self.assertTrue(listener.stdout.readline().startswith("listening"))
        self.assertTrue(t.connect(CLIENT_V6, 9000, ns=t.server_ns))

    def test_large_download_arrives_intact(self):
        root = tempfile.mkdtemp(dir=_SCRATCH)
        data = os.urandom(8 << 20)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(data)
        got = os.path.join(root, "got.bin")
        t = self.topology()
        t.serve(80, root=root)
        self.assertEqual(self.http(t, SERVER_V4, "/big.bin", out=got, timeout=60), "200")
        with open(got, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest())
        out = self.stop(t)
        self.assertEqual(counter(out, "tcp_invalid"), 0, out)


class TwoWorkersOnTap(ApplianceTest):
    """Multi-queue tap ports: the kernel spreads flows over the queues by
    its own hash, so a flow's two directions can land on different
    workers; the hand-off ring must make no difference."""

    ports = "tap"

    def test_same_results_with_two_workers(self):
        t = self.topology(workers=2, cores="0,1")
        t.serve(80, 22, 8080)
        for i in range(6):
            self.assertEqual(self.http(t, SERVER_V4), "200", f"request {i}")
        self.assertEqual(self.http(t, SERVER_V6), "200")
        self.assertTrue(t.connect(SERVER_V4, 22, source=ADMIN_V4))
        self.assertFalse(t.connect(SERVER_V4, 22, source=CLIENT_V4, timeout=2))
        self.assertFalse(t.connect(SERVER_V4, 8080, timeout=2))
        out = self.stop(t)
        self.assertIn("worker 1:", out)


# 2222 from the client's subnet: a tracked flow (S8); 2223 from anywhere,
# with the default egress: an untracked one.
SSH_RULE = """
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 2222
  cidr = "10.99.0.0/24"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 2223
  cidr = "0.0.0.0/0"
"""
RELOADABLE = """
[[security_group]]
id = "web"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 80
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  protocol = "udp"
  ports = 7
  cidr = "10.99.0.0/24"
{extra}
[[resource]]
name = "server"
addresses = ["10.99.0.2"]
security_groups = ["web"]
"""


class Reload(ApplianceTest):
    def write(self, path, extra):
        with open(path + ".new", "w") as f:
            f.write(RELOADABLE.format(extra=extra))
        os.replace(path + ".new", path)

    def test_reload_adds_and_removes_a_rule_at_once(self):
        path = policy(RELOADABLE.format(extra=""))
        t = self.topology(path)
        t.serve(2222, 2223, 80)
        self.assertFalse(t.connect(SERVER_V4, 2222, timeout=2))
        self.write(path, SSH_RULE)
        t.reload()
        self.assertTrue(t.wait_for_output("generation 2"))
        self.assertTrue(t.connect(SERVER_V4, 2222))
        # Connections opened under the rules; then the rules go.  The
        # tracked one keeps working, the untracked one is cut at once (S8),
        # and a new connection is refused.
        keepers = {}
        for port in (2222, 2223):
            keepers[port] = t.spawn(t.client_ns, SYS_PYTHON, "-c", KEEPER, SERVER_V4, str(port),
                                    stdin=subprocess.PIPE)
            self.assertEqual(keepers[port].stdout.readline().strip(), "connected")
        self.write(path, "")
        t.reload()
        self.assertTrue(t.wait_for_output("generation 3"))
        self.assertFalse(t.connect(SERVER_V4, 2222, timeout=2))
        for port, expected in ((2222, "still talking"), (2223, "broken: timed out")):
            keepers[port].stdin.write("go\n")
            keepers[port].stdin.flush()
            self.assertEqual(keepers[port].stdout.readline().strip(), expected, port)
        out = self.stop(t)
        self.assertGreaterEqual(counter(out, "untracked_cut"), 1, out)

    def test_bad_file_is_rejected_and_changes_nothing(self):
        path = policy(RELOADABLE.format(extra=""))
        t = self.topology(path)
        t.serve(80)
        with open(path, "a") as f:
            f.write('\n[[resource]]\nname = "x"\naddresses = ["10.0.0.300"]\n')
        t.reload()
        self.assertTrue(t.wait_for_output("rejected"))
        self.assertTrue(any(re.search(r"\.toml:\d+:\d+: resource\[1\]\.addresses", line) for line in t.output),
                        "".join(t.output))
        self.assertEqual(self.http(t, SERVER_V4), "200")
        out = self.stop(t)
        self.assertIn("policy generation 1", out)

    def test_watch_reloads_when_the_file_changes(self):
        path = policy("[appliance]\nwatch = true\n" + RELOADABLE.format(extra=""))
        t = self.topology(path)
        t.serve(2222)
        self.assertFalse(t.connect(SERVER_V4, 2222, timeout=2))
        with open(path + ".new", "w") as f:  # written aside, renamed into place
            f.write("[appliance]\nwatch = true\n" + RELOADABLE.format(extra=SSH_RULE))
        os.replace(path + ".new", path)
        self.assertTrue(t.wait_for_output("generation 2", timeout=5), "".join(t.output))
        self.assertTrue(t.connect(SERVER_V4, 2222))

    # The resource first, its groups later: a file cut after the resource
    # still parses (the resource falls back to the default group, which
    # lets nothing in from the client).
    SPLIT_HEAD = '[appliance]\nwatch = true\n[[resource]]\nname = "server"\naddresses = ["10.99.0.2"]\n'
    SPLIT_TAIL = 'security_groups = ["web"]\n' + RELOADABLE.split("[[resource]]")[0].format(extra=SSH_RULE)

    def test_watch_never_reads_a_file_still_being_written(self):
        path = policy(self.SPLIT_HEAD + 'security_groups = ["web"]\n' + RELOADABLE.split("[[resource]]")[0].format(
            extra=""))
        t = self.topology(path)
        t.serve(80, 2222)
        self.assertEqual(self.http(t, SERVER_V4), "200")
        # An editor writing in place: truncated, half written, not closed.
        f = open(path, "w")
        f.write(self.SPLIT_HEAD)
        f.flush()
        os.utime(path)  # a modification time that moved, as a watch by polling would see
        time.sleep(3)
        self.assertFalse(any("generation 2" in line or "rejected" in line for line in t.output), "".join(t.output))
        self.assertEqual(self.http(t, SERVER_V4), "200")
        f.write(self.SPLIT_TAIL)
        f.close()  # done: now it is read
        self.assertTrue(t.wait_for_output("generation 2", timeout=5), "".join(t.output))
        self.assertTrue(t.connect(SERVER_V4, 2222))
        self.assertEqual(self.http(t, SERVER_V4), "200")

    def test_watch_refuses_an_empty_file(self):
        path = policy("[appliance]\nwatch = true\n" + RELOADABLE.format(extra=""))
        t = self.topology(path)
        t.serve(80, 2222)
        self.assertFalse(t.connect(SERVER_V4, 2222, timeout=2))
        open(path, "w").close()  # truncated to nothing, and closed
        self.assertTrue(t.wait_for_output("rejected", timeout=5), "".join(t.output))
        self.assertTrue(any("protects no resource" in line for line in t.output), "".join(t.output))
        # The running policy is untouched: what it blocked stays blocked.
        self.assertFalse(t.connect(SERVER_V4, 2222, timeout=2))
        self.assertEqual(self.http(t, SERVER_V4), "200")
        out = self.stop(t)
        self.assertIn("policy generation 1", out)

    def test_status_line_shows_generation_rates_flows_and_drops(self):
        path = policy(RELOADABLE.format(extra=""))
        t = self.topology(path, extra=("--status-interval", "1"))
        t.serve(80, 8080)
        self.assertEqual(self.http(t, SERVER_V4), "200")
        self.assertFalse(t.connect(SERVER_V4, 8080, timeout=2))
        t.reload()
        self.assertTrue(t.wait_for_output("generation 2"))
        line = re.compile(r"^sgfw: gen 2 \| in [\d.]+ [kM]?pps out [\d.]+ [kM]?pps \| flows \d+ \| "
                          r"dropped [1-9]\d* \(policy_denied [1-9]\d*")
        deadline = time.time() + 5
        while time.time() < deadline and not any(line.match(x) for x in t.output):
            time.sleep(0.2)
        self.assertTrue(any(line.match(x) for x in t.output), "".join(t.output))

    def test_no_packet_lost_during_a_hundred_reloads(self):
        path = policy(RELOADABLE.format(extra=""))
        t = self.topology(path)
        t.serve(udp_echo=(7,))
        probe = t.spawn(t.client_ns, SYS_PYTHON, os.path.join(os.path.dirname(__file__), "probe.py"), "udp",
                        SERVER_V4, "7", "--count", "600", "--interval", "0.005", "--timeout", "1")
        for i in range(100):
            self.write(path, SSH_RULE if i % 2 == 0 else "")
            t.reload()
            self.assertTrue(t.wait_for_output(f"generation {i + 2}", timeout=10), "".join(t.output[-5:]))
        probe.wait(timeout=60)
        result = probe.stdout.read().strip()
        self.assertEqual(result, "sent 600 received 600", result)


# Opens a connection, says "connected", waits for a line on stdin, then
# sends a line and reports whether the echo came back.
KEEPER = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.recv(100)
print("connected", flush=True)
sys.stdin.readline()
try:
    s.sendall(b"ping\\n")
    s.settimeout(3)
    data = s.recv(100)
    print("still talking" if data == b"ping\\n" else f"unexpected {data!r}", flush=True)
except OSError as e:
    print("broken:", e, flush=True)
"""


class LiveChange(ApplianceTest):
    """sgfwctl on a running appliance: a change holds for the very next
    connection; bad requests change nothing; only root may ask."""

    def ctl(self, t, *args, user=None):
        cmd = [SGFWCTL, "--socket", t.socket, *args]
        if user:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr

    def ok(self, t, *args):
        rc, out, err = self.ctl(t, *args)
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def generation(self, t):
        return self.ok(t, "describe-stats")["PolicyGeneration"]

    def raw(self, t, data):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(t.socket)
            s.sendall(data)
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return json.loads(buf)

    def test_authorized_port_connects_at_once_a_hundred_times(self):
        path = policy("[limits]\ningress_rules_per_group = 200\n" + RELOADABLE.format(extra=""))
        t = self.topology(path)
        ports = list(range(3000, 3100))
        t.serve(*ports)
        self.assertFalse(t.connect(SERVER_V4, ports[0], timeout=2))
        for n, port in enumerate(ports):
            r = self.ok(t, "authorize-security-group-ingress", "--group-id", "web", "--protocol", "tcp",
                        "--port", str(port), "--cidr", "10.99.0.0/24")
            self.assertEqual(r["PolicyGeneration"], n + 2)
            # No wait, no retry: the first connection after the reply.
            self.assertTrue(t.connect(SERVER_V4, port, timeout=2), f"port {port}, change {n}")
        # The file holds what runs: a restart would load the same rules.
        with open(path) as f:
            text = f.read()
        self.assertEqual(text.count("ports = 3"), 100, text[:500])
        self.assertEqual(self.stop(t).count("control: AuthorizeSecurityGroupIngress"), 100)

    def test_revoke_keeps_tracked_flows_cuts_untracked_refuses_new(self):
        t = self.topology(policy(RELOADABLE.format(extra=SSH_RULE)))
        t.serve(2222, 2223)
        keepers = {}
        for port in (2222, 2223):
            keepers[port] = t.spawn(t.client_ns, SYS_PYTHON, "-c", KEEPER, SERVER_V4, str(port),
                                    stdin=subprocess.PIPE)
            self.assertEqual(keepers[port].stdout.readline().strip(), "connected")
        for port, cidr in ((2222, "10.99.0.0/24"), (2223, "0.0.0.0/0")):
            self.ok(t, "revoke-security-group-ingress", "--group-id", "web", "--protocol", "tcp", "--port", str(port),
                    "--cidr", cidr)
        self.assertFalse(t.connect(SERVER_V4, 2222, timeout=2))
        for port, expected in ((2222, "still talking"), (2223, "broken: timed out")):
            keepers[port].stdin.write("go\n")
            keepers[port].stdin.flush()
            self.assertEqual(keepers[port].stdout.readline().strip(), expected, port)
        self.stop(t)

    def test_revoke_in_revalidate_mode_cuts_tracked_flows_too(self):
        t = self.topology(policy(RELOADABLE.format(extra=SSH_RULE)))
        t.serve(2222)
        keeper = t.spawn(t.client_ns, SYS_PYTHON, "-c", KEEPER, SERVER_V4, "2222", stdin=subprocess.PIPE)
        self.assertEqual(keeper.stdout.readline().strip(), "connected")
        # describe-flows shows the connection: its state, time left, rule.
        flows = self.ok(t, "describe-flows", "--resource", "server", "--port", "2222")
        self.assertEqual(flows["FlowCount"], 1, flows)
        flow = flows["Flows"][0]
        self.assertEqual((flow["State"], flow["Direction"], flow["Tracked"]), ("tcp_established", "ingress", True))
        self.assertEqual(flow["RemoteAddress"], CLIENT_V4)
        self.assertGreater(flow["TimeLeftSeconds"], 431000)
        rule = flow["SecurityGroupRuleId"]
        self.assertTrue(rule, flow)
        explained = self.ok(t, "explain", "--protocol", "tcp", "--source", CLIENT_V4, "--destination", SERVER_V4,
                            "--source-port", str(flow["RemotePort"]), "--destination-port", "2222")
        self.assertEqual(explained["Checks"][0]["Flow"]["State"], "tcp_established", explained)
        self.ok(t, "revoke-security-group-ingress", "--group-id", "web", "--security-group-rule-ids", rule,
                "--established-flows", "revalidate")
        keeper.stdin.write("go\n")
        keeper.stdin.flush()
        self.assertEqual(keeper.stdout.readline().strip(), "broken: timed out")
        stats = self.ok(t, "describe-stats")
        self.assertGreaterEqual(stats["Drops"].get("revalidate_cut", 0), 1, stats)
        self.assertGreaterEqual(stats["Counters"]["flows_revalidated"], 1, stats)
        self.assertEqual(self.ok(t, "describe-flows", "--port", "2222")["FlowCount"], 0)
        self.stop(t)

    def test_audit_mode_passes_what_enforce_blocks_and_counts_it(self):
        t = self.topology(policy(RELOADABLE.format(extra="")))
        t.serve(80, 5000)
        self.assertFalse(t.connect(SERVER_V4, 5000, timeout=2))
        self.ok(t, "modify-resource-attribute", "--name", "server", "--mode", "audit")
        self.assertEqual(self.ok(t, "describe-resources")["Resources"][0]["Mode"], "audit")
        self.assertTrue(t.connect(SERVER_V4, 5000))
        stats = self.ok(t, "describe-stats")
        self.assertGreaterEqual(stats["Counters"]["audit_would_deny"], 1, stats)
        flows = self.ok(t, "describe-flows", "--port", "5000")
        self.assertGreaterEqual(flows["FlowCount"], 1, flows)
        self.assertEqual(flows["Flows"][0]["Audit"], "would-deny", flows)
        # Allowed traffic is not counted as would-deny.
        before = stats["Counters"]["audit_would_deny"]
        self.assertEqual(self.http(t, SERVER_V4), "200")
        self.assertEqual(self.ok(t, "describe-stats")["Counters"]["audit_would_deny"], before)
        self.ok(t, "modify-resource-attribute", "--name", "server", "--mode", "enforce")
        self.assertFalse(t.connect(SERVER_V4, 5000, timeout=2))
        self.stop(t)

    def test_update_storm_loses_no_packet_of_flows_every_version_allows(self):
        """1000 changes from two clients at once while a TCP and a UDP flow
        that every policy version allows run through: nothing of theirs is
        lost, the final policy is the expected one, the file is what runs."""
        extra = """
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 2222
  cidr = "10.99.0.0/24"
[[security_group]]
id = "extra"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = 9000
  cidr = "10.97.0.0/16"
"""
        path = policy(RELOADABLE.format(extra=extra))
        t = self.topology(path)
        t.serve(2222, udp_echo=(7,))
        before = {verb: self.ok(t, verb) for verb in ("describe-security-groups", "describe-resources")}
        traffic = t.spawn(t.client_ns, SYS_PYTHON, os.path.join(os.path.dirname(__file__), "probe.py"), "steady",
                          SERVER_V4, "2222", "--udp-port", "7", "--interval", "0.005", stdin=subprocess.PIPE)
        time.sleep(1)
        errors = []

        def client(requests):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(30)
                s.connect(t.socket)
                f = s.makefile("rwb")
                for r in requests:
                    f.write(json.dumps(r).encode() + b"\n")
                    f.flush()
                    reply = json.loads(f.readline())
                    if not reply.get("Return"):
                        errors.append((r, reply))

        rules = []  # authorize, revoke (keep or revalidate), 250 times
        for i in range(250):
            rule = {"GroupId": "web", "Protocol": "tcp", "Port": str(6000 + i), "Cidr": "10.98.0.0/24"}
            rules.append({"Action": "AuthorizeSecurityGroupIngress", **rule})
            rules.append({"Action": "RevokeSecurityGroupIngress", **rule,
                          "EstablishedFlows": "revalidate" if i % 2 else "keep"})
        members = []  # membership in and out, reloads, other edits, 125 times
        for i in range(125):
            members += [{"Action": "ModifyResourceAttribute", "Name": "server", "Groups": ["web", "extra"]},
                        {"Action": "ModifyResourceAttribute", "Name": "server", "Groups": ["web"],
                         "EstablishedFlows": "revalidate"},
                        {"Action": "Reload"},
                        {"Action": "ModifyResourceAttribute", "Name": "server", "Description": f"edit {i}"}]
        threads = [threading.Thread(target=client, args=(reqs,)) for reqs in (rules, members)]
        started = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        took = time.monotonic() - started
        time.sleep(0.5)
        traffic.stdin.write("stop\n")
        traffic.stdin.flush()
        seen = json.loads(traffic.stdout.readline())
        self.assertEqual(errors, [], errors[:3])
        self.assertEqual(seen["tcp_error"], "", seen)
        self.assertEqual(seen["tcp_wrong"], 0, seen)
        self.assertGreater(seen["tcp_sent"], 100, seen)
        self.assertEqual(seen["udp_received"], seen["udp_sent"], seen)
        stats = self.ok(t, "describe-stats")
        self.assertEqual(stats["PolicyGeneration"], 1001, stats)
        for reason in ("policy_denied", "untracked_cut", "revalidate_cut", "tcp_invalid", "tx_failed"):
            self.assertEqual(stats["Drops"].get(reason, 0), 0, (reason, stats["Drops"]))
        self.assertGreater(stats["Counters"]["flows_revalidated"], 0, stats)
        # The expected policy runs, and the file holds it: a reload of it
        # changes nothing.
        after = {verb: self.ok(t, verb) for verb in ("describe-security-groups", "describe-resources")}
        before["describe-resources"]["Resources"][0]["Description"] = "edit 124"
        for verb in before:
            before[verb].pop("PolicyGeneration", None)
            after[verb].pop("PolicyGeneration", None)
        self.assertEqual(after, before)
        self.assertEqual(self.ok(t, "reload")["PolicyGeneration"], 1002)
        again = {verb: self.ok(t, verb) for verb in ("describe-security-groups", "describe-resources")}
        for verb in again:
            again[verb].pop("PolicyGeneration", None)
        self.assertEqual(again, after)
        print(f"\n  update storm: 1000 changes in {took:.1f} s; traffic {seen}", flush=True)
        self.stop(t)

    def test_group_membership_and_references_follow_the_cli(self):
        t = self.topology(policy(RELOADABLE.format(extra="")))
        t.serve(5000)
        self.ok(t, "create-security-group", "--group-id", "app")
        self.ok(t, "authorize-security-group-ingress", "--group-id", "app", "--protocol", "tcp", "--port", "5000",
                "--cidr", "10.99.0.1/32")
        self.assertFalse(t.connect(SERVER_V4, 5000, timeout=2))
        self.ok(t, "modify-resource-attribute", "--name", "server", "--groups", "web", "app")
        self.assertTrue(t.connect(SERVER_V4, 5000))
        self.ok(t, "modify-resource-attribute", "--name", "server", "--groups", "web")
        self.assertFalse(t.connect(SERVER_V4, 5000, timeout=2))
        # A reference to a group follows its members: the client becomes one.
        self.ok(t, "authorize-security-group-ingress", "--group-id", "web", "--protocol", "tcp", "--port", "5000",
                "--source-group", "app")
        self.assertFalse(t.connect(SERVER_V4, 5000, timeout=2))
        self.ok(t, "create-resource", "--name", "client", "--addresses", CLIENT_V4, "--groups", "app",
                "--side", "outside")
        self.assertTrue(t.connect(SERVER_V4, 5000))
        self.ok(t, "delete-resource", "--name", "client")
        self.assertFalse(t.connect(SERVER_V4, 5000, timeout=2))
        self.stop(t)

    def test_bad_requests_change_nothing_and_others_are_served(self):
        path = policy(RELOADABLE.format(extra=""))
        t = self.topology(path)
        t.serve(80)
        with open(path) as f:
            before = f.read()
        # A client that connects and sends nothing holds no one up.
        idle = socket.socket(socket.AF_UNIX)
        self.addCleanup(idle.close)
        idle.connect(t.socket)
        cases = [
            (("authorize-security-group-ingress", "--group-id", "nope", "--protocol", "tcp", "--port", "22",
              "--cidr", "10.0.0.0/8"), "InvalidGroup.NotFound"),
            (("authorize-security-group-ingress", "--group-id", "web", "--protocol", "tcp", "--port", "80",
              "--cidr", "0.0.0.0/0"), "InvalidPermission.Duplicate"),
            (("revoke-security-group-ingress", "--group-id", "web", "--protocol", "tcp", "--port", "81",
              "--cidr", "0.0.0.0/0"), "InvalidPermission.NotFound"),
            (("authorize-security-group-ingress", "--group-id", "web", "--protocol", "tcp", "--port", "22",
              "--cidr", "10.0.0.0/33"), "InvalidParameterValue"),
            (("delete-security-group", "--group-id", "web"), "DependencyViolation"),
        ]
        for args, code in cases:
            rc, _, err = self.ctl(t, *args)
            self.assertEqual(rc, 1, err)
            self.assertTrue(err.startswith(f"sgfwctl: {code}: "), err)
        self.assertEqual(self.raw(t, b"this is not json\n")["Error"]["Code"], "InvalidRequest")
        self.assertEqual(self.raw(t, b"{" + b" " * (2 << 20))["Error"]["Code"], "RequestTooLarge")
        deep = b'{"Action":"DescribeStats","RequestId":' + b"[" * 100000 + b"]" * 100000 + b"}\n"
        self.assertEqual(self.raw(t, deep)["Error"]["Code"], "InvalidRequest")
        # A client that sends thousands of requests and reads no reply costs
        # bounded memory and holds no one else up.
        flood = socket.socket(socket.AF_UNIX)
        self.addCleanup(flood.close)
        flood.connect(t.socket)
        flood.setblocking(False)
        try:
            for _ in range(20000):
                flood.send(b'{"Action":"DescribeSecurityGroups"}\n')
        except BlockingIOError:
            pass  # its socket is full: sgfw stopped reading it
        started = time.time()
        self.assertEqual(self.generation(t), 1)
        self.assertLess(time.time() - started, 10)
        rc, _, err = self.ctl(t, "no-such-verb")
        self.assertEqual(rc, 2, err)
        rc, _, err = self.ctl(t, "--socket", "/tmp/sgfw-no-such.sock", "describe-stats")
        self.assertEqual(rc, 3, err)
        # Only root: nobody is refused, and changes nothing.
        rc, _, err = self.ctl(t, "create-security-group", "--group-id", "x", user="65534")
        self.assertEqual(rc, 1, err)
        self.assertIn("AccessDenied", err)
        self.assertEqual(oct(os.stat(t.socket).st_mode & 0o777), "0o600")
        self.assertEqual(self.generation(t), 1)
        with open(path) as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(self.http(t, SERVER_V4), "200")
        self.stop(t)

    def test_restart_after_changes_runs_the_same_policy(self):
        path = policy(RELOADABLE.format(extra=""))
        t = self.topology(path)
        self.ok(t, "authorize-security-group-ingress", "--group-id", "web", "--protocol", "tcp", "--port", "6000",
                "--cidr", "10.99.0.0/24")
        rules = self.ok(t, "describe-security-group-rules")["SecurityGroupRules"]
        self.stop(t)
        t.start(path)
        t.serve(6000)
        self.assertEqual(self.ok(t, "describe-security-group-rules")["SecurityGroupRules"], rules)
        self.assertTrue(t.connect(SERVER_V4, 6000))
        self.stop(t)


class Telemetry(ApplianceTest):
    """sgfw's commands on DPDK's telemetry socket, asked by a client of the
    socket as dpdk-telemetry.py asks: the figures follow the traffic."""

    def telemetry(self, t, *commands):
        """Each command's answer; commands are bytes or text."""
        path = f"/var/run/dpdk/sgfw{t.tag}/dpdk_telemetry.v2"
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(10)
            s.connect(path)
            hello = json.loads(s.recv(16384))
            self.assertIn("max_output_len", hello)
            out = []
            for c in commands:
                c = c if isinstance(c, bytes) else c.encode()
                s.send(c)
                # Strict JSON: an invalid escape or a raw control character fails.
                reply = json.loads(s.recv(hello["max_output_len"]).decode("utf-8"))
                out.append(reply[c.split(b",")[0].decode()])
            return out

    def test_stats_rules_resources_and_flows_follow_the_traffic(self):
        t = self.topology()
        t.serve(80)
        before, = self.telemetry(t, "/sgfw/stats")
        self.assertEqual(self.http(t, SERVER_V4), "200")
        self.assertEqual(self.http(t, SERVER_V6), "200")
        self.assertFalse(t.connect(SERVER_V4, 8080, timeout=1))
        self.assertFalse(t.connect(SERVER_V6, 8080, timeout=1))
        stats, workers, resources, rules, flows, web = self.telemetry(
            t, "/sgfw/stats", "/sgfw/workers", "/sgfw/resources", "/sgfw/rules", "/sgfw/flows", "/sgfw/rules,web")
        self.assertGreater(stats["Counters"]["rx"], before["Counters"]["rx"])
        self.assertGreaterEqual(stats["Counters"]["flows_created"], 2)
        self.assertGreaterEqual(stats["Drops"]["policy_denied"], 2, stats)
        self.assertEqual(stats["PolicyGeneration"], 1)
        self.assertGreater(workers["0"]["Counters"]["rx"], before["Counters"]["rx"])
        self.assertEqual(resources["0"]["Name"], "web-1")
        self.assertGreaterEqual(resources["0"]["FlowsCreated"], 2)
        self.assertGreater(resources["0"]["ConntrackAllowanceAvailable"], 0)
        # Port 80's rules (IPv4 and IPv6) each opened one flow.
        http = [r for r in rules.values() if r.get("FromPort") == 80]
        self.assertEqual(len(http), 2, rules)
        for r in http:
            self.assertGreaterEqual(r["FlowsOpened"], 1, r)
            self.assertGreater(r["Packets"], 0, r)
            self.assertNotEqual(r["LastHit"], "", r)
        self.assertTrue(all(r["GroupId"] == "web" for r in web.values()))
        self.assertGreaterEqual(len(flows), 2, flows)
        self.stop(t)

    def test_unknown_group_and_parameters_get_an_error_not_a_crash(self):
        t = self.topology()
        missing, nothing, flows = self.telemetry(t, "/sgfw/rules,no-such-group", "/sgfw/resources,nope",
                                                 "/sgfw/flows," + "x" * 200)
        self.assertEqual(missing["Error"]["Code"], "InvalidGroup.NotFound")
        self.assertEqual(nothing, [])
        self.assertIn("Error", flows)
        # Bytes telemetry's writer cannot escape, echoed in the errors, in
        # group and resource names: still JSON, as '?'.
        hostile = b"\xc3\xa9\xff\x01\x1f\\\"x"
        group, resource = self.telemetry(t, b"/sgfw/rules," + hostile, b"/sgfw/flows," + hostile)
        self.assertEqual(group["Error"]["Code"], "InvalidGroup.NotFound")
        self.assertNotIn("\x01", json.dumps(group))
        self.assertIn("Error", resource)
        self.stop(t)

    def test_commands_are_off_when_the_runtime_folder_is_open_to_others(self):
        # EAL takes a runtime folder that exists as it is, and the socket
        # checks no one: one that others may enter gets no sgfw commands.
        t = Topology(SGFW, ports=self.ports)
        self.addCleanup(t.close)
        t.open()
        folder = f"/var/run/dpdk/sgfw{t.tag}"
        os.makedirs(folder, exist_ok=True)
        os.chmod(folder, 0o755)
        self.addCleanup(shutil.rmtree, folder, True)
        t.start(WEB)
        stats, = self.telemetry(t, "/sgfw/stats")
        self.assertIsNone(stats)  # telemetry's answer to a command it does not know
        out = self.stop(t)
        self.assertIn("telemetry commands are off", out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    """The /metrics text as {(name, frozenset(labels)): value}, and the text."""
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
        text = r.read().decode()
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = frozenset(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, text


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


class Metrics(ApplianceTest):
    """The Prometheus endpoint, scraped during real traffic: promtool
    accepts it, the counters move as the traffic does, and a real
    Prometheus server scrapes it."""

    def test_scraped_during_traffic_it_passes_promtool_and_follows_the_traffic(self):
        port = free_port()
        t = self.topology(extra=("--metrics-listen", f"127.0.0.1:{port}"))
        t.serve(80)
        before, text = scrape(port)
        self.assertEqual(value(before, "sgfw_policy_generation"), 1)
        self.assertEqual(self.http(t, SERVER_V4), "200")
        self.assertEqual(self.http(t, SERVER_V6), "200")
        self.assertFalse(t.connect(SERVER_V4, 8080, timeout=1))
        self.assertFalse(t.connect(SERVER_V6, 8080, timeout=1))
        after, text = scrape(port)
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        for direction in ("rx", "tx"):
            for side in ("outside", "inside"):
                self.assertGreater(value(after, "sgfw_packets_total", port=side, direction=direction),
                                   value(before, "sgfw_packets_total", port=side, direction=direction))
        self.assertGreaterEqual(value(after, "sgfw_drops_total", reason="policy_denied"),
                                value(before, "sgfw_drops_total", reason="policy_denied") + 2)
        self.assertGreaterEqual(value(after, "sgfw_flows_created_total", resource="web-1"), 2)
        self.assertGreater(value(after, "sgfw_worker_rx_total", worker="0"),
                           value(before, "sgfw_worker_rx_total", worker="0"))
        self.assertGreater(value(after, "sgfw_worker_cycles_total", worker="0"), 0)
        # Port 80's rules (one per family) each opened a flow and have a last hit.
        opened = {dict(k[1])["rule"]: v for k, v in after.items()
                  if k[0] == "sgfw_rule_flows_opened_total" and dict(k[1])["group"] == "web" and v > 0}
        self.assertEqual(len(opened), 2, opened)
        for rule in opened:
            hit = value(after, "sgfw_rule_last_hit_timestamp_seconds", group="web", rule=rule, direction="ingress")
            self.assertIsNotNone(hit, rule)
            self.assertLess(abs(hit - time.time()), 120)
        out = self.stop(t)
        self.assertNotIn("cannot listen", out)

    def test_a_real_prometheus_scrapes_it(self):
        prometheus = shutil.which("prometheus")
        if not prometheus:
            self.skipTest("no prometheus binary (setup.sh installs Debian's prometheus)")
        port, web = free_port(), free_port()
        t = self.topology(extra=("--metrics-listen", f"127.0.0.1:{port}"))
        folder = tempfile.mkdtemp(prefix="prom-", dir=_SCRATCH)
        with open(os.path.join(folder, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: sgfw\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{port}']\n")
        p = subprocess.Popen([prometheus, f"--config.file={folder}/prometheus.yml",
                              f"--storage.tsdb.path={folder}/data", f"--web.listen-address=127.0.0.1:{web}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_harness)
        self.addCleanup(lambda: (p.kill(), p.wait()))
        import urllib.parse
        import urllib.request

        def query(q):
            url = f"http://127.0.0.1:{web}/api/v1/query?" + urllib.parse.urlencode({"query": q})
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())["data"]["result"]

        result = []
        deadline = time.time() + 60
        while time.time() < deadline and not result:
            time.sleep(1)
            try:
                result = query('up{job="sgfw"} == 1 and on() sgfw_policy_generation == 1')
            except OSError:
                pass  # not listening yet
        self.assertTrue(result, "Prometheus did not scrape sgfw within 60 s")
        drops = query('count(sgfw_drops_total{job="sgfw"})')
        self.assertGreater(float(drops[0]["value"][1]), 10)
        # Every query of the shipped Grafana dashboard is valid PromQL on
        # these series (Prometheus answers an error otherwise).
        dashboard = os.path.join(EXAMPLES, "..", "grafana", "sgfw-dashboard.json")
        with open(dashboard) as f:
            panels = json.load(f)["panels"]
        exprs = [tgt["expr"] for p in panels for tgt in p["targets"]]
        self.assertGreater(len(exprs), 10)
        for e in exprs:
            query(e.replace("$instance", ".*"))
        self.assertTrue(query('sgfw_policy_generation{instance=~".*"}'))
        self.stop(t)


class Lifecycle(unittest.TestCase):
    """Start failures: one clear line, a non-zero exit, before any traffic."""

    def run_sgfw(self, *args):
        r = subprocess.run([SGFW, "run", "--config", WEB, *args], capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def test_port_that_cannot_be_opened(self):
        rc, out = self.run_sgfw("--outside", "net_af_packet0,iface=sgfw-no-such-if", "--inside", "net_null0",
                                "--eal", f"--file-prefix=sgfwlc{os.getpid()}")
        self.assertNotEqual(rc, 0)
        self.assertIn("cannot open the outside port 'net_af_packet0,iface=sgfw-no-such-if'", out)

    def test_core_that_does_not_exist(self):
        rc, out = self.run_sgfw("--outside", "net_null0", "--inside", "net_null1", "--cores", "999")
        self.assertEqual(rc, 1)
        self.assertIn("core 999 for worker 0 does not exist", out)

    def test_too_few_queues(self):
        rc, out = self.run_sgfw("--outside", "net_pcap0,iface=lo", "--inside", "net_null0", "--workers", "2",
                                "--cores", "0,1", "--eal", f"--file-prefix=sgfwlq{os.getpid()}")
        self.assertNotEqual(rc, 0)
        self.assertRegex(out, r"the outside port .* has 1 RX and 1 TX queues; 2 workers need one of each")

    def test_empty_file_starts_nothing(self):
        path = policy("")
        r = subprocess.run([SGFW, "run", "--config", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{path}:1:1: resource: the policy protects no resource", r.stderr)
        r = subprocess.run([SGFW, "check", "--config", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)

    def test_bad_config_names_file_line_column(self):
        bad = policy('[[resource]]\nname = "x"\naddresses = ["10.0.0.1/33"]\n')
        r = subprocess.run([SGFW, "run", "--config", bad, "--outside", "net_null0", "--inside", "net_null1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, re.escape(bad) + r":3:\d+: resource\[0\]\.addresses")

    def test_sigterm_stops_cleanly_with_counters(self):
        p = subprocess.Popen([SGFW, "run", "--config", WEB, "--outside", "net_null0", "--inside", "net_null1",
                              "--eal", f"--file-prefix=sgfwlt{os.getpid()}"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, preexec_fn=die_with_harness)

        def kill():
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.addCleanup(kill)
        first = ""
        deadline = time.time() + 20
        while time.time() < deadline and not first.startswith("sgfw: running"):
            first = p.stdout.readline()
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("packets: received", out)


if __name__ == "__main__":
    unittest.main()
