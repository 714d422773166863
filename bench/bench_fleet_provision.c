/*
 * bench_fleet_provision.c: register N gateways for bench/bench_fleet.sh in one process
 * (one store and one signer connection instead of N `torwart gateway add` processes).
 * Same code path as `torwart gateway add` (gateway_provision): device keys, TLS/SIG/ENC
 * certificates signed by the Sub-CA inside the signer, inventory rows and audit entries.
 *
 *   bench_fleet_provision --home DIR --prefix P --from I --to J   (ids P%06d, I..J-1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/home.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/signer.h"
#include "gwa/gateway.h"
#include "store/store.h"

int main(int argc, char **argv)
{
	const char *home_dir = NULL, *prefix = "ETWAFLEET";
	long from = 0, to = 0;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct signer_client *sc = NULL;
	struct tw_error err;
	char *url = NULL;
	int status = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--home") == 0)
			home_dir = argv[i + 1];
		else if (strcmp(argv[i], "--prefix") == 0)
			prefix = argv[i + 1];
		else if (strcmp(argv[i], "--from") == 0 &&
		    tw_parse_long(argv[i + 1], 0, 9999999, &from, &err, "from") == TW_OK)
			continue;
		else if (strcmp(argv[i], "--to") == 0 &&
		    tw_parse_long(argv[i + 1], 0, 9999999, &to, &err, "to") == TW_OK)
			continue;
		else
			home_dir = NULL;
	}
	if (home_dir == NULL || to <= from) {
		fputs("usage: bench_fleet_provision --home DIR [--prefix P] --from I --to J\n", stderr);
		return 2;
	}
	tw_log_init("provision", TW_LOG_ERROR);
	if (tw_home_open(home_dir, &home, &err) != TW_OK ||
	    (url = tw_home_store_url(home)) == NULL ||
	    store_open(url, &store, &err) != TW_OK ||
	    signer_client_open(home, false, &sc, &err) != TW_OK) {
		fprintf(stderr, "bench_fleet_provision: %s\n", err.message);
		goto out;
	}
	signer_client_set_actor(sc, "bench", "local-admin");
	for (long i = from; i < to; i++) {
		char id[64], *dir;

		snprintf(id, sizeof(id), "%s%06ld", prefix, i);
		if ((dir = tw_asprintf("%s/gateways/%s", home->dir, id)) == NULL ||
		    gateway_provision(home, store, sc, id, dir, "bench", &err) != TW_OK) {
			fprintf(stderr, "bench_fleet_provision: %s: %s\n", id, err.message);
			free(dir);
			goto out;
		}
		free(dir);
	}
	status = 0;
out:
	signer_client_close(sc);
	store_close(store);
	free(url);
	tw_home_free(home);
	return status;
}
