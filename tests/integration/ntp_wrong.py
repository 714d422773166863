#!/usr/bin/python3
"""ntp_wrong.py: a wrong upstream NTP server for the time tests: answers every SNTP
request correctly formed (mode 4, stratum 2, origin echoed) but OFFSET seconds off.

usage: ntp_wrong.py PORT OFFSET_SECONDS
"""
import socket
import struct
import sys
import time

port, offset = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(50):   # the previous server on this port may still be going away
    try:
        s.bind(("127.0.0.1", port))
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("cannot bind 127.0.0.1:%d" % port)


def ntp(t):
    t += 2208988800
    return struct.pack("!II", int(t), int((t % 1) * 2**32))


while True:
    data, addr = s.recvfrom(512)
    if len(data) < 48:
        continue
    now = time.time() + offset
    pkt = bytes([0x24, 2, 6, 0xEC]) + b"\0" * 8 + b"LOCL" + ntp(now) + data[40:48] + \
        ntp(now) + ntp(now)
    s.sendto(pkt, addr)
