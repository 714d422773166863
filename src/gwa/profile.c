/*
 * profile.c: the schemas of the five SMGW profile types and their validation (see
 * profile.h). Canonical form, hashes and secrets are in profile_set.c. The schemas are
 * documented in docs/profiles.md, which must change together with the tables below.
 *
 * Validation is strict on purpose (T-PV.2: a faulty profile must never reach a gateway):
 * every member is known, typed and bounded, and enumerations are closed.
 */
#include "gwa/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/util.h"

#define PV_STR_MAX      255   /* free-text members: addresses, names */
#define PV_OBIS_MAX     64    /* OBIS codes per profile */
#define PV_METERS_MAX   32    /* meters per evaluation profile */
#define PV_RECIP_MAX    8     /* recipients per evaluation profile */
#define PV_USERS_MAX    16    /* HAN users */
#define PV_CERT_B64_MAX 8192  /* a peer's TLS certificate, base64 DER */

static const char *const type_names[PROFILE__COUNT] = {
	[PROFILE_METER] = "meter", [PROFILE_WAN] = "wan", [PROFILE_PROXY] = "proxy",
	[PROFILE_EVALUATION] = "evaluation", [PROFILE_HAN] = "han",
};

const char *profile_type_name(enum profile_type type)
{
	return (unsigned)type < PROFILE__COUNT ? type_names[type] : "unknown";
}

tw_rc profile_type_parse(const char *name, enum profile_type *out, struct tw_error *err)
{
	for (int i = 0; i < PROFILE__COUNT; i++) {
		if (name != NULL && strcmp(name, type_names[i]) == 0) {
			*out = (enum profile_type)i;
			return TW_OK;
		}
	}
	return tw_error_set(err, TW_E_INVALID,
		"profile type must be meter, wan, proxy, evaluation or han");
}

bool profile_id_valid(const char *id)
{
	size_t n;

	if (id == NULL)
		return false;
	for (n = 0; id[n] != '\0' && n <= PROFILE_ID_MAX; n++) {
		char c = id[n];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n >= 1 && n <= PROFILE_ID_MAX;
}

/* ---- value checks ---- */

enum pv_kind { PV_ID, PV_TEXT, PV_HEX, PV_HOSTPORT, PV_OBIS, PV_SECRET };

static bool pv_printable(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	}
	return true;
}

static bool pv_hex(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F')))
			return false;
	}
	return true;
}

/* One decimal field 0..255 of an OBIS code; advances *p. */
static bool pv_obis_field(const char **p)
{
	int v = 0, digits = 0;

	while (**p >= '0' && **p <= '9' && digits < 3) {
		v = v * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	return digits > 0 && v <= 255;
}

/* OBIS code (IEC 62056-61) in the long form "A-B:C.D.E*F", e.g. "1-0:1.8.0*255". */
static bool pv_obis(const char *s)
{
	static const char seps[] = "-:..*";

	for (int i = 0; i < 6; i++) {
		if (!pv_obis_field(&s))
			return false;
		if (i < 5 && *s++ != seps[i])
			return false;
	}
	return *s == '\0';
}

static bool pv_hostport(const char *s)
{
	struct tw_error e;
	char *host = NULL;
	uint16_t port;
	bool ok = tw_parse_hostport(s, &host, &port, &e) == TW_OK;

	free(host);
	return ok;
}

/* Context for error messages: "profile \"ID\" (type)". */
struct pv {
	const char *pid;
	const char *type;
	struct tw_error *err;
};

static tw_rc pv_fail(const struct pv *v, const char *fmt, const char *a, const char *b)
{
	return tw_error_set(v->err, TW_E_INVALID, "profile \"%s\" (%s): member \"%s\" %s",
		v->pid, v->type, a, b != NULL ? b : fmt);
}

/* Refuse members outside allowed (NULL-terminated). */
static tw_rc pv_members(const struct pv *v, const json_t *obj, const char *where,
	const char *const *allowed)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)obj, key, val) {
		size_t i;

		(void)val;
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(allowed[i], key) == 0)
				break;
		}
		if (allowed[i] == NULL)
			return tw_error_set(v->err, TW_E_INVALID,
				"profile \"%s\" (%s): unknown member \"%.64s\" in %s", v->pid, v->type,
				key, where);
	}
	return TW_OK;
}

static tw_rc pv_check_string(const struct pv *v, const char *name, const json_t *val,
	enum pv_kind kind, size_t min, size_t max)
{
	const char *s;
	size_t len;

	if (!json_is_string(val))
		return pv_fail(v, NULL, name, "must be a string");
	s = json_string_value(val);
	len = json_string_length(val);
	if (strlen(s) != len)
		return pv_fail(v, NULL, name, "contains a NUL character");
	if (len < min || len > max)
		return tw_error_set(v->err, len > max ? TW_E_INVALID : TW_E_INVALID,
			"profile \"%s\" (%s): member \"%s\" must be %zu..%zu characters long", v->pid,
			v->type, name, min, max);
	switch (kind) {
	case PV_ID:
		if (!profile_id_valid(s))
			return pv_fail(v, NULL, name, "may use only letters, digits, '.', '_', '-'");
		break;
	case PV_TEXT:
	case PV_SECRET:
		if (!pv_printable(s))
			return pv_fail(v, NULL, name, "may not contain control characters");
		break;
	case PV_HEX:
		if (!pv_hex(s))
			return pv_fail(v, NULL, name, "must be hexadecimal");
		break;
	case PV_HOSTPORT:
		if (!pv_hostport(s))
			return pv_fail(v, NULL, name, "must be HOST:PORT (port 1..65535)");
		break;
	case PV_OBIS:
		if (!pv_obis(s))
			return pv_fail(v, NULL, name,
				"must be an OBIS code such as 1-0:1.8.0*255 (fields 0..255)");
		break;
	}
	return TW_OK;
}

static tw_rc pv_string(const struct pv *v, const json_t *obj, const char *name, bool required,
	enum pv_kind kind, size_t min, size_t max)
{
	const json_t *val = json_object_get(obj, name);

	if (val == NULL)
		return required ? pv_fail(v, NULL, name, "is missing") : TW_OK;
	return pv_check_string(v, name, val, kind, min, max);
}

static tw_rc pv_int(const struct pv *v, const json_t *obj, const char *name, bool required,
	json_int_t min, json_int_t max)
{
	const json_t *val = json_object_get(obj, name);

	if (val == NULL)
		return required ? pv_fail(v, NULL, name, "is missing") : TW_OK;
	if (!json_is_integer(val))
		return pv_fail(v, NULL, name, "must be an integer");
	if (json_integer_value(val) < min || json_integer_value(val) > max)
		return tw_error_set(v->err, TW_E_INVALID,
			"profile \"%s\" (%s): member \"%s\" must be in %lld..%lld", v->pid, v->type, name,
			(long long)min, (long long)max);
	return TW_OK;
}

static tw_rc pv_enum(const struct pv *v, const json_t *obj, const char *name,
	const char *const *values, const char *hint)
{
	const json_t *val = json_object_get(obj, name);

	if (val == NULL)
		return pv_fail(v, NULL, name, "is missing");
	if (json_is_string(val)) {
		for (size_t i = 0; values[i] != NULL; i++) {
			if (strcmp(values[i], json_string_value(val)) == 0)
				return TW_OK;
		}
	}
	return pv_fail(v, NULL, name, hint);
}

/* An array of min..max elements; each element checked by kind (strings only). */
static tw_rc pv_string_array(const struct pv *v, const json_t *obj, const char *name,
	size_t min, size_t max, enum pv_kind kind, size_t smax, bool unique)
{
	const json_t *arr = json_object_get(obj, name);
	char what[96];
	size_t n;

	if (arr == NULL)
		return pv_fail(v, NULL, name, "is missing");
	if (!json_is_array(arr))
		return pv_fail(v, NULL, name, "must be an array");
	n = json_array_size(arr);
	if (n < min || n > max)
		return tw_error_set(v->err, TW_E_INVALID,
			"profile \"%s\" (%s): member \"%s\" must hold %zu..%zu entries", v->pid, v->type,
			name, min, max);
	for (size_t i = 0; i < n; i++) {
		tw_rc rc;

		snprintf(what, sizeof(what), "%s[%zu]", name, i);
		if ((rc = pv_check_string(v, what, json_array_get(arr, i), kind, 1, smax)) != TW_OK)
			return rc;
		for (size_t j = 0; unique && j < i; j++) {
			if (strcmp(json_string_value(json_array_get(arr, i)),
			    json_string_value(json_array_get(arr, j))) == 0)
				return pv_fail(v, NULL, what, "repeats an earlier entry");
		}
	}
	return TW_OK;
}

/* ---- the five schemas ---- */

static const char *const meter_members[] = { "profile_id", "type", "meter_id", "protocol",
	"scenario", "obis", "key", NULL };
static const char *const meter_protocols[] = { "sml", "dlms-cosem", "m-bus", NULL };
static const char *const meter_scenarios[] = { "wired", "wireless-unidirectional",
	"wireless-bidirectional", NULL };
static const char *const key_members[] = { "ref", "algorithm", "value", NULL };
static const char *const key_algorithms[] = { "aes-128", "aes-256", NULL };

static tw_rc pv_meter(const struct pv *v, const json_t *d)
{
	const json_t *key = json_object_get(d, "key");
	const json_t *alg, *val;
	tw_rc rc;

	if ((rc = pv_members(v, d, "the document", meter_members)) != TW_OK ||
	    (rc = pv_string(v, d, "meter_id", true, PV_ID, 1, PROFILE_ID_MAX)) != TW_OK ||
	    (rc = pv_enum(v, d, "protocol", meter_protocols,
	        "must be sml, dlms-cosem or m-bus")) != TW_OK ||
	    (rc = pv_enum(v, d, "scenario", meter_scenarios,
	        "must be wired, wireless-unidirectional or wireless-bidirectional")) != TW_OK ||
	    (rc = pv_string_array(v, d, "obis", 1, PV_OBIS_MAX, PV_OBIS, 32, true)) != TW_OK)
		return rc;
	if (key == NULL)
		return pv_fail(v, NULL, "key", "is missing");
	if (!json_is_object(key))
		return pv_fail(v, NULL, "key", "must be an object {ref, algorithm, value}");
	if ((rc = pv_members(v, key, "\"key\"", key_members)) != TW_OK ||
	    (rc = pv_string(v, key, "ref", true, PV_ID, 1, PROFILE_ID_MAX)) != TW_OK ||
	    (rc = pv_enum(v, key, "algorithm", key_algorithms, "must be aes-128 or aes-256")) !=
	    TW_OK)
		return rc;
	alg = json_object_get(key, "algorithm");
	val = json_object_get(key, "value");
	if (val == NULL)
		return pv_fail(v, NULL, "key.value", "is missing");
	/* A sealed or masked value is accepted only where this document came from the store. */
	if (json_is_string(val) && (secretbox_is_sealed(json_string_value(val)) ||
	    strcmp(json_string_value(val), PROFILE_MASK) == 0))
		return pv_fail(v, NULL, "key.value", "must be the key in hexadecimal, not a "
			"sealed or masked value");
	return pv_check_string(v, "key.value", val, PV_HEX,
		strcmp(json_string_value(alg), "aes-128") == 0 ? 32 : 64,
		strcmp(json_string_value(alg), "aes-128") == 0 ? 32 : 64);
}

/*
 * The optional certificate of a peer (issue 12, UC-3.3.3): base64 DER of one X.509
 * certificate whose SHA-256 fingerprint is the profile's fingerprint member, so that the
 * gateway can check it against its chain and its CRLs (a fingerprint alone cannot be
 * looked up on a CRL). Whether it is revoked is the gateway's check (sim_crl_check.c).
 */
static tw_rc pv_peer_cert(const struct pv *v, const json_t *d, const char *name,
	const char *fp_name)
{
	const json_t *val = json_object_get(d, name);
	const char *b64, *fp = json_string_value(json_object_get(d, fp_name));
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	const unsigned char *p;
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	X509 *x = NULL;
	size_t len, pad = 0;
	int n;
	tw_rc rc;

	if (val == NULL)
		return TW_OK;
	if ((rc = pv_check_string(v, name, val, PV_TEXT, 16, PV_CERT_B64_MAX)) != TW_OK)
		return rc;
	b64 = json_string_value(val);
	len = strlen(b64);
	for (size_t i = 0; i < len; i++) {
		char c = b64[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || (c == '=' && i >= len - 2)))
			return pv_fail(v, NULL, name, "must be one certificate in base64 DER");
	}
	if (len % 4 != 0)
		return pv_fail(v, NULL, name, "must be one certificate in base64 DER");
	pad = (b64[len - 1] == '=') + (b64[len - 2] == '=');
	if ((der = malloc(len / 4 * 3 + 1)) == NULL)
		return tw_error_set(v->err, TW_E_NOMEM, "out of memory");
	n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)len);
	p = der;
	if (n < 0 || (size_t)n < pad ||
	    (x = d2i_X509(NULL, &p, (long)((size_t)n - pad))) == NULL ||
	    p != der + ((size_t)n - pad)) {
		rc = pv_fail(v, NULL, name, "must be one certificate in base64 DER");
		goto out;
	}
	if (EVP_Digest(der, (size_t)n - pad, md, &mdlen, EVP_sha256(), NULL) != 1) {
		rc = tw_error_set(v->err, TW_E_CRYPTO, "cannot hash a certificate");
		goto out;
	}
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (fp == NULL || strcasecmp(hex, fp) != 0) {
		rc = tw_error_set(v->err, TW_E_INVALID, "profile \"%s\" (%s): member \"%s\" is not "
			"the certificate of \"%s\" (its SHA-256 fingerprint is %s)", v->pid, v->type,
			name, fp_name, hex);
		goto out;
	}
	rc = TW_OK;
out:
	X509_free(x);
	free(der);
	return rc;
}

static const char *const wan_members[] = { "profile_id", "type", "recipient", "address",
	"tls_cert_fingerprint", "tls_cert", "retries", "retry_interval_s", NULL };

static tw_rc pv_wan(const struct pv *v, const json_t *d)
{
	tw_rc rc;

	if ((rc = pv_members(v, d, "the document", wan_members)) != TW_OK ||
	    (rc = pv_string(v, d, "recipient", true, PV_ID, 1, PROFILE_ID_MAX)) != TW_OK ||
	    (rc = pv_string(v, d, "address", true, PV_HOSTPORT, 3, PV_STR_MAX)) != TW_OK ||
	    (rc = pv_string(v, d, "tls_cert_fingerprint", true, PV_HEX, 64, 64)) != TW_OK ||
	    (rc = pv_peer_cert(v, d, "tls_cert", "tls_cert_fingerprint")) != TW_OK ||
	    (rc = pv_int(v, d, "retries", true, 0, 10)) != TW_OK ||
	    (rc = pv_int(v, d, "retry_interval_s", true, 1, 86400)) != TW_OK)
		return rc;
	return TW_OK;
}

static const char *const proxy_members[] = { "profile_id", "type", "cls_id", "cls_address",
	"emt", "emt_address", "emt_tls_cert_fingerprint", "emt_tls_cert", "max_session_s", NULL };

static tw_rc pv_proxy(const struct pv *v, const json_t *d)
{
	tw_rc rc;

	if ((rc = pv_members(v, d, "the document", proxy_members)) != TW_OK ||
	    (rc = pv_string(v, d, "cls_id", true, PV_ID, 1, PROFILE_ID_MAX)) != TW_OK ||
	    (rc = pv_string(v, d, "cls_address", true, PV_HOSTPORT, 3, PV_STR_MAX)) != TW_OK ||
	    (rc = pv_string(v, d, "emt", true, PV_ID, 1, PROFILE_ID_MAX)) != TW_OK ||
	    (rc = pv_string(v, d, "emt_address", true, PV_HOSTPORT, 3, PV_STR_MAX)) != TW_OK ||
	    (rc = pv_string(v, d, "emt_tls_cert_fingerprint", true, PV_HEX, 64, 64)) != TW_OK ||
	    (rc = pv_peer_cert(v, d, "emt_tls_cert", "emt_tls_cert_fingerprint")) != TW_OK ||
	    (rc = pv_int(v, d, "max_session_s", true, 1, 86400)) != TW_OK)
		return rc;
	return TW_OK;
}

static const char *const eval_members[] = { "profile_id", "type", "taf", "meters", "obis",
	"interval_s", "recipients", NULL };
/* TAF5 (tariff stage change, UC-3.5.3) was missing: EMTs' TAF5 requests need it. */
static const char *const eval_tafs[] = { "TAF1", "TAF2", "TAF5", "TAF6", "TAF7", "TAF9",
	"TAF10", "TAF14", NULL };
static const char *const recipient_members[] = { "emt", "wan_profile", NULL };

static tw_rc pv_evaluation(const struct pv *v, const json_t *d)
{
	const json_t *rec;
	char what[64];
	size_t n;
	tw_rc rc;

	if ((rc = pv_members(v, d, "the document", eval_members)) != TW_OK ||
	    (rc = pv_enum(v, d, "taf", eval_tafs,
	        "must be one of TAF1, TAF2, TAF5, TAF6, TAF7, TAF9, TAF10, TAF14")) != TW_OK ||
	    (rc = pv_string_array(v, d, "meters", 1, PV_METERS_MAX, PV_ID, PROFILE_ID_MAX,
	        true)) != TW_OK ||
	    (rc = pv_string_array(v, d, "obis", 1, PV_OBIS_MAX, PV_OBIS, 32, true)) != TW_OK ||
	    (rc = pv_int(v, d, "interval_s", true, 1, 86400)) != TW_OK)
		return rc;
	rec = json_object_get(d, "recipients");
	if (rec == NULL)
		return pv_fail(v, NULL, "recipients", "is missing");
	if (!json_is_array(rec) || (n = json_array_size(rec)) < 1 || n > PV_RECIP_MAX)
		return pv_fail(v, NULL, "recipients", "must be an array of 1..8 {emt, wan_profile}");
	for (size_t i = 0; i < n; i++) {
		const json_t *r = json_array_get(rec, i);

		snprintf(what, sizeof(what), "recipients[%zu]", i);
		if (!json_is_object(r))
			return pv_fail(v, NULL, what, "must be an object {emt, wan_profile}");
		if ((rc = pv_members(v, r, what, recipient_members)) != TW_OK ||
		    (rc = pv_string(v, r, "emt", true, PV_ID, 1, PROFILE_ID_MAX)) != TW_OK ||
		    (rc = pv_string(v, r, "wan_profile", true, PV_ID, 1, PROFILE_ID_MAX)) != TW_OK)
			return rc;
	}
	return TW_OK;
}

static const char *const han_members[] = { "profile_id", "type", "interface", "users",
	"session_timeout_s", NULL };
static const char *const han_interfaces[] = { "ethernet", "wlan", NULL };
static const char *const user_members[] = { "name", "role", "password", NULL };
static const char *const user_roles[] = { "consumer", "service-technician", NULL };

static tw_rc pv_han(const struct pv *v, const json_t *d)
{
	const json_t *users;
	char what[64];
	size_t n;
	tw_rc rc;

	if ((rc = pv_members(v, d, "the document", han_members)) != TW_OK ||
	    (rc = pv_enum(v, d, "interface", han_interfaces, "must be ethernet or wlan")) != TW_OK ||
	    (rc = pv_int(v, d, "session_timeout_s", true, 60, 86400)) != TW_OK)
		return rc;
	users = json_object_get(d, "users");
	if (users == NULL)
		return pv_fail(v, NULL, "users", "is missing");
	if (!json_is_array(users) || (n = json_array_size(users)) < 1 || n > PV_USERS_MAX)
		return pv_fail(v, NULL, "users", "must be an array of 1..16 {name, role, password}");
	for (size_t i = 0; i < n; i++) {
		const json_t *u = json_array_get(users, i), *pw;

		snprintf(what, sizeof(what), "users[%zu]", i);
		if (!json_is_object(u))
			return pv_fail(v, NULL, what, "must be an object {name, role, password}");
		if ((rc = pv_members(v, u, what, user_members)) != TW_OK ||
		    (rc = pv_string(v, u, "name", true, PV_ID, 1, PROFILE_ID_MAX)) != TW_OK ||
		    (rc = pv_enum(v, u, "role", user_roles,
		        "must be consumer or service-technician")) != TW_OK)
			return rc;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(json_string_value(json_object_get(u, "name")), json_string_value(
			    json_object_get(json_array_get(users, j), "name"))) == 0)
				return pv_fail(v, NULL, what, "repeats the name of an earlier user");
		}
		snprintf(what, sizeof(what), "users[%zu].password", i);
		pw = json_object_get(u, "password");
		if (pw == NULL)
			return pv_fail(v, NULL, what, "is missing");
		if (json_is_string(pw) && (secretbox_is_sealed(json_string_value(pw)) ||
		    strcmp(json_string_value(pw), PROFILE_MASK) == 0))
			return pv_fail(v, NULL, what, "must be the password, not a sealed or masked value");
		if ((rc = pv_check_string(v, what, pw, PV_SECRET, 8, 128)) != TW_OK)
			return rc;
	}
	return TW_OK;
}

/* ---- documents ---- */

void profile_doc_free(struct profile_doc *doc)
{
	if (doc == NULL)
		return;
	json_decref(doc->json);
	free(doc);
}

tw_rc profile_from_json(const json_t *obj, struct profile_doc **out, struct tw_error *err)
{
	struct profile_doc *doc = NULL;
	const json_t *pid, *type;
	struct pv v = { .pid = "?", .type = "?", .err = err };
	tw_rc rc;

	*out = NULL;
	if (!json_is_object(obj)) {
		rc = tw_error_set(err, TW_E_INVALID, "a profile document must be a JSON object");
		goto out;
	}
	pid = json_object_get(obj, "profile_id");
	type = json_object_get(obj, "type");
	if (!json_is_string(pid) || !profile_id_valid(json_string_value(pid))) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"profile_id\" is missing or not 1..64 "
			"of letters, digits, '.', '_', '-'");
		goto out;
	}
	if ((doc = calloc(1, sizeof(*doc))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(doc->profile_id, sizeof(doc->profile_id), "%s", json_string_value(pid));
	v.pid = doc->profile_id;
	if (!json_is_string(type) ||
	    profile_type_parse(json_string_value(type), &doc->type, NULL) != TW_OK) {
		rc = tw_error_set(err, TW_E_INVALID, "profile \"%s\": member \"type\" must be meter, "
			"wan, proxy, evaluation or han", doc->profile_id);
		goto out;
	}
	v.type = profile_type_name(doc->type);
	switch (doc->type) {
	case PROFILE_METER: rc = pv_meter(&v, obj); break;
	case PROFILE_WAN: rc = pv_wan(&v, obj); break;
	case PROFILE_PROXY: rc = pv_proxy(&v, obj); break;
	case PROFILE_EVALUATION: rc = pv_evaluation(&v, obj); break;
	case PROFILE_HAN: rc = pv_han(&v, obj); break;
	default: rc = tw_error_set(err, TW_E_INTERNAL, "unhandled profile type"); break;
	}
	if (rc != TW_OK)
		goto out;
	if ((doc->json = json_deep_copy(obj)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	*out = doc;
	doc = NULL;
out:
	profile_doc_free(doc);
	return rc;
}

tw_rc profile_parse(const void *data, size_t len, struct profile_doc **out,
	struct tw_error *err)
{
	json_error_t jerr;
	json_t *obj = NULL;
	tw_rc rc;

	*out = NULL;
	if (len > PROFILE_DOC_MAX) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "profile document is %zu bytes; the limit is %d",
			len, PROFILE_DOC_MAX);
		goto out;
	}
	if (data == NULL || len == 0) {
		rc = tw_error_set(err, TW_E_INVALID, "profile document is empty");
		goto out;
	}
	obj = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "profile document is not valid JSON: %s "
			"(line %d, column %d)", jerr.text, jerr.line, jerr.column);
		goto out;
	}
	rc = profile_from_json(obj, out, err);
out:
	json_decref(obj);
	return rc;
}

const char *profile_meter_id(const struct profile_doc *doc)
{
	return doc->type == PROFILE_METER ?
		json_string_value(json_object_get(doc->json, "meter_id")) : NULL;
}

const char *profile_wan_recipient(const struct profile_doc *doc)
{
	return doc->type == PROFILE_WAN ?
		json_string_value(json_object_get(doc->json, "recipient")) : NULL;
}

const char *profile_peer_id(const struct profile_doc *doc)
{
	return doc->type == PROFILE_WAN ? profile_wan_recipient(doc) :
		doc->type == PROFILE_PROXY ?
		json_string_value(json_object_get(doc->json, "emt")) : NULL;
}

const char *profile_peer_cert(const struct profile_doc *doc)
{
	return json_string_value(json_object_get(doc->json, doc->type == PROFILE_WAN ?
		"tls_cert" : doc->type == PROFILE_PROXY ? "emt_tls_cert" : ""));
}

size_t profile_eval_meter_count(const struct profile_doc *doc)
{
	return doc->type == PROFILE_EVALUATION ?
		json_array_size(json_object_get(doc->json, "meters")) : 0;
}

const char *profile_eval_meter(const struct profile_doc *doc, size_t i)
{
	return json_string_value(json_array_get(json_object_get(doc->json, "meters"), i));
}

size_t profile_eval_recipient_count(const struct profile_doc *doc)
{
	return doc->type == PROFILE_EVALUATION ?
		json_array_size(json_object_get(doc->json, "recipients")) : 0;
}

void profile_eval_recipient(const struct profile_doc *doc, size_t i, const char **emt,
	const char **wan_profile)
{
	const json_t *r = json_array_get(json_object_get(doc->json, "recipients"), i);

	*emt = json_string_value(json_object_get(r, "emt"));
	*wan_profile = json_string_value(json_object_get(r, "wan_profile"));
}
