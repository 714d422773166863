#!/usr/bin/env bash
# ca_issue_dir.sh: issue 16, `torwart ca issue --request-dir DIR` (docs/ca-operations.md):
# a directory of requests issued by one command (certificates and admin-log entries
# counted); which entries are requests (regular *.der directly in DIR, byte order), which
# are ignored (hidden), skipped (other names, subdirectories) or refused unread (*.der
# symlinks, fifos and directories, names with control characters, never printed raw);
# a file that is no request and a replayed request refused with their codes while the
# rest is issued; an empty and a missing directory, more than 100000 files, and the
# misuses (with --request, twice, abbreviated, on another command) refused with nothing
# changed.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-cadir-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
db() { sqlite3 "$H/store.db" "$1"; }
counts() { db "SELECT (SELECT count(*) FROM ca_requests) || '/' || (SELECT count(*) FROM certificates) || '/' || (SELECT count(*) FROM admin_log WHERE action = 'ca.issue')"; }
certs() { db "SELECT count(*) FROM certificates WHERE request_id > 0"; }
issues() { db "SELECT count(*) FROM admin_log WHERE action = 'ca.issue'"; }
# run NAME CMD...: runs CMD, stdout to $T/NAME.out, stderr to $T/NAME.err, exit in $rc
run() { local n=$1; shift; "$@" >"$T/$n.out" 2>"$T/$n.err"; rc=$?; cat "$T/$n.out" "$T/$n.err" >>"$T/log"; }
no_ctl() { ! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$@"; }

check "init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--api-listen "127.0.0.1:$(free_port)" --wan-listen "127.0.0.1:$(free_port)" \
	--api-tls-listen "127.0.0.1:$(free_port)"
check "register EMT participant" "$TORWART" ca register --home "$H" --name stw \
	--org "Stadtwerk IT" --role emt --mp-id 9912345000001 --cn STW.EMT.IT
mkreq() { "$TORWART" req initial --cn STW.EMT.IT --ou 9912345000001 --key-dir "$T/keys-$1" \
	--format der --out "$2" >>"$T/log" 2>&1; }

# ---- a directory of good requests: all issued by one command, in byte order
mkdir "$T/good"
for i in 3 1 2 10; do check "request r$i" mkreq "g$i" "$T/good/r$i.der"; done
before_c=$(certs); before_a=$(issues)
run good "$TORWART" ca issue --home "$H" --request-dir "$T/good"
check "a directory of 4 requests is issued (exit $rc)" test "$rc" = 0
check "... 12 certificates more in the store" test "$(certs)" = $((before_c + 12))
check "... 4 ca.issue entries more in the admin log" test "$(issues)" = $((before_a + 4))
check "... the summary says 4 of 4" grep -q '^torwart: 4 of 4 requests issued, 12 certificates' "$T/good.out"
check "... one line per request, in byte order of the names (r1 r10 r2 r3)" test \
	"$(sed -n 's|^.*/good/\(r[0-9]*\)\.der: ok_cert_available request .*|\1|p' "$T/good.out" | tr '\n' ' ')" = "r1 r10 r2 r3 "
check "... requests got ids in that order" test \
	"$(db "SELECT id FROM ca_requests ORDER BY id" | tr '\n' ' ' | sed 's/ $//')" = \
	"$(sed -n 's|^.*: ok_cert_available request \([0-9]*\) .*|\1|p' "$T/good.out" | tr '\n' ' ' | sed 's/ $//')"
check "... progress on stderr counts the whole directory (1/4)" grep -q '^ca issue: 1/4 requests verified' "$T/good.err"
check "... the audit log verifies" "$TORWART" audit verify --home "$H"

# ---- a mixed directory: what is issued, refused (with its code) or skipped
mkdir "$T/mixed" "$T/mixed/sub" "$T/mixed/dir.der"
check "request m1" mkreq m1 "$T/mixed/m1.der"
check "request m2" mkreq m2 "$T/mixed/m2.der"
check "request behind a symlink" mkreq ln "$T/outside.der"
check "request under a name with an escape sequence" mkreq ctl "$T/ctl.der"
check "request in a subdirectory" mkreq sub "$T/mixed/sub/deep.der"
check "request as a hidden file" mkreq hid "$T/mixed/.partial.der"
check "request with another suffix" mkreq txt "$T/mixed/m3.req"
cp "$T/mixed/m2.der" "$T/mixed/m2-copy.der"                     # the same request twice
cp "$T/good/r1.der" "$T/mixed/replayed.der"                       # issued above
head -c 300 /dev/urandom >"$T/mixed/garbage.der"                  # no request
ln -s "$T/outside.der" "$T/mixed/link.der"
mkfifo "$T/mixed/fifo.der"
cp "$T/ctl.der" "$T/mixed/evil"$'\e'"[2J"$'\n'"name.der"
echo "batch of 2026-12-07" >"$T/mixed/README"
before_c=$(certs); before_a=$(issues)
run mixed timeout 120 "$TORWART" ca issue --home "$H" --request-dir "$T/mixed"
check "the mixed directory: exit 4 (some requests refused), not a hang on the fifo (exit $rc)" test "$rc" = 4
check "... m1 and m2 issued: 6 certificates, 2 ca.issue entries" test \
	"$(certs)/$(issues)" = "$((before_c + 6))/$((before_a + 2))"
check "... the summary counts 2 of 9 *.der entries" grep -q '^torwart: 2 of 9 requests issued, 6 certificates' "$T/mixed.out"
check "... and the refused and skipped entries" grep -q '^torwart: 4 entries of the directory refused unread, 3 skipped' "$T/mixed.out"
check "... garbage.der: failure_syntax" grep -q '/mixed/garbage.der: failure_syntax' "$T/mixed.err"
check "... replayed.der: failure_request_not_accepted" grep -q '/mixed/replayed.der: failure_request_not_accepted' "$T/mixed.err"
check "... the second copy in the run: failure_request_not_accepted" grep -q '/mixed/m2.der: failure_request_not_accepted.*appears twice' "$T/mixed.err"
check "... link.der refused unread (symlink not followed)" grep -q '^torwart ca issue: link.der: refused: a symbolic link' "$T/mixed.err"
check "... fifo.der refused unread" grep -q '^torwart ca issue: fifo.der: refused: not a regular file' "$T/mixed.err"
check "... dir.der refused" grep -q '^torwart ca issue: dir.der: refused: not a regular file' "$T/mixed.err"
check "... the name with ESC and newline refused, shown escaped" grep -qF 'evil\x1b[2J\x0aname.der: refused: its name holds control characters' "$T/mixed.err"
check "... no control character on stdout or stderr" no_ctl "$T/mixed.out" "$T/mixed.err"
check "... README, m3.req and sub skipped by name" bash -c "grep -q '^torwart ca issue: README: skipped: not named \*.der' '$T/mixed.err' && grep -q '^torwart ca issue: m3.req: skipped' '$T/mixed.err' && grep -q '^torwart ca issue: sub: skipped: a directory' '$T/mixed.err'"
check "... the hidden file is not mentioned" bash -c "! grep -q partial '$T/mixed.out' '$T/mixed.err'"
check "... the requests behind the link, under the bad name, below and hidden were not issued" \
	"$TORWART" ca issue --home "$H" --request "$T/outside.der" --request "$T/ctl.der" \
	--request "$T/mixed/sub/deep.der" --request "$T/mixed/.partial.der" --request "$T/mixed/m3.req"
check "... refusals are in the admin log (garbage, replay, duplicate)" test \
	"$(db "SELECT count(*) FROM admin_log WHERE action = 'ca.request.refuse'")" -ge 3

# ---- skipped entries alone do not fail the run
mkdir "$T/withnote"
check "request n1" mkreq n1 "$T/withnote/n1.der"
echo "checksums" >"$T/withnote/SHA256SUMS"
run withnote "$TORWART" ca issue --home "$H" --request-dir "$T/withnote"
check "a request beside a README-like file: exit 0 (exit $rc)" test "$rc" = 0
check "... the file is named as skipped" grep -q 'SHA256SUMS: skipped' "$T/withnote.err"

# ---- refused before any work, nothing changed
before=$(counts)
mkdir "$T/empty"; touch "$T/empty/.hidden.der"
run empty "$TORWART" ca issue --home "$H" --request-dir "$T/empty"
check "an empty directory (a hidden file only): exit 1 (exit $rc)" test "$rc" = 1
check "... says it holds no request file" grep -q 'holds no request file' "$T/empty.err"
run missing "$TORWART" ca issue --home "$H" --request-dir "$T/nonexistent"
check "a missing directory: exit 1 (exit $rc)" test "$rc" = 1
check "... named in the message" grep -q "cannot open the request directory $T/nonexistent" "$T/missing.err"
run notdir "$TORWART" ca issue --home "$H" --request-dir "$T/good/r1.der"
check "a file instead of a directory: exit 1 (exit $rc)" test "$rc" = 1
mkdir "$T/many"
cp "$T/withnote/n1.der" "$T/many/000000.der"
(cd "$T/many" && seq -f '%06g.der' 1 100000 | xargs touch)
run many "$TORWART" ca issue --home "$H" --request-dir "$T/many"
check "100001 *.der files: exit 1 before any work (exit $rc)" test "$rc" = 1
check "... the cap is named" grep -q 'more than 100000 request files' "$T/many.err"
rm -rf "$T/many"
run both "$TORWART" ca issue --home "$H" --request-dir "$T/good" --request "$T/good/r1.der"
check "--request-dir with --request: usage error, exit 2 (exit $rc)" test "$rc" = 2
run twice "$TORWART" ca issue --home "$H" --request-dir "$T/good" --request-dir "$T/mixed"
check "--request-dir twice: exit 2 (exit $rc)" test "$rc" = 2
run abbrev "$TORWART" ca issue --home "$H" --request-d "$T/good"
check "--request-d (an abbreviation): exit 2 (exit $rc)" test "$rc" = 2
check "... named as an abbreviation" grep -q 'abbreviation' "$T/abbrev.err"
run withid "$TORWART" ca issue --home "$H" --request-dir "$T/good" --id 1
check "--request-dir with --id: exit 2 (exit $rc)" test "$rc" = 2
run submit "$TORWART" ca submit --home "$H" --request-dir "$T/good"
check "ca submit --request-dir: exit 2 (exit $rc)" test "$rc" = 2
check "none of these changed a request, certificate or admin-log issuance" test "$(counts)" = "$before"
check "admin log verifies" "$TORWART" audit verify --home "$H"
