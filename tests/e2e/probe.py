"""Client-side probes, run inside a namespace.

  probe.py tcp HOST PORT [--source ADDR] [--timeout S]
      exit 0 when a TCP connection is established (and reads the greeting)
  probe.py udp HOST PORT --count N [--interval S] [--timeout S]
      sends N numbered datagrams to a UDP echo; prints "sent N received M"
  probe.py steady HOST PORT --udp-port P [--interval S]
      a TCP echo connection and a UDP echo flow, both carrying a numbered
      message every interval until stdin closes or says "stop"; prints one
      JSON line: what was sent, what came back, what was lost or wrong,
      and the longest wait for an answer
"""

import argparse
import json
import select
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


def steady(a):
    t = socket.create_connection((a.host, a.port), timeout=a.timeout)
    t.recv(100)  # the greeting
    u = socket.socket(family(a.host), socket.SOCK_DGRAM)
    u.settimeout(a.timeout)
    out = {"tcp_sent": 0, "tcp_wrong": 0, "tcp_error": "", "udp_sent": 0, "udp_received": 0, "max_wait_ms": 0}
    buf = b""
    n = 0
    while not select.select([sys.stdin], [], [], 0)[0]:
        msg = f"{n:08d}".encode() * 64 + b"\n"  # 513 bytes
        try:
            t.sendall(msg)
            out["tcp_sent"] += 1
            started = time.monotonic()
            while len(buf) < len(msg):
                buf += t.recv(65536)
            got, buf = buf[:len(msg)], buf[len(msg):]
            out["tcp_wrong"] += got != msg
        except OSError as e:
            out["tcp_error"] = str(e)
            break
        u.sendto(str(n).encode(), (a.host, a.udp_port))
        out["udp_sent"] += 1
        try:
            data, _ = u.recvfrom(100)
            out["udp_received"] += data == str(n).encode()
        except socket.timeout:
            pass
        out["max_wait_ms"] = max(out["max_wait_ms"], int((time.monotonic() - started) * 1000))
        n += 1
        time.sleep(a.interval)
    print(json.dumps(out), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["tcp", "udp", "steady"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--source")
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--interval", type=float, default=0.0)
    ap.add_argument("--udp-port", type=int, default=7)
    a = ap.parse_args()
    return {"tcp": tcp, "udp": udp, "steady": steady}[a.kind](a)


if __name__ == "__main__":
    sys.exit(main())
