/*
 * cli_tlskey.c: `torwart ca tls-key-import`: move a TLS key file of a home made before the
 * TLS keys moved into the signer (docs/security.md, "TLS keys in the signer") into the
 * signer's key backend, then wipe the file.
 *
 * It writes the key into the signer's TLS key directory itself (signer_keys.h), so it runs
 * as the signer's user (or root on a one-user home); it needs no token, so it works in a
 * custodian home before activation too. The services pick the key up at their next start
 * (restart torwartd): from then on no process but the signer holds it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "auth/opca.h"
#include "base/home.h"
#include "base/sandbox.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "crypto/keys.h"
#include "crypto/tls_signer_key.h"
#include "signer/signer_keys.h"

/* Overwrite the file with zeros, flush, remove it. */
static tw_rc wipe_file(const char *path, struct tw_error *err)
{
	static const unsigned char zeros[4096];
	struct stat st;
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	tw_rc rc = TW_OK;

	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot open %s to wipe it: %s", path,
			strerror(errno));
		goto out;
	}
	for (off_t left = st.st_size; left > 0;) {
		size_t n = left > (off_t)sizeof(zeros) ? sizeof(zeros) : (size_t)left;
		ssize_t w = write(fd, zeros, n);

		if (w <= 0) {
			rc = tw_error_set(err, TW_E_IO, "cannot wipe %s: %s", path, strerror(errno));
			goto out;
		}
		left -= w;
	}
	if (fsync(fd) != 0 || unlink(path) != 0)
		rc = tw_error_set(err, TW_E_IO, "cannot wipe and remove %s: %s", path,
			strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int cli_ca_tls_key_import(const struct tw_home *home, struct tw_store *store,
	const char *key_arg, const char *label_arg)
{
	struct tw_error err;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	const char *label = label_arg != NULL ? label_arg : SIGNER_KEY_GWA_TLS;
	bool gwa = strcmp(label, SIGNER_KEY_GWA_TLS) == 0;
	bool console = strcmp(label, SIGNER_KEY_CONSOLE_TLS) == 0;
	char *key_path = NULL, *cert_path = NULL, detail[512];
	int ret = 1;

	tw_error_clear(&err);
	if (!gwa && !console && strcmp(label, SIGNER_KEY_API_TLS) != 0)
		return cli_usage_error("ca tls-key-import: --label is gwa-tls (default: the GWA's "
			"TLS key of wan, ws and directory), api-tls (the api's operator HTTPS key) or "
			"console-tls (the web console's key)");
	if (geteuid() == 0 && tw_privsep_enabled(home))
		return cli_usage_error("ca tls-key-import writes the signer's key: run it as the "
			"signer's user (runuser -u torwart-signer -- torwart ca tls-key-import ...) so "
			"that only the signer can read it");
	key_path = key_arg != NULL ? tw_strdup(key_arg) :
		tw_home_join(home, gwa ? TW_HOME_GWA_TLS_KEY : console ? "pki/console-tls.key" :
		AUTH_API_TLS_KEY);
	cert_path = tw_home_join(home, gwa ? TW_HOME_GWA_TLS_CERT : console ?
		"pki/console-tls.crt" : AUTH_API_TLS_CERT);
	if (key_path == NULL || cert_path == NULL) {
		tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	/* The key must be the certificate's: the services present that certificate. */
	if (keys_read_private_pem(key_path, &key, &err) != TW_OK ||
	    keys_read_cert_pem(cert_path, &cert, &err) != TW_OK)
		goto fail;
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		tw_error_set(&err, TW_E_INVALID, "%s does not belong to the certificate %s; "
			"nothing imported", key_path, cert_path);
		goto fail;
	}
	if (signer_keys_import_tls(home, label, key, &err) != TW_OK)
		goto fail;
	/* In the signer now: the file copy goes (overwritten, then removed). */
	if (wipe_file(key_path, &err) != TW_OK)
		goto fail;
	snprintf(detail, sizeof(detail), "TLS key %s moved into the signer as '%s'; file "
		"wiped", key_path, label);
	if (cli_audit(store, "ca.tls-key.import", label, "ok", detail, &err) != TW_OK)
		goto fail;
	printf("torwart: %s\n  restart torwartd: the services then sign handshakes through "
		"the signer\n", detail);
	ret = 0;
	goto out;
fail:
	ret = cli_fail("ca tls-key-import", &err);
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	free(key_path);
	free(cert_path);
	return ret;
}
