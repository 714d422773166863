#!/usr/bin/env bash
# initial_config.sh: issue 12, the initial configuration file of pre-personalisation
# phase 2 (UC-3.3.6, T-IK.1): exported signed (GWA SIG key in the signer) and encrypted
# (CMS EnvelopedData for the gateway's and the integrator's ENC certificates), checked
# independently with `openssl cms -decrypt` and `openssl cms -verify`; a simulated gateway
# bootstraps from what its manufacturer left plus this file alone and then talks to the
# GWA; tampered and foreign files are refused; batches; the integrator's signed receipt.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-initcfg-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port)
q() { sqlite3 "$H/store.db" "$1"; }

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$(free_port)"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
SUP=$!; pids_to_kill+=("$SUP")
check "torwartd all starts" wait_port 127.0.0.1 "$WAN_PORT" 20
for i in 1 2 3; do check "gateway add GW-$i" "$TORWART" gateway add --home "$H" --id "GW-$i"; done
G1="$H/gateways/GW-1"

# The integrator: an RA participant (role gwh) with SM-PKI certificates from the Sub-CA.
integrator() {
	"$TORWART" ca register --home "$H" --name integ --org "Integrator" --role gwh \
		--mp-id 9900000000077 --cn INTEG.GWH.IT >>"$T/log" 2>&1 &&
	"$TORWART" req initial --cn INTEG.GWH.IT --ou 9900000000077 --role GWH --key-dir "$T/integ" \
		--format der --out "$T/integ.req" >>"$T/log" 2>&1 &&
	"$TORWART" ca issue --home "$H" --request "$T/integ.req" --participant integ >>"$T/log" 2>&1 &&
	for u in ENC SIG; do
		s=$(q "SELECT serial_hex FROM certificates WHERE owner_id='integ' AND usage='$u'")
		"$TORWART" ca export "$s" --home "$H" --out "$T/integ-$u.crt" >>"$T/log" 2>&1 || return 1
	done
}
check "an integrator (GWH participant) gets its SM-PKI ENC and SIG certificates" integrator

# ---- export
check "initial-config for GW-1, also encrypted for the integrator" "$TORWART" gateway \
	initial-config --home "$H" --gateway GW-1 --recipient "$T/integ-ENC.crt" --out "$T/gw1.cms"
check "the file is written 0600" test "$(stat -c %a "$T/gw1.cms")" = 600
check "nothing of the content is in clear (no PEM, no gateway id)" \
	bash -c "! grep -aq -e 'BEGIN CERTIFICATE' -e 'GW-1' -e 'torwart-initial-config' '$T/gw1.cms'"
check "refuses to overwrite an existing file" bash -c "! '$TORWART' gateway initial-config --home '$H' --gateway GW-1 --out '$T/gw1.cms'"
check "export logged with who and what (gateway.initial-config)" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='gateway.initial-config' AND object='GW-1' AND result='ok' AND detail LIKE '%sha256=%'")" = 1
check "the GWA SIG key signed it in the signer (purpose initial-config)" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='signer.sign' AND detail LIKE 'purpose=initial-config%'")" -ge 1

# ---- independent check with openssl cms
check "openssl cms -decrypt with the gateway's ENC key" openssl cms -decrypt -binary -inform DER \
	-in "$T/gw1.cms" -recip "$G1/enc.crt" -inkey "$G1/enc.key" -out "$T/gw1.sd"
check "openssl cms -decrypt with the integrator's ENC key" openssl cms -decrypt -binary -inform DER \
	-in "$T/gw1.cms" -recip "$T/integ-ENC.crt" -inkey "$T/integ/enc.key" -out "$T/gw1-integ.sd"
check "openssl cms -verify: signed by the GWA, chain to the SM-PKI root" openssl cms -verify \
	-binary -inform DER -in "$T/gw1.sd" -CAfile "$H/pki/root-ca.crt" -certfile "$H/pki/chain.pem" \
	-purpose any -out "$T/gw1.json"
check "the signer certificate is the GWA's SIG certificate" bash -c "openssl cms -verify -binary \
	-inform DER -in '$T/gw1.sd' -noverify -signer '$T/signer.pem' -out /dev/null 2>/dev/null && cmp <(openssl x509 -in '$T/signer.pem' -outform DER) <(openssl x509 -in '$H/pki/gwa-sig.crt' -outform DER)"
check "content: format, gateway, WAN address, three certificates, chain" /usr/bin/python3 -c "
import json; d = json.load(open('$T/gw1.json'))
assert d['format'] == 'torwart-initial-config/1' and d['gateway_id'] == 'GW-1', d
assert d['gwa']['wan'] == '127.0.0.1:$WAN_PORT' and set(d['certificates']) == {'TLS','SIG','ENC'}
assert 'PRIVATE' not in open('$T/gw1.json').read()"

# ---- the gateway bootstraps from its factory state plus the file
F="$T/factory/GW-1"; mkdir -p "$F"
cp "$G1/id" "$G1/tls.key" "$G1/sig.key" "$G1/enc.key" "$G1/enc.crt" "$G1/root-ca.crt" "$F/"
cp "$T/gw1.cms" "$T/tampered.cms"
/usr/bin/python3 -c "d=bytearray(open('$T/tampered.cms','rb').read()); d[-40]^=1; open('$T/tampered.cms','wb').write(d)"
check_fails "a tampered file is refused" "$SIM" --bootstrap "$T/tampered.cms" --gateways "$F"
check "... and nothing was installed" test ! -e "$F/tls.crt"
"$TORWART" gateway initial-config --home "$H" --gateway GW-2 --out "$T/gw2.cms" >>"$T/log" 2>&1
check_fails "another gateway's file is refused (not encrypted for this ENC key)" \
	"$SIM" --bootstrap "$T/gw2.cms" --gateways "$F"
check "the genuine file bootstraps the gateway" "$SIM" --bootstrap "$T/gw1.cms" --gateways "$F"
check "the bootstrapped gateway opens a session with the GWA named in the file" \
	"$SIM" --gwa "$(cat "$F/gwa-address")" --gateways "$F" --quiet

# ---- batch
check "a batch writes one file per gateway" "$TORWART" gateway initial-config --home "$H" \
	--gateways GW-1,GW-3 --out "$T/batch"
check "... GW-1.cms and GW-3.cms" test -s "$T/batch/GW-1.cms" -a -s "$T/batch/GW-3.cms"

# ---- the integrator's signed receipt
sha=$(sha256sum "$T/gw1.cms" | cut -d' ' -f1)
printf 'torwart-initial-config-receipt/1 GW-1 %s\n' "$sha" >"$T/receipt.txt"
openssl cms -sign -binary -nodetach -in "$T/receipt.txt" -signer "$T/integ-SIG.crt" \
	-inkey "$T/integ/sig.key" -outform DER -out "$T/receipt.der" 2>>"$T/log"
printf 'torwart-initial-config-receipt/1 GW-2 %s\n' "$sha" >"$T/wrong.txt"
openssl cms -sign -binary -nodetach -in "$T/wrong.txt" -signer "$T/integ-SIG.crt" \
	-inkey "$T/integ/sig.key" -outform DER -out "$T/wrong.der" 2>>"$T/log"
check_fails "a receipt naming another gateway is refused" "$TORWART" gateway initial-config-receipt \
	--home "$H" --receipt "$T/wrong.der"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -nodes -subj /CN=self \
	-keyout "$T/self.key" -out "$T/self.crt" -days 2 2>>"$T/log"
openssl cms -sign -binary -nodetach -in "$T/receipt.txt" -signer "$T/self.crt" \
	-inkey "$T/self.key" -outform DER -out "$T/self.der" 2>>"$T/log"
check_fails "a receipt signed outside the SM-PKI is refused" "$TORWART" gateway initial-config-receipt \
	--home "$H" --receipt "$T/self.der"
check "the integrator's receipt is recorded" "$TORWART" gateway initial-config-receipt \
	--home "$H" --receipt "$T/receipt.der"
check "... with its signer" test "$(q "SELECT count(*) FROM initial_configs WHERE sha256='$sha' AND receipt_ms > 0 AND receipt_by LIKE '%INTEG.GWH.IT%'")" = 1
check_fails "... once" "$TORWART" gateway initial-config-receipt --home "$H" --receipt "$T/receipt.der"
check "the receipt is in the admin log" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='gateway.initial-config.receipt' AND object='GW-1'")" = 1
check "the admin log verifies" "$TORWART" audit verify --home "$H"
