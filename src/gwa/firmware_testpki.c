/*
 * firmware_testpki.c: the firmware parts of `torwart init --test-pki` (issue 13), so
 * that tests sign with an independent tool (`openssl cms`, docs/firmware.md):
 *
 *   test-vendor/gwh-sig.key, gwh-sig.crt   a test manufacturer: an SM-PKI GWH SIG
 *       certificate (CN TESTVENDOR.GWH.TORWART) issued by the test Sub-CA and recorded
 *       in the store (so `torwart ca revoke` and the CRL cover it);
 *   pki/firmware-list.crt, test-vendor/firmware-list.key   the test anchor of the
 *       certified-firmware list (self-signed, the default [firmware] list_anchor).
 *
 * These private keys are the manufacturer's and the list publisher's, parties outside
 * the GWA, so they are files in a directory of their own and never held by the signer
 * (docs/security.md: the GWA's own keys stay in the token). Tests only.
 */
#include "gwa/firmware_testpki.h"

#include <string.h>

#include <openssl/obj_mac.h>
#include <openssl/x509v3.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "pki/certstore.h"
#include "pki/profile.h"

#define FT_VENDOR_DAYS 730L

static tw_rc ft_path(const struct tw_home *home, const char *rel, char **out,
	struct tw_error *err)
{
	if ((*out = tw_home_join(home, rel)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	return TW_OK;
}

/* A self-signed list anchor (the BSI's role): CA:FALSE, digitalSignature. */
static tw_rc ft_anchor(EVP_PKEY *key, X509 **out, struct tw_error *err)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509_EXTENSION *ext = NULL;
	X509V3_CTX ctx;
	BIGNUM *bn = BN_new();
	tw_rc rc = TW_OK;

	*out = NULL;
	if (x == NULL || name == NULL || bn == NULL ||
	    BN_rand(bn, 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_set_version(x, 2) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)"TORWART-TEST-FIRMWARE-LIST", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
		(const unsigned char *)"Torwart test", -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 5L * 365 * 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot build the list anchor");
		goto out;
	}
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
		"critical,CA:FALSE")) == NULL || X509_add_ext(x, ext, -1) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot build the list anchor");
		goto out;
	}
	X509_EXTENSION_free(ext);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
		"critical,digitalSignature")) == NULL || X509_add_ext(x, ext, -1) != 1 ||
	    X509_sign(x, key, EVP_sha256()) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot sign the list anchor");
		goto out;
	}
	*out = x;
	x = NULL;
out:
	X509_EXTENSION_free(ext);
	X509_NAME_free(name);
	BN_free(bn);
	X509_free(x);
	return rc;
}

tw_rc firmware_testpki_create(const struct tw_home *home, struct signer_client *sc,
	struct tw_store *store, struct tw_error *err)
{
	struct pki_cert_request req;
	struct pki_ca_config *sub_cfg = NULL;
	EVP_PKEY *vendor = NULL, *list = NULL;
	X509 *sub = NULL, *cert = NULL, *anchor = NULL;
	char *dir = NULL, *p_sub = NULL, *p_vkey = NULL, *p_vcrt = NULL, *p_lkey = NULL,
		*p_lcrt = NULL;
	int64_t tenant = 0;
	tw_rc rc;

	if ((rc = ft_path(home, FW_TEST_VENDOR_DIR, &dir, err)) != TW_OK ||
	    (rc = ft_path(home, TW_HOME_SUBCA_CERT, &p_sub, err)) != TW_OK ||
	    (rc = ft_path(home, FW_TEST_VENDOR_KEY, &p_vkey, err)) != TW_OK ||
	    (rc = ft_path(home, FW_TEST_VENDOR_CERT, &p_vcrt, err)) != TW_OK ||
	    (rc = ft_path(home, FW_TEST_LIST_KEY, &p_lkey, err)) != TW_OK ||
	    (rc = ft_path(home, FW_DEFAULT_LIST_ANCHOR, &p_lcrt, err)) != TW_OK)
		goto out;
	if ((rc = tw_mkdir_p(dir, 0700, err)) != TW_OK ||
	    (rc = keys_read_cert_pem(p_sub, &sub, err)) != TW_OK ||
	    (rc = pki_ca_config_load(home->conf, SIGNER_KEY_SUB_CA, &sub_cfg, err)) != TW_OK ||
	    (rc = keys_generate_ec(NID_brainpoolP256r1, &vendor, err)) != TW_OK ||
	    (rc = keys_write_private_pem(p_vkey, vendor, err)) != TW_OK)
		goto out;
	memset(&req, 0, sizeof(req));
	pki_ca_config_apply(sub_cfg, &req);
	req.usage = PKI_USAGE_SIG;
	req.role = PKI_ROLE_GWH;
	req.public_key = vendor;
	req.issuer_cert = sub;
	req.validity_days = FT_VENDOR_DAYS;
	req.subject.common_name = FW_TEST_VENDOR_CN;
	req.subject.org_unit = "9900000000010";
	req.subject.serial_number = "1";
	if ((rc = pki_issue_certificate(sc, SIGNER_KEY_SUB_CA, &req, &cert, err)) != TW_OK ||
	    (rc = keys_write_certs_pem(p_vcrt, &cert, 1, err)) != TW_OK)
		goto out;
	if ((rc = keys_generate_ec(NID_brainpoolP256r1, &list, err)) != TW_OK ||
	    (rc = keys_write_private_pem(p_lkey, list, err)) != TW_OK ||
	    (rc = ft_anchor(list, &anchor, err)) != TW_OK ||
	    (rc = keys_write_certs_pem(p_lcrt, &anchor, 1, err)) != TW_OK)
		goto out;
	if ((rc = store_tenant_ensure(store, "default", &tenant, err)) != TW_OK)
		goto out;
	rc = pki_certificate_record(store, tenant, cert, pki_role_name(PKI_ROLE_GWH),
		FW_TEST_VENDOR_CN, pki_usage_name(PKI_USAGE_SIG), err);
out:
	EVP_PKEY_free(vendor);
	EVP_PKEY_free(list);
	X509_free(sub);
	X509_free(cert);
	X509_free(anchor);
	pki_ca_config_free(sub_cfg);
	free(dir);
	free(p_sub);
	free(p_vkey);
	free(p_vcrt);
	free(p_lkey);
	free(p_lcrt);
	return rc;
}
