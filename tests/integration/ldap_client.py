# An SM-PKI participant reading the directory over LDAPS with its TLS certificate
# (python3-ldap3: OpenSSL underneath, so brainpool works with OPENSSL_CONF's groups).
import ssl, sys
from ldap3 import Server, Connection, Tls, SASL, EXTERNAL, ANONYMOUS, SIMPLE, BASE, SUBTREE

host, port, chain, cert, key, op = sys.argv[1:7]
args = sys.argv[7:]
tls = Tls(local_private_key_file=key or None, local_certificate_file=cert or None,
          validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLSv1_2, ca_certs_file=chain)
srv = Server(host, port=int(port), use_ssl=True, tls=tls, get_info=None, connect_timeout=10)
try:
    if op == "external":
        c = Connection(srv, authentication=SASL, sasl_mechanism=EXTERNAL, receive_timeout=10)
    elif op == "anonymous":
        c = Connection(srv, authentication=ANONYMOUS, receive_timeout=10)
    elif op == "simple":
        c = Connection(srv, user=args[0], password="secret", authentication=SIMPLE,
                       receive_timeout=10)
    else:
        c = Connection(srv, receive_timeout=10)
    c.open()
except Exception as e:
    print("connect-failed", type(e).__name__)
    sys.exit(0)
try:
    if op in ("external", "anonymous", "simple"):
        ok = c.bind()
        print("bind", c.result["result"], ok)
        if op == "external" and ok:
            print("whoami", c.extend.standard.who_am_i())
    elif op == "search":
        base, filt = args[0], args[1]
        c.search(base, filt, SUBTREE, attributes=["cn", "ou", "description", "userCertificate;binary"])
        print("search", c.result["result"], len(c.entries))
        for i, e in enumerate(c.response):
            if e.get("type") != "searchResEntry":
                continue
            print("entry", e["dn"])
            for j, v in enumerate(e["raw_attributes"].get("userCertificate;binary", [])):
                open("%s.%d.%d.der" % (args[2], i, j), "wb").write(v)
    elif op == "add":
        c.add(args[0], ["top", "person"], {"sn": "x", "cn": "x"})
        print("add", c.result["result"])
    elif op == "starttls":
        try:
            c.start_tls()
            print("starttls", c.result["result"])
        except Exception as e:
            print("starttls-error", type(e).__name__, c.result and c.result.get("result"))
except Exception as e:
    print("error", type(e).__name__, str(e)[:200])
