/*
 * sim_initial.c: bootstrap of a simulated gateway from an initial configuration file
 * (sim_initial.h). The gateway uses only what its manufacturer left in its directory
 * (keys, its ENC certificate, the SM-PKI root) and the file: no other side channel, which
 * is what proves the format (tests/integration/initial_config.sh).
 */
#include "sim/sim_initial.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "gwa/initial_config.h"

static char *si_path(const char *dir, const char *file)
{
	return tw_asprintf("%s/%s", dir, file);
}

static X509 *si_pem_cert(const char *pem)
{
	BIO *b = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

tw_rc sim_initial_bootstrap(const char *dir, const char *file, char **wan,
	struct tw_error *err)
{
	static const char *const usages[3] = { "TLS", "SIG", "ENC" };
	static const char *const stems[3] = { "tls", "sig", "enc" };
	unsigned char *data = NULL, *id = NULL;
	size_t len = 0, id_len = 0;
	EVP_PKEY *keys[3] = { NULL };
	X509 *certs[3] = { NULL }, *enc_cert = NULL;
	X509_STORE *trust = X509_STORE_new();
	json_t *c = NULL;
	char *p = NULL;
	const char *s;
	tw_rc rc = TW_OK;

	*wan = NULL;
	if (trust == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((p = si_path(dir, "root-ca.crt")) == NULL || X509_STORE_load_file(trust, p) != 1 ||
	    X509_STORE_set_purpose(trust, X509_PURPOSE_ANY) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CONFIG, "no SM-PKI root in %s", dir);
		goto out;
	}
	for (int i = 0; i < 3 && rc == TW_OK; i++) {
		char name[16];

		free(p);
		snprintf(name, sizeof(name), "%s.key", stems[i]);
		rc = (p = si_path(dir, name)) == NULL ? tw_error_set(err, TW_E_NOMEM, "oom") :
			keys_read_private_pem(p, &keys[i], err);
	}
	free(p);
	p = NULL;
	if (rc != TW_OK ||
	    (p = si_path(dir, "enc.crt")) == NULL ||
	    (rc = keys_read_cert_pem(p, &enc_cert, err)) != TW_OK)
		goto out;
	free(p);
	if ((p = si_path(dir, "id")) == NULL ||
	    (rc = tw_read_file(p, 128, &id, &id_len, err)) != TW_OK ||
	    (rc = tw_read_file(file, INITIAL_CONFIG_MAX, &data, &len, err)) != TW_OK)
		goto out;
	id[strcspn((char *)id, "\r\n")] = '\0';
	if ((rc = initial_config_open(data, len, keys[2], enc_cert, trust, &c, err)) != TW_OK)
		goto out;
	if (strcmp(json_string_value(json_object_get(c, "gateway_id")), (char *)id) != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "the file is for gateway %s, this is %s",
			json_string_value(json_object_get(c, "gateway_id")), (char *)id);
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		certs[i] = si_pem_cert(json_string_value(json_object_get(json_object_get(c,
			"certificates"), usages[i])));
		if (certs[i] == NULL || X509_check_private_key(certs[i], keys[i]) != 1) {
			rc = tw_error_set(err, TW_E_CRYPTO, "the %s certificate of the file does not "
				"belong to this gateway's %s key", usages[i], stems[i]);
			goto out;
		}
	}
	s = json_string_value(json_object_get(json_object_get(c, "gwa"), "wan"));
	if (s == NULL || (*wan = tw_strdup(s)) == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "the file names no WAN address");
		goto out;
	}
	/* Everything checked: install. */
	for (int i = 0; i < 3 && rc == TW_OK; i++) {
		char name[16];

		free(p);
		snprintf(name, sizeof(name), "%s.crt", stems[i]);
		rc = (p = si_path(dir, name)) == NULL ? tw_error_set(err, TW_E_NOMEM, "oom") :
			keys_write_certs_pem(p, &certs[i], 1, err);
	}
	free(p);
	p = NULL;
	if (rc == TW_OK) {
		const char *chain = json_string_value(json_object_get(c, "chain"));
		const char *gwa = json_string_value(json_object_get(json_object_get(c, "gwa"),
			"sig_certificate"));
		char *line = tw_asprintf("%s\n", *wan);

		if (chain == NULL || gwa == NULL || line == NULL)
			rc = tw_error_set(err, TW_E_INVALID, "the file lacks the chain or the GWA "
				"certificate");
		else if ((p = si_path(dir, "chain.pem")) == NULL ||
			 (rc = tw_write_file(p, chain, strlen(chain), 0644, false, err)) != TW_OK)
			;
		else {
			free(p);
			if ((p = si_path(dir, "gwa-sig.crt")) == NULL ||
			    (rc = tw_write_file(p, gwa, strlen(gwa), 0644, false, err)) != TW_OK)
				;
			else {
				free(p);
				if ((p = si_path(dir, "gwa-address")) != NULL)
					rc = tw_write_file(p, line, strlen(line), 0644, false, err);
			}
		}
		free(line);
	}
out:
	if (rc != TW_OK) {
		free(*wan);
		*wan = NULL;
	}
	for (int i = 0; i < 3; i++) {
		EVP_PKEY_free(keys[i]);
		X509_free(certs[i]);
	}
	X509_free(enc_cert);
	X509_STORE_free(trust);
	json_decref(c);
	free(data);
	free(id);
	free(p);
	return rc;
}
