/*
 * signer_home.c: the token files of a new home (signer_home_prepare, signer_server.h):
 * softhsm2.conf, tokens/ and the demo-mode PIN file.
 */
#include "signer/signer_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/rand.h>

#include "base/util.h"

#define SIGNER_PIN_BYTES 16


tw_rc signer_home_prepare(const char *home_dir, struct tw_error *err)
{
	char *conf = NULL, *tokens = NULL, *secrets = NULL, *pins = NULL, *conf_text = NULL;
	unsigned char raw[2][SIGNER_PIN_BYTES];
	char hex[2][2 * SIGNER_PIN_BYTES + 1];
	char pin_text[256];
	int n = 0;
	tw_rc rc;

	conf = tw_asprintf("%s/softhsm2.conf", home_dir);
	tokens = tw_asprintf("%s/tokens", home_dir);
	secrets = tw_asprintf("%s/secrets", home_dir);
	pins = tw_asprintf("%s/%s", home_dir, TW_DEFAULT_PIN_FILE);
	if (conf == NULL || tokens == NULL || secrets == NULL || pins == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/* Check everything first: a half-prepared token directory is worse than none. */
	if (tw_path_exists(conf) || tw_path_exists(tokens) || tw_path_exists(pins)) {
		rc = tw_error_set(err, TW_E_EXISTS, "%s already has a token (softhsm2.conf, tokens/ "
			"or secrets/pins); refusing to overwrite it", home_dir);
		goto out;
	}
	conf_text = tw_asprintf("# softhsm2.conf: written by torwart init; the signer exports "
		"SOFTHSM2_CONF=<this file>.\ndirectories.tokendir = %s\nobjectstore.backend = file\n"
		"log.level = ERROR\n", tokens);
	if (conf_text == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (mkdir(tokens, 0700) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot create %s: %s", tokens, strerror(errno));
		goto out;
	}
	if ((rc = tw_mkdir_p(secrets, 0700, err)) != TW_OK)
		goto out;
	if (RAND_bytes(raw[0], sizeof(raw[0])) != 1 || RAND_bytes(raw[1], sizeof(raw[1])) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "no randomness for the token PINs");
		goto out;
	}
	tw_hex_encode(raw[0], sizeof(raw[0]), hex[0]);
	tw_hex_encode(raw[1], sizeof(raw[1]), hex[1]);
	/* DEMO MODE, said in the file itself: production splits the PINs among custodians
	 * (`torwart ca custodians split`, docs/key-ceremony.md) and deletes this file. */
	n = snprintf(pin_text, sizeof(pin_text), "# DEMO MODE: token PINs in a file. Production: "
		"torwart ca custodians split (docs/key-ceremony.md)\nuser_pin=%s\nso_pin=%s\n",
		hex[0], hex[1]);
	if (n < 0 || (size_t)n >= sizeof(pin_text)) {
		rc = tw_error_set(err, TW_E_INTERNAL, "pin text does not fit");
		goto out;
	}
	if ((rc = tw_write_file(pins, pin_text, (size_t)n, 0600, true, err)) != TW_OK)
		goto out;
	rc = tw_write_file(conf, conf_text, strlen(conf_text), 0644, true, err);
out:
	tw_wipe(raw, sizeof(raw));
	tw_wipe(hex, sizeof(hex));
	tw_wipe(pin_text, sizeof(pin_text));
	free(conf);
	free(tokens);
	free(secrets);
	free(pins);
	free(conf_text);
	return rc;
}
