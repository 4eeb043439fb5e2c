"""Writes the whole-appliance benchmark's traffic: a pcap with one 64-byte
frame (60 bytes captured, plus the 4-byte FCS on a wire) for each of FLOWS
distinct UDP flows, in random order, from the outside towards the resources
of perf/appliance_bench.toml.  Replayed with net_pcap's infinite_rx=1, the
first pass opens every flow; every later pass is established-flow traffic.

    make_flows_pcap.py --flows N --out FILE [--seed S]

Flow i: 10.0.0.0/8 source (distinct per flow), a random port 1024-65535,
towards one of the 16 resources 192.168.0.1-16 on a random port 5000-5999
(the benchmark policy's ingress rule: udp 5000-5999 from 10.0.0.0/8).
Plain struct packing (no scapy): a million frames take a few seconds.
"""

import argparse
import random
import struct
import sys

RESOURCES = 16
FRAME = 60  # without FCS: 14 Ethernet + 20 IPv4 + 8 UDP + 18 payload


def checksum(header):
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(src, dst, sport, dport, ident):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, FRAME - 14, ident, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    udp = struct.pack("!HHHH", sport, dport, FRAME - 34, 0)
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    return eth + ip + udp + bytes(FRAME - 42)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if not 1 <= a.flows < 1 << 24:
        print("make_flows_pcap: --flows must be 1 to 16777215 (distinct sources in 10.0.0.0/8)", file=sys.stderr)
        return 2
    rng = random.Random(a.seed)
    sources = rng.sample(range(1, 1 << 24), a.flows)  # distinct hosts in 10/8, random order
    record = struct.pack("<IIII", 0, 0, FRAME, FRAME)
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # pcap, Ethernet
        for i, s in enumerate(sources):
            src = struct.pack("!I", (10 << 24) | s)
            dst = bytes((192, 168, 0, 1 + rng.randrange(RESOURCES)))
            f.write(record)
            f.write(frame(src, dst, rng.randrange(1024, 65536), rng.randrange(5000, 6000), i & 0xFFFF))
    return 0


if __name__ == "__main__":
    sys.exit(main())
