"""Client-side probes, run inside a namespace.

  probe.py tcp HOST PORT [--source ADDR] [--timeout S]
      exit 0 when a TCP connection is established (and reads the greeting)
  probe.py udp HOST PORT --count N [--interval S] [--timeout S]
      sends N numbered datagrams to a UDP echo; prints "sent N received M"
"""

import argparse
import socket
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def tcp(a):
    s = socket.socket(family(a.host), socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    if a.source:
        s.bind((a.source, 0))
    try:
        s.connect((a.host, a.port))
        s.recv(100)
        return 0
    except OSError as e:
        print(f"tcp {a.host}:{a.port}: {e}")
        return 1
    finally:
        s.close()


def udp(a):
    s = socket.socket(family(a.host), socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    if a.source:
        s.bind((a.source, 0))
    received = set()
    for i in range(a.count):
        s.sendto(f"{i}".encode(), (a.host, a.port))
        try:
            while True:
                data, _ = s.recvfrom(100)
                received.add(int(data))
                if int(data) == i:
                    break
        except socket.timeout:
            pass
        time.sleep(a.interval)
    print(f"sent {a.count} received {len(received)}")
    return 0 if len(received) == a.count else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["tcp", "udp"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--source")
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--interval", type=float, default=0.0)
    a = ap.parse_args()
    return tcp(a) if a.kind == "tcp" else udp(a)


if __name__ == "__main__":
    sys.exit(main())
