/*
 * sim_firmware.c: the simulated gateway's firmware update (sim_firmware.h). The checks
 * are the ones a real SMGW makes before it installs (T-SU.1/2): the bytes have the
 * ordered size and SHA-256, and the manufacturer's manifest carries a valid signature
 * of a GWH certificate that chains to the SM-PKI Root the gateway trusts and names
 * exactly this model, version, size and digest. The simulator has no CRL of its own;
 * revocation is the GWA's check (docs/firmware.md).
 */
#include "sim/sim_firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/util.h"
#include "gwa/firmware_cms.h"

#define SIM_FW_CHUNK (64 * 1024)

/* Members of a firmware-update payload, borrowed from it. */
struct sim_fw_order {
	const char *gateway_id, *model, *version, *sha256, *url, *manifest;
	int64_t size;
	long range_max;
};

static bool sim_fw_order_get(const json_t *p, struct sim_fw_order *o)
{
	const json_t *size = json_object_get(p, "size"), *rmax = json_object_get(p, "range_max");

	memset(o, 0, sizeof(*o));
	o->gateway_id = json_string_value(json_object_get(p, "gateway_id"));
	o->model = json_string_value(json_object_get(p, "model"));
	o->version = json_string_value(json_object_get(p, "version"));
	o->sha256 = json_string_value(json_object_get(p, "sha256"));
	o->url = json_string_value(json_object_get(p, "url"));
	o->manifest = json_string_value(json_object_get(p, "manifest"));
	if (o->gateway_id == NULL || o->model == NULL || o->version == NULL ||
	    o->sha256 == NULL || strlen(o->sha256) != 64 || strchr(o->sha256, '/') != NULL ||
	    strchr(o->sha256, '.') != NULL || o->url == NULL || strlen(o->url) >= 64 ||
	    o->manifest == NULL || !json_is_integer(size) || json_integer_value(size) <= 0 ||
	    !json_is_integer(rmax) || json_integer_value(rmax) <= 0)
		return false;
	o->size = (int64_t)json_integer_value(size);
	o->range_max = (long)json_integer_value(rmax);
	return true;
}

static void sim_fw_part_path(struct sim_gw *gw, const char *sha, char *buf, size_t size)
{
	snprintf(buf, size, "%s/firmware-%.64s.part", gw->dir, sha);
}

bool sim_fw_download_needed(struct sim_gw *gw, const struct wan_order *o,
	struct sim_fw_need *need)
{
	struct sim_fw_order fo;
	struct stat st;

	memset(need, 0, sizeof(*need));
	if (strcmp(o->type, "firmware-update") != 0 || !sim_fw_order_get(o->payload, &fo) ||
	    strcmp(fo.gateway_id, gw->id) != 0)
		return false;
	sim_fw_part_path(gw, fo.sha256, need->path, sizeof(need->path));
	snprintf(need->url, sizeof(need->url), "%s", fo.url);
	need->size = fo.size;
	need->range_max = fo.range_max;
	need->have = stat(need->path, &st) == 0 ? (int64_t)st.st_size : 0;
	if (need->have > need->size) {   /* a broken part file: start again */
		unlink(need->path);
		need->have = 0;
	}
	return need->have < need->size;
}

tw_rc sim_fw_append(struct sim_fw_need *need, int64_t first, const void *data, size_t len,
	struct tw_error *err)
{
	int fd;
	size_t off = 0;
	tw_rc rc = TW_OK;

	if (first != need->have || len == 0 || need->have + (int64_t)len > need->size)
		return tw_error_set(err, TW_E_PROTOCOL, "range %lld+%zu does not continue the "
			"download at %lld of %lld", (long long)first, len, (long long)need->have,
			(long long)need->size);
	if ((fd = open(need->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		return tw_error_set(err, TW_E_IO, "cannot open %s: %s", need->path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = tw_error_set(err, TW_E_IO, "cannot write %s", need->path);
			break;
		}
		off += (size_t)w;
	}
	close(fd);
	if (rc == TW_OK)
		need->have += (int64_t)len;
	return rc;
}

/* SHA-256 (hex) and size of a file, streamed. */
static tw_rc sim_fw_hash(const char *path, char hex[65], int64_t *size, struct tw_error *err)
{
	unsigned char buf[SIM_FW_CHUNK], d[32];
	unsigned int dl = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	tw_rc rc = TW_OK;

	*size = 0;
	if (md == NULL || fd < 0 || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = tw_error_set(err, TW_E_IO, "cannot hash %s", path);
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		*size += n;
	}
	if (n < 0 || EVP_DigestFinal_ex(md, d, &dl) != 1) {
		rc = tw_error_set(err, TW_E_IO, "cannot hash %s", path);
		goto out;
	}
	tw_hex_encode(d, sizeof(d), hex);
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(md);
	return rc;
}

tw_rc sim_fw_check(struct sim_gw *gw, const json_t *payload, bool corrupt,
	struct tw_error *err)
{
	struct sim_fw_order fo;
	char path[SIM_FW_PATH_MAX], hex[65];
	int64_t size = 0;
	tw_rc rc;

	if (!sim_fw_order_get(payload, &fo))
		return tw_error_set(err, TW_E_INVALID, "bad firmware-update payload");
	sim_fw_part_path(gw, fo.sha256, path, sizeof(path));
	if (corrupt) {
		/* The fault: one byte damaged in transit (T-SU.1), caught by the digest. */
		int fd = open(path, O_RDWR | O_CLOEXEC);
		unsigned char b = 0;

		if (fd >= 0 && pread(fd, &b, 1, 0) == 1) {
			b ^= 0x5a;
			if (pwrite(fd, &b, 1, 0) != 1)
				b = 0;
		}
		if (fd >= 0)
			close(fd);
	}
	if ((rc = sim_fw_hash(path, hex, &size, err)) != TW_OK)
		return rc;
	if (size != fo.size || strcmp(hex, fo.sha256) != 0) {
		unlink(path);
		return tw_error_set(err, TW_E_INTEGRITY, "downloaded image has %lld bytes with "
			"SHA-256 %.16s..., ordered %lld bytes with %.16s...; fetching it again",
			(long long)size, hex, (long long)fo.size, fo.sha256);
	}
	return TW_OK;
}

const char *sim_fw_running(struct sim_gw *gw)
{
	return json_string_value(json_object_get(json_object_get(gw->state, "firmware"),
		"version"));
}

/* The manufacturer's manifest: signature, GWH signer, chain to DIR/root-ca.crt, content. */
static tw_rc sim_fw_manifest(struct sim_gw *gw, const struct sim_fw_order *fo,
	struct tw_error *err)
{
	size_t b64 = strlen(fo->manifest);
	unsigned char *der = NULL;
	struct fw_signed sd;
	struct fw_manifest m;
	enum fw_verdict v = FW_OK;
	STACK_OF(X509) *chain = sk_X509_new_null();
	char *roots = tw_asprintf("%s/root-ca.crt", gw->dir);
	char *inter = tw_asprintf("%s/chain.pem", gw->dir);
	FILE *f = NULL;
	X509 *x;
	int n;
	tw_rc rc;

	memset(&sd, 0, sizeof(sd));
	if (chain == NULL || roots == NULL || inter == NULL || b64 == 0 || b64 % 4 != 0 ||
	    b64 > 4 * (FW_CMS_MAX_BYTES / 3) || (der = malloc(b64)) == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "manifest missing or not base64");
		goto out;
	}
	n = EVP_DecodeBlock(der, (const unsigned char *)fo->manifest, (int)b64);
	if (n <= 0) {
		rc = tw_error_set(err, TW_E_INVALID, "manifest is not base64");
		goto out;
	}
	while (n > 0 && b64 > 0 && fo->manifest[b64 - 1] == '=') {   /* padding */
		n--;
		b64--;
	}
	if ((rc = fw_cms_open(der, (size_t)n, &sd, &v, err)) != TW_OK)
		goto out;
	if (!fw_signer_is_gwh_sig(sd.signer)) {
		rc = tw_error_set(err, TW_E_CRYPTO, "manifest not signed by a manufacturer");
		goto out;
	}
	if ((f = fopen(inter, "re")) != NULL) {
		while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
			if (sk_X509_push(chain, x) <= 0)
				X509_free(x);
		fclose(f);
	}
	for (int i = 0; i < sk_X509_num(sd.certs); i++)
		if (X509_up_ref(sk_X509_value(sd.certs, i)) == 1 &&
		    sk_X509_push(chain, sk_X509_value(sd.certs, i)) <= 0)
			X509_free(sk_X509_value(sd.certs, i));
	if ((rc = fw_chain_check(sd.signer, roots, chain, NULL, &v, err)) != TW_OK ||
	    (rc = fw_manifest_parse(sd.content, sd.content_len, &m, err)) != TW_OK)
		goto out;
	if (strcmp(m.model, fo->model) != 0 || strcmp(m.version, fo->version) != 0 ||
	    strcmp(m.sha256, fo->sha256) != 0 || m.size != fo->size)
		rc = tw_error_set(err, TW_E_CRYPTO, "the signed manifest names %s %s, not the "
			"ordered %s %s", m.model, m.version, fo->model, fo->version);
out:
	fw_signed_clear(&sd);
	sk_X509_pop_free(chain, X509_free);
	free(der);
	free(roots);
	free(inter);
	return rc;
}

static tw_rc fw_update_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	struct sim_fw_order fo;
	const char *old = sim_fw_running(gw);
	char path[SIM_FW_PATH_MAX], prev[80], when[40];
	json_t *fw;
	tw_rc rc;

	if (!sim_fw_order_get(payload, &fo)) {
		*code = "invalid_payload";
		return tw_error_set(err, TW_E_INVALID, "firmware-update payload incomplete");
	}
	if (strcmp(fo.gateway_id, gw->id) != 0) {
		*code = "wrong_gateway";
		return tw_error_set(err, TW_E_DENIED, "firmware order addressed to another gateway");
	}
	snprintf(prev, sizeof(prev), "%s", old != NULL ? old : "torwart-sim/0.2.0");
	sim_fw_part_path(gw, fo.sha256, path, sizeof(path));
	/* Complete receipt first (UC-3.2.5), then authenticity end to end. */
	if ((rc = sim_fw_check(gw, payload, false, err)) != TW_OK) {
		*code = "corrupt_download";
		return rc;
	}
	if ((rc = sim_fw_manifest(gw, &fo, err)) != TW_OK) {
		unlink(path);
		*code = "signature_invalid";
		return rc;
	}
	if ((gw->faults & SIM_FAULT_FW_REFUSE) != 0) {
		unlink(path);
		*code = "image_refused";
		return tw_error_set(err, TW_E_DENIED, "fault injection: the gateway refuses the "
			"image");
	}
	unlink(path);
	if ((gw->faults & SIM_FAULT_FW_REBOOT) != 0) {
		/* Reboot loop: the new image never comes up, the old one runs again. */
		*result = json_pack("{s:s, s:s, s:s, s:s}", "gateway_id", gw->id, "version", prev,
			"sha256", "", "rollback", "reboot loop; previous version restored");
		if (*result == NULL) {
			*code = "internal";
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		}
		return TW_OK;
	}
	tw_time_format_utc(tw_now_ms(), when, sizeof(when));
	fw = json_pack("{s:s, s:s, s:s, s:s}", "version", fo.version, "sha256", fo.sha256,
		"previous", prev, "installed", when);
	if (fw == NULL || json_object_set_new(gw->state, "firmware", fw) != 0) {
		*code = "internal";
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	*result = json_pack("{s:s, s:s, s:s, s:s}", "gateway_id", gw->id, "version", fo.version,
		"sha256", fo.sha256, "previous", prev);
	if (*result == NULL) {
		*code = "internal";
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

const struct sim_order_handler sim_order_firmware_update = { "firmware-update",
	fw_update_execute };
