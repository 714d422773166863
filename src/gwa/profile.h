/*
 * profile.h: SMGW configuration profiles (UC-3.3.2, T-PV.1-4): the five profile types,
 * their JSON schemas (docs/profiles.md), validation, canonical form and hashes, and the
 * treatment of secrets inside them (sealing at rest, masking in listings).
 *
 * This file is the pure part: bytes in, verdict out, no store and no global state, so
 * tests/fuzz/fuzz_profile.c drives exactly what the CLI, the api and the simulator run.
 * Checks that need the store (authorised EMTs, references between profiles, the gateway
 * exists) are in profile_admin.h.
 *
 * Canonical form: jansson's compact encoding with sorted keys and ASCII escapes
 * (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII). Profile hash: SHA-256 of the
 * canonical plaintext. Profile-set hash: SHA-256 over the lines
 * "<profile_id> <type> <hash>\n" of all profiles, in ascending byte order of profile_id
 * (the empty set hashes the empty string). GWA and gateway compute both the same way.
 */
#ifndef TORWART_GWA_PROFILE_H
#define TORWART_GWA_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/error.h"
#include "crypto/secretbox.h"

#define PROFILE_DOC_MAX      (16 * 1024)  /* bytes of a profile document */
#define PROFILE_ID_MAX       64           /* profile ids, meter ids, EMT ids, CLS ids */
#define PROFILE_SET_MAX      256          /* profiles per gateway */
#define PROFILE_TYPE_NAME_MAX 15
#define PROFILE_MASK         "***"

enum profile_type {
	PROFILE_METER = 0,      /* Zählerprofil */
	PROFILE_WAN,            /* WAN-Kommunikationsprofil */
	PROFILE_PROXY,          /* Proxy-Kommunikationsprofil */
	PROFILE_EVALUATION,     /* Auswertungsprofil (TAF) */
	PROFILE_HAN,            /* HAN-Kommunikationsprofil */
	PROFILE__COUNT
};

/* "meter", "wan", "proxy", "evaluation", "han". Static. */
const char *profile_type_name(enum profile_type type);
/* TW_E_INVALID for anything else. */
tw_rc profile_type_parse(const char *name, enum profile_type *out, struct tw_error *err);
/* Ids of profiles, meters, EMTs, CLS: 1..64 of [A-Za-z0-9._-]. */
bool profile_id_valid(const char *id);

/* A validated profile document. */
struct profile_doc {
	enum profile_type type;
	char profile_id[PROFILE_ID_MAX + 1];
	json_t *json;           /* owned: the whole document, plaintext */
};

/*
 * Parse and validate a profile document of len bytes against its type's schema
 * (docs/profiles.md). Strict: unknown, missing, duplicate or mistyped members are
 * TW_E_INVALID with a message naming the member; more than PROFILE_DOC_MAX bytes is
 * TW_E_TOO_LARGE; not JSON is TW_E_INVALID. *out is the caller's (profile_doc_free).
 */
tw_rc profile_parse(const void *data, size_t len, struct profile_doc **out,
	struct tw_error *err);
/* Validate an already parsed object (borrowed; copied into *out). */
tw_rc profile_from_json(const json_t *obj, struct profile_doc **out, struct tw_error *err);
void profile_doc_free(struct profile_doc *doc);

/* ---- type-specific views (borrowed from doc->json; valid while doc lives) ---- */
/* Meter profile: the meter's device id. NULL for other types. */
const char *profile_meter_id(const struct profile_doc *doc);
/* WAN profile: the recipient (EMT or GWA market-partner id). NULL for other types. */
const char *profile_wan_recipient(const struct profile_doc *doc);
/*
 * WAN and proxy profiles: the peer (the WAN recipient, the proxy's EMT) and its TLS
 * certificate (base64 DER, members "tls_cert" / "emt_tls_cert", optional: NULL when the
 * profile carries only the fingerprint). NULL for other types.
 */
const char *profile_peer_id(const struct profile_doc *doc);
const char *profile_peer_cert(const struct profile_doc *doc);
/* Evaluation profile: meter ids referenced, and recipients (EMT, WAN profile id). */
size_t profile_eval_meter_count(const struct profile_doc *doc);
const char *profile_eval_meter(const struct profile_doc *doc, size_t i);
size_t profile_eval_recipient_count(const struct profile_doc *doc);
void profile_eval_recipient(const struct profile_doc *doc, size_t i, const char **emt,
	const char **wan_profile);

/* ---- canonical form and hashes ---- */
/* Canonical JSON text of obj; *out (NUL-terminated) is the caller's to free. */
tw_rc profile_canonical(const json_t *obj, char **out, struct tw_error *err);
/* SHA-256 (lower-case hex) of the canonical text of obj. */
tw_rc profile_hash(const json_t *obj, char out[65], struct tw_error *err);

struct profile_set_item {
	char profile_id[PROFILE_ID_MAX + 1];
	char type[PROFILE_TYPE_NAME_MAX + 1];
	char hash[65];
};
/* Sorts items by profile_id (in place) and hashes the set; duplicates are TW_E_INVALID. */
tw_rc profile_set_hash(struct profile_set_item *items, size_t n, char out[65],
	struct tw_error *err);
/*
 * Parse a reported set {"profile_set_hash": hex, "profiles": [{"profile_id","type",
 * "hash"}...]} (session status member "profiles", order results). Strict; the hash must
 * match the list. *items (caller frees) holds *n entries, sorted.
 */
tw_rc profile_set_parse(const json_t *obj, struct profile_set_item **items, size_t *n,
	char set_hash[65], struct tw_error *err);
/* The same object for items (sorted in place); new reference, caller owns. */
tw_rc profile_set_to_json(struct profile_set_item *items, size_t n, json_t **out,
	struct tw_error *err);

/* ---- secrets: meter key values, HAN user passwords ---- */
/*
 * Return a deep copy of doc (a document of type type) with every secret value sealed
 * (secretbox, bound to "profile/GATEWAY/PROFILE/PATH"), unsealed, or replaced by
 * PROFILE_MASK. New reference, caller owns. A secret that is already in the target form
 * is left as it is (masking a sealed document never decrypts anything).
 */
enum profile_secret_op { PROFILE_SEAL, PROFILE_UNSEAL, PROFILE_MASK_SECRETS };
tw_rc profile_secrets(const json_t *doc, enum profile_type type, enum profile_secret_op op,
	const struct secretbox *sb, const char *gateway_id, json_t **out, struct tw_error *err);

#endif
