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
 * its row (T-SU.1, manipulation at rest). Vendor signatures are NOT verified yet: every
 * image's signature status is "unverified" (docs/firmware.md says what is missing).
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
 * uploaded -> released. TW_E_DENIED if the image is in another state, TW_E_INTEGRITY if
 * its file is missing or no longer matches its SHA-256 (both logged as refused).
 */
tw_rc firmware_release(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, int64_t id, struct store_firmware *out,
	struct tw_error *err);

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
