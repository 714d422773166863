#!/usr/bin/python3
"""emt_receiver.py: a test EMT's HTTPS endpoint for metering data (docs/metering.md).

The independent peer of the GWA's deliveries: TLS 1.2 with the TR-03116-3 suites and
brainpoolP256r1, the EMT's own certificate, and a required client certificate that must
chain to the SM-PKI (the GWA's TLS certificate). Every POST is recorded: the body as
DIR/<n>.der and a line "n message-id kind gateway metering-point clock-ok client-subject
conn=<c> resumed=<0|1>" in DIR/received.log, where c numbers the TLS connections (several
POSTs on one kept connection share it) and resumed says whether that connection resumed
an earlier TLS session; the answer is 200. --delay S waits before answering (a slow EMT,
to kill the GWA's deliverer mid-delivery).

usage: emt_receiver.py PORT CERT KEY CAFILE DIR [--delay S]
"""
import http.server
import os
import ssl
import sys
import threading
import time

port, cert, key, cafile, out = sys.argv[1:6]
delay = float(sys.argv[7]) if len(sys.argv) > 7 and sys.argv[6] == "--delay" else 0.0
lock = threading.Lock()
os.makedirs(out, exist_ok=True)
count = [len([f for f in os.listdir(out) if f.endswith(".der")])]
conns = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        with lock:
            conns[0] += 1
            self.conn_no = conns[0]

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        peer = self.connection.getpeercert()
        subject = ",".join("%s=%s" % kv for rdn in peer.get("subject", ()) for kv in rdn)
        if delay:
            time.sleep(delay)
        with lock:
            count[0] += 1
            k = count[0]
            with open(os.path.join(out, "%d.der" % k), "wb") as f:
                f.write(body)
            with open(os.path.join(out, "received.log"), "a") as f:
                f.write("%d %s %s %s %s %s %s" % (
                    k, self.headers.get("X-Torwart-Message-Id", "-"),
                    self.headers.get("X-Torwart-Kind", "-"),
                    self.headers.get("X-Torwart-Gateway", "-"),
                    self.headers.get("X-Torwart-Metering-Point", "-"),
                    self.headers.get("X-Torwart-Clock-Ok", "-"), subject.replace(" ", "_")) +
                    " conn=%d resumed=%d\n" % (self.conn_no, 1 if self.connection.session_reused else 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                "ECDHE-ECDSA-AES128-SHA256")
ctx.set_ecdh_curve("brainpoolP256r1")
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(cafile)
ctx.verify_mode = ssl.CERT_REQUIRED
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(os.path.join(out, "ready"), "w") as f:
    f.write("%d\n" % os.getpid())
srv.serve_forever()
