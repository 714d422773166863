/*
 * signer_probe.c: a test client of the signer socket for integration tests (privsep.sh):
 * run under a service's uid, it asks the signer for one operation and reports whether
 * the signer allowed it, so a test can prove that the signer decides by the caller's
 * uid and not by what the caller says in HELLO.
 *
 *   signer_probe SOCKET ACTOR ROLE seal CONTEXT AAD TEXT      prints the sealed text
 *   signer_probe SOCKET ACTOR ROLE unseal CONTEXT AAD SEALED  prints the plaintext
 *   signer_probe SOCKET ACTOR ROLE share FILE                 a custodian share
 *   signer_probe SOCKET ACTOR ROLE sign LABEL PURPOSE         purpose: wakeup, tree-head,
 *                                                             authorisation, tls-handshake
 *                                                             (a 32-byte digest)
 *   signer_probe SOCKET ACTOR ROLE deactivate
 *
 * Exit 0: done; 3: refused (TW_E_DENIED); 1: any other failure; 2: usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "crypto/signer.h"

static int finish(tw_rc rc, const struct tw_error *err)
{
	if (rc == TW_OK)
		return 0;
	fprintf(stderr, "signer_probe: %s\n", err->message);
	return rc == TW_E_DENIED ? 3 : 1;
}

int main(int argc, char **argv)
{
	struct signer_client *sc = NULL;
	struct tw_error err;
	const char *op;
	char answer[256], *out = NULL;
	size_t len = 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (argc < 5) {
		fprintf(stderr, "usage: signer_probe SOCKET ACTOR ROLE OP [ARGS]\n");
		return 2;
	}
	op = argv[4];
	if ((rc = signer_client_connect(argv[1], &sc, &err)) != TW_OK)
		return finish(rc, &err);
	signer_client_set_actor(sc, argv[2], argv[3]);
	if (strcmp(op, "seal") == 0 && argc == 8) {
		rc = signer_seal(sc, argv[5], argv[6], argv[7], strlen(argv[7]), &out, &err);
	} else if (strcmp(op, "unseal") == 0 && argc == 8) {
		rc = signer_unseal(sc, argv[5], argv[6], argv[7], &out, &len, &err);
	} else if (strcmp(op, "share") == 0 && argc == 6) {
		unsigned char *text = NULL;
		size_t n = 0;

		if ((rc = tw_read_file(argv[5], 64 * 1024, &text, &n, &err)) == TW_OK)
			rc = signer_custodian_share(sc, text, n, answer, sizeof(answer), &err);
		if (rc == TW_OK)
			printf("%s\n", answer);
		free(text);
	} else if (strcmp(op, "sign") == 0 && argc == 7) {
		enum signer_purpose p = strcmp(argv[6], "wakeup") == 0 ? SIGNER_PURPOSE_WAKEUP :
			strcmp(argv[6], "tree-head") == 0 ? SIGNER_PURPOSE_TREE_HEAD :
			strcmp(argv[6], "tls-handshake") == 0 ? SIGNER_PURPOSE_TLS_HANDSHAKE :
			SIGNER_PURPOSE_AUTHORISATION;
		static const unsigned char digest[32] = { 'p', 'r', 'o', 'b', 'e' };
		unsigned char *sig = NULL;
		size_t sig_len = 0;

		rc = p == SIGNER_PURPOSE_TLS_HANDSHAKE ?
			signer_sign_data(sc, argv[5], p, digest, sizeof(digest), &sig, &sig_len, &err) :
			signer_sign_data(sc, argv[5], p, (const unsigned char *)"probe", 5, &sig,
				&sig_len, &err);
		free(sig);
	} else if (strcmp(op, "deactivate") == 0 && argc == 5) {
		rc = signer_activation(sc, "deactivate", answer, sizeof(answer), &err);
	} else {
		signer_client_close(sc);
		fprintf(stderr, "signer_probe: unknown operation or wrong arguments\n");
		return 2;
	}
	if (out != NULL) {
		printf("%s\n", out);
		tw_wipe(out, strlen(out));
		free(out);
	}
	signer_client_close(sc);
	return finish(rc, &err);
}
