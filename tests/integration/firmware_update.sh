#!/usr/bin/env bash
# firmware_update.sh: issue 13 transfer and installation (UC-3.2.5) end to end: a
# released, verified image ordered to simulated gateways as firmware-update jobs, fetched
# in ranges inside their WAN TLS session, checked (digest and the manufacturer's signed
# manifest) and installed; the new version reported in the next session. Faults: corrupt
# download (detected, fetched again), refused image, reboot loop (old version reported:
# the job fails), connection dropped mid-transfer (resumed). Downloads of an image that
# was not ordered, ranges outside the image and downloads after a cancel are refused and
# logged.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-fwu-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
WAN_PORT=$(free_port); API_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
db() { sqlite3 "$H/store.db" "$1"; }
logged() { db "SELECT count(*) FROM admin_log WHERE $1"; }
# eventually N CMD...: wan writes its entries in batches (every 100 ms)
eventually() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done; return 1; }
jstate() { "$TORWART" job show --home "$H" --id "$1" 2>/dev/null | sed -n 's/^state: *//p'; }
order() { # GATEWAY IMAGE -> job id
	"$TORWART" job create --home "$H" --type firmware-update --payload "{\"image\":$2}" \
		--gateway "$1" 2>>"$T/log" | sed -n 's/^job \([0-9]*\).*/\1/p'
}
sim() { # GATEWAY [sim args]: one batch visit of that gateway
	local g=$1; shift
	"$SIM" --gwa "$WAN" --gateways "$H/gateways/$g" --max-orders 4 "$@" >>"$T/sim.log" 2>&1
}
running() { /usr/bin/python3 -c "import json;print(json.load(open('$H/gateways/$1/state.json')).get('firmware',{}).get('version',''))"; }
VC="$H/test-vendor/gwh-sig.crt"; VK="$H/test-vendor/gwh-sig.key"
LC="$H/pki/firmware-list.crt"; LK="$H/test-vendor/firmware-list.key"

check "init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
printf '\n[wan]\nfirmware_range_max = 65536\n\n[worker]\njob_tick_ms = 50\n' >>"$H/torwart.conf"
check "CRLs" bash -c "'$TORWART' ca crl --home '$H' && '$TORWART' ca crl --home '$H' --ca root-ca"
# a 300 kB image: five ranges of 64 KiB
head -c 300000 /dev/urandom >"$T/img.bin"
SHA=$(sha256sum "$T/img.bin" | cut -d' ' -f1)
printf '{"format":"torwart-firmware-manifest/1","model":"PPC/SMGW-2","version":"2.0.0","size":300000,"sha256":"%s"}' "$SHA" >"$T/m.json"
check "manufacturer signs (openssl cms)" openssl cms -sign -binary -nodetach -md sha256 -in "$T/m.json" \
	-signer "$VC" -inkey "$VK" -certfile "$H/pki/sub-ca.crt" -outform DER -out "$T/m.cms"
printf '{"format":"torwart-certified-firmware/1","sequence":1,"issued":"2026-12-01T00:00:00Z","firmware":[{"model":"PPC/SMGW-2","version":"2.0.0"}]}' >"$T/l.json"
check "list signed" openssl cms -sign -binary -nodetach -md sha256 -in "$T/l.json" -signer "$LC" -inkey "$LK" -outform DER -out "$T/l.cms"
check "add image" "$TORWART" firmware add --home "$H" --file "$T/img.bin" --signature "$T/m.cms"
check "import list" "$TORWART" firmware import-list --home "$H" --file "$T/l.cms"
for g in 1 2 3 4 5 6; do "$TORWART" gateway add --home "$H" --id "GW-$g" >>"$T/log" 2>&1; done
check "six gateways" test "$(db "SELECT count(*) FROM gateways")" = 6
check_fails "an unreleased image cannot be ordered" "$TORWART" job create --home "$H" --type firmware-update --payload '{"image":1}' --gateway GW-1
check "release" "$TORWART" firmware release --home "$H" --id 1
check_fails "a bad payload is refused" "$TORWART" job create --home "$H" --type firmware-update --payload '{"image":1,"x":2}' --gateway GW-1
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
SUP=$!; pids_to_kill+=("$SUP")
check "torwartd all starts" wait_port 127.0.0.1 "$WAN_PORT" 20

# ---- the plain path: fetch in ranges, verify, install, report
J1=$(order GW-1 1)
check "order created" test -n "$J1"
check "GW-1 visit: download and install" sim GW-1
check "job done" test "$(jstate "$J1")" = done
check "GW-1 runs 2.0.0 (state on disk)" test "$(running GW-1)" = 2.0.0
gw1_logged() { [ "$(logged "action='firmware.transfer' AND actor='gateway:GW-1'")/$(logged "action='firmware.transferred' AND actor='gateway:GW-1'")" = 1/1 ]; }
check "transfer logged from first to last range" eventually 25 gw1_logged
check "no partial file left" bash -c "! ls '$H/gateways/GW-1/'firmware-*.part 2>/dev/null"
check "next session reports the new version" sim GW-1
sess_logged() { [ "$(logged "action='wan.session.open' AND actor='gateway:GW-1' AND detail LIKE 'firmware 2.0.0%'")" -ge 1 ]; }
check "session log names firmware 2.0.0" eventually 25 sess_logged

# ---- corrupt download: detected by the digest, fetched again, installed
J2=$(order GW-2 1)
check "GW-2 with a corrupt download" sim GW-2 --fault fw-corrupt
check "job done after the re-fetch" test "$(jstate "$J2")" = done
check "GW-2 runs 2.0.0" test "$(running GW-2)" = 2.0.0
gw2_logged() { [ "$(logged "action='firmware.transfer' AND actor='gateway:GW-2'")" = 2 ]; }
check "the image was sent twice" eventually 25 gw2_logged

# ---- refused image: the job fails with the gateway's code
J3=$(order GW-3 1)
check "GW-3 refuses the image" sim GW-3 --fault fw-refuse
check "job failed" test "$(jstate "$J3")" = failed
check "failure names image_refused" bash -c "'$TORWART' job show --home '$H' --id $J3 | grep -q image_refused"
check "GW-3 still on its old version" test -z "$(running GW-3)"

# ---- reboot loop: the gateway reports the old version, the GWA fails the job
J4=$(order GW-4 1)
sim GW-4 --fault fw-reboot
check "job failed (reported version is not the ordered one)" test "$(jstate "$J4")" = failed
check "the failure names the rollback" bash -c "'$TORWART' job show --home '$H' --id $J4 | grep -q 'ordered 2.0.0'"

# ---- connection dropped mid-transfer: the next visit resumes at the offset
J5=$(order GW-5 1)
check_fails "GW-5 visit drops mid-transfer" sim GW-5 --fault fw-drop
check "a partial file stays for the resume" bash -c "ls '$H/gateways/GW-5/'firmware-*.part"
check "GW-5 next visit resumes and installs" sim GW-5 --fault fw-drop
check "job done" test "$(jstate "$J5")" = done
# (wan writes these entries in batches: wait for the resumed transfer's last one)
gw5_logged() { [ "$(logged "action='firmware.transferred' AND actor='gateway:GW-5'")" = 1 ] &&
	[ "$(logged "action='firmware.transfer' AND actor='gateway:GW-5'")" = 1 ]; }
check "the resumed transfer did not start at 0 again (one first range, one last)" eventually 25 gw5_logged

# ---- refusals over the WAN (python as GW-6, one TLS connection): not ordered, range
# outside the image, another image, after a cancel
J6=$(order GW-6 1)
cat >"$T/gw6.py" <<'PY'
import http.client, json, ssl, sys, time
port, gdir, cancel, bad, good = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.load_verify_locations(gdir + "/chain.pem")
ctx.load_cert_chain(gdir + "/tls.crt", gdir + "/tls.key")
ctx.set_ecdh_curve("brainpoolP256r1")
c = http.client.HTTPSConnection("localhost", port, context=ctx)
def req(method, path, body=None, headers={}):
    h = dict(headers)
    if body is not None:
        h["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse(); data = r.read()
    return r.status, r.getheader("Content-Range"), data
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
out = []
out.append(req("GET", "/v1/firmware/1")[0])            # before a session: 409
req("POST", "/v1/session", json.dumps({"gateway_id": "GW-6", "firmware_version": "1", "time": now}))
out.append(req("GET", "/v1/firmware/1")[0])            # order not fetched yet: 403
req("GET", "/v1/orders")                               # the order is now "sent"
s, cr, d = req("GET", "/v1/firmware/1", headers={"Range": "bytes=1000-1999"})
out.append(s); out.append(cr); out.append(len(d))      # 206 bytes 1000-1999/300000 1000
out.append(req("GET", "/v1/firmware/1", headers={"Range": "bytes=300000-"})[0])   # 416
out.append(req("GET", "/v1/firmware/1", headers={"Range": "bytes=-5"})[0])        # 400
out.append(req("GET", "/v1/firmware/2")[0])            # not ordered: 403
import subprocess
subprocess.run(["bash", "-c", bad], check=True)     # the image fails its check
out.append(req("GET", "/v1/firmware/1", headers={"Range": "bytes=0-9"})[0])       # 403
subprocess.run(["bash", "-c", good], check=True)
subprocess.run(cancel, shell=True, check=True)
out.append(req("GET", "/v1/firmware/1", headers={"Range": "bytes=0-9"})[0])       # cancelled: 403
print(" ".join(str(x) for x in out))
PY
/usr/bin/python3 "$T/gw6.py" "$WAN_PORT" "$H/gateways/GW-6" "'$TORWART' job cancel --home '$H' --id $J6 >/dev/null 2>&1" \
	"sqlite3 '$H/store.db' \"UPDATE firmware_images SET signature='invalid' WHERE id=1\"" \
	"sqlite3 '$H/store.db' \"UPDATE firmware_images SET signature='verified' WHERE id=1\"" \
	>"$T/gw6.out" 2>>"$T/log"
check "WAN answers: 409 403 206 (1000 bytes) 416 400 403, invalid image 403, cancelled 403" \
	test "$(cat "$T/gw6.out")" = "409 403 206 bytes 1000-1999/300000 1000 416 400 403 403 403"
refused6() { [ "$(logged "action='wan.refuse' AND actor='gateway:GW-6' AND object IN ('firmware:1','firmware:2')")" = 6 ]; }
check "refusals logged (not ordered, range, other image, invalid image, cancelled)" eventually 25 refused6
check "admin log verifies" "$TORWART" audit verify --home "$H"
