/*
 * sim_state.c: a simulated gateway's persistent state (DIR/state.json), the cache of
 * GWA SIG certificates used to verify wake-ups, and the gateway's SIG key.
 *
 * state.json members: "done" (the last SIM_DONE_ORDERS executed orders: id -> answer,
 * so a re-delivered order is answered, never executed twice), "last_wakeup_ms"
 * (replay guard across restarts), and one member per order area ("retention_days",
 * "profiles", ...). Written to a temporary file that is then swapped in atomically
 * (sim_gw_save), without fsync: it must survive a restart of the simulator, not a power
 * cut (it is a simulator).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "gwa/wakeup.h"
#include "sim/sim_internal.h"

#define SIM_STATE_MAX   (1024 * 1024)
#define SIM_ID_FILE_MAX 256
#define SIM_GWA_CACHE   8
#define SIM_CERT_MAX    16384

tw_rc sim_gw_load(struct sim_gateway *gw, struct tw_error *err)
{
	unsigned char *text = NULL;
	size_t len = 0;
	char *path = NULL;
	json_error_t je;
	tw_rc rc;

	if (gw->loaded)
		return TW_OK;
	if ((path = tw_asprintf("%s/id", gw->pub.dir)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = tw_read_file(path, SIM_ID_FILE_MAX, &text, &len, err);
	if (rc != TW_OK)
		goto out;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (!wan_gateway_id_valid((const char *)text)) {
		rc = tw_error_set(err, TW_E_INVALID, "%s does not hold a valid gateway id", path);
		goto out;
	}
	memcpy(gw->id, text, len + 1);
	gw->pub.id = gw->id;
	free(text);
	text = NULL;
	free(path);
	if ((path = tw_asprintf("%s/state.json", gw->pub.dir)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (!tw_path_exists(path)) {
		gw->pub.state = json_object();
	} else {
		if ((rc = tw_read_file(path, SIM_STATE_MAX, &text, &len, err)) != TW_OK)
			goto out;
		gw->pub.state = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(gw->pub.state)) {
			json_decref(gw->pub.state);
			gw->pub.state = NULL;
			rc = tw_error_set(err, TW_E_INTEGRITY, "%s is not a JSON object: %s; remove it "
				"to reset the simulated gateway", path, je.text);
			goto out;
		}
	}
	if (gw->pub.state == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	gw->loaded = true;
out:
	free(text);
	free(path);
	return rc;
}

tw_rc sim_gw_save(struct sim_gateway *gw, struct tw_error *err)
{
	char *path = NULL, *tmp = NULL, *text = NULL;
	size_t len;
	tw_rc rc = TW_OK;
	int fd = -1;

	path = tw_asprintf("%s/state.json", gw->pub.dir);
	tmp = tw_asprintf("%s/.state.json.tmp", gw->pub.dir);
	text = json_dumps(gw->pub.state, JSON_COMPACT | JSON_SORT_KEYS);
	if (path == NULL || tmp == NULL || text == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	len = strlen(text);
	if (len > SIM_STATE_MAX) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "state of %s exceeds %d bytes", gw->id,
			SIM_STATE_MAX);
		goto out;
	}
	/*
	 * Overwrite the temporary file in place (no O_TRUNC) and swap it with state.json
	 * (RENAME_EXCHANGE): as atomic for a reader and a crash as rename, but the two files
	 * keep their inodes, so a save allocates no inode and frees none. A new file per save
	 * (create + rename) made ext4's inode allocation most of the simulator's cost of a
	 * save, twice per job (docs/performance.md). The temporary file then holds the
	 * previous state; nothing reads it. No state.json yet, or a file system without the
	 * exchange: plain rename.
	 */
	fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || ftruncate(fd, (off_t)len) != 0 ||
	    close(fd) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		goto out;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) != 0 &&
	    ((errno != ENOENT && errno != EINVAL && errno != ENOSYS && errno != EPERM) ||
	     rename(tmp, path) != 0))
		rc = tw_error_set(err, TW_E_IO, "cannot rename %s: %s", tmp, strerror(errno));
out:
	free(path);
	free(tmp);
	free(text);
	return rc;
}

void sim_gw_free(struct sim_gateway *gw)
{
	sim_tls_identity_drop(gw);
	SSL_SESSION_free(gw->session);
	gw->session = NULL;
	json_decref(gw->pub.state);
	gw->pub.state = NULL;
	EVP_PKEY_free(gw->pub.sig_key);
	gw->pub.sig_key = NULL;
}

EVP_PKEY *sim_gw_sig_key(struct sim_gw *gw, struct tw_error *err)
{
	char *path;

	if (gw->sig_key != NULL)
		return gw->sig_key;
	if ((path = tw_asprintf("%s/sig.key", gw->dir)) == NULL) {
		tw_error_set(err, TW_E_NOMEM, "out of memory");
		return NULL;
	}
	if (keys_read_private_pem(path, &gw->sig_key, err) != TW_OK)
		gw->sig_key = NULL;
	free(path);
	return gw->sig_key;
}

/* Gateways of one home share the GWA certificate: cache by the file's SHA-256. */
static struct {
	unsigned char hash[32];
	EVP_PKEY *pub;
	char gwa_id[WAKEUP_ID_MAX + 1];
} gwa_cache[SIM_GWA_CACHE];
static size_t gwa_cache_n;

void sim_gwa_cache_free(void)
{
	for (size_t i = 0; i < gwa_cache_n; i++)
		EVP_PKEY_free(gwa_cache[i].pub);
	gwa_cache_n = 0;
}

tw_rc sim_gwa_key(struct sim_gateway *gw, EVP_PKEY **pub, const char **gwa_id,
	struct tw_error *err)
{
	unsigned char *pem = NULL, hash[32];
	size_t len = 0, slot;
	char *path;
	X509 *cert = NULL;
	tw_rc rc;

	*pub = NULL;
	*gwa_id = NULL;
	if ((path = tw_asprintf("%s/gwa-sig.crt", gw->pub.dir)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = tw_read_file(path, SIM_CERT_MAX, &pem, &len, err)) != TW_OK)
		goto out;
	SHA256(pem, len, hash);
	for (size_t i = 0; i < gwa_cache_n; i++) {
		if (memcmp(gwa_cache[i].hash, hash, 32) == 0) {
			*pub = gwa_cache[i].pub;
			*gwa_id = gwa_cache[i].gwa_id;
			goto out;
		}
	}
	if ((rc = keys_read_cert_pem(path, &cert, err)) != TW_OK)
		goto out;
	slot = gwa_cache_n < SIM_GWA_CACHE ? gwa_cache_n++ : SIM_GWA_CACHE - 1;
	if (slot == SIM_GWA_CACHE - 1 && gwa_cache[slot].pub != NULL) {
		EVP_PKEY_free(gwa_cache[slot].pub);
		gwa_cache[slot].pub = NULL;
	}
	if ((rc = wakeup_cert_gwa_id(cert, gwa_cache[slot].gwa_id, err)) != TW_OK) {
		gwa_cache_n = slot;
		goto out;
	}
	if ((gwa_cache[slot].pub = X509_get_pubkey(cert)) == NULL) {
		gwa_cache_n = slot;
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "%s has no usable public key", path);
		goto out;
	}
	memcpy(gwa_cache[slot].hash, hash, 32);
	*pub = gwa_cache[slot].pub;
	*gwa_id = gwa_cache[slot].gwa_id;
out:
	X509_free(cert);
	free(pem);
	free(path);
	return rc;
}

json_t *sim_done_get(struct sim_gateway *gw, int64_t id)
{
	json_t *done = json_object_get(gw->pub.state, "done");
	char key[24];

	snprintf(key, sizeof(key), "%lld", (long long)id);
	return json_incref(json_object_get(done, key));
}

tw_rc sim_done_put(struct sim_gateway *gw, int64_t id, bool ok, json_t *answer,
	struct tw_error *err)
{
	json_t *done = json_object_get(gw->pub.state, "done");
	char key[24];

	(void)ok;
	if (done == NULL) {
		done = json_object();
		if (done == NULL || json_object_set_new(gw->pub.state, "done", done) != 0)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	/* Keep the newest SIM_DONE_ORDERS: drop the smallest id. */
	while (json_object_size(done) >= SIM_DONE_ORDERS) {
		const char *k;
		char min[24] = "";
		long long mv = 0;
		json_t *v;

		json_object_foreach(done, k, v) {
			long long x = strtoll(k, NULL, 10);

			(void)v;
			if (min[0] == '\0' || x < mv) {
				snprintf(min, sizeof(min), "%s", k);
				mv = x;
			}
		}
		if (min[0] == '\0' || json_object_del(done, min) != 0)
			break;
	}
	snprintf(key, sizeof(key), "%lld", (long long)id);
	if (json_object_set(done, key, answer) != 0)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	return TW_OK;
}
