/*
 * gwa_rotation.h: the state machine of the rotation of one of the GWA's own signer-held
 * keys (gwa_renew.h, gwa_renew_key; docs/renewal.md "The GWA's own certificates").
 *
 * Nothing is stored for it: the state is read each time from where it lives, the
 * signer's pointers of the key (current, next, prev: signer/signer_keys.h) and the
 * certificate files (the installed one and the staged "<cert>.next"), each named by the
 * versioned label of its public key (crypto/key_label.h). Every step changes one of
 * these places by one atomic rename, so a crash leaves one of the states below and a
 * rerun of `torwart gwa renew --key K` continues from it:
 *
 *   idle       next none, installed = current        -> PREPARE (new key in the signer)
 *   prepared   next set, no staged cert for it       -> ISSUE (certificate for next, staged)
 *   issued     next set, staged cert for next        -> INSTALL (staged cert installed)
 *   installed  next set, installed cert for next     -> COMMIT (signer switches to next)
 *   done       next none, installed = current        (the driver stops after COMMIT)
 *
 * Refused: a previous key still kept for its grace period (BLOCKED: retire it first) and
 * an installed certificate whose key is neither the current nor the next one (BROKEN:
 * somebody replaced the file; nothing is touched).
 */
#ifndef TORWART_GWA_GWA_ROTATION_H
#define TORWART_GWA_GWA_ROTATION_H

#include <stdbool.h>

enum gwa_rot_step {
	GWA_ROT_PREPARE,
	GWA_ROT_ISSUE,
	GWA_ROT_INSTALL,
	GWA_ROT_COMMIT,
	GWA_ROT_BLOCKED,
	GWA_ROT_BROKEN,
};

/* Versioned labels ("" for none); installed is never "" for a working GWA. */
struct gwa_rot_facts {
	const char *current, *next, *prev;   /* the signer's pointers */
	const char *installed;               /* the key of the installed certificate */
	const char *staged;                  /* the key of "<cert>.next", "" if none */
};

enum gwa_rot_step gwa_rot_next(const struct gwa_rot_facts *f);
const char *gwa_rot_step_name(enum gwa_rot_step s);

#endif
