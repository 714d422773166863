#!/usr/bin/env bash
# gwa_context_mail.sh: issue 12 (S-8), e-mail push notifications through the alert path
# (src/audit/alert_mail.c, libcurl SMTP): an SMTP relay (python3-aiosmtpd, STARTTLS
# required, a sink writing every received mail to a file) started here.
#   - an expired certificate of context alpha is mailed to alpha's own recipient
#     ([alert] mail.context.alpha), an outage alert to the system administrators;
#   - the relay is down at first: the alerts stay queued (last_error "mail: ..."), retried
#     with the queue's back-off and delivered once it is up: nothing lost, none twice;
#   - recipient, subject, STARTTLS; control characters and CR/LF of an alert escaped (no
#     header injected, the body not cut short); no secrets in the mails.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-gwactxmail-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

if ! /usr/bin/python3 -c "import aiosmtpd" 2>/dev/null; then
	echo "SKIP: python3-aiosmtpd missing (scripts/install-deps)"
	rm -rf "$T"
	exit 77
fi
q() { sqlite3 "$H/store.db" "$1"; }
SMTP_PORT=$(free_port)
API_PORT=$(free_port)
check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$(free_port)" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
check "gateway GW-A in tenant alpha" bash -c "'$TORWART' gateway add --home '$H' --id GW-A && \
	'$TORWART' gateway set --home '$H' --gateway GW-A --move-tenant alpha"

# The relay's certificate (the worker checks it against [alert] mail_ca)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj "/CN=relay.test" -addext "subjectAltName=IP:127.0.0.1" \
	-keyout "$T/relay.key" -out "$T/relay.crt" 2>>"$T/log"
# An expired certificate for alpha (its CA trusted, so "expired" is the only finding)
/usr/bin/python3 - "$T" <<'PY' >>"$T/log" 2>&1
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
t = sys.argv[1]
k = ec.generate_private_key(ec.SECP256R1())
n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "han-expired")])
c = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(k.public_key())
	.serial_number(5).not_valid_before(datetime.datetime(2019, 1, 1))
	.not_valid_after(datetime.datetime(2020, 1, 1)).sign(k, hashes.SHA256()))
open(f"{t}/expired.crt", "wb").write(c.public_bytes(serialization.Encoding.PEM))
PY
check "test certificates made" test -s "$T/relay.crt" -a -s "$T/expired.crt"
check "import the expired certificate into alpha" "$TORWART" context import --home "$H" \
	--tenant alpha --cert "$T/expired.crt" --label han-expired
# An alert with CR/LF and an escape sequence in subject and message. `audit alert`
# refuses control characters, so the row is queued directly: it stands for an alert whose
# text carries bytes from outside (a peer's name, a certificate field).
CR=$(sql_chr 13); LF=$(sql_chr 10); ESC=$(sql_chr 27)
check "an outage alert with control characters queued" q "INSERT INTO alert_queue \
	(created_ms, kind, role, severity, subject, message, next_ms) VALUES (1, 'outage', \
	'system-administrator', 'error', 'relay' || $CR || $LF || 'Bcc: evil@attacker.test', \
	'first line' || $CR || $LF || '.' || $CR || $LF || 'QUIT' || $CR || $LF || $ESC || '[31mred', 0)"
cat >>"$H/torwart.conf" <<EOF2

[context]
validate_interval = 1

[renewal]
tick_ms = 200

[alert]
mail_relay = smtp://127.0.0.1:$SMTP_PORT
mail_from = torwart@gwa.test
mail_ca = $T/relay.crt
mail_timeout = 5
mail.context.alpha = pki-alpha@client-alpha.test
mail.system-administrator = ops@gwa.test, oncall@gwa.test
EOF2

# ---- the relay is down: alerts stay queued, retried
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "the stack runs" wait_port 127.0.0.1 "$API_PORT" 30
mailq() { q "SELECT count(*) FROM alert_queue WHERE role IN ('context.alpha', 'system-administrator') $1"; }
failing() { for _ in $(seq 150); do [ "$(mailq "AND attempts > 0 AND last_error LIKE 'mail: %'")" = 2 ] && return 0; sleep 0.2; done; return 1; }
check "relay down: both alerts tried and failed with the reason (mail: ...)" failing
check "... none delivered" test "$(mailq "AND delivered_ms > 0")" = 0

# ---- the relay comes up (STARTTLS required; every received mail into sink.jsonl)
cat >"$T/sink.py" <<'PY'
import json, ssl, sys, threading
from aiosmtpd.controller import Controller
port, out, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class Sink:
	async def handle_DATA(self, server, session, envelope):
		with open(out, "a") as f:
			f.write(json.dumps({"from": envelope.mail_from, "rcpt": envelope.rcpt_tos,
				"tls": session.ssl is not None,
				"data": envelope.original_content.decode("latin-1")}) + "\n")
		return "250 OK"
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(crt, key)
c = Controller(Sink(), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True)
c.start()
threading.Event().wait()
PY
/usr/bin/python3 "$T/sink.py" "$SMTP_PORT" "$T/sink.jsonl" "$T/relay.crt" "$T/relay.key" \
	>>"$T/sink.log" 2>&1 &
pids_to_kill+=("$!")
check "the relay listens" wait_port 127.0.0.1 "$SMTP_PORT" 20
delivered() { for _ in $(seq 300); do [ "$(mailq "AND delivered_ms > 0")" = 2 ] && return 0; sleep 0.2; done; return 1; }
check "the queued alerts are delivered by the queue's retry" delivered
sleep 2
check "exactly two mails received (nothing lost, none twice)" test "$(wc -l <"$T/sink.jsonl")" = 2
/usr/bin/python3 - "$T/sink.jsonl" "$H" <<'PY' >"$T/mailcheck" 2>&1
import email, json, os, sys
mails = [json.loads(l) for l in open(sys.argv[1])]
ctx = [m for m in mails if m["rcpt"] == ["pki-alpha@client-alpha.test"]]
ops = [m for m in mails if sorted(m["rcpt"]) == ["oncall@gwa.test", "ops@gwa.test"]]
assert len(ctx) == 1 and len(ops) == 1, [m["rcpt"] for m in mails]
for m in mails:
	assert m["tls"], "mail without STARTTLS"
	assert m["from"] == "torwart@gwa.test", m["from"]
c = email.message_from_string(ctx[0]["data"])
assert c["Subject"].startswith("[torwart] error context-certificate: context:alpha cert:"), c["Subject"]
assert c["To"] == "pki-alpha@client-alpha.test", c["To"]
assert "han-expired" in c.get_payload() and "expired" in c.get_payload(), c.get_payload()
o = email.message_from_string(ops[0]["data"])
assert o["Bcc"] is None, "header injected"
assert "\\x0d\\x0aBcc: evil@attacker.test" in o["Subject"], o["Subject"]
body = o.get_payload()
assert "\x1b" not in ops[0]["data"] and "\\x1b[31mred" in body, body
assert "\\x0d\\x0a.\\x0d\\x0aQUIT" in body, body     # the body was not cut short
# no secrets: neither the token PINs nor any key material
raw = "".join(m["data"] for m in mails)
assert "PRIVATE KEY" not in raw
for root, _, files in os.walk(os.path.join(sys.argv[2], "secrets")):
	for f in files:
		for line in open(os.path.join(root, f), errors="replace"):
			line = line.strip()
			if len(line) >= 8:
				assert line not in raw, "a secret in a mail"
print("mails ok")
PY
check "recipients, subject, STARTTLS, escaping, no secrets ($(tail -1 "$T/mailcheck"))" \
	grep -q "mails ok" "$T/mailcheck"
check "the admin log verifies" "$TORWART" audit verify --home "$H"
