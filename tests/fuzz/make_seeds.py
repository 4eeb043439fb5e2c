#!/usr/bin/env python3
"""Seed corpora for the fuzz targets: a few well-formed frames of each kind
(IPv4/IPv6, TCP/UDP/ICMP, VLAN, fragments, an ICMP error), written raw for
parser_fuzz and in worker_fuzz's framing (header byte, 16-bit length)."""
import os
import struct
import sys


def eth(ethertype, payload, vlans=()):
    b = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1])
    for v in vlans:
        b += struct.pack("!HH", 0x8100, v)
    return b + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, frag=0, ident=1):
    total = 20 + len(payload)
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, frag, 64, proto, 0, bytes(src), bytes(dst)) + payload


def ipv6(src, dst, nh, payload, hops=64):
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, hops) + bytes(src) + bytes(dst) + payload


def tcp(sport, dport, flags, seq=1000, ack=0):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)


def udp(sport, dport, data=b"x" * 8):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def icmp(t, c, rest=b"\x00\x01\x00\x01", data=b""):
    return struct.pack("!BBH", t, c, 0) + rest + data


A = [10, 0, 0, 1]
R = [198, 51, 100, 7]
A6 = [0xFD] + [0] * 14 + [1]
R6 = [0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [7]

frames = [
    eth(0x0800, ipv4(R, A, 6, tcp(40000, 80, 0x02))),
    eth(0x0800, ipv4(A, R, 6, tcp(80, 40000, 0x12, 5, 1001))),
    eth(0x0800, ipv4(R, A, 17, udp(53, 53)), vlans=(7,)),
    eth(0x0800, ipv4(R, A, 1, icmp(8, 0))),
    eth(0x0800, ipv4([192, 0, 2, 1], A, 1, icmp(3, 4, b"\x00\x00\x05\xdc", ipv4(A, R, 6, tcp(80, 40000, 0x10))[:28]))),
    eth(0x0800, ipv4(R, A, 6, tcp(40000, 80, 0x02) + b"y" * 36, frag=0x2000, ident=9)),
    eth(0x0800, ipv4(R, A, 6, b"z" * 40, frag=7, ident=9)),
    eth(0x86DD, ipv6(R6, A6, 6, tcp(40000, 1500, 0x02))),
    eth(0x86DD, ipv6(R6, A6, 60, bytes([17, 0, 0, 0, 0, 0, 0, 0]) + udp(1, 53))),
    eth(0x86DD, ipv6(R6, A6, 58, icmp(128, 0))),
    eth(0x0806, bytes(28)),
    # The attack classes of issue 8: a resource's source from the outside,
    # an RA from the outside, MPLS, a multicast destination, a land packet,
    # an IPv6 first fragment with a Destination Options header after the
    # Fragment header and a follower reaching into its TCP header, a SYN-ACK
    # and an ACK that open nothing, a resource behind the outside port.
    eth(0x0800, ipv4(A, R, 6, tcp(40000, 4444, 0x02))),
    eth(0x86DD, ipv6([0xFE, 0x80] + [0] * 13 + [1], [0xFF, 2] + [0] * 13 + [1], 58, icmp(134, 0), hops=255)),
    eth(0x8847, b"\x00\x01\x01\x40" + ipv4(R, A, 6, tcp(40000, 22, 0x02))),
    eth(0x0800, ipv4(R, [224, 0, 0, 251], 17, udp(5353, 5353))),
    eth(0x0800, ipv4(A, A, 6, tcp(80, 80, 0x02))),
    eth(0x86DD, ipv6(R6, A6, 44, bytes([60, 0, 0, 1, 0, 0, 0, 5]) + bytes([6, 2] + [0] * 22) + tcp(40000, 1500, 0x02)
                     + b"q" * 4)),
    eth(0x86DD, ipv6(R6, A6, 44, bytes([60, 0, 0, 24, 0, 0, 0, 5]) + b"w" * 32)),
    eth(0x0800, ipv4(R, A, 6, tcp(40001, 80, 0x12, 5, 6))),
    eth(0x0800, ipv4(R, A, 6, tcp(40002, 80, 0x10, 5, 6))),
    eth(0x0800, ipv4([192, 0, 2, 50], [10, 0, 0, 2], 6, tcp(40003, 80, 0x02))),
]

out = sys.argv[1]
for name in ("parser", "worker"):
    os.makedirs(os.path.join(out, name), exist_ok=True)
for i, f in enumerate(frames):
    with open(os.path.join(out, "parser", f"seed{i}"), "wb") as fh:
        fh.write(f)
    with open(os.path.join(out, "worker", f"seed{i}"), "wb") as fh:
        fh.write(bytes([i & 3]) + struct.pack("!H", len(f)) + f)
with open(os.path.join(out, "worker", "conversation"), "wb") as fh:
    for hdr, f in ((0, frames[0]), (1, frames[1]), (4, frames[5]), (0, frames[6]), (2, frames[4])):
        fh.write(bytes([hdr]) + struct.pack("!H", len(f)) + f)
