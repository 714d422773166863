/*
 * keys.c: software EC keys and PEM certificate/key files.
 *
 * Only the places keys.h names hold software private keys; CA and GWA signature keys
 * stay in the signer's token. Files go through tw_read_file/tw_write_file so size limits,
 * modes and atomic replacement are handled in one place, and every buffer that held a
 * private key is wiped before it is freed.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include "base/util.h"
#include "crypto/keys.h"

/* A PEM key or certificate bundle is a few KB; more is not one of ours. */
#define KEYS_PEM_MAX (256 * 1024)

tw_rc keys_generate_ec(int curve_nid, EVP_PKEY **out, struct tw_error *err)
{
	const char *name = OBJ_nid2sn(curve_nid);

	*out = NULL;
	if (curve_nid == NID_undef || name == NULL)
		return tw_error_set(err, TW_E_INVALID, "unknown curve (NID %d)", curve_nid);
	*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", name);
	if (*out == NULL)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot generate an EC key on %s",
			name);
	return TW_OK;
}

tw_rc keys_write_private_pem(const char *path, EVP_PKEY *key, struct tw_error *err)
{
	BIO *mem = NULL;
	char *data = NULL;
	long len;
	tw_rc rc;

	mem = BIO_new(BIO_s_secmem());
	if (mem == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate a key buffer");
	/* PEM_write_bio_PrivateKey writes unencrypted PKCS#8 ("PRIVATE KEY"). */
	if (PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the key for %s", path);
		goto out;
	}
	len = BIO_get_mem_data(mem, &data);
	if (len <= 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "empty key encoding for %s", path);
		goto out;
	}
	rc = tw_write_file(path, data, (size_t)len, 0600, true, err);
out:
	/* A secmem BIO wipes its buffer when freed (OPENSSL_secure_clear_free). */
	BIO_free(mem);
	return rc;
}

/*
 * OpenSSL 3.0 builds a decoder chain for every PEM_read_bio_PrivateKey: it walks every
 * key manager and every decoder of every provider, about 1.3 ms per key on the bench
 * machine, most of what a simulated gateway spends outside the handshake (it sets up its
 * TLS context, key included, per visit; docs/performance.md "Fleet order: where the time
 * goes"). Our keys are EC in PKCS#8 ("PRIVATE KEY"): one decoder context narrowed to that
 * is built once per process and reused (about 60 us per key); any other key takes the
 * generic path. The context writes its result to keys_dec_out, hence the lock.
 */
static pthread_mutex_t keys_dec_lock = PTHREAD_MUTEX_INITIALIZER;
static OSSL_DECODER_CTX *keys_dec_ec;     /* built on first use, kept for the process */
static EVP_PKEY *keys_dec_out;

static EVP_PKEY *keys_decode_ec_pkcs8(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *k = NULL;
	size_t left = len;

	pthread_mutex_lock(&keys_dec_lock);
	ERR_set_mark();
	if (keys_dec_ec == NULL)
		keys_dec_ec = OSSL_DECODER_CTX_new_for_pkey(&keys_dec_out, "DER",
			"PrivateKeyInfo", "EC", EVP_PKEY_KEYPAIR, NULL, NULL);
	keys_dec_out = NULL;
	if (keys_dec_ec != NULL && OSSL_DECODER_from_data(keys_dec_ec, &p, &left) == 1)
		k = keys_dec_out;
	else
		EVP_PKEY_free(keys_dec_out);
	keys_dec_out = NULL;
	ERR_pop_to_mark();   /* a miss is not an error: the generic path decides */
	pthread_mutex_unlock(&keys_dec_lock);
	return k;
}

tw_rc keys_read_private_pem(const char *path, EVP_PKEY **out, struct tw_error *err)
{
	unsigned char *data = NULL, *der = NULL;
	char *name = NULL, *header = NULL;
	long der_len = 0;
	size_t len = 0;
	BIO *mem = NULL;
	tw_rc rc;

	*out = NULL;
	if ((rc = tw_read_file(path, KEYS_PEM_MAX, &data, &len, err)) != TW_OK)
		return rc;
	mem = BIO_new_mem_buf(data, (int)len);
	if (mem == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot read %s", path);
		goto out;
	}
	ERR_set_mark();
	if (PEM_read_bio(mem, &name, &header, &der, &der_len) == 1 &&
	    strcmp(name, PEM_STRING_PKCS8INF) == 0 && header[0] == '\0' && der_len > 0)
		*out = keys_decode_ec_pkcs8(der, (size_t)der_len);
	ERR_pop_to_mark();
	if (*out == NULL) {
		BIO_free(mem);
		if ((mem = BIO_new_mem_buf(data, (int)len)) == NULL) {
			rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot read %s", path);
			goto out;
		}
		*out = PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL);
	}
	if (*out == NULL)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO,
			"%s holds no readable unencrypted PEM private key", path);
out:
	BIO_free(mem);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_clear_free(der, der_len > 0 ? (size_t)der_len : 0);
	tw_wipe(data, len);
	free(data);
	return rc;
}

tw_rc keys_write_certs_pem(const char *path, X509 *const *certs, size_t n,
	struct tw_error *err)
{
	BIO *mem = NULL;
	char *data = NULL;
	long len;
	tw_rc rc;

	if (n == 0)
		return tw_error_set(err, TW_E_INTERNAL, "no certificates to write to %s", path);
	mem = BIO_new(BIO_s_mem());
	if (mem == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate a buffer");
	for (size_t i = 0; i < n; i++) {
		if (PEM_write_bio_X509(mem, certs[i]) != 1) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO,
				"cannot encode certificate %zu for %s", i + 1, path);
			goto out;
		}
	}
	len = BIO_get_mem_data(mem, &data);
	rc = tw_write_file(path, data, (size_t)len, 0644, false, err);
out:
	BIO_free(mem);
	return rc;
}

tw_rc keys_read_cert_pem(const char *path, X509 **out, struct tw_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	BIO *mem = NULL;
	tw_rc rc;

	*out = NULL;
	if ((rc = tw_read_file(path, KEYS_PEM_MAX, &data, &len, err)) != TW_OK)
		return rc;
	mem = BIO_new_mem_buf(data, (int)len);
	if (mem == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot read %s", path);
		goto out;
	}
	*out = PEM_read_bio_X509(mem, NULL, NULL, NULL);
	if (*out == NULL)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "%s holds no PEM certificate", path);
out:
	BIO_free(mem);
	free(data);
	return rc;
}

tw_rc keys_cert_fingerprint(X509 *cert, char out[65], struct tw_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	out[0] = '\0';
	if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1 || md_len != 32)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot hash the certificate");
	tw_hex_encode(md, md_len, out);
	return TW_OK;
}

int keys_ec_curve_nid(const EVP_PKEY *key)
{
	char name[80];
	size_t len = 0;
	int nid;

	if (key == NULL || !EVP_PKEY_is_a(key, "EC"))
		return NID_undef;
	if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1)
		return NID_undef;
	/* Providers report short names ("brainpoolP256r1", "prime256v1") or NIST names. */
	nid = OBJ_txt2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	return nid;
}
