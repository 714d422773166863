# ws_lib.sh: set-up shared by the web-service scripts (ws.sh, ws_exhaustion.sh), sourced
# after lib.sh with T and H set.

# ws_require: SHARED, WSDL (the BSI WSDL from ../shared) and PY (Debian's python3 with
# python3-zeep); skips the script (exit 77) when either is missing.
ws_require() {
	SHARED=${TORWART_SHARED:-$TORWART_SOURCE/../shared}
	WSDL="$SHARED/reference/sm-pki/WSDL_TR-03129-4_v1.3.1_Smartmeter.wsdl"
	if [ ! -f "$WSDL" ]; then
		echo "SKIP: $WSDL absent (../shared not available): the web service needs the BSI WSDL"
		rm -rf "$T"; trap - EXIT; exit 77
	fi
	# Debian's python3 (python3-zeep), not whatever python3 comes first in PATH.
	PY=/usr/bin/python3
	if ! "$PY" -c 'import zeep' 2>/dev/null; then
		echo "SKIP: python3-zeep not installed (scripts/install-deps installs it)"
		rm -rf "$T"; trap - EXIT; exit 77
	fi
}

# issue_first NAME MPID CN: register an EMT participant and issue its first certificates
# out of band (RA, CLI); its key in T/NAME/, its TLS certificate in T/NAME.crt.
issue_first() {
	"$TORWART" ca register --home "$H" --name "$1" --org "$1 org" --role emt --mp-id "$2" \
		--cn "$3" >>"$T/log" 2>&1 || return 1
	"$TORWART" req initial --cn "$3" --ou "$2" --role EMT --key-dir "$T/$1" --format der \
		--out "$T/$1.req" >>"$T/log" 2>&1 || return 1
	"$TORWART" ca issue --home "$H" --request "$T/$1.req" --participant "$1" \
		>>"$T/log" 2>&1 || return 1
	local serial
	serial=$(sqlite3 "$H/store.db" "SELECT serial_hex FROM certificates WHERE owner_id='$1' AND usage='TLS'")
	[ -n "$serial" ] && "$TORWART" ca export "$serial" --home "$H" --out "$T/$1.crt" >>"$T/log" 2>&1
}

# ws_openssl_cnf FILE: Python's ssl (OpenSSL 3.0) offers no brainpool group by default; the
# TR-03116-3 groups are configured through OPENSSL_CONF (system_default), so zeep itself
# speaks TLS 1.2 with brainpoolP256r1 to the service, no proxy needed.
ws_openssl_cnf() {
	cat >"$1" <<'CNF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = tls_sect
[tls_sect]
Groups = brainpoolP256r1:P-256:brainpoolP384r1:P-384:brainpoolP512r1
MinProtocol = TLSv1.2
MaxProtocol = TLSv1.2
CNF
}
