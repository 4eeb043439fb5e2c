"""Servers for the server namespace: HTTP (serving --root) on port 80, a TCP
listener on every other --tcp port that greets with one line, then echoes, and
UDP echo on the --udp-echo ports; IPv4 and IPv6.  Prints "listening" once
every socket is bound."""

import argparse
import http.server
import os
import socket
import socketserver
import sys
import threading


class DualStackHTTP(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def tcp_listener(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(64)

    def serve():
        while True:
            c, _ = s.accept()
            try:
                c.sendall(f"hello from port {port}\n".encode())
            except OSError:
                pass
            threading.Thread(target=echo, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()


def echo(c):
    try:
        while True:
            data = c.recv(65536)
            if not data:
                break
            c.sendall(data)
    except OSError:
        pass
    c.close()


def udp_echo(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))

    def serve():
        while True:
            data, peer = s.recvfrom(65536)
            s.sendto(data, peer)

    threading.Thread(target=serve, daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/tmp")
    ap.add_argument("--tcp", default="")
    ap.add_argument("--udp-echo", default="")
    a = ap.parse_args()
    os.chdir(a.root)
    http_server = None
    for p in [int(x) for x in a.tcp.split(",") if x]:
        if p == 80:
            http_server = DualStackHTTP(("::", 80), QuietHandler)
            threading.Thread(target=http_server.serve_forever, daemon=True).start()
        else:
            tcp_listener(p)
    for p in [int(x) for x in a.udp_echo.split(",") if x]:
        udp_echo(p)
    print("listening", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
