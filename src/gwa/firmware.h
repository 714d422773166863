/*
 * firmware.h: the firmware catalogue of the GWA (DOMAIN.md UC-3.3.1 provisioning, the
 * store side of UC-3.2.5; threats T-SU.1-7). docs/firmware.md.
 *
 * An image received from a manufacturer is copied into the home as
 * HOME/firmware/<sha256> (0640) while its SHA-256 is computed, and recorded with model
 * (vendor/model = gateway type), version, size and who uploaded it. Its states:
 *
 *   uploaded --release--> released --withdraw--> withdrawn
 *       \-------------------withdraw-----------------^
 *
 * Only a released image may be ordered to gateways. Release is a four-eyes action
 * ("firmware.release", M-4.5.6.6); the approval mechanism wraps the command, this module
 * executes it. Release re-hashes the stored file and refuses when it no longer matches
 * its row (T-SU.1, manipulation at rest), and requires a verified manufacturer signature
 * (firmware_add_signed, firmware_cms.h), the (model, version) on the current certified
 * list, and no downgrade: an image older than a version of its model released before is
 * released only by firmware_downgrade, its own four-eyes action ("firmware.downgrade").
 *
 * Every change writes its admin-log entry in the same transaction ("firmware.add",
 * "firmware.release", "firmware.withdraw"; object "firmware:<id>"); refused input writes
 * a "refused" entry and nothing else.
 */
#ifndef TORWART_GWA_FIRMWARE_H
#define TORWART_GWA_FIRMWARE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"
#include "store/store_firmware.h"
#include "gwa/firmware_cms.h"

#define FIRMWARE_DIR "firmware"                                /* under the home */
#define FIRMWARE_MAX_SIZE_DEFAULT ((long)64 * 1024 * 1024)     /* [firmware] max_size */
#define FIRMWARE_MAX_SIZE_LIMIT   ((long)2047 * 1024 * 1024)   /* highest max_size accepted */

/* Who acts: recorded in every admin-log entry. Strings are borrowed. */
struct firmware_actor {
	const char *actor;    /* "os:alice", an operator name */
	const char *role;     /* "break-glass", "firmware-manager", ... */
	const char *client;   /* "local:PID", client address */
};

/* [firmware] max_size in bytes (default 64 MiB, 1 .. FIRMWARE_MAX_SIZE_LIMIT). */
tw_rc firmware_max_size(const struct tw_home *home, long *out, struct tw_error *err);

/*
 * A model or version label: 1..64 characters of [A-Za-z0-9._+-] and '/' (vendor/model),
 * not starting with '.', '/' or '-'. TW_E_INVALID naming `what` otherwise.
 */
tw_rc firmware_label_check(const char *s, const char *what, struct tw_error *err);

/*
 * `torwart firmware add`: copy file into the home, hash it, record it as "uploaded".
 * Refused (TW_E_INVALID / TW_E_TOO_LARGE / TW_E_EXISTS; nothing stored, a "refused"
 * entry logged): bad labels, not a regular file, empty, larger than [firmware] max_size,
 * the same bytes or the same (model, version) already stored. out (may be NULL)
 * receives the new row.
 */
tw_rc firmware_add(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, const char *file, const char *model,
	const char *version, struct store_firmware *out, struct tw_error *err);

/*
 * `torwart firmware add --signature CMS`: the manufacturer's delivery (UC-3.3.1). The
 * container cms_file (firmware_cms.h) is opened and its signature, signer profile (GWH
 * SIG), chain to a trusted Root and revocation (current CRLs) checked; model and version
 * come from its manifest (model/version, when not NULL, must match); then the image is
 * received as by firmware_add and must have the manifest's size and SHA-256. The
 * container is kept as firmware/<sha256>.cms and its signer recorded. *verdict names
 * the failed check (FW_OK on success) for the manufacturer's receipt; every refusal is
 * logged with the verdict as its error code.
 */
tw_rc firmware_add_signed(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, const char *file, const char *cms_file,
	const char *model, const char *version, struct store_firmware *out,
	enum fw_verdict *verdict, struct tw_error *err);

/*
 * uploaded -> released. TW_E_DENIED if the image is in another state, not signature
 * verified, not on the current certified list, or older than a version of its model
 * released before (a downgrade: firmware_downgrade); TW_E_INTEGRITY if its file is
 * missing or no longer matches its SHA-256 (all logged as refused).
 */
tw_rc firmware_release(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, int64_t id, struct store_firmware *out,
	struct tw_error *err);
/*
 * The same release for an image that IS a downgrade (its own four-eyes action
 * "firmware.downgrade", distinct from a rollout's start approval); TW_E_DENIED when the
 * image is not older than what was released (use firmware_release).
 */
tw_rc firmware_downgrade(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, int64_t id, struct store_firmware *out,
	struct tw_error *err);

/*
 * `torwart firmware import-list`: a certified-version list (firmware_cms.h) signed by the
 * [firmware] list_anchor certificate (the anchor itself or a certificate it issued).
 * Refused (TW_E_INVALID / TW_E_CRYPTO / TW_E_DENIED; logged "firmware.list.import"):
 * bad container or JSON, another signer, a sequence not above the current list's.
 * *out (may be NULL) receives the stored row.
 */
tw_rc firmware_import_list(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, const char *file, struct store_firmware_list *out,
	struct tw_error *err);

/*
 * The daily check (M-4.5.19): every image not withdrawn is re-hashed and its stored
 * container verified again (signature, chain, revocation with the current CRLs). Each
 * image gets a "firmware.check" entry; a failure sets its signature to "invalid" and
 * raises an alert ("firmware-check", to the firmware-manager role). *checked and
 * *failed count images (either may be NULL).
 */
tw_rc firmware_check_all(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, int *checked, int *failed, struct tw_error *err);

/*
 * uploaded|released -> withdrawn (final). The file is kept: it is evidence of what may
 * have been sent to gateways. reason may be NULL. TW_E_DENIED if already withdrawn.
 */
tw_rc firmware_withdraw(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, int64_t id, const char *reason,
	struct store_firmware *out, struct tw_error *err);

/*
 * Recompute the SHA-256 of f's stored file. TW_OK when size and digest match the row;
 * TW_E_INTEGRITY (saying what differs) when the file is missing, unreadable or changed.
 */
tw_rc firmware_verify_file(const struct tw_home *home, const struct store_firmware *f,
	struct tw_error *err);

#endif
