#!/usr/bin/env bash
# firmware_rate.sh: byte-rate limits of firmware downloads (issue 13, T-SU.5): [wan]
# firmware_rate (per connection) and firmware_rate_total (all downloads of the wan),
# kept at the range-serving layer with token buckets and timer events. Gateways (python
# clients with their own SMGW TLS certificates) fetch a 1 MiB image in ranges inside
# their WAN session and record the bytes they receive over time:
#   - unlimited (0, the default): 1 MiB in well under the time a limit would need;
#   - 256 KiB/s per connection: one gateway needs >= ~4 s, never ahead of the limit;
#   - 512 KiB/s in total: four gateways in parallel need >= ~8 s together, and the sum
#     of their bytes never runs ahead of the limit;
#   - a gateway that drops its connection in the middle of a paced range does not stop
#     the others; every range completes with the image's digest.
# Bounds are generous (a loaded machine is slow, never faster than the limit).
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-fwr-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
WAN_PORT=$(free_port); API_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
VC="$H/test-vendor/gwh-sig.crt"; VK="$H/test-vendor/gwh-sig.key"
LC="$H/pki/firmware-list.crt"; LK="$H/test-vendor/firmware-list.key"
order() { # GATEWAY: a firmware-update of image 1
	"$TORWART" job create --home "$H" --type firmware-update --payload '{"image":1}' \
		--gateway "$1" >>"$T/log" 2>&1
}
start_stack() {
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20
}
stop_stack() { kill -TERM "$SUP"; for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || return 0; sleep 0.1; done; return 1; }

check "init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
check "CRLs" bash -c "'$TORWART' ca crl --home '$H' && '$TORWART' ca crl --home '$H' --ca root-ca"
SIZE=1048576
head -c $SIZE /dev/urandom >"$T/img.bin"
SHA=$(sha256sum "$T/img.bin" | cut -d' ' -f1)
printf '{"format":"torwart-firmware-manifest/1","model":"PPC/SMGW-2","version":"2.0.0","size":%s,"sha256":"%s"}' "$SIZE" "$SHA" >"$T/m.json"
check "manufacturer signs" openssl cms -sign -binary -nodetach -md sha256 -in "$T/m.json" \
	-signer "$VC" -inkey "$VK" -certfile "$H/pki/sub-ca.crt" -outform DER -out "$T/m.cms"
printf '{"format":"torwart-certified-firmware/1","sequence":1,"issued":"2026-12-01T00:00:00Z","firmware":[{"model":"PPC/SMGW-2","version":"2.0.0"}]}' >"$T/l.json"
check "list signed" openssl cms -sign -binary -nodetach -md sha256 -in "$T/l.json" -signer "$LC" -inkey "$LK" -outform DER -out "$T/l.cms"
check "add image" "$TORWART" firmware add --home "$H" --file "$T/img.bin" --signature "$T/m.cms"
check "import list" "$TORWART" firmware import-list --home "$H" --file "$T/l.cms"
check "release" "$TORWART" firmware release --home "$H" --id 1
for g in 1 2 3 4 5 6 7 8; do "$TORWART" gateway add --home "$H" --id "GW-$g" >>"$T/log" 2>&1; done
for g in 1 2 3 4 5 6 7 8; do order "GW-$g"; done

# A gateway: session, its order, then the image in ranges; prints one JSON line per
# gateway (bytes, digest, first/last byte time, samples of the running byte count) and
# one line of all gateways' samples merged. DROP=N: read N bytes of a range, then close.
cat >"$T/gw.py" <<'PY'
import hashlib, http.client, json, os, ssl, sys, threading, time
port, gwdir, ids = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
drop = int(os.environ.get("DROP", "0"))
lock = threading.Lock()
samples = []     # (time, bytes) of every read, all gateways
results = {}
def run(gid):
    d = os.path.join(gwdir, gid)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(d + "/chain.pem")
    ctx.load_cert_chain(d + "/tls.crt", d + "/tls.key")
    ctx.set_ecdh_curve("brainpoolP256r1")
    c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    c.request("POST", "/v1/session", body=json.dumps({"gateway_id": gid,
        "firmware_version": "1", "time": now}), headers={"Content-Type": "application/json"})
    c.getresponse().read()
    c.request("GET", "/v1/orders"); c.getresponse().read()
    h = hashlib.sha256(); have = 0; size = None; first = last = None; ranges = 0
    while size is None or have < size:
        c.request("GET", "/v1/firmware/1", headers={"Range": "bytes=%d-" % have})
        r = c.getresponse()
        if r.status != 206:
            results[gid] = {"error": "HTTP %d" % r.status}; return
        size = int(r.getheader("Content-Range").split("/")[1]); ranges += 1
        left = int(r.getheader("Content-Length"))
        while left > 0:
            b = r.read(min(8192, left))
            if not b:
                results[gid] = {"error": "short range"}; return
            t = time.monotonic()
            first = t if first is None else first; last = t
            have += len(b); left -= len(b); h.update(b)
            with lock:
                samples.append((t, len(b)))
            if drop and have >= drop:
                c.sock.close()
                results[gid] = {"dropped": have}; return
    results[gid] = {"bytes": have, "sha256": h.hexdigest(), "ranges": ranges,
        "seconds": last - first}
ts = [threading.Thread(target=run, args=(g,)) for g in ids]
for t in ts: t.start()
for t in ts: t.join()
samples.sort()
t0 = samples[0][0] if samples else 0
acc = 0; points = []
for t, n in samples:
    acc += n; points.append((round(t - t0, 4), acc))
print(json.dumps({"gateways": results, "points": points,
    "seconds": points[-1][0] if points else 0, "bytes": acc}))
PY
# judge FILE RATE MIN_SECONDS: every gateway got the image; never ahead of RATE bytes/s
# (0.5 s and 128 KiB of slack for the client's own scheduling); took >= MIN_SECONDS.
judge() {
	/usr/bin/python3 - "$1" "$2" "$3" "$SHA" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); rate, least, sha = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
for g, x in r["gateways"].items():
    assert x.get("sha256") == sha, (g, x)
ahead = [(t, b) for t, b in r["points"] if rate > 0 and b > rate * (t + 0.5) + 131072]
assert not ahead, ("ahead of the limit", ahead[:3])
assert r["seconds"] >= least, ("too fast", r["seconds"])
print("%.2f s for %d bytes" % (r["seconds"], r["bytes"]))
PY
}

took() { /usr/bin/python3 -c "import json; r = json.load(open('$T/$1.json')); print('#    $1: %.2f s for %d bytes' % (r['seconds'], r['bytes']))" 2>/dev/null || true; }

# ---- unlimited (no keys): the same megabyte goes at once
check "torwartd all starts (no limits)" start_stack
/usr/bin/python3 "$T/gw.py" "$WAN_PORT" "$H/gateways" GW-1 >"$T/free.json" 2>>"$T/log"
check "unlimited: image complete, digest right" judge "$T/free.json" 0 0
took free
check "unlimited: 1 MiB in under 2 s (a 256 KiB/s limit needs 4 s)" /usr/bin/python3 -c \
	"import json,sys; sys.exit(0 if json.load(open('$T/free.json'))['seconds'] < 2 else 1)"
check "stop" stop_stack

# ---- 256 KiB/s per connection, 512 KiB/s in total
printf '\n[wan]\nfirmware_rate = 262144\nfirmware_rate_total = 524288\n' >>"$H/torwart.conf"
check "torwartd all starts (limits)" start_stack
check "the limits are announced" grep -q "limited to 262144 bytes/s per connection, 524288" "$T/torwartd.log"
/usr/bin/python3 "$T/gw.py" "$WAN_PORT" "$H/gateways" GW-2 >"$T/one.json" 2>>"$T/log"
check "one gateway: 1 MiB complete, never ahead of 256 KiB/s, >= 3.5 s" judge "$T/one.json" 262144 3.5
took one
check "one gateway: four ranges" grep -q '"ranges": 4' "$T/one.json"
# one gateway drops its connection in the middle of a paced range while four fetch
DROP=100000 /usr/bin/python3 "$T/gw.py" "$WAN_PORT" "$H/gateways" GW-7 >"$T/drop.json" 2>>"$T/log" &
DROPPER=$!
/usr/bin/python3 "$T/gw.py" "$WAN_PORT" "$H/gateways" GW-3,GW-4,GW-5,GW-6 >"$T/four.json" 2>>"$T/log"
wait "$DROPPER"
check "a gateway dropped mid-range" grep -q '"dropped"' "$T/drop.json"
check "four gateways: 4 MiB complete, never ahead of 512 KiB/s in total, >= 7 s" judge "$T/four.json" 524288 7
took four
# the dropped transfer's state is gone and the wan still serves: GW-8 fetches its image
/usr/bin/python3 "$T/gw.py" "$WAN_PORT" "$H/gateways" GW-8 >"$T/after.json" 2>>"$T/log"
check "after the drop: the next gateway's image completes" judge "$T/after.json" 262144 3
took after
check "the wan is still running" kill -0 "$SUP"
