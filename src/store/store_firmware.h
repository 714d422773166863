/*
 * store_firmware.h: the firmware catalogue (migration 0007_firmware.sql; owner: the gwa
 * module, src/gwa/firmware.c).
 *
 *   firmware_images   one row per image received from a manufacturer; the bytes are the
 *                     file HOME/<path> (firmware/<sha256>)
 *
 * Arguments are validated in store_firmware.c before any SQL runs. None of these
 * functions opens a transaction: callers wrap data + audit entry in store_begin ..
 * store_commit themselves.
 */
#ifndef TORWART_STORE_STORE_FIRMWARE_H
#define TORWART_STORE_STORE_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

struct store_firmware {
	int64_t id;                               /* assigned by insert */
	char model[STORE_ID_MAX + 1];             /* vendor/model (gateway type) */
	char version[STORE_ID_MAX + 1];
	char sha256[65];                          /* lower-case hex of the image bytes */
	int64_t size;                             /* bytes, > 0 */
	char path[STORE_NAME_MAX + 1];            /* relative to the home: firmware/<sha256> */
	char signature[16];                       /* "unverified", "verified", "invalid" */
	char state[16];                           /* "uploaded", "released", "withdrawn" */
	int64_t uploaded_ms;
	char uploaded_by[STORE_NAME_MAX + 1];
	int64_t released_ms;                      /* 0 / "" until released */
	char released_by[STORE_NAME_MAX + 1];
	int64_t withdrawn_ms;                     /* 0 / "" until withdrawn */
	char withdrawn_by[STORE_NAME_MAX + 1];
};

/*
 * Insert f (state must be "uploaded"); *id receives the new id. TW_E_EXISTS when the
 * digest or the (model, version) pair is stored already (nothing is written).
 */
tw_rc store_firmware_insert(struct tw_store *store, const struct store_firmware *f,
	int64_t *id, struct tw_error *err);
/* TW_E_NOT_FOUND if unknown. */
tw_rc store_firmware_get(struct tw_store *store, int64_t id, struct store_firmware *out,
	struct tw_error *err);
/* The image with this digest, or with this (model, version); *found false if none. */
tw_rc store_firmware_find(struct tw_store *store, const char *sha256, const char *model,
	const char *version, struct store_firmware *out, bool *found, struct tw_error *err);
/*
 * Move image id from state `from` to `to` ("released" or "withdrawn"), recording who and
 * when in the matching columns. TW_E_NOT_FOUND if unknown; TW_E_DENIED if it is not in
 * state `from` (nothing changes; compare-and-set against concurrent commands).
 */
tw_rc store_firmware_transition(struct tw_store *store, int64_t id, const char *from,
	const char *to, int64_t when_ms, const char *by, struct tw_error *err);
/* Every image, ascending id. f is borrowed for the call; cb != 0 stops. */
typedef int (*store_firmware_cb)(const struct store_firmware *f, void *arg);
tw_rc store_firmware_foreach(struct tw_store *store, store_firmware_cb cb, void *arg,
	struct tw_error *err);
/* Set the signature status ("verified" / "invalid") of image id (daily check). */
tw_rc store_firmware_set_signature(struct tw_store *store, int64_t id, const char *status,
	struct tw_error *err);

/*
 * Migration the firmware_trust migration: the manufacturer signature of an image
 * (firmware_signatures) and the certified lists (firmware_lists, firmware_certified).
 */
struct store_firmware_sig {
	int64_t image_id;
	char cms_path[STORE_NAME_MAX + 1];        /* relative to the home */
	char signer[STORE_NAME_MAX + 1];          /* subject of the GWH SIG certificate */
	char signer_serial[80];                   /* hex */
	char signer_issuer[STORE_NAME_MAX + 1];
	int64_t verified_ms;
	int64_t checked_ms;                       /* 0 until the first re-verification */
	char check_result[32];                    /* "", "ok" or a verdict name */
};
tw_rc store_firmware_sig_insert(struct tw_store *store, const struct store_firmware_sig *s,
	struct tw_error *err);
/* *found false when the image has no signature row (uploaded before migration 0009). */
tw_rc store_firmware_sig_get(struct tw_store *store, int64_t image_id,
	struct store_firmware_sig *out, bool *found, struct tw_error *err);
tw_rc store_firmware_sig_checked(struct tw_store *store, int64_t image_id, int64_t when_ms,
	const char *result, struct tw_error *err);

struct store_firmware_list {
	int64_t id;
	int64_t sequence;
	char issued[40];
	char sha256[65];
	char signer[STORE_NAME_MAX + 1];
	int64_t entries;
	int64_t imported_ms;
	char imported_by[STORE_NAME_MAX + 1];
};
/* Insert the list's row; *id receives its id. TW_E_EXISTS for a known sequence. */
tw_rc store_firmware_list_insert(struct tw_store *store, const struct store_firmware_list *l,
	int64_t *id, struct tw_error *err);
tw_rc store_firmware_list_entry(struct tw_store *store, int64_t list_id, const char *model,
	const char *version, struct tw_error *err);
/* The current list (highest sequence); *found false when none was imported. */
tw_rc store_firmware_list_current(struct tw_store *store, struct store_firmware_list *out,
	bool *found, struct tw_error *err);
/* Whether (model, version) is on the current list; false when there is no list. */
tw_rc store_firmware_certified(struct tw_store *store, const char *model,
	const char *version, bool *yes, struct tw_error *err);
/* The entries of the current list, ordered by model and version; cb != 0 stops. */
typedef int (*store_firmware_entry_cb)(const char *model, const char *version, void *arg);
tw_rc store_firmware_list_foreach(struct tw_store *store, store_firmware_entry_cb cb,
	void *arg, struct tw_error *err);

#endif
