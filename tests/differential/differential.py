#!/usr/bin/python3
"""Differential test: sgfw against Linux netfilter, packet by packet.

    differential.py --replay BUILD/tests/sgfw_replay [--cases N] [--seed S] [--keep DIR]

Each case is a random security-group policy (tests/differential's own
generator: groups with tcp/udp/icmp/protocol/all rules, CIDR, prefix-list
and group peers, default, empty and explicit egress; two resources inside,
one on the outside) and random traffic between hosts on the two sides:
TCP connections with handshakes, data, FIN or RST closes (exact, in the
window, blind), UDP exchanges, ICMP echo, GRE, ICMP errors quoting earlier
packets (back to the sender or not), unsolicited segments and replies,
spoofed resource sources from the wrong port, and packets of established
flows from the other port.

Linux: a bridge in a network namespace of its own, br_netfilter,
conntrack with nf_conntrack_tcp_loose = 0, and the policy translated by
nft_policy.py; every frame is sent into one bridge port with a raw socket
and looked for at the other, an ARP marker after it telling when it is
not coming.  sgfw: the same frames through one worker over ring ports
(sgfw_replay, the appliance's own worker code).  Every frame's verdict must
agree, except the divergences listed in DIVERGENCES (none of which this
generator produces: they are kept out by construction, and each is pinned
by a test of sgfw of its own).  Needs root; exits 0 when every verdict
agrees, 1 with the mismatches otherwise, 77 (skipped) without root.
"""

import argparse
import ctypes
import os
import random
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nft_policy  # noqa: E402

os.environ.setdefault("SCAPY_USE_LIBPCAP", "no")
import logging  # noqa: E402

logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.all import (ARP, GRE, ICMP, IP, TCP, UDP, Ether, ICMPv6DestUnreach, ICMPv6EchoReply,  # noqa: E402
                       ICMPv6EchoRequest, ICMPv6PacketTooBig, ICMPv6TimeExceeded, IPv6, Raw, raw)

# Where sgfw and Linux are known to differ, and why none of it is
# generated here (docs/semantics.md has the full list).
DIVERGENCES = [
    "Untracked flows (S8) are cut by sgfw when a rule change no longer allows them; Linux keeps every "
    "flow. Not generated: no policy changes within a case (tests/pipeline/stateful_test.cpp pins it).",
    "TCP data outside the receiver's window: Linux drops it (INVALID), sgfw forwards it (liberal window "
    "tracking, the end host drops it). Not generated: data stays in the window.",
    "A RST between the receiver's acknowledged point and the window's start from the sender's end: Linux "
    "drops it, sgfw forwards it (it checks around where the sender stands). Not generated: RSTs are exact, "
    "a little ahead in the window, or far off.",
    "A packet of a flow that has not seen its reply, arriving again from the other port: Linux judges it "
    "as new (and its egress as spoofed), sgfw as the flow's. Not generated: packets come from another port "
    "only once a flow is established, and spoofed conversations use ports of their own.",
    "Two resources behind the same port: sgfw judges and forwards their packets; a bridge forwards nothing "
    "back out of the port it came in on. Not generated: conversations cross the bridge.",
    "Per-resource state (S1): sgfw tracks a flow between two resources once for each, Linux once. The "
    "verdicts are the same unless one side's state changes alone, which takes a policy change.",
    "Neighbour discovery, multicast, fragments, land packets, other ethertypes: sgfw's own rules (S9, S10), "
    "pinned by tests/pipeline/adversarial_test.cpp; a bridge handles them its own way. Not generated.",
]

OUTSIDE_MAC = "02:00:00:00:0d:01"  # every frame sent into the outside port comes from here
INSIDE_MAC = "02:00:00:00:0d:02"

HOSTS = {
    # name: (IPv4, IPv6, port side); resources first
    "web-a": ("10.0.1.1", "fd00:1::1", "inside"),
    "web-b": ("10.0.1.2", "fd00:1::2", "inside"),
    "partner": ("10.0.9.9", "fd00:9::9", "outside"),
    "remote1": ("203.0.113.1", "2001:db8::1", "outside"),
    "remote2": ("203.0.113.2", "2001:db8::2", "outside"),
    "remote3": ("198.51.100.3", "2001:db8:5::3", "outside"),
    "router": ("192.0.2.254", "2001:db8:ff::1", "outside"),
    "inner-router": ("10.0.1.254", "fd00:1::fe", "inside"),
}
RESOURCES = ["web-a", "web-b", "partner"]
PEERS = {4: ["0.0.0.0/0", "203.0.113.0/30", "203.0.113.2/32", "10.0.9.0/24", "198.51.100.0/24", "10.0.1.0/24"],
         6: ["::/0", "2001:db8::/126", "2001:db8::2/128", "fd00:9::/64", "2001:db8:5::/48", "fd00:1::/64"]}
PORTS = [22, 80, 443, 53, 5000, "1000-2000", "all"]
TRAFFIC_PORTS = [22, 53, 80, 443, 1500, 5000, 8080]


# --- policies -------------------------------------------------------------------


def random_rule(rng, direction, groups):
    kind = rng.choice(["tcp", "tcp", "udp", "icmp", "icmpv6", "all", "gre", "group"])
    rule = {}
    fam = rng.choice([4, 6])
    if kind == "group":
        rule["protocol"] = rng.choice(["tcp", "udp", "all"])
        rule["security_group"] = rng.choice(groups)
        if rule["protocol"] in ("tcp", "udp"):
            rule["ports"] = rng.choice(PORTS)
        return rule
    if kind in ("tcp", "udp"):
        rule["protocol"] = kind
        rule["ports"] = rng.choice(PORTS)
    elif kind in ("icmp", "icmpv6"):
        fam = 4 if kind == "icmp" else 6
        rule["protocol"] = kind
        t = rng.choice([None, "echo", "reply", "error"])
        if t is not None:
            rule["icmp_type"] = {("echo", 4): 8, ("reply", 4): 0, ("error", 4): 3,
                                 ("echo", 6): 128, ("reply", 6): 129, ("error", 6): 2}[(t, fam)]
    elif kind == "gre":
        rule["protocol"] = 47
    else:
        rule["protocol"] = "all"
    if kind != "gre" and rng.random() < 0.15 and fam == 4:
        rule["prefix_list"] = "pl"
    else:
        rule["cidr"] = rng.choice(PEERS[fam])
    return rule


def rule_key(r):
    return (str(r.get("protocol")), str(r.get("ports")), str(r.get("icmp_type")), r.get("cidr"), r.get("prefix_list"),
            r.get("security_group"))


def random_policy(rng):
    groups = ["g0", "g1", "g2"]
    doc = {"prefix_list": [{"id": "pl", "entries": ["203.0.113.1/32", "10.0.9.9/32"]}], "security_group": [],
           "resource": []}
    for g in groups:
        group = {"id": g}
        for direction in ("ingress", "egress"):
            if direction == "egress":
                roll = rng.random()
                if roll < 0.35:
                    continue  # the default egress
                if roll < 0.5:
                    group["egress"] = []
                    continue
            rules, seen = [], set()
            for _ in range(rng.randint(0, 5) if direction == "ingress" else rng.randint(1, 3)):
                r = random_rule(rng, direction, groups)
                if rule_key(r) not in seen:
                    seen.add(rule_key(r))
                    rules.append(r)
            group[direction] = rules
        doc["security_group"].append(group)
    for name in RESOURCES:
        v4, v6, side = HOSTS[name]
        res = {"name": name, "addresses": [v4, v6], "security_groups": rng.sample(groups, rng.randint(1, 2))}
        if side == "outside":
            res["side"] = "outside"
        doc["resource"].append(res)
    return doc


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return '"' + str(v) + '"'


def to_toml(doc):
    out = []
    for pl in doc["prefix_list"]:
        out += ["[[prefix_list]]"] + [f"{k} = {toml_value(v)}" for k, v in pl.items()] + [""]
    for g in doc["security_group"]:
        out.append("[[security_group]]")
        out.append(f'id = "{g["id"]}"')
        if g.get("egress") == []:
            out.append("egress = []")
        for direction in ("ingress", "egress"):
            for r in g.get(direction, []):
                out.append(f"  [[security_group.{direction}]]")
                out += [f"  {k} = {toml_value(v)}" for k, v in r.items()]
        out.append("")
    for r in doc["resource"]:
        out += ["[[resource]]"] + [f"{k} = {toml_value(v)}" for k, v in r.items()] + [""]
    return "\n".join(out) + "\n"


# --- traffic --------------------------------------------------------------------


class Traffic:
    """Frames in the order they are sent: (port, bytes, what)."""

    def __init__(self, rng, fam):
        self.rng = rng
        self.fam = fam
        self.frames = []
        self.quotable = []  # (IP packet bytes, what) of earlier packets, for ICMP errors
        self.next_port = 20000

    def addr(self, host):
        return HOSTS[host][0 if self.fam == 4 else 1]

    def port_of(self, host, spoofed=False):
        side = HOSTS[host][2]
        if spoofed:
            side = "outside" if side == "inside" else "inside"
        return side

    def ip(self, src, dst, **kw):
        return IP(src=self.addr(src), dst=self.addr(dst), **kw) if self.fam == 4 else \
            IPv6(src=self.addr(src), dst=self.addr(dst), **kw)

    def emit(self, port, pkt, what, quotable=True):
        mac_src, mac_dst = (OUTSIDE_MAC, INSIDE_MAC) if port == "outside" else (INSIDE_MAC, OUTSIDE_MAC)
        frame = raw(Ether(src=mac_src, dst=mac_dst) / pkt)
        self.frames.append((port, frame, what))
        if quotable:
            self.quotable.append((raw(pkt), what))

    def fresh_port(self):
        self.next_port += 1
        return self.next_port

    # A TCP connection; `close`: fin, rst (exact), rst-window (in the window,
    # not exact, then more data), blind (far off), none.
    def tcp(self, client, server, dport, close, spoofed=False, asymmetric=False):
        sport = self.fresh_port()
        c_isn, s_isn = self.rng.randrange(1 << 32), self.rng.randrange(1 << 32)
        cp, sp = self.port_of(client, spoofed), self.port_of(server)
        w = f"tcp {client}:{sport} -> {server}:{dport}"

        def seg(frm, flags, seq, ack, data=b"", opts=None):
            src, dst = (client, server) if frm == "c" else (server, client)
            ports = (sport, dport) if frm == "c" else (dport, sport)
            t = TCP(sport=ports[0], dport=ports[1], flags=flags, seq=seq % (1 << 32), ack=ack % (1 << 32),
                    window=65535, options=opts or [])
            return self.ip(src, dst) / t / Raw(data) if data else self.ip(src, dst) / t

        opts = [("MSS", 1460), ("WScale", 7)]
        self.emit(cp, seg("c", "S", c_isn, 0, opts=opts), w + " SYN")
        self.emit(sp, seg("s", "SA", s_isn, c_isn + 1, opts=opts), w + " SYN-ACK")
        c, s = c_isn + 1, s_isn + 1
        self.emit(cp, seg("c", "A", c, s), w + " ACK")
        self.emit(cp, seg("c", "PA", c, s, b"q" * 100), w + " data")
        c += 100
        self.emit(sp, seg("s", "A", s, c), w + " ACK of data")
        self.emit(sp, seg("s", "PA", s, c, b"r" * 200), w + " answer")
        s += 200
        # The client's ACK, from the other port when asked (asymmetric
        # routing, once the flow is established).
        self.emit(self.port_of(client, not spoofed) if asymmetric else cp, seg("c", "A", c, s),
                  w + (" ACK via the other port" if asymmetric else " ACK of answer"))
        if close == "fin":
            self.emit(cp, seg("c", "FA", c, s), w + " FIN")
            self.emit(sp, seg("s", "A", s, c + 1), w + " ACK of FIN")
            self.emit(sp, seg("s", "FA", s, c + 1), w + " FIN back")
            self.emit(cp, seg("c", "A", c + 1, s + 1), w + " last ACK")
        elif close == "rst":
            self.emit(sp, seg("s", "R", s, 0), w + " RST (exact)")
        elif close == "rst-window":
            self.emit(sp, seg("s", "R", s + self.rng.randint(1, 1000), 0), w + " RST in the window")
            self.emit(cp, seg("c", "PA", c, s, b"z" * 10), w + " data after the RST")
            self.emit(sp, seg("s", "A", s, c + 10), w + " its ACK")
        elif close == "blind":
            self.emit(sp, seg("s", "R", s + (1 << 30), 0), w + " blind RST")
            self.emit(cp, seg("c", "PA", c, s, b"z" * 10), w + " data after it")

    def udp(self, client, server, dport, spoofed=False):
        sport = self.fresh_port()
        cp, sp = self.port_of(client, spoofed), self.port_of(server)
        w = f"udp {client}:{sport} -> {server}:{dport}"
        for i in range(2):
            self.emit(cp, self.ip(client, server) / UDP(sport=sport, dport=dport) / Raw(b"u" * 20), w + f" request {i}")
            self.emit(sp, self.ip(server, client) / UDP(sport=dport, dport=sport) / Raw(b"v" * 20), w + f" reply {i}")

    def echo(self, client, server, spoofed=False):
        ident = self.fresh_port()
        cp, sp = self.port_of(client, spoofed), self.port_of(server)
        w = f"echo {client} -> {server} id {ident}"
        if self.fam == 4:
            req, rep, other = ICMP(type=8, id=ident, seq=1), ICMP(type=0, id=ident, seq=1), ICMP(type=0, id=ident + 1)
        else:
            req, rep = ICMPv6EchoRequest(id=ident, seq=1), ICMPv6EchoReply(id=ident, seq=1)
            other = ICMPv6EchoReply(id=ident + 1, seq=1)
        self.emit(cp, self.ip(client, server) / req, w + " request")
        self.emit(sp, self.ip(server, client) / rep, w + " reply")
        self.emit(sp, self.ip(server, client) / other, w + " reply with another id")

    def gre(self, client, server):
        cp, sp = self.port_of(client), self.port_of(server)
        w = f"gre {client} -> {server}"
        self.emit(cp, self.ip(client, server) / GRE(proto=0x0800) / Raw(b"g" * 24), w)
        self.emit(sp, self.ip(server, client) / GRE(proto=0x0800) / Raw(b"h" * 24), w + " back")

    def unsolicited(self, src, dst):
        sport, dport = self.fresh_port(), self.rng.choice(TRAFFIC_PORTS)
        flags = self.rng.choice(["A", "SA", "R", "RA", "FA", "S"])
        w = f"unsolicited tcp {flags} {src}:{sport} -> {dst}:{dport}"
        self.emit(self.port_of(src), self.ip(src, dst) / TCP(sport=sport, dport=dport, flags=flags,
                                                             seq=self.rng.randrange(1 << 32),
                                                             ack=self.rng.randrange(1 << 32)), w)

    def error(self):
        if not self.quotable:
            return
        quoted, what = self.rng.choice(self.quotable)
        q = IP(quoted) if self.fam == 4 else IPv6(quoted)
        qsrc = q.src
        back = self.rng.random() < 0.6
        holder = [h for h in HOSTS if self.addr(h) == qsrc]
        if not holder:
            return
        # Not back to the sender: most often to another resource, the
        # case an attacker would try (an error naming someone else's flow).
        others = [h for h in HOSTS if h not in (holder[0], "router", "inner-router")]
        to = holder[0] if back else self.rng.choice(others + [h for h in RESOURCES if h != holder[0]] * 2)
        # Reported by a router on the quoted sender's far side: the inside
        # router when the sender is outside, the outside router otherwise.
        reporter = "inner-router" if HOSTS[to][2] == "outside" else "router"
        if back and HOSTS[holder[0]][2] == HOSTS[reporter][2]:
            return  # the sender's own side: the error would not cross the bridge
        header = 20 if self.fam == 4 else 40
        body = Raw(quoted[:header + 8])
        if self.fam == 4:
            icmp = self.rng.choice([ICMP(type=3, code=4, nexthopmtu=1400), ICMP(type=3, code=3), ICMP(type=11)])
        else:
            icmp = self.rng.choice([ICMPv6PacketTooBig(mtu=1280), ICMPv6DestUnreach(code=3), ICMPv6TimeExceeded()])
        self.emit(self.port_of(reporter), self.ip(reporter, to) / icmp / body,
                  f"ICMP error {reporter} -> {to} quoting ({what})", quotable=False)


def random_traffic(rng, fam, events):
    t = Traffic(rng, fam)
    inside = [h for h in RESOURCES if HOSTS[h][2] == "inside"]
    outside = ["partner", "remote1", "remote2", "remote3"]
    for _ in range(events):
        a, b = rng.choice(inside), rng.choice(outside)
        client, server = (a, b) if rng.random() < 0.5 else (b, a)
        kind = rng.choice(["tcp", "tcp", "tcp", "udp", "echo", "gre", "unsolicited", "error", "error", "error",
                           "spoofed"])
        if kind == "tcp":
            t.tcp(client, server, rng.choice(TRAFFIC_PORTS), rng.choice(["fin", "rst", "rst-window", "blind", "none"]),
                  asymmetric=client in RESOURCES and rng.random() < 0.3)
        elif kind == "udp":
            t.udp(client, server, rng.choice(TRAFFIC_PORTS))
        elif kind == "echo":
            t.echo(client, server)
        elif kind == "gre":
            t.gre(client, server)
        elif kind == "unsolicited":
            t.unsolicited(client, server)
        elif kind == "error":
            t.error()
        else:
            # A resource's source from the wrong port.
            spoofer = rng.choice(RESOURCES)
            peer = rng.choice([h for h in ("remote1", "remote2", "web-a", "web-b") if HOSTS[h][2] != HOSTS[spoofer][2]])
            rng.choice([lambda: t.tcp(spoofer, peer, rng.choice(TRAFFIC_PORTS), "none", spoofed=True),
                        lambda: t.udp(spoofer, peer, rng.choice(TRAFFIC_PORTS), spoofed=True),
                        lambda: t.echo(spoofer, peer, spoofed=True)])()
    return t.frames


# --- Linux --------------------------------------------------------------------------

_LIBC = ctypes.CDLL(None, use_errno=True)


def sh(*cmd, check=True):
    r = subprocess.run(list(cmd), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r


class LinuxBridge:
    """A bridge with br_netfilter and conntrack in a namespace of its own,
    fed through two veth pairs whose outer ends are in this namespace."""

    def __init__(self, tag):
        self.ns = f"sgfwdiff{tag}"
        self.out_if, self.in_if = f"dfo{tag}", f"dfi{tag}"

    def up(self, ruleset):
        self.down()
        sh("ip", "netns", "add", self.ns)
        nx = ["ip", "netns", "exec", self.ns]
        for outer, inner in ((self.out_if, "o"), (self.in_if, "i")):
            sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", self.ns)
            sh("sysctl", "-qw", f"net.ipv6.conf.{outer}.disable_ipv6=1")
            sh("ip", "link", "set", outer, "up")
        sh(*nx, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh(*nx, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        sh(*nx, "ip", "link", "add", "br0", "type", "bridge")
        for inner in ("o", "i"):
            sh(*nx, "ip", "link", "set", inner, "master", "br0", "up")
        sh(*nx, "ip", "link", "set", "br0", "up")
        for key in ("net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1",
                    "net.netfilter.nf_conntrack_tcp_loose=0"):
            sh(*nx, "sysctl", "-qw", key)
        p = subprocess.run(nx + ["nft", "-f", "-"], input=ruleset, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("nft refused the ruleset:\n" + p.stderr + "\n" + ruleset)
        self.socks = {}
        for port, ifname in (("outside", self.out_if), ("inside", self.in_if)):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
            s.bind((ifname, 0))
            s.setblocking(False)
            self.socks[port] = s
        time.sleep(0.05)
        self.drain()

    def drain(self):
        for s in self.socks.values():
            while select.select([s], [], [], 0)[0]:
                try:
                    s.recv(65535)
                except BlockingIOError:
                    break

    def down(self):
        for s in getattr(self, "socks", {}).values():
            s.close()
        self.socks = {}
        sh("ip", "link", "del", self.out_if, check=False)
        sh("ip", "link", "del", self.in_if, check=False)
        sh("ip", "netns", "del", self.ns, check=False)

    def verdict(self, port, frame, seq):
        """Sends the frame, then an ARP marker; True when the frame came out
        of the other port before the marker did."""
        other = "inside" if port == "outside" else "outside"
        mac = OUTSIDE_MAC if port == "outside" else INSIDE_MAC
        marker = raw(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
                     ARP(hwsrc=mac, psrc="169.254.0.1", pdst=f"169.254.{(seq >> 8) & 255}.{seq & 255}"))
        self.socks[port].send(frame)
        self.socks[port].send(marker)
        passed = False
        deadline = time.time() + 2
        s = self.socks[other]
        while time.time() < deadline:
            if not select.select([s], [], [], 0.2)[0]:
                continue
            data, addr = s.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            if data == frame:
                passed = True
            elif data[:len(marker)] == marker:
                return passed
        raise RuntimeError("the marker never came through the bridge")


# --- the run --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replay", required=True, help="the sgfw_replay binary")
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--events", type=int, default=30, help="traffic events per case")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", default=None, help="keep the cases in this folder")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("differential: needs root (network namespaces, raw sockets); skipped")
        return 77
    seed = a.seed if a.seed is not None else int(time.time())
    print(f"differential: {a.cases} cases, seed {seed} (rerun with --seed {seed})", flush=True)
    work = a.keep or tempfile.mkdtemp(prefix="sgfw-diff-")
    os.makedirs(work, exist_ok=True)
    bridge = LinuxBridge(os.getpid() % 100000)
    cases = []
    try:
        for n in range(a.cases):
            rng = random.Random(seed * 1000 + n)
            doc = random_policy(rng)
            text = to_toml(doc)
            assert tomllib.loads(text) is not None
            frames = random_traffic(rng, rng.choice([4, 6]), a.events)
            d = os.path.join(work, f"case{n:04d}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "policy.toml"), "w") as f:
                f.write(text)
            with open(os.path.join(d, "trace.txt"), "w") as f:
                for port, frame, _ in frames:
                    f.write(f"{port} {frame.hex()}\n")
            ruleset = nft_policy.translate(tomllib.loads(text), "o", "i")
            with open(os.path.join(d, "ruleset.nft"), "w") as f:
                f.write(ruleset)
            bridge.up(ruleset)
            linux = [bridge.verdict(port, frame, i) for i, (port, frame, _) in enumerate(frames)]
            cases.append((d, frames, linux))
    finally:
        bridge.down()
    r = subprocess.run([a.replay] + [d for d, _, _ in cases], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
        return 1
    mismatches, total, passed = 0, 0, 0
    for d, frames, linux in cases:
        with open(os.path.join(d, "verdicts.txt")) as f:
            sgfw = [line.strip() for line in f]
        for i, ((port, frame, what), lx) in enumerate(zip(frames, linux)):
            total += 1
            passed += lx
            if (sgfw[i] == "pass") != lx:
                mismatches += 1
                if mismatches <= 30:
                    print(f"MISMATCH {os.path.basename(d)} frame {i} from {port}: {what}: "
                          f"Linux {'passes' if lx else 'drops'}, sgfw {sgfw[i]}")
    print(f"differential: {total} frames in {len(cases)} cases ({passed} passed by both or either), "
          f"{mismatches} mismatches")
    if mismatches:
        print(f"cases kept in {work}; divergences sgfw documents and this generator avoids:")
        for dv in DIVERGENCES:
            print("  - " + dv)
        return 1
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
