/*
 * order_firmware.c: the "firmware-update" order type (order_firmware.h). The job
 * machinery delivers it like every order (one at a time per gateway, deadline, retry
 * policy of the job); the bytes travel over GET /v1/firmware/ID in ranges inside the
 * same TLS session (src/wan/wan_firmware.c), allowed only while this order is the
 * gateway's current one.
 */
#include "gwa/order_firmware.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/config.h"
#include "base/util.h"
#include "gwa/firmware_cms.h"
#include "store/store_firmware.h"
#include "store/store_jobs.h"

/* Set once by firmware_orders_init before threads start, read-only afterwards. */
static char *fo_home;
static long fo_range_max = FIRMWARE_RANGE_MAX_DEFAULT;

tw_rc firmware_orders_init(const struct tw_home *home, struct tw_error *err)
{
	long max = 0;
	tw_rc rc;

	if (fo_home != NULL)
		return TW_OK;
	if ((rc = tw_config_get_long(home->conf, "wan", "firmware_range_max",
		FIRMWARE_RANGE_MAX_DEFAULT, 4096, 16L * 1024 * 1024, &max, err)) != TW_OK)
		return rc;
	if ((fo_home = tw_strdup(home->dir)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	fo_range_max = max;
	return TW_OK;
}

const char *firmware_orders_home(void)
{
	return fo_home;
}

long firmware_orders_range_max(void)
{
	return fo_range_max;
}

/* The image named by a payload {"image": ID}. */
static tw_rc fo_image(struct tw_store *store, const json_t *payload,
	struct store_firmware *f, struct tw_error *err)
{
	const json_t *img = json_object_get(payload, "image");

	if (!json_is_integer(img) || json_integer_value(img) <= 0)
		return tw_error_set(err, TW_E_INVALID, "firmware-update payload: \"image\" must be "
			"a firmware image id (torwart firmware list)");
	return store_firmware_get(store, (int64_t)json_integer_value(img), f, err);
}

static tw_rc fo_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	struct store_firmware f;
	const char *k;
	json_t *v;
	tw_rc rc;

	json_object_foreach((json_t *)ctx->payload, k, v) {
		(void)v;
		if (strcmp(k, "image") != 0)
			return tw_error_set(err, TW_E_INVALID, "firmware-update payload: unknown "
				"member \"%.40s\"", k);
	}
	if ((rc = fo_image(ctx->store, ctx->payload, &f, err)) != TW_OK)
		return rc;
	/* Only released, verified images ever go to a gateway (T-SU.1/3, M-4.5.19). */
	if (strcmp(f.state, "released") != 0)
		return tw_error_set(err, TW_E_DENIED, "firmware image %lld is %s; only a released "
			"image is sent to gateways", (long long)f.id, f.state);
	if (strcmp(f.signature, "verified") != 0)
		return tw_error_set(err, TW_E_DENIED, "firmware image %lld's manufacturer "
			"signature is %s (torwart firmware check)", (long long)f.id, f.signature);
	return TW_OK;
}

/* The manufacturer's container as base64, read from the home (small, bounded). */
static tw_rc fo_manifest_b64(struct tw_store *store, int64_t id, char **out,
	struct tw_error *err)
{
	struct store_firmware_sig sig;
	unsigned char *der = NULL;
	size_t len = 0;
	char *path = NULL;
	bool found = false;
	tw_rc rc;

	*out = NULL;
	if (fo_home == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "firmware_orders_init was not called");
	if ((rc = store_firmware_sig_get(store, id, &sig, &found, err)) != TW_OK)
		return rc;
	if (!found || strncmp(sig.cms_path, "firmware/", 9) != 0 ||
	    strstr(sig.cms_path, "..") != NULL)
		return tw_error_set(err, TW_E_INTEGRITY, "firmware image %lld has no stored "
			"manufacturer container", (long long)id);
	if ((path = tw_asprintf("%s/%s", fo_home, sig.cms_path)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = fw_read_file(path, FW_CMS_MAX_BYTES, &der, &len, err)) == TW_OK) {
		if ((*out = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		else
			EVP_EncodeBlock((unsigned char *)*out, der, (int)len);
	}
	free(der);
	free(path);
	return rc;
}

static tw_rc fo_to_wire(const struct order_ctx *ctx, json_t **wire, struct tw_error *err)
{
	struct store_firmware f;
	char url[48], *manifest = NULL;
	tw_rc rc;

	*wire = NULL;
	if ((rc = fo_image(ctx->store, ctx->payload, &f, err)) != TW_OK ||
	    (rc = fo_manifest_b64(ctx->store, f.id, &manifest, err)) != TW_OK)
		return rc;
	snprintf(url, sizeof(url), "/v1/firmware/%lld", (long long)f.id);
	*wire = json_pack("{s:s, s:I, s:s, s:s, s:I, s:s, s:s, s:I, s:s}", "gateway_id",
		ctx->gateway_id, "image", (json_int_t)f.id, "model", f.model, "version", f.version,
		"size", (json_int_t)f.size, "sha256", f.sha256, "url", url, "range_max",
		(json_int_t)fo_range_max, "manifest", manifest);
	free(manifest);
	if (*wire == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory building a firmware order");
	return TW_OK;
}

static tw_rc fo_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	const json_t *gw = json_object_get(result, "gateway_id");
	const json_t *ver = json_object_get(result, "version");
	const json_t *sha = json_object_get(result, "sha256");
	struct store_firmware f;
	tw_rc rc;

	if ((rc = fo_image(ctx->store, ctx->payload, &f, err)) != TW_OK)
		return rc;
	if (!json_is_string(gw) || strcmp(json_string_value(gw), ctx->gateway_id) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "firmware confirmation names another "
			"gateway");
	/* The GWA's knowledge of the running version must be right (T-SU.4). */
	if (!json_is_string(ver) || strcmp(json_string_value(ver), f.version) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "gateway reports version %.64s running, "
			"ordered %s (install failed or rolled back)", json_is_string(ver) ?
			json_string_value(ver) : "(none)", f.version);
	if (!json_is_string(sha) || strcmp(json_string_value(sha), f.sha256) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "gateway confirms other bytes than image "
			"%lld (SHA-256 differs)", (long long)f.id);
	return TW_OK;
}

const struct order_type order_type_firmware_update = {
	.name = "firmware-update",
	.summary = "download, verify and install a released firmware image (payload "
		"{\"image\":ID})",
	.timeout_s = 1800,
	.max_attempts = 3,
	.validate = fo_validate,
	.to_wire = fo_to_wire,
	.on_result = fo_result,
	.on_error = NULL,
};

tw_rc firmware_download_allowed(struct tw_store *store, const char *gateway_id,
	int64_t image_id, int64_t *job_id, struct tw_error *err)
{
	struct store_job job;
	json_t *payload = NULL, *img;
	bool found = false;
	tw_rc rc;

	*job_id = 0;
	memset(&job, 0, sizeof(job));
	if ((rc = store_job_head(store, gateway_id, &job, &found, err)) != TW_OK)
		return rc;
	if (!found || strcmp(job.type, "firmware-update") != 0 ||
	    job.state != JOB_SENT) {
		rc = tw_error_set(err, TW_E_DENIED, "no firmware-update order of this gateway is "
			"being executed (none, cancelled, timed out or another order first)");
		goto out;
	}
	payload = json_loads(job.payload != NULL ? job.payload : "", 0, NULL);
	img = json_object_get(payload, "image");
	if (!json_is_integer(img) || json_integer_value(img) != image_id) {
		rc = tw_error_set(err, TW_E_DENIED, "image %lld was not ordered to this gateway "
			"(its current order %lld names another)", (long long)image_id,
			(long long)job.id);
		goto out;
	}
	*job_id = job.id;
out:
	json_decref(payload);
	store_job_clear(&job);
	return rc;
}

/* Decimal digits at *p (at most 18, so no overflow); advances *p. */
static bool fo_number(const char **p, int64_t *out)
{
	int64_t v = 0;
	int n = 0;

	while (**p >= '0' && **p <= '9' && n < 18) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	*out = v;
	return n > 0 && !(**p >= '0' && **p <= '9');
}

tw_rc firmware_range_parse(const char *header, int64_t size, int64_t max, int64_t *first,
	int64_t *len, struct tw_error *err)
{
	const char *p = header;
	int64_t a = 0, b = -1;

	*first = 0;
	*len = 0;
	if (size <= 0 || max <= 0)
		return tw_error_set(err, TW_E_INVALID, "empty image");
	if (header != NULL) {
		if (strncmp(p, "bytes=", 6) != 0)
			return tw_error_set(err, TW_E_INVALID, "Range must be bytes=FIRST-[LAST]");
		p += 6;
		if (!fo_number(&p, &a) || *p++ != '-')
			return tw_error_set(err, TW_E_INVALID, "Range must be bytes=FIRST-[LAST] "
				"(one range, no suffix form)");
		if (*p != '\0' && (!fo_number(&p, &b) || *p != '\0'))
			return tw_error_set(err, TW_E_INVALID, "Range must be bytes=FIRST-[LAST] "
				"(one range)");
		if (b >= 0 && b < a)
			return tw_error_set(err, TW_E_INVALID, "Range LAST is before FIRST");
	}
	if (a >= size)
		return tw_error_set(err, TW_E_TOO_LARGE, "Range starts at %lld, the image has "
			"%lld bytes", (long long)a, (long long)size);
	if (b < 0 || b >= size)
		b = size - 1;
	*first = a;
	*len = b - a + 1 > max ? max : b - a + 1;
	return TW_OK;
}
