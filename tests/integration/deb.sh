#!/usr/bin/env bash
# deb.sh: issue 15 section 3. The Debian package installs on this machine and the stack
# starts from it: programs in /usr/bin, units, man pages, the example configuration;
# `torwart init` and `torwartd all` from the installed programs serve /health, a gateway
# opens a session, the api answers an operator, the package is removed afterwards.
#
# The package is $TORWART_DEB when set (the output of `make deb`, dpkg-buildpackage);
# otherwise this test packs the same file set from the build directory (`meson install`
# into a staging tree, the binary stanza of packaging/debian/control), so that it runs in
# seconds in `make test`. Skipped (77) when not root or without dpkg, or when a torwart
# package is installed already (it is not ours to replace).
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-deb-XXXXXX)
trap 'cleanup_pkg; finish; exit $?' EXIT
SRC=${TORWART_SOURCE:?}
installed=no
cleanup_pkg() { [ "$installed" = yes ] && dpkg --purge torwart >>"$T/log" 2>&1; installed=no; }
if [ "$(id -u)" != 0 ] || ! command -v dpkg-deb >/dev/null; then
	echo "SKIP: installing a package needs root and dpkg"
	exit 77
fi
if dpkg-query -W -f='${Status}' torwart 2>/dev/null | grep -q installed; then
	echo "SKIP: a torwart package is installed already; not replacing it"
	exit 77
fi
DEB=${TORWART_DEB:-}
if [ -z "$DEB" ]; then
	S="$T/stage"
	check "meson install into a staging tree" env DESTDIR="$S" meson install -C "$BUILD" --no-rebuild --quiet
	# The build directory's prefix (/usr/local) becomes the package's /usr.
	mkdir -p "$S/usr" "$S/DEBIAN"
	cp -a "$S/usr/local/." "$S/usr/" && rm -rf "$S/usr/local"
	ver=$(sed -n '1s/.*(\([^)]*\)).*/\1/p' "$SRC/packaging/debian/changelog")
	{
		sed -n '/^Package:/,$p' "$SRC/packaging/debian/control" |
			sed -e 's/^Architecture: any/Architecture: '"$(dpkg --print-architecture)"'/' \
			    -e 's/^Depends: .*/Depends: libssl3, libevent-2.1-7, libsqlite3-0, libjansson4, libxml2, libp11-3, libpq5, libgfshare2, libseccomp2, softhsm2, openssl/'
		echo "Version: $ver"
		echo "Maintainer: Torwart maintainers <torwart@localhost>"
	} >"$S/DEBIAN/control"
	DEB="$T/torwart_${ver}_test.deb"
	check "dpkg-deb builds the package" dpkg-deb --root-owner-group --build "$S" "$DEB"
fi
check "the package holds programs, units, man pages, example configuration" bash -c \
	"dpkg-deb -c '$DEB' > '$T/contents' && for f in usr/bin/torwart usr/bin/torwartd usr/bin/torwart-sim usr/lib/systemd/system/torwart.target usr/lib/systemd/system/torwart-api.service usr/share/man/man1/torwart.1 usr/share/man/man8/torwartd.8 usr/share/man/man5/torwart.conf.5 usr/share/doc/torwart/examples/torwart.conf usr/share/doc/torwart/openapi.yaml usr/share/torwart/web/index.html usr/share/torwart/web/console.js usr/share/torwart/web/console.css; do grep -q \"\\./\$f\" '$T/contents' || { echo missing \$f; exit 1; }; done"
check "dpkg -i installs it" dpkg -i "$DEB"
installed=yes
check "dpkg says it is installed" bash -c "dpkg-query -W -f='\${Status}' torwart | grep -q 'install ok installed'"
check "torwart(1), torwartd(8), torwart.conf(5) are found by man" bash -c \
	"man -w torwart >/dev/null && man -w 8 torwartd >/dev/null && man -w 5 torwart.conf >/dev/null"
check "/usr/bin/torwart --help" /usr/bin/torwart --help

H="$T/home"; WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port); MK=$(free_port)
check "the installed torwart creates a home" /usr/bin/torwart init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$TLS_PORT"
printf '\n[metrics]\nworker_listen = 127.0.0.1:%s\n' "$MK" >>"$H/torwart.conf"
/usr/bin/torwartd --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "the installed torwartd starts the stack: wan" wait_port 127.0.0.1 "$WAN_PORT" 30
check "... api /health ok" bash -c "for i in \$(seq 60); do curl -fsS http://127.0.0.1:$API_PORT/health | grep -q '\"ok\"' && exit 0; sleep 0.5; done; exit 1"
check "... worker metrics" bash -c "for i in \$(seq 60); do curl -fsS http://127.0.0.1:$MK/metrics | grep -q '^torwart_up{service=\"worker\"} 1' && exit 0; sleep 0.5; done; exit 1"
check "gateway add with the installed CLI" /usr/bin/torwart gateway add --home "$H" --id SMGW-DEB-0001
check "the installed simulator opens a session" /usr/bin/torwart-sim --gwa "127.0.0.1:$WAN_PORT" \
	--gateways "$H/gateways/SMGW-DEB-0001"
printf 'deb-operator-password\n' >"$T/op.pw"
check "operator add" /usr/bin/torwart operator add --home "$H" --name debop --tenant default \
	--password-file "$T/op.pw" --roles gateway-operator --out "$T/op"
check "login through the installed api" /usr/bin/torwart login --api "https://127.0.0.1:$TLS_PORT" \
	--cert "$T/op/debop.crt" --key "$T/op/debop.key" --password-file "$T/op.pw" --token-file "$T/s"
check "gateway list through the api (commands run by /usr/bin/torwart)" bash -c \
	"/usr/bin/torwart gateway list --token-file '$T/s' | grep -q SMGW-DEB-0001"
for p in "${pids_to_kill[@]}"; do kill -TERM "$p" 2>/dev/null; done
sleep 2
cleanup_pkg
check "dpkg --purge removed it" bash -c "! dpkg-query -W -f='\${Status}' torwart 2>/dev/null | grep -q 'install ok installed' && test ! -e /usr/bin/torwartd"
