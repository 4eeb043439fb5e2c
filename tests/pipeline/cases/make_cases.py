#!/usr/bin/python3
"""Writes the packet-path cases kept in this folder (tests/pipeline/
packet_cases_test.cpp runs them): for each, policy.toml, the frames in
(in.pcap from the outside, in-inside.pcap from the inside, merged by time)
and the frames that must come out (expect.pcap on the inside,
expect-outside.pcap on the outside).  Run it again after changing a case;
the pcaps are committed so the tests need no scapy.
"""
import pathlib

from scapy.all import IP, TCP, UDP, Ether, IPv6, wrpcap  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
OUT_MAC, IN_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"  # the routers on either side


def at(t, pkt):
    pkt.time = t
    return pkt


def from_outside(t, l3):
    return at(t, Ether(src=OUT_MAC, dst=IN_MAC) / l3)


def from_inside(t, l3):
    return at(t, Ether(src=IN_MAC, dst=OUT_MAC) / l3)


def write(name, policy, inp, inp_inside, expect, expect_outside):
    d = HERE / name
    d.mkdir(exist_ok=True)
    (d / "policy.toml").write_text(policy)
    for file, frames in (("in.pcap", inp), ("in-inside.pcap", inp_inside), ("expect.pcap", expect),
                         ("expect-outside.pcap", expect_outside)):
        path = d / file
        if frames:
            wrpcap(str(path), frames)
        elif path.exists():
            path.unlink()


WEB = """[[security_group]]
id = "web"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = [80, 443]
  cidr = "0.0.0.0/0"
[[resource]]
name = "web-1"
addresses = ["10.0.1.10"]
security_groups = ["web"]
"""


def tcp_handshake():
    c, s = "198.51.100.7", "10.0.1.10"
    syn = from_outside(1, IP(src=c, dst=s) / TCP(sport=5000, dport=80, flags="S", seq=100))
    syn_ack = from_inside(2, IP(src=s, dst=c) / TCP(sport=80, dport=5000, flags="SA", seq=900, ack=101))
    telnet = from_outside(3, IP(src=c, dst=s) / TCP(sport=5001, dport=23, flags="S", seq=7))
    ack = from_outside(4, IP(src=c, dst=s) / TCP(sport=5000, dport=80, flags="A", seq=101, ack=901))
    write("tcp-handshake-and-a-denied-port", WEB, [syn, telnet, ack], [syn_ack], [syn, ack], [syn_ack])


DNS_CLIENT = """# The default group: egress to anywhere, nothing in (S4).
[[resource]]
name = "client"
addresses = ["fd00::10"]
"""


def udp_times_out():
    c, r = "fd00::10", "2001:db8::53"
    query = from_inside(10, IPv6(src=c, dst=r) / UDP(sport=40000, dport=53) / b"q")
    answer = from_outside(11, IPv6(src=r, dst=c) / UDP(sport=53, dport=40000) / b"a")
    late = from_outside(45, IPv6(src=r, dst=c) / UDP(sport=53, dport=40000) / b"late")  # udp: 30 s
    write("ipv6-udp-answer-then-timeout", DNS_CLIENT, [answer, late], [query], [answer], [query])


if __name__ == "__main__":
    tcp_handshake()
    udp_times_out()
