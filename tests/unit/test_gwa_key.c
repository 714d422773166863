/*
 * test_gwa_key.c: rotation of the GWA's own signer-held keys (issue 12): the state
 * machine (gwa/gwa_rotation.h), the versioned labels (crypto/key_label.h) and the
 * signer's key storage side (signer/signer_keys.h "Key rotation") on the file backend,
 * including the states a crash between two renames leaves behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "base/home.h"
#include "base/util.h"
#include "crypto/key_label.h"
#include "crypto/keys.h"
#include "gwa/gwa_rotation.h"
#include "signer/signer_keys.h"

/* ---- state machine ---- */

#define A "gwa-sig.k0000000000000001"
#define B "gwa-sig.k0000000000000002"
#define C "gwa-sig.k0000000000000003"

static enum gwa_rot_step step(const char *cur, const char *next, const char *prev,
	const char *installed, const char *staged)
{
	struct gwa_rot_facts f = { cur, next, prev, installed, staged };

	return gwa_rot_next(&f);
}

static void test_rotation_steps(void **state)
{
	(void)state;
	/* idle -> prepare; a first rotation and one after the previous key was retired */
	assert_int_equal(step(A, "", "", A, ""), GWA_ROT_PREPARE);
	/* prepared: issue; a staged certificate for another key is no use */
	assert_int_equal(step(A, B, "", A, ""), GWA_ROT_ISSUE);
	assert_int_equal(step(A, B, "", A, C), GWA_ROT_ISSUE);
	/* issued -> install; installed -> commit (crash between the renames) */
	assert_int_equal(step(A, B, "", A, B), GWA_ROT_INSTALL);
	assert_int_equal(step(A, B, "", B, ""), GWA_ROT_COMMIT);
	/* commit half done in the signer (prev written, current not yet): still commit */
	assert_int_equal(step(A, B, A, B, ""), GWA_ROT_COMMIT);
	/* done: the previous key is kept, a new rotation waits for its retirement */
	assert_int_equal(step(B, "", A, B, ""), GWA_ROT_BLOCKED);
	/* retired */
	assert_int_equal(step(B, "", "", B, ""), GWA_ROT_PREPARE);
	/* somebody replaced the certificate: nothing is touched */
	assert_int_equal(step(A, "", "", C, ""), GWA_ROT_BROKEN);
	assert_int_equal(step(A, B, "", C, ""), GWA_ROT_BROKEN);
	assert_int_equal(step(A, B, "", "", ""), GWA_ROT_BROKEN);
	assert_string_equal(gwa_rot_step_name(GWA_ROT_COMMIT), "commit");
}

/* ---- labels ---- */

static void test_labels(void **state)
{
	char base[65], out[65];
	EVP_PKEY *k = NULL;
	struct tw_error err;

	(void)state;
	assert_true(signer_label_versioned("gwa-tls.k0123456789abcdef"));
	assert_false(signer_label_versioned("gwa-tls"));
	assert_false(signer_label_versioned("gwa-tls.k0123456789ABCDEF"));
	assert_false(signer_label_versioned("gwa-tls.k0123456789abcde"));
	assert_false(signer_label_versioned("gwa-tls.k0123456789abcdef0"));
	assert_false(signer_label_versioned(".k0123456789abcdef"));
	assert_false(signer_label_versioned("gwa-tls.x0123456789abcdef"));
	signer_label_base("gwa-tls.k0123456789abcdef", base, sizeof(base));
	assert_string_equal(base, "gwa-tls");
	signer_label_base("gwa-tls", base, sizeof(base));
	assert_string_equal(base, "gwa-tls");
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &k, &err), TW_OK);
	assert_int_equal(signer_label_of_key("gwa-sig", k, out, sizeof(out), &err), TW_OK);
	assert_true(signer_label_versioned(out));
	assert_int_equal(strncmp(out, "gwa-sig.k", 9), 0);
	EVP_PKEY_free(k);
}

/* ---- the signer's key storage (file backend) ---- */

struct env {
	char dir[64];
	struct tw_home *home;
	struct signer_keys *keys;
	EVP_PKEY *legacy;
	char legacy_label[65];
};

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct tw_error err;
	char path[160];

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/tw-gwakey-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(path, sizeof(path), "%s/torwart.conf", e->dir);
	write_text(path, "[signer]\nbackend = file\nkey_dir = keys\ntls_key_dir = tls\n\n"
		"[log]\nlevel = error\n");
	snprintf(path, sizeof(path), "%s/keys", e->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	/* A key made before rotation existed: its base label is its file name. */
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &e->legacy, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/keys/gwa-sig.key", e->dir);
	assert_int_equal(keys_write_private_pem(path, e->legacy, &err), TW_OK);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(signer_label_of_key("gwa-sig", e->legacy, e->legacy_label,
		sizeof(e->legacy_label), &err), TW_OK);
	assert_int_equal(tw_home_open(e->dir, &e->home, &err), TW_OK);
	assert_int_equal(signer_keys_open(e->home, false, &e->keys, &err), TW_OK);
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	signer_keys_close(e->keys);
	tw_home_free(e->home);
	EVP_PKEY_free(e->legacy);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", e->dir);
	free(e);
	return 0;
}

/* The public key the signer uses for label equals want. */
static void assert_key(struct env *e, const char *label, EVP_PKEY *want)
{
	EVP_PKEY *pub = NULL;
	struct tw_error err;

	assert_int_equal(signer_keys_public(e->keys, label, &pub, &err), TW_OK);
	assert_int_equal(EVP_PKEY_eq(pub, want), 1);
	EVP_PKEY_free(pub);
}

static void test_storage_rotation(void **state)
{
	struct env *e = *state;
	struct signer_rotation r;
	char next[65], again[65], old[65], gone[65], path[200];
	EVP_PKEY *fresh = NULL, *priv = NULL;
	struct tw_error err;

	/* before: the base label and the legacy key's versioned name are the same key */
	assert_int_equal(signer_keys_rotation(e->keys, "gwa-sig", &r, &err), TW_OK);
	assert_string_equal(r.current, e->legacy_label);
	assert_string_equal(r.next, "");
	assert_key(e, "gwa-sig", e->legacy);
	assert_key(e, e->legacy_label, e->legacy);

	/* prepare is idempotent: a rerun gets the same prepared key */
	assert_int_equal(signer_keys_rotate_prepare(e->keys, "gwa-sig", next, sizeof(next),
		&err), TW_OK);
	assert_int_equal(signer_keys_rotate_prepare(e->keys, "gwa-sig", again, sizeof(again),
		&err), TW_OK);
	assert_string_equal(next, again);
	assert_int_equal(signer_keys_public(e->keys, next, &fresh, &err), TW_OK);
	assert_int_equal(EVP_PKEY_eq(fresh, e->legacy), 0);
	assert_int_equal(keys_ec_curve_nid(fresh), NID_brainpoolP256r1);
	/* the private half is usable under its versioned label only; base unchanged */
	assert_int_equal(signer_keys_private(e->keys, next, &priv, &err), TW_OK);
	EVP_PKEY_free(priv);
	assert_key(e, "gwa-sig", e->legacy);

	/* a commit of anything but the prepared key changes nothing */
	assert_int_equal(signer_keys_rotate_commit(e->keys, "gwa-sig",
		"gwa-sig.k0000000000000000", old, sizeof(old), &err), TW_E_INVALID);
	assert_key(e, "gwa-sig", e->legacy);

	/* crash after the first of the commit's renames: the rerun completes it */
	snprintf(path, sizeof(path), "%s/keys/gwa-sig.prev", e->dir);
	write_text(path, e->legacy_label);
	assert_key(e, "gwa-sig", e->legacy);
	assert_int_equal(signer_keys_rotate_commit(e->keys, "gwa-sig", next, old, sizeof(old),
		&err), TW_OK);
	assert_string_equal(old, e->legacy_label);
	assert_key(e, "gwa-sig", fresh);
	/* the old version stays usable under its versioned label (the grace period) */
	assert_key(e, e->legacy_label, e->legacy);
	assert_int_equal(signer_keys_rotation(e->keys, "gwa-sig", &r, &err), TW_OK);
	assert_string_equal(r.current, next);
	assert_string_equal(r.next, "");
	assert_string_equal(r.prev, e->legacy_label);
	/* a rerun of the commit is a no-op */
	assert_int_equal(signer_keys_rotate_commit(e->keys, "gwa-sig", next, old, sizeof(old),
		&err), TW_OK);
	assert_key(e, "gwa-sig", fresh);

	/* a second rotation is prepared but not switched while the old key is kept */
	assert_int_equal(signer_keys_rotate_prepare(e->keys, "gwa-sig", again, sizeof(again),
		&err), TW_OK);
	assert_string_not_equal(again, next);
	assert_int_equal(signer_keys_rotate_commit(e->keys, "gwa-sig", again, old, sizeof(old),
		&err), TW_E_EXISTS);
	assert_key(e, "gwa-sig", fresh);
	/* that prepared key is dropped; retire refuses the current one never */
	assert_int_equal(signer_keys_rotate_retire(e->keys, "gwa-sig", "next", gone,
		sizeof(gone), &err), TW_OK);
	assert_string_equal(gone, again);
	snprintf(path, sizeof(path), "%s/keys/%s.key", e->dir, again);
	assert_false(tw_path_exists(path));

	/* retirement destroys the legacy file and forgets it */
	assert_int_equal(signer_keys_rotate_retire(e->keys, "gwa-sig", "prev", gone,
		sizeof(gone), &err), TW_OK);
	assert_string_equal(gone, e->legacy_label);
	snprintf(path, sizeof(path), "%s/keys/gwa-sig.key", e->dir);
	assert_false(tw_path_exists(path));
	assert_int_equal(signer_keys_public(e->keys, e->legacy_label, &priv, &err),
		TW_E_NOT_FOUND);
	assert_key(e, "gwa-sig", fresh);
	/* nothing kept any more: a rerun of retire is a no-op */
	assert_int_equal(signer_keys_rotate_retire(e->keys, "gwa-sig", "prev", gone,
		sizeof(gone), &err), TW_OK);
	assert_string_equal(gone, "");
	assert_int_equal(signer_keys_rotation(e->keys, "gwa-sig", &r, &err), TW_OK);
	assert_string_equal(r.prev, "");

	/* a pointer that does not name a version of its key is refused, not followed */
	snprintf(path, sizeof(path), "%s/keys/gwa-sig.current", e->dir);
	write_text(path, "sub-ca.k0000000000000000\n");
	assert_int_equal(signer_keys_public(e->keys, "gwa-sig", &priv, &err), TW_E_INTEGRITY);
	EVP_PKEY_free(fresh);
}

static void test_storage_refusals(void **state)
{
	struct env *e = *state;
	char next[65];
	struct tw_error err;

	assert_int_equal(signer_keys_rotate_prepare(e->keys, "gwa-sig.k0123456789abcdef", next,
		sizeof(next), &err), TW_E_INVALID);
	assert_int_equal(signer_keys_rotate_prepare(e->keys, "no-such-key", next,
		sizeof(next), &err), TW_E_NOT_FOUND);
	assert_int_equal(signer_keys_public(e->keys, "gwa-sig.k0123456789abcdef", &(EVP_PKEY *){
		NULL }, &err), TW_E_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation_steps),
		cmocka_unit_test(test_labels),
		cmocka_unit_test_setup_teardown(test_storage_rotation, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_storage_refusals, env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
