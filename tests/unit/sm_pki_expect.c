/*
 * sm_pki_expect.c: the extension order and criticality of the real SM-PKI end-entity
 * certificates (../shared/reference/sm-pki/real-emt-*.cer), checked in so that the profile
 * tests mean something where shared/ is absent, and compared with the real ones otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "sm_pki_expect.h"

struct ext_expect {
	int nid;
	int critical;
};

static const struct ext_expect expect_tls[] = {
	{ NID_authority_key_identifier, 0 }, { NID_subject_key_identifier, 0 },
	{ NID_key_usage, 1 }, { NID_certificate_policies, 0 }, { NID_subject_alt_name, 0 },
	{ NID_issuer_alt_name, 0 }, { NID_basic_constraints, 1 }, { NID_ext_key_usage, 1 },
	{ NID_crl_distribution_points, 0 },
};
static const struct ext_expect expect_sig_enc[] = {
	{ NID_authority_key_identifier, 0 }, { NID_subject_key_identifier, 0 },
	{ NID_key_usage, 1 }, { NID_certificate_policies, 0 }, { NID_subject_alt_name, 0 },
	{ NID_issuer_alt_name, 0 }, { NID_basic_constraints, 1 },
	{ NID_crl_distribution_points, 0 },
};

void sm_pki_assert_extensions(X509 *x, enum pki_usage usage, const char *what)
{
	const struct ext_expect *ex = usage == PKI_USAGE_TLS ? expect_tls : expect_sig_enc;
	int n = usage == PKI_USAGE_TLS ? (int)(sizeof(expect_tls) / sizeof(expect_tls[0])) :
		(int)(sizeof(expect_sig_enc) / sizeof(expect_sig_enc[0]));

	if (X509_get_ext_count(x) != n)
		fail_msg("%s: %d extensions, expected %d", what, X509_get_ext_count(x), n);
	for (int i = 0; i < n; i++) {
		X509_EXTENSION *e = X509_get_ext(x, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));

		if (nid != ex[i].nid || X509_EXTENSION_get_critical(e) != ex[i].critical)
			fail_msg("%s: extension %d is %s critical=%d, expected %s critical=%d", what,
				i, OBJ_nid2sn(nid), X509_EXTENSION_get_critical(e),
				OBJ_nid2sn(ex[i].nid), ex[i].critical);
	}
}
