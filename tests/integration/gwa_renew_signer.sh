#!/usr/bin/env bash
# gwa_renew_signer.sh: issue 12, the GWA's own signer-held keys renewed in the signer
# (`torwart gwa renew --key tls|sig|enc`, src/gwa/gwa_renew_key.c, signer key rotation in
# src/signer/signer_keys.c; docs/security.md "Key rotation of the GWA's own keys"):
#   - TLS (a new home: its TLS keys are signer keys): a new key pair generated in the
#     signer, certified by this home's Sub-CA, installed, switched to; the wan serves the
#     new certificate without a restart and gateways keep connecting;
#   - kill -9 after each step (prepare, issue, install): every state left behind is a
#     working GWA (the gateway connects, the wan serves a certificate whose key the signer
#     holds), and the rerun finishes the rotation; every step once in the admin log;
#   - the previous key is kept (a new rotation is refused) until retired; retiring inside
#     the grace period is refused, --now destroys it (file gone, logged by the signer);
#   - the rotation survives a restart of the stack (the signer reads its pointers);
#   - SIG in the PKCS#11 token (kill -9 after issue, rerun): a new non-extractable token
#     key, tree heads of the old and the new key verify, the old token objects destroyed;
#   - SIG and ENC keys on the file key backend: rotated, the new certificates chain and
#     carry the signer's new keys;
#   - the SIG rotation orders the new GWA SIG certificate to every gateway by itself
#     (gwa-cert-update, one fleet order per tenant, admin-logged; kill -9 between the
#     switch and the orders: the rerun orders, a further run orders nothing); retiring
#     the old SIG key is refused, naming the count, until the gateways have installed it
#     (simulated gateways accept), or with --force and a logged reason;
#   - rotation is refused to the services: a caller that is not root or the signer's user
#     gets a denial (covered by signer_peer.c; here: usage errors).
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-gwakey-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
q() { sqlite3 "$H/store.db" "$1"; }
logged() { q "SELECT count(*) FROM admin_log WHERE action='$1'"; }
count_log() { grep -c "$1" "$T/torwartd.log"; }
wait_log() { # pattern count seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do [ "$(count_log "$1")" -ge "$2" ] && return 0; sleep 0.2; done
	return 1
}
serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }
served_serial() {
	timeout 10 openssl s_client -connect "$WAN" -CAfile "$H/pki/chain.pem" -tls1_2 \
		-groups brainpoolP256r1 -cert "$G1/tls.crt" -key "$G1/tls.key" </dev/null 2>/dev/null |
		openssl x509 -noout -serial | sed 's/^serial=//'
}
# The public key of a certificate and of a key file, comparable.
cert_pub() { openssl x509 -in "$1" -pubkey -noout | sha256sum; }
key_pub() { openssl pkey -in "$1" -pubout | sha256sum; }
start_stack() {
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	STACK=$!
	pids_to_kill+=("$STACK")
	wait_port 127.0.0.1 "$WAN_PORT" 30
}
stop_stack() {
	kill -TERM "$STACK" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$STACK" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$STACK" 2>/dev/null
}
renew() { # KEY [extra args]: exit status in $rc, output in $T/out
	local key=$1; shift
	"$TORWART" gwa renew --home "$H" --key "$key" "$@" >"$T/out" 2>&1
	rc=$?
	cat "$T/out" >>"$T/log"
}
sim() { "$SIM" --gwa "$WAN" --gateways "$G1" --quiet; }
TK="$H/secrets/tls-keys"

check "init (PKCS#11 token, TLS keys in the signer)" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "$WAN" --api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
sed -i '/^\[wan\]/a tls_reload_check = 1' "$H/torwart.conf"
check "gateway add GW-1" "$TORWART" gateway add --home "$H" --id GW-1
G1="$H/gateways/GW-1"
check "the stack starts" start_stack
old=$(serial_of "$H/pki/gwa-tls.crt"); cp "$H/pki/gwa-tls.crt" "$T/old-tls.crt"
check "the wan serves the GWA TLS certificate ($old)" test "$(served_serial)" = "$old"

# ---- usage errors: nothing happens
for args in "--key" "--key tls --key tls" "--key rsa" "--retire" "--now" "--key tls --now" \
	"--key tls extra"; do
	# shellcheck disable=SC2086
	"$TORWART" gwa renew --home "$H" $args >"$T/out" 2>&1
	r=$?
	# an unknown key kind is a typed error (exit 1), the rest usage errors (exit 2)
	[ "$args" = "--key rsa" ] && want=1 || want=2
	check "gwa renew $args: exit $want (got $r)" test "$r" = "$want"
done
check "... no key was prepared" test "$(logged gwa.key-prepare)" = 0 -a ! -e "$TK/gwa-tls.next"

# ---- kill -9 after each step; the GWA works in every state
TORWART_TEST_GWA_KILL_AFTER=prepare renew tls
check "killed after prepare (exit $rc)" test "$rc" = 137
check "... a next key in the signer's TLS directory" test -s "$TK/gwa-tls.next"
nextlabel=$(cat "$TK/gwa-tls.next")
check "... named by its public key ($nextlabel), mode 0600" \
	test "$(stat -c %a "$TK/$nextlabel.key")" = 600
check "... the certificate is unchanged and the gateway connects" bash -c \
	"[ \"\$(openssl x509 -in '$H/pki/gwa-tls.crt' -noout -serial)\" = 'serial=$old' ]" 
check "... gateway session" sim

TORWART_TEST_GWA_KILL_AFTER=issue renew tls
check "killed after issue (exit $rc)" test "$rc" = 137
check "... the same next key (prepare is not repeated)" test "$(cat "$TK/gwa-tls.next")" = "$nextlabel" -a \
	"$(logged gwa.key-prepare)" = 1
check "... a staged certificate for the next key" bash -c \
	"[ \"\$(openssl x509 -in '$H/pki/gwa-tls.crt.next' -pubkey -noout | sha256sum)\" = \"\$(openssl pkey -in '$TK/$nextlabel.key' -pubout | sha256sum)\" ]"
staged=$(serial_of "$H/pki/gwa-tls.crt.next")
check "... the installed certificate is unchanged; the gateway connects" \
	test "$(serial_of "$H/pki/gwa-tls.crt")" = "$old"
check "... gateway session" sim

TORWART_TEST_GWA_KILL_AFTER=install renew tls
check "killed after install (exit $rc)" test "$rc" = 137
check "... the staged certificate ($staged) is installed, not issued again" \
	test "$(serial_of "$H/pki/gwa-tls.crt")" = "$staged" -a "$(logged gwa.key-issue)" = 1
check "... the previous certificate kept beside it" test "$(serial_of "$H/pki/gwa-tls.crt.prev")" = "$old"
check "... the signer has not switched yet" test ! -e "$TK/gwa-tls.current"
check "the wan takes the new certificate without a restart (its key by version)" \
	wait_log "TLS certificate reloaded: new connections use serial $staged (was $old)" 1 15
check "... s_client sees $staged" test "$(served_serial)" = "$staged"
check "... gateway session with the new certificate" sim

renew tls
check "the rerun finishes the rotation (exit $rc)" test "$rc" = 0
check "... saying which key is current" grep -q "tls key is now $nextlabel in the signer" "$T/out"
check "... the signer switched (current pointer, no next)" test "$(cat "$TK/gwa-tls.current")" = "$nextlabel" -a \
	! -e "$TK/gwa-tls.next"
check "... the previous key is kept" test -s "$TK/gwa-tls.prev" -a -s "$TK/gwa-tls.key"
check "... same subject and names as before" test \
	"$(openssl x509 -in "$T/old-tls.crt" -noout -subject -ext subjectAltName)" = \
	"$(openssl x509 -in "$H/pki/gwa-tls.crt" -noout -subject -ext subjectAltName)"
check "... chains to the Sub-CA" openssl verify -CAfile "$H/pki/chain.pem" "$H/pki/gwa-tls.crt"
check "... no private key outside the signer's directory" bash -c "! grep -rl 'PRIVATE KEY' '$H/pki'"
for a in gwa.key-prepare gwa.key-issue gwa.key-install gwa.key-switch signer.key-prepare signer.key-switch; do
	check "admin log: one $a" test "$(logged "$a")" = 1
done
new_fp=$(openssl x509 -in "$H/pki/gwa-tls.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
check "inventory: the new certificate is the GWA's TLS certificate, valid" \
	test "$(q "SELECT owner_kind || ' ' || usage || ' ' || status FROM certificates WHERE fingerprint='$new_fp'")" = "gwa TLS valid"
check "gateway session after the switch" sim

renew tls
check "a new rotation while the previous key is kept: refused (exit $rc)" test "$rc" = 1
check "... naming the retirement" grep -q "gwa renew --key tls --retire" "$T/out"
renew tls --retire
check "retire inside the grace period: refused (exit $rc)" test "$rc" = 1 -a -s "$TK/gwa-tls.key"
check "... saying until when" grep -q "is kept until" "$T/out"

# ---- a restart: the signer reads its pointers again
check "the stack stops" stop_stack
check "the stack starts again" start_stack
check "s_client sees the new certificate after the restart" test "$(served_serial)" = "$staged"
check "gateway session after the restart" sim

renew tls --retire --now
check "retire --now (exit $rc)" test "$rc" = 0
check "... the previous key file is destroyed" test ! -e "$TK/gwa-tls.key" -a ! -e "$TK/gwa-tls.prev"
check "... logged by the GWA and by the signer" test "$(logged gwa.key-destroy)" = 1 -a \
	"$(logged signer.key-destroy)" = 1
check "gateway session after the old key is gone" sim
check "s_client still sees $staged" test "$(served_serial)" = "$staged"

# ---- SIG in the PKCS#11 token: a new non-extractable key in the token
sig_before=$(serial_of "$H/pki/gwa-sig.crt")
check "a tree head signed with the token's current SIG key" "$TORWART" audit head --home "$H"
TORWART_TEST_GWA_KILL_AFTER=issue renew sig
check "SIG in the token: killed after issue (exit $rc)" test "$rc" = 137
check "... the token key is named by an alias file beside the pointers" \
	test -s "$TK/$(cat "$TK/gwa-sig.next").p11"
check "... no key file for it anywhere" test -z "$(find "$H" -name 'gwa-sig.k*.key')"
renew sig
check "the rerun finishes the SIG rotation (exit $rc)" test "$rc" = 0
sig_cur=$(cat "$TK/gwa-sig.current")
check "... a new SIG certificate ($sig_before -> $(serial_of "$H/pki/gwa-sig.crt")) for $sig_cur" \
	test "$(serial_of "$H/pki/gwa-sig.crt")" != "$sig_before"
check "... chains to the Sub-CA" openssl verify -CAfile "$H/pki/chain.pem" "$H/pki/gwa-sig.crt"
check "a tree head signed after the switch" "$TORWART" audit head --home "$H"
check "the admin log verifies: the new head with the new certificate, the old with the old" \
	bash -c "'$TORWART' audit verify --home '$H' | grep -q 'with signatures'"
check "a tree head cannot be verified with the old certificate alone (the key changed)" \
	bash -c "! '$TORWART' audit verify --home '$H' --cert '$H/pki/gwa-sig.crt.prev'"
check "the rotation ordered the new SIG certificate to GW-1" test \
	"$(q "SELECT count(*) FROM jobs WHERE type='gwa-cert-update' AND gateway_id='GW-1'")" = 1
renew sig --retire --now
check "retiring the old token SIG key before GW-1 has it: refused (exit $rc)" test "$rc" = 1 -a -s "$TK/gwa-sig.prev"
check "... naming the count" grep -q "1 gateways have not confirmed" "$T/out"
check "GW-1 visits and installs the new GWA SIG certificate" bash -c "'$SIM' --gwa '$WAN' --gateways '$G1' --quiet &&
	[ \"\$(openssl x509 -in '$G1/gwa-sig.crt' -noout -serial)\" = \"\$(openssl x509 -in '$H/pki/gwa-sig.crt' -noout -serial)\" ]"
renew sig --retire --now
check "the previous token SIG key destroyed (exit $rc)" test "$rc" = 0 -a ! -e "$TK/gwa-sig.prev"
check "... logged by the signer" test "$(logged signer.key-destroy)" = 2
check "... both token objects of the old key destroyed (C_DestroyObject)" \
	grep -q "key 'gwa-sig' destroyed (2 objects)" "$T/torwartd.log"
check "the admin log still verifies" "$TORWART" audit verify --home "$H"
check "the stack stops" stop_stack

# ---- SIG and ENC on the file key backend
H="$T/home2"
WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
check "init (file key backend)" "$TORWART" init --home "$H" --test-pki --signer-backend file \
	--wan-listen "$WAN" --api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
KD="$H/secrets/keys"
check "gateway add GW-2 (the factory gives it the GWA SIG certificate)" \
	"$TORWART" gateway add --home "$H" --id GW-2
G2="$H/gateways/GW-2"
check "gateway add GW-3, moved to tenant beta" bash -c "'$TORWART' gateway add --home '$H' --id GW-3 &&
	'$TORWART' gateway set --home '$H' --gateway GW-3 --move-tenant beta"
G3="$H/gateways/GW-3"
check "the stack starts" start_stack
check "a tree head signed with the current SIG key" "$TORWART" audit head --home "$H"
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
orders() { q "SELECT count(*) FROM jobs WHERE type='gwa-cert-update'"; }
for key in sig enc; do
	K=$(echo "$key" | tr a-z A-Z)
	crt="$H/pki/gwa-$key.crt"
	before=$(serial_of "$crt")
	check "gwa-$key: the certificate is the file key's" test "$(cert_pub "$crt")" = "$(key_pub "$KD/gwa-$key.key")"
	if [ "$key" = sig ]; then
		# kill -9 between the signer's switch and the orders: the rerun orders
		TORWART_TEST_GWA_KILL_AFTER=commit renew "$key"
		check "gwa renew --key sig killed after the switch (exit $rc)" test "$rc" = 137
		check "... no gwa-cert-update order yet" test "$(orders)" = 0
		renew "$key"
		check "the rerun creates the orders (exit $rc)" test "$rc" = 0
		check "... saying so" grep -q "ordered to 2 gateways in 2 fleet orders (gwa-cert-update), finishing the rotation; 2 gateways have not installed it yet" "$T/out"
	else
		renew "$key"
	fi
	check "gwa renew --key $key (exit $rc)" test "$rc" = 0
	cur=$(cat "$KD/gwa-$key.current")
	check "... a new certificate ($before -> $(serial_of "$crt")) for the signer's new key $cur" \
		test "$(serial_of "$crt")" != "$before" -a "$(cert_pub "$crt")" = "$(key_pub "$KD/$cur.key")"
	check "... chains to the Sub-CA" openssl verify -CAfile "$H/pki/chain.pem" "$crt"
	check "... the GWA $K certificate profile (same key usage as before)" test \
		"$(openssl x509 -in "$crt" -noout -ext keyUsage)" = \
		"$(openssl x509 -in "$crt.prev" -noout -ext keyUsage)"
	if [ "$key" = sig ]; then
		# ---- the gateways get the new GWA SIG certificate without an operator command
		check "one gwa-cert-update order per gateway, no operator command" test "$(orders)" = 2
		check "... one fleet order per tenant (default: GW-2, beta: GW-3)" test \
			"$(q "SELECT count(*) FROM job_batches WHERE type='gwa-cert-update'")" = 2 -a \
			"$(q "SELECT count(*) FROM jobs j JOIN gateways g ON g.gateway_id = j.gateway_id JOIN tenants t ON t.id = g.tenant_id WHERE j.type='gwa-cert-update' AND t.name='beta' AND j.gateway_id='GW-3'")" = 1
		check "... each waiting up to a day per attempt, 7 attempts ([gwa] sig_order_*)" test \
			"$(q "SELECT DISTINCT timeout_ms || ' ' || max_attempts FROM jobs WHERE type='gwa-cert-update'")" = "86400000 7"
		check "... admin-logged (gwa.sig-orders and job.fleet per tenant)" test \
			"$(logged gwa.sig-orders)" = 2 -a "$(logged job.fleet)" = 2
		renew "$key"
		check "a third run: no new orders, the usual refusal (exit $rc)" test "$rc" = 1 -a "$(orders)" = 2 -a \
			"$(logged gwa.sig-orders)" = 2
		renew "$key" --retire --now
		check "retiring the old SIG key while 2 gateways have not confirmed: refused (exit $rc)" \
			test "$rc" = 1 -a -s "$KD/gwa-$key.key"
		check "... a typed error naming the count" grep -q "gwa renew: 2 gateways have not confirmed the new GWA SIG certificate" "$T/out"
		check "... nothing ordered twice" test "$(orders)" = 2
		check "GW-2 still holds the old GWA SIG certificate" test "$(fpr "$G2/gwa-sig.crt")" != "$(fpr "$crt")"
		check "GW-2 and GW-3 visit the GWA" "$SIM" --gwa "$WAN" --gateways "$G2" "$G3" --quiet
		check "... and installed the new GWA SIG certificate" test \
			"$(fpr "$G2/gwa-sig.crt")" = "$(fpr "$crt")" -a "$(fpr "$G3/gwa-sig.crt")" = "$(fpr "$crt")"
		check "... both orders done" test "$(q "SELECT count(*) FROM jobs WHERE type='gwa-cert-update' AND state='done'")" = 2
		for args in "--force" "--force --reason" "--reason why" "--force --reason x --key sig"; do
			# shellcheck disable=SC2086
			"$TORWART" gwa renew --home "$H" --key sig $args >"$T/out" 2>&1
			r=$?
			check "gwa renew --key sig $args: usage error (exit $r)" test "$r" = 2
		done
	fi
	renew "$key" --retire --now
	check "... the previous $K key destroyed (exit $rc)" test "$rc" = 0 -a ! -e "$KD/gwa-$key.key"
done
check "no forced retirement was logged" test "$(logged gwa.key-retire-forced)" = 0
check "the admin log verifies" "$TORWART" audit verify --home "$H"
check "a tree head signed with the new SIG key" "$TORWART" audit head --home "$H"
check "the admin log verifies: heads of the old and the new SIG key" bash -c \
	"'$TORWART' audit verify --home '$H' | grep -q 'with signatures'"

# ---- the gateway checks what it is given (order gwa-cert-update by hand)
bad=$("$TORWART" job create --home "$H" --type gwa-cert-update --gateway GW-2 \
	--payload "{\"sig\":\"$(openssl x509 -in "$H/pki/sub-ca.crt" -outform DER | base64 -w0)\"}" |
	sed -n 's/^job \([0-9]*\).*/\1/p')
check "an order with another certificate of the same PKI (the Sub-CA's): job $bad" test -n "$bad"
check "GW-2 visits the GWA" "$SIM" --gwa "$WAN" --gateways "$G2" --quiet
check "... and refuses it: not its GWA (gwa_cert_other_gwa)" \
	bash -c "'$TORWART' job show --home '$H' --id $bad | grep -q gwa_cert_other_gwa"
check "... keeping the new GWA SIG certificate" test "$(fpr "$G2/gwa-sig.crt")" = "$(fpr "$H/pki/gwa-sig.crt")"

# ---- a second SIG rotation: retirement with unconfirmed gateways only with --force
renew sig
check "a second SIG rotation orders the newer certificate (exit $rc)" test "$rc" = 0 -a "$(orders)" = 5
renew sig --retire --now --force --reason "GW-3 is decommissioned"
check "retire --force with a reason although 2 gateways have not confirmed (exit $rc)" \
	test "$rc" = 0 -a ! -e "$KD/gwa-sig.prev"
check "... logged with the count and the reason" test "$(q "SELECT count(*) FROM admin_log WHERE action='gwa.key-retire-forced' AND detail LIKE '%2 gateways have not confirmed%GW-3 is decommissioned%'")" = 1
check "the stack stops" stop_stack

