#!/usr/bin/env bash
# gwa_renew.sh: issue 12, renewal of the GWA's own TLS certificate (`torwart gwa renew`,
# src/gwa/gwa_renew.c) while the stack runs (a file TLS key; without --key a signer-held
# one is refused with a typed error naming `--key tls`, and `--key tls` refuses a file key;
# the signer-held keys: gwa_renew_signer.sh):
#   - a new key and certificate (this home's Sub-CA, the current subject and names); the
#     key file keeps its owner and mode; the wan takes the pair without a restart
#     (openssl s_client sees the new serial), gateways keep connecting;
#   - overlap: the previous certificate stays valid in the inventory; one gwa.renew entry;
#   - repeated, abbreviated and unknown options and subcommands: usage errors, nothing
#     renewed;
#   - through the api: a CA operator of another tenant is refused (nothing renewed), a
#     gateway operator is refused by the policy, the CA operator of the home's tenant
#     renews.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-gwarenew-XXXXXX)
H="$T/home"
O="$T/ops"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
API="https://127.0.0.1:$TLS_PORT"
q() { sqlite3 "$H/store.db" "$1"; }
count_log() { grep -c "$1" "$T/torwartd.log"; }
wait_log() { # pattern count seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do [ "$(count_log "$1")" -ge "$2" ] && return 0; sleep 0.2; done
	return 1
}
served_serial() {
	timeout 10 openssl s_client -connect "$WAN" -CAfile "$H/pki/chain.pem" -tls1_2 \
		-groups brainpoolP256r1 -cert "$G1/tls.crt" -key "$G1/tls.key" </dev/null 2>/dev/null |
		openssl x509 -noout -serial | sed 's/^serial=//'
}
file_serial() { openssl x509 -in "$H/pki/gwa-tls.crt" -noout -serial | sed 's/^serial=//'; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
renews() { q "SELECT count(*) FROM admin_log WHERE action='gwa.renew'"; }

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
sed -i '/^\[wan\]/a tls_reload_check = 1' "$H/torwart.conf"
# A new home keeps the GWA TLS key in the signer: gwa renew refuses that (typed) ...
"$TORWART" gwa renew --home "$H" >"$T/out" 2>&1
rc=$?; cat "$T/out" >>"$T/log"
check "signer-held TLS key: gwa renew refuses (exit 1)" test "$rc" = 1
check "... saying the key is held by the signer" grep -q "held by the signer" "$T/out"
check "... and naming the command that renews it there" grep -q "gwa renew --key tls" "$T/out"
# ... and renews a file key, as an older home has it before `ca tls-key-import` (the wan
# uses [wan] key when the file exists).
cp -p "$H/secrets/tls-keys/gwa-tls.key" "$H/pki/gwa-tls.key"
# --key tls is the signer's rotation: with a key file it refuses (typed), nothing changes
"$TORWART" gwa renew --home "$H" --key tls >"$T/out" 2>&1
rc=$?; cat "$T/out" >>"$T/log"
check "a TLS key file: gwa renew --key tls refuses (exit $rc)" test "$rc" = 1
check "... saying to renew it without --key" grep -q "renew it without --key" "$T/out"
check "... no key was prepared in the signer" test ! -e "$H/secrets/tls-keys/gwa-tls.next"
mkdir -p "$O"
i=0
for spec in caa:alpha:ca-operator cad:default:ca-operator gwo:default:gateway-operator; do
	IFS=: read -r name tenant roles <<<"$spec"
	i=$((i + 1))
	printf 'password-of-%s-%d\n' "$name" "$i" >"$O/$name.pw"
	check "operator $name ($roles, tenant $tenant)" "$TORWART" operator add --home "$H" \
		--name "$name" --tenant "$tenant" --password-file "$O/$name.pw" --roles "$roles" \
		--out "$O/$name"
done
check "gateway add GW-1" "$TORWART" gateway add --home "$H" --id GW-1
G1="$H/gateways/GW-1"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "the stack starts" wait_port 127.0.0.1 "$WAN_PORT" 20
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20

old=$(file_serial); old_fp=$(fp "$H/pki/gwa-tls.crt"); cp "$H/pki/gwa-tls.crt" "$T/old.crt"
key_meta=$(stat -c '%U:%G %a' "$H/pki/gwa-tls.key")
check "s_client sees the GWA TLS certificate ($old)" test "$(served_serial)" = "$old"

# ---- the renewal
"$TORWART" gwa renew --home "$H" >"$T/out" 2>&1
rc=$?; cat "$T/out" >>"$T/log"
check "gwa renew: exit 0" test "$rc" = 0
new=$(file_serial); new_fp=$(fp "$H/pki/gwa-tls.crt")
check "... it names the new serial and the old one" grep -q "new TLS certificate serial $new (was $old)" "$T/out"
check "... a new certificate is installed" test "$new" != "$old"
check "... with a new key that belongs to it" bash -c \
	"[ \"\$(openssl pkey -in '$H/pki/gwa-tls.key' -pubout | sha256sum)\" = \"\$(openssl x509 -in '$H/pki/gwa-tls.crt' -pubkey -noout | sha256sum)\" ]"
check "... the key file kept its owner and mode ($key_meta)" \
	test "$(stat -c '%U:%G %a' "$H/pki/gwa-tls.key")" = "$key_meta"
check "... the same subject and names" test \
	"$(openssl x509 -in "$T/old.crt" -noout -subject -ext subjectAltName)" = \
	"$(openssl x509 -in "$H/pki/gwa-tls.crt" -noout -subject -ext subjectAltName)"
check "... chains to the Sub-CA" openssl verify -CAfile "$H/pki/chain.pem" "$H/pki/gwa-tls.crt"
check "the wan reloads it without a restart" \
	wait_log "TLS certificate reloaded: new connections use serial $new (was $old)" 1 10
check "s_client sees the new serial ($new)" test "$(served_serial)" = "$new"
check "the gateway connects to the renewed GWA" "$SIM" --gwa "$WAN" --gateways "$G1" --quiet
check "inventory: the new certificate is valid, owned by the GWA" \
	test "$(q "SELECT owner_kind || ' ' || usage || ' ' || status FROM certificates WHERE fingerprint='$new_fp'")" = "gwa TLS valid"
check "... the old one stays valid (overlap)" \
	test "$(q "SELECT status FROM certificates WHERE fingerprint='$old_fp'")" = valid
check "one gwa.renew entry in the admin log" test "$(renews)" = 1

# ---- usage errors: nothing renewed
for args in "renew --home $H --home $H" "renew --home $H --hom $H" "renew --home" "renw --home $H" \
	"renew --home $H extra" "renew --home $H --tenant alpha"; do
	# shellcheck disable=SC2086
	"$TORWART" gwa $args >"$T/out" 2>&1
	rc=$?
	check "gwa $args: usage error (exit 2, got $rc)" test "$rc" = 2
done
check "... nothing was renewed" test "$(renews)" = 1 -a "$(file_serial)" = "$new"

# ---- through the api
for name in caa cad gwo; do
	check "login $name" "$TORWART" login --api "$API" --cert "$O/$name/$name.crt" \
		--key "$O/$name/$name.key" --password-file "$O/$name.pw" --token-file "$T/$name.session"
done
"$TORWART" gwa renew --token-file "$T/caa.session" >"$T/out" 2>&1
rc=$?; cat "$T/out" >>"$T/log"
check "api: the CA operator of tenant alpha is refused (exit $rc)" test "$rc" != 0
check "... saying the certificate is not its tenant's" grep -q "belongs to the home's own tenant" "$T/out"
"$TORWART" gwa renew --token-file "$T/gwo.session" >"$T/out" 2>&1
rc=$?; cat "$T/out" >>"$T/log"
check "api: a gateway operator is refused by the policy (exit $rc)" test "$rc" != 0
check "... nothing was renewed" test "$(renews)" = 1 -a "$(file_serial)" = "$new"
"$TORWART" gwa renew --key sig --token-file "$T/cad.session" >"$T/out" 2>&1
rc=$?; cat "$T/out" >>"$T/log"
check "api: --key (a rotation in the signer) is a host operation: not sent, usage error (exit $rc)" \
	test "$rc" = 2 -a ! -e "$H/pki/gwa-sig.crt.next" -a ! -e "$H/secrets/tls-keys/gwa-sig.next"
"$TORWART" gwa renew --hom x --token-file "$T/cad.session" >"$T/out" 2>&1
rc=$?
check "api: an abbreviated option is refused (exit $rc)" test "$rc" != 0 -a "$(renews)" = 1
"$TORWART" gwa renew --token-file "$T/cad.session" >"$T/out" 2>&1
rc=$?; cat "$T/out" >>"$T/log"
check "api: the CA operator of the home's tenant renews (exit $rc)" test "$rc" = 0
third=$(file_serial)
check "... a third certificate, logged with the operator as actor" test "$third" != "$new" -a \
	"$(q "SELECT count(*) FROM admin_log WHERE action='gwa.renew' AND actor LIKE '%cad%'")" = 1
check "the wan takes it too" wait_log "TLS certificate reloaded: new connections use serial $third" 1 30
check "the admin log verifies" "$TORWART" audit verify --home "$H"
