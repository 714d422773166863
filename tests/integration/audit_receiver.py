#!/usr/bin/python3
# audit_receiver.py: local test receivers for tests/integration/auditlog.sh.
#   syslog  PORT CERT KEY OUT: RFC 5425 syslog over TLS; checks the octet-counting
#           framing and writes one received SYSLOG-MSG per line to OUT.
#   webhook PORT CERT KEY OUT: HTTPS; appends each POSTed JSON body as one line to OUT
#           and answers 204.
import http.server
import socket
import ssl
import sys
import threading


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def syslog(port, cert, key, out):
    ctx = tls_context(cert, key)
    srv = socket.create_server(("127.0.0.1", port), reuse_port=False)
    lock = threading.Lock()

    def handle(conn):
        buf = b""
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                while True:
                    data = tls.recv(65536)
                    if not data:
                        break
                    buf += data
                    while b" " in buf:
                        head, rest = buf.split(b" ", 1)
                        if not head.isdigit():
                            with lock, open(out, "a") as f:
                                f.write("BAD-FRAMING %r\n" % buf[:40])
                            return
                        n = int(head)
                        if len(rest) < n:
                            break
                        msg, buf = rest[:n], rest[n:]
                        with lock, open(out, "a") as f:
                            f.write(msg.decode("utf-8", "replace").replace("\n", "\\n") + "\n")
        except (ssl.SSLError, OSError):
            pass

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def webhook(port, cert, key, out):
    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n).decode("utf-8", "replace")
            with open(out, "a") as f:
                f.write(self.path + " " + body + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    httpd.socket = tls_context(cert, key).wrap_socket(httpd.socket, server_side=True)
    httpd.serve_forever()


if __name__ == "__main__":
    mode, port, cert, key, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    (syslog if mode == "syslog" else webhook)(port, cert, key, out)
