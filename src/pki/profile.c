/*
 * profile.c: SM-PKI certificate profiles, modelled on the real production certificates in
 * shared/reference/sm-pki (real-emt-{tls,sig,enc}.cer), and issuance through the signer.
 *
 * The shape we reproduce, in the real certificates' order:
 *   subject   CN, O (SM-PKI-DE), OU (market partner id), C (DE), serialNumber;
 *             PrintableString wherever the value allows it, as the real ones do
 *   extensions AKI (keyid), SKI (SHA-1 of the key), keyUsage (critical),
 *             certificatePolicies (+CPS), SAN (email, URI, DNS), issuerAltName (copied from
 *             the issuer's SAN), basicConstraints (critical), EKU (critical, TLS only:
 *             clientAuth, serverAuth), CRL distribution point.
 * Only brainpool keys are certified: TR-03116-3 requires them for SM-PKI certificates.
 */
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "crypto/keys.h"
#include "pki/profile.h"

#define PKI_SERIAL_BYTES 16
/* X.520 upper bounds (ub-common-name etc.); the real SM-PKI names stay far below. */
#define PKI_NAME_ATTR_MAX 64
#define PKI_SAN_MAX 1024
/* 100 years: a typo such as 73000 days is refused rather than encoded. */
#define PKI_VALIDITY_DAYS_MAX 36500L
/* Backdating absorbs clock skew between us and the relying party. */
#define PKI_BACKDATE_S 60L

const char *pki_usage_name(enum pki_usage usage)
{
	switch (usage) {
	case PKI_USAGE_ROOT_CA:
	case PKI_USAGE_SUB_CA: return "CA";
	case PKI_USAGE_TLS: return "TLS";
	case PKI_USAGE_SIG: return "SIG";
	case PKI_USAGE_ENC: return "ENC";
	}
	return "?";
}

const char *pki_role_name(enum pki_role role)
{
	switch (role) {
	case PKI_ROLE_CA: return "ca";
	case PKI_ROLE_GWA: return "gwa";
	case PKI_ROLE_SMGW: return "smgw";
	case PKI_ROLE_EMT: return "emt";
	case PKI_ROLE_GWH: return "gwh";
	}
	return "?";
}

tw_rc pki_role_parse(const char *name, enum pki_role *out, struct tw_error *err)
{
	static const enum pki_role roles[] = { PKI_ROLE_CA, PKI_ROLE_GWA, PKI_ROLE_SMGW,
		PKI_ROLE_EMT, PKI_ROLE_GWH };

	*out = PKI_ROLE_EMT;
	for (size_t i = 0; name != NULL && i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (strcasecmp(name, pki_role_name(roles[i])) == 0) {
			*out = roles[i];
			return TW_OK;
		}
	}
	return tw_error_set(err, TW_E_INVALID,
		"unknown role \"%.32s\"; use EMT, GWA, GWH or SMGW", name != NULL ? name : "");
}

tw_rc pki_usage_parse(const char *name, enum pki_usage *out, struct tw_error *err)
{
	static const enum pki_usage usages[] = { PKI_USAGE_TLS, PKI_USAGE_SIG, PKI_USAGE_ENC };

	*out = PKI_USAGE_TLS;
	for (size_t i = 0; name != NULL && i < sizeof(usages) / sizeof(usages[0]); i++) {
		if (strcasecmp(name, pki_usage_name(usages[i])) == 0) {
			*out = usages[i];
			return TW_OK;
		}
	}
	return tw_error_set(err, TW_E_INVALID,
		"unknown certificate type \"%.32s\"; use TLS, SIG or ENC", name != NULL ? name : "");
}

bool pki_curve_allowed(int curve_nid)
{
	return curve_nid == NID_brainpoolP256r1 || curve_nid == NID_brainpoolP384r1 ||
		curve_nid == NID_brainpoolP512r1;
}

static bool pki_is_ca(enum pki_usage usage)
{
	return usage == PKI_USAGE_ROOT_CA || usage == PKI_USAGE_SUB_CA;
}

/* Random, positive, exactly 16 content bytes (top bit clear, first byte non-zero). */
static tw_rc pki_set_serial(X509 *x, struct tw_error *err)
{
	unsigned char buf[PKI_SERIAL_BYTES];
	BIGNUM *bn = NULL;
	tw_rc rc = TW_OK;

	do {
		if (RAND_bytes(buf, sizeof(buf)) != 1)
			return tw_error_set_openssl(err, TW_E_CRYPTO, "no random serial number");
		/* Clearing the sign bit keeps it positive; a zero first byte would shorten it. */
		buf[0] &= 0x7f;
	} while (buf[0] == 0);
	bn = BN_bin2bn(buf, sizeof(buf), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot set the serial number");
	BN_free(bn);
	return rc;
}

/* One RDN; PrintableString when the value permits (as in the real SM-PKI), else UTF-8. */
static tw_rc pki_name_add(X509_NAME *name, int nid, const char *value, struct tw_error *err)
{
	size_t len = strlen(value);
	int type;

	if (len == 0 || len > PKI_NAME_ATTR_MAX)
		return tw_error_set(err, TW_E_INVALID,
			"subject %s must be 1..%d characters, got %zu", OBJ_nid2sn(nid),
			PKI_NAME_ATTR_MAX, len);
	type = ASN1_PRINTABLE_type((const unsigned char *)value, (int)len) ==
		V_ASN1_PRINTABLESTRING ? V_ASN1_PRINTABLESTRING : MBSTRING_UTF8;
	if (nid == NID_countryName && (len != 2 || type != V_ASN1_PRINTABLESTRING))
		return tw_error_set(err, TW_E_INVALID,
			"subject country must be a two-letter code such as \"DE\", got \"%s\"", value);
	if (X509_NAME_add_entry_by_NID(name, nid, type, (const unsigned char *)value,
	    (int)len, -1, 0) != 1)
		return tw_error_set_openssl(err, TW_E_INVALID,
			"subject %s is not valid UTF-8 or not encodable", OBJ_nid2sn(nid));
	return TW_OK;
}

static tw_rc pki_name_fill(const struct pki_subject *s, X509_NAME *name, struct tw_error *err)
{
	tw_rc rc;

	if (s->common_name == NULL)
		return tw_error_set(err, TW_E_INVALID, "the subject needs a common name");
	if ((rc = pki_name_add(name, NID_commonName, s->common_name, err)) != TW_OK ||
	    (rc = pki_name_add(name, NID_organizationName,
		s->organization != NULL ? s->organization : "SM-PKI-DE", err)) != TW_OK)
		return rc;
	if (s->org_unit != NULL &&
	    (rc = pki_name_add(name, NID_organizationalUnitName, s->org_unit, err)) != TW_OK)
		return rc;
	if ((rc = pki_name_add(name, NID_countryName,
		s->country != NULL ? s->country : "DE", err)) != TW_OK)
		return rc;
	if (s->serial_number != NULL &&
	    (rc = pki_name_add(name, NID_serialNumber, s->serial_number, err)) != TW_OK)
		return rc;
	/* Postal attributes follow serialNumber, in the reference request's order. */
	if ((s->street != NULL &&
	     (rc = pki_name_add(name, NID_streetAddress, s->street, err)) != TW_OK) ||
	    (s->postal_code != NULL &&
	     (rc = pki_name_add(name, NID_postalCode, s->postal_code, err)) != TW_OK) ||
	    (s->locality != NULL &&
	     (rc = pki_name_add(name, NID_localityName, s->locality, err)) != TW_OK) ||
	    (s->state != NULL &&
	     (rc = pki_name_add(name, NID_stateOrProvinceName, s->state, err)) != TW_OK))
		return rc;
	return TW_OK;
}

static tw_rc pki_build_subject(const struct pki_subject *s, X509 *x, struct tw_error *err)
{
	return pki_name_fill(s, X509_get_subject_name(x), err);
}

tw_rc pki_subject_to_name(const struct pki_subject *s, X509_NAME **out, struct tw_error *err)
{
	X509_NAME *name = X509_NAME_new();
	tw_rc rc;

	*out = NULL;
	if (name == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate a name");
	if ((rc = pki_name_fill(s, name, err)) != TW_OK) {
		X509_NAME_free(name);
		return rc;
	}
	*out = name;
	return TW_OK;
}

/* Append an IA5 general name (email, URI, DNS) after checking it is 7-bit printable. */
static tw_rc pki_gn_push(GENERAL_NAMES *gens, int type, const char *value, const char *what,
	struct tw_error *err)
{
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;
	size_t len = strlen(value);

	if (len == 0 || len > PKI_SAN_MAX)
		return tw_error_set(err, TW_E_INVALID, "%s must be 1..%d characters", what,
			PKI_SAN_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)value[i] < 0x21 || (unsigned char)value[i] > 0x7e)
			return tw_error_set(err, TW_E_INVALID,
				"%s \"%s\" must be printable ASCII without spaces (IA5String)", what,
				value);
	if (type == GEN_EMAIL && strchr(value, '@') == NULL)
		return tw_error_set(err, TW_E_INVALID, "%s \"%s\" is not an e-mail address", what,
			value);
	if (type == GEN_URI && strstr(value, "://") == NULL)
		return tw_error_set(err, TW_E_INVALID, "%s \"%s\" is not an absolute URI", what,
			value);
	gn = GENERAL_NAME_new();
	ia5 = ASN1_IA5STRING_new();
	if (gn == NULL || ia5 == NULL || ASN1_STRING_set(ia5, value, (int)len) != 1)
		goto nomem;
	GENERAL_NAME_set0_value(gn, type, ia5);
	ia5 = NULL;
	if (sk_GENERAL_NAME_push(gens, gn) <= 0)
		goto nomem;
	return TW_OK;
nomem:
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	return tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode %s", what);
}

static tw_rc pki_add_ext(X509 *x, int nid, int crit, void *value, struct tw_error *err)
{
	if (X509_add1_ext_i2d(x, nid, value, crit, X509V3_ADD_APPEND) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot add the %s extension",
			OBJ_nid2sn(nid));
	return TW_OK;
}

/* SKI per RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey BIT STRING. */
static tw_rc pki_key_id(const X509 *x, ASN1_OCTET_STRING **out, struct tw_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	*out = NULL;
	if (X509_pubkey_digest(x, EVP_sha1(), md, &len) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot hash the public key");
	*out = ASN1_OCTET_STRING_new();
	if (*out == NULL || ASN1_OCTET_STRING_set(*out, md, (int)len) != 1) {
		ASN1_OCTET_STRING_free(*out);
		*out = NULL;
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode the key identifier");
	}
	return TW_OK;
}

static tw_rc pki_add_key_ids(X509 *x, const X509 *issuer, struct tw_error *err)
{
	AUTHORITY_KEYID *akid = NULL;
	ASN1_OCTET_STRING *ski = NULL;
	const ASN1_OCTET_STRING *issuer_ski;
	tw_rc rc;

	if ((rc = pki_key_id(x, &ski, err)) != TW_OK)
		return rc;
	akid = AUTHORITY_KEYID_new();
	if (akid == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate the AKI");
		goto out;
	}
	/* A root names itself; otherwise the issuer's SKI, recomputed if it has none. */
	issuer_ski = issuer == NULL ? ski : X509_get0_subject_key_id((X509 *)issuer);
	if (issuer_ski != NULL) {
		akid->keyid = ASN1_OCTET_STRING_dup(issuer_ski);
		if (akid->keyid == NULL) {
			rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot copy the issuer's SKI");
			goto out;
		}
	} else if ((rc = pki_key_id(issuer, &akid->keyid, err)) != TW_OK) {
		goto out;
	}
	if ((rc = pki_add_ext(x, NID_authority_key_identifier, 0, akid, err)) != TW_OK)
		goto out;
	rc = pki_add_ext(x, NID_subject_key_identifier, 0, ski, err);
out:
	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(ski);
	return rc;
}

static tw_rc pki_add_key_usage(X509 *x, enum pki_usage usage, struct tw_error *err)
{
	/* Bit numbers of RFC 5280 KeyUsage. */
	enum { PKU_DIGITAL_SIGNATURE = 0, PKU_KEY_ENCIPHERMENT = 2, PKU_KEY_AGREEMENT = 4,
		PKU_KEY_CERT_SIGN = 5, PKU_CRL_SIGN = 6 };
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	int ok;
	tw_rc rc;

	if (ku == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate key usage");
	switch (usage) {
	case PKI_USAGE_ROOT_CA:
	case PKI_USAGE_SUB_CA:
		ok = ASN1_BIT_STRING_set_bit(ku, PKU_KEY_CERT_SIGN, 1) &&
			ASN1_BIT_STRING_set_bit(ku, PKU_CRL_SIGN, 1);
		break;
	case PKI_USAGE_ENC:
		ok = ASN1_BIT_STRING_set_bit(ku, PKU_KEY_ENCIPHERMENT, 1) &&
			ASN1_BIT_STRING_set_bit(ku, PKU_KEY_AGREEMENT, 1);
		break;
	default:
		ok = ASN1_BIT_STRING_set_bit(ku, PKU_DIGITAL_SIGNATURE, 1);
		break;
	}
	rc = ok ? pki_add_ext(x, NID_key_usage, 1, ku, err) :
		tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode key usage");
	ASN1_BIT_STRING_free(ku);
	return rc;
}

/* certificatePolicies with an optional CPS qualifier; a CPS alone goes under anyPolicy. */
static tw_rc pki_add_policies(X509 *x, const char *policy_oid, const char *cps_uri,
	struct tw_error *err)
{
	CERTIFICATEPOLICIES *cps = NULL;
	POLICYINFO *pi = NULL;
	POLICYQUALINFO *qual = NULL;
	tw_rc rc;

	if (policy_oid == NULL && cps_uri == NULL)
		return TW_OK;
	cps = CERTIFICATEPOLICIES_new();
	pi = POLICYINFO_new();
	if (cps == NULL || pi == NULL)
		goto nomem;
	ASN1_OBJECT_free(pi->policyid);
	pi->policyid = OBJ_txt2obj(policy_oid != NULL ? policy_oid : "2.5.29.32.0", 1);
	if (pi->policyid == NULL) {
		rc = tw_error_set(err, TW_E_INVALID,
			"certificate policy \"%s\" is not a dotted OID such as 1.3.6.1.4.1.51695.1.2",
			policy_oid);
		ERR_clear_error();
		goto out;
	}
	if (cps_uri != NULL) {
		size_t len = strlen(cps_uri);

		if (len == 0 || len > PKI_SAN_MAX || strstr(cps_uri, "://") == NULL) {
			rc = tw_error_set(err, TW_E_INVALID, "CPS URI \"%s\" is not an absolute URI",
				cps_uri);
			goto out;
		}
		pi->qualifiers = sk_POLICYQUALINFO_new_null();
		qual = POLICYQUALINFO_new();
		if (pi->qualifiers == NULL || qual == NULL)
			goto nomem;
		qual->pqualid = OBJ_nid2obj(NID_id_qt_cps);
		qual->d.cpsuri = ASN1_IA5STRING_new();
		if (qual->d.cpsuri == NULL || ASN1_STRING_set(qual->d.cpsuri, cps_uri, (int)len) != 1)
			goto nomem;
		if (sk_POLICYQUALINFO_push(pi->qualifiers, qual) <= 0)
			goto nomem;
		qual = NULL;
	}
	if (sk_POLICYINFO_push(cps, pi) <= 0)
		goto nomem;
	pi = NULL;
	rc = pki_add_ext(x, NID_certificate_policies, 0, cps, err);
	goto out;
nomem:
	rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode the certificate policies");
out:
	POLICYQUALINFO_free(qual);
	POLICYINFO_free(pi);
	CERTIFICATEPOLICIES_free(cps);
	return rc;
}

/*
 * A caller-given SAN (e.g. a verified request's, which may list several names and in
 * any order) re-ordered as the real certificates have it: e-mail, URI, DNS. Only these
 * kinds are certified; dNSName only on TLS. *out holds copies; caller frees.
 */
static tw_rc pki_san_ordered(const GENERAL_NAMES *in, enum pki_usage usage,
	GENERAL_NAMES **out, struct tw_error *err)
{
	static const int order[] = { GEN_EMAIL, GEN_URI, GEN_DNS };
	GENERAL_NAMES *san = sk_GENERAL_NAME_new_null();

	*out = NULL;
	if (san == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate the SAN");
	for (int i = 0; i < sk_GENERAL_NAME_num(in); i++) {
		int type = sk_GENERAL_NAME_value(in, i)->type;

		if (type != GEN_EMAIL && type != GEN_URI && type != GEN_DNS) {
			GENERAL_NAMES_free(san);
			return tw_error_set(err, TW_E_INVALID,
				"the subject alternative name may hold e-mail, URI and DNS names only");
		}
		if (type == GEN_DNS && usage != PKI_USAGE_TLS) {
			GENERAL_NAMES_free(san);
			return tw_error_set(err, TW_E_INVALID,
				"a dNSName belongs only in a TLS certificate, not in %s",
				pki_usage_name(usage));
		}
	}
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		for (int i = 0; i < sk_GENERAL_NAME_num(in); i++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(in, i);
			GENERAL_NAME *copy;

			if (gn->type != order[k])
				continue;
			copy = GENERAL_NAME_dup(gn);
			if (copy == NULL || sk_GENERAL_NAME_push(san, copy) <= 0) {
				GENERAL_NAME_free(copy);
				GENERAL_NAMES_free(san);
				return tw_error_set_openssl(err, TW_E_NOMEM, "cannot copy the SAN");
			}
		}
	}
	if (sk_GENERAL_NAME_num(san) == 0) {
		GENERAL_NAMES_free(san);
		san = NULL;
	}
	*out = san;
	return TW_OK;
}

static bool pki_san_has(const GENERAL_NAMES *san, int type)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(san); i++)
		if (sk_GENERAL_NAME_value(san, i)->type == type)
			return true;
	return false;
}

/* SAN (email, URI, DNS in the real certificates' order) and the issuer's SAN as IAN. */
static tw_rc pki_add_alt_names(X509 *x, const struct pki_cert_request *req,
	struct tw_error *err)
{
	const struct pki_subject *s = &req->subject;
	GENERAL_NAMES *san = NULL;
	GENERAL_NAMES *ian = NULL;
	tw_rc rc = TW_OK;

	if (s->dns_name != NULL && req->usage != PKI_USAGE_TLS)
		return tw_error_set(err, TW_E_INVALID,
			"a dNSName (%s) belongs only in a TLS certificate, not in %s", s->dns_name,
			pki_usage_name(req->usage));
	if (req->san != NULL) {
		if ((rc = pki_san_ordered(req->san, req->usage, &san, err)) != TW_OK)
			return rc;
		/*
		 * A request without an e-mail name still gets the participant's registered
		 * address (subject.email), first as in the real certificates.
		 */
		if (s->email != NULL && !pki_san_has(san, GEN_EMAIL)) {
			GENERAL_NAMES *one = sk_GENERAL_NAME_new_null();

			if (san == NULL)
				san = sk_GENERAL_NAME_new_null();
			if (one == NULL || san == NULL) {
				GENERAL_NAMES_free(one);
				rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate the SAN");
				goto out;
			}
			rc = pki_gn_push(one, GEN_EMAIL, s->email, "e-mail", err);
			if (rc == TW_OK && sk_GENERAL_NAME_insert(san, sk_GENERAL_NAME_value(one, 0),
			    0) <= 0)
				rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot extend the SAN");
			else if (rc == TW_OK)
				(void)sk_GENERAL_NAME_pop(one);   /* now owned by san */
			GENERAL_NAMES_free(one);
			if (rc != TW_OK)
				goto out;
		}
	} else if (s->email != NULL || s->uri != NULL || s->dns_name != NULL) {
		san = sk_GENERAL_NAME_new_null();
		if (san == NULL)
			return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate the SAN");
		if ((s->email != NULL &&
		     (rc = pki_gn_push(san, GEN_EMAIL, s->email, "e-mail", err)) != TW_OK) ||
		    (s->uri != NULL && (rc = pki_gn_push(san, GEN_URI, s->uri, "URI", err)) != TW_OK) ||
		    (s->dns_name != NULL &&
		     (rc = pki_gn_push(san, GEN_DNS, s->dns_name, "DNS name", err)) != TW_OK))
			goto out;
	}
	/* IAN sits after SAN in the real certificates; a root has no other issuer to name. */
	if (req->issuer_cert != NULL) {
		ian = X509_get_ext_d2i(req->issuer_cert, NID_subject_alt_name, NULL, NULL);
		ERR_clear_error();
	}
	if (san != NULL && (rc = pki_add_ext(x, NID_subject_alt_name, 0, san, err)) != TW_OK)
		goto out;
	if (ian != NULL)
		rc = pki_add_ext(x, NID_issuer_alt_name, 0, ian, err);
out:
	GENERAL_NAMES_free(san);
	GENERAL_NAMES_free(ian);
	return rc;
}

static tw_rc pki_add_basic_constraints(X509 *x, enum pki_usage usage, struct tw_error *err)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	tw_rc rc;

	if (bc == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate basic constraints");
	bc->ca = pki_is_ca(usage) ? 0xff : 0;
	if (pki_is_ca(usage)) {
		/* Root -> Sub-CA -> end entity: the root allows one CA below, the Sub-CA none. */
		bc->pathlen = ASN1_INTEGER_new();
		if (bc->pathlen == NULL ||
		    ASN1_INTEGER_set(bc->pathlen, usage == PKI_USAGE_ROOT_CA ? 1 : 0) != 1) {
			BASIC_CONSTRAINTS_free(bc);
			return tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode the path length");
		}
	}
	rc = pki_add_ext(x, NID_basic_constraints, 1, bc, err);
	BASIC_CONSTRAINTS_free(bc);
	return rc;
}

/* TLS certificates serve both directions of the WAN and of the SM-PKI web services. */
static tw_rc pki_add_eku(X509 *x, struct tw_error *err)
{
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	tw_rc rc;

	if (eku == NULL || sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)) <= 0 ||
	    sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) <= 0) {
		sk_ASN1_OBJECT_free(eku);
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode the extended key usage");
	}
	rc = pki_add_ext(x, NID_ext_key_usage, 1, eku, err);
	sk_ASN1_OBJECT_free(eku);   /* the objects are static (OBJ_nid2obj) */
	return rc;
}

static tw_rc pki_add_crl_dp(X509 *x, const char *url, struct tw_error *err)
{
	CRL_DIST_POINTS *cdp = NULL;
	DIST_POINT *dp = NULL;
	tw_rc rc;

	cdp = sk_DIST_POINT_new_null();
	dp = DIST_POINT_new();
	if (cdp == NULL || dp == NULL)
		goto nomem;
	dp->distpoint = DIST_POINT_NAME_new();
	if (dp->distpoint == NULL)
		goto nomem;
	dp->distpoint->type = 0;   /* fullName */
	dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null();
	if (dp->distpoint->name.fullname == NULL)
		goto nomem;
	/*
	 * Space-separated URLs (HTTP and/or LDAP): one distributionPoint whose fullName lists
	 * them all, alternatives for the same CRL (RFC 5280 4.2.1.13).
	 */
	for (const char *p = url; *p != '\0';) {
		char one[PKI_SAN_MAX + 1];
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		if ((n = strcspn(p, " \t")) == 0)
			break;
		if (n > PKI_SAN_MAX) {
			rc = tw_error_set(err, TW_E_INVALID, "a CRL URL is longer than %d characters",
				PKI_SAN_MAX);
			goto out;
		}
		memcpy(one, p, n);
		one[n] = '\0';
		if ((rc = pki_gn_push(dp->distpoint->name.fullname, GEN_URI, one, "CRL URL",
		    err)) != TW_OK)
			goto out;
		p += n;
	}
	if (sk_GENERAL_NAME_num(dp->distpoint->name.fullname) == 0) {
		rc = tw_error_set(err, TW_E_INVALID, "the CRL distribution point names no URL");
		goto out;
	}
	if (sk_DIST_POINT_push(cdp, dp) <= 0)
		goto nomem;
	dp = NULL;
	rc = pki_add_ext(x, NID_crl_distribution_points, 0, cdp, err);
	goto out;
nomem:
	rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode the CRL distribution point");
out:
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(cdp);
	return rc;
}

/*
 * Name the signature algorithm the issuer key will use (digest by key size, as the signer
 * does), so the TBSCertificate is complete and encodable before it travels to the signer;
 * the signer's X509_sign writes the same value again. OpenSSL 3.0 has no setter for an
 * unsigned certificate's algorithm, so the (owned, mutable) fields are set in place.
 */
static tw_rc pki_set_sigalg(X509 *x, EVP_PKEY *issuer_key, struct tw_error *err)
{
	int bits = EVP_PKEY_get_bits(issuer_key);
	int nid = bits <= 256 ? NID_ecdsa_with_SHA256 : bits <= 384 ? NID_ecdsa_with_SHA384 :
		NID_ecdsa_with_SHA512;
	const X509_ALGOR *outer = NULL;
	X509_ALGOR *inner = (X509_ALGOR *)X509_get0_tbs_sigalg(x);

	X509_get0_signature(NULL, &outer, x);
	if (inner == NULL || outer == NULL ||
	    X509_ALGOR_set0(inner, OBJ_nid2obj(nid), V_ASN1_UNDEF, NULL) != 1 ||
	    X509_ALGOR_set0((X509_ALGOR *)outer, OBJ_nid2obj(nid), V_ASN1_UNDEF, NULL) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot set the signature algorithm");
	return TW_OK;
}

/* The subject key: req->spki copied field by field when given, else from the EVP_PKEY. */
static tw_rc pki_set_key(X509 *x, const struct pki_cert_request *req, struct tw_error *err)
{
	const ASN1_OBJECT *alg = NULL;
	const void *pval = NULL;
	const unsigned char *pk = NULL;
	X509_ALGOR *algor = NULL;
	unsigned char *point = NULL;
	ASN1_OBJECT *param = NULL;
	int ptype = V_ASN1_UNDEF, pklen = 0;

	if (req->spki == NULL)
		return X509_set_pubkey(x, req->public_key) == 1 ? TW_OK :
			tw_error_set_openssl(err, TW_E_CRYPTO, "cannot set the public key");
	/* request.c makes spki for named-curve EC keys only: the parameter is an OID. */
	if (X509_PUBKEY_get0_param(NULL, &pk, &pklen, &algor, (X509_PUBKEY *)req->spki) != 1 ||
	    pklen <= 0)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot read the requested key");
	X509_ALGOR_get0(&alg, &ptype, &pval, algor);
	if (ptype != V_ASN1_OBJECT || OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey)
		return tw_error_set(err, TW_E_INVALID, "the requested key is not a named-curve EC key");
	if ((param = OBJ_dup(pval)) == NULL ||
	    (point = OPENSSL_memdup(pk, (size_t)pklen)) == NULL ||
	    X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
		V_ASN1_OBJECT, param, point, pklen) != 1) {
		ASN1_OBJECT_free(param);
		OPENSSL_free(point);
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot copy the public key");
	}
	return TW_OK;
}

static bool pki_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

tw_rc pki_validity_not_after(int64_t issued, long days, enum pki_validity_end rule,
	int64_t *not_after, struct tw_error *err)
{
	time_t t = (time_t)issued, end;
	struct tm tm;

	*not_after = 0;
	if (days <= 0 || days > PKI_VALIDITY_DAYS_MAX)
		return tw_error_set(err, TW_E_INVALID, "validity must be 1..%ld days, got %ld",
			PKI_VALIDITY_DAYS_MAX, days);
	if (rule == PKI_VALIDITY_EXACT) {
		*not_after = issued + (int64_t)days * 86400;
		return TW_OK;
	}
	if (gmtime_r(&t, &tm) == NULL)
		return tw_error_set(err, TW_E_INVALID, "the issuance time cannot be represented");
	if (days % 365 == 0) {
		/* Calendar years: the same day and month; 29 Feb becomes 28 Feb (never longer). */
		tm.tm_year += (int)(days / 365);
		if (tm.tm_mon == 1 && tm.tm_mday == 29 && !pki_leap(tm.tm_year + 1900))
			tm.tm_mday = 28;
	} else {
		tm.tm_mday += (int)days;   /* timegm normalises */
	}
	tm.tm_hour = 23;
	tm.tm_min = 59;
	tm.tm_sec = 59;
	tm.tm_isdst = 0;
	if ((end = timegm(&tm)) == (time_t)-1)
		return tw_error_set(err, TW_E_INVALID, "the end of validity cannot be represented");
	*not_after = (int64_t)end;
	return TW_OK;
}

static tw_rc pki_check_request(const struct pki_cert_request *req, struct tw_error *err)
{
	int nid;

	if (req->public_key == NULL)
		return tw_error_set(err, TW_E_INVALID, "the request carries no public key");
	nid = keys_ec_curve_nid(req->public_key);
	if (!pki_curve_allowed(nid))
		return tw_error_set(err, TW_E_INVALID,
			"SM-PKI certificates need a brainpoolP256r1/P384r1/P512r1 key, got %s",
			nid != NID_undef ? OBJ_nid2sn(nid) :
			EVP_PKEY_get0_type_name(req->public_key) != NULL ?
			EVP_PKEY_get0_type_name(req->public_key) : "an unknown key type");
	if (req->validity_days <= 0 || req->validity_days > PKI_VALIDITY_DAYS_MAX)
		return tw_error_set(err, TW_E_INVALID, "validity must be 1..%ld days, got %ld",
			PKI_VALIDITY_DAYS_MAX, req->validity_days);
	if ((req->usage == PKI_USAGE_ROOT_CA) != (req->issuer_cert == NULL))
		return tw_error_set(err, TW_E_INVALID,
			"only a root CA certificate is self-signed; every other one needs an issuer");
	return TW_OK;
}

tw_rc pki_build_certificate(const struct pki_cert_request *req, X509 **out,
	struct tw_error *err)
{
	X509 *x = NULL;
	time_t now;
	int64_t not_after = 0;
	tw_rc rc;

	*out = NULL;
	if ((rc = pki_check_request(req, err)) != TW_OK)
		return rc;
	x = X509_new();
	if (x == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate a certificate");
	if ((rc = pki_set_key(x, req, err)) != TW_OK)
		goto out;
	/*
	 * The end of validity is reckoned from notBefore, not from now: "23:59:59 UTC of the
	 * same calendar day two years on" must name notBefore's day, also when the backdating
	 * puts notBefore on the day before (issued in the first minute after midnight).
	 */
	now = time(NULL) - PKI_BACKDATE_S;
	if ((rc = pki_validity_not_after((int64_t)now, req->validity_days, req->validity_end,
		&not_after, err)) != TW_OK)
		goto out;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot fill the certificate body");
		goto out;
	}
	if ((rc = pki_set_serial(x, err)) != TW_OK)
		goto out;
	if (req->subject_name != NULL) {
		/* A verified request's DN is taken as is, string types included. */
		if (X509_NAME_entry_count(req->subject_name) == 0 ||
		    X509_set_subject_name(x, req->subject_name) != 1) {
			rc = tw_error_set_openssl(err, TW_E_INVALID,
				"the given subject name is empty or cannot be copied");
			goto out;
		}
	} else if ((rc = pki_build_subject(&req->subject, x, err)) != TW_OK) {
		goto out;
	}
	if (X509_set_issuer_name(x, req->issuer_cert != NULL ?
	    X509_get_subject_name(req->issuer_cert) : X509_get_subject_name(x)) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot set the issuer name");
		goto out;
	}
	/* Extension order follows the real SM-PKI certificates (see the top of the file). */
	if ((rc = pki_add_key_ids(x, req->issuer_cert, err)) != TW_OK ||
	    (rc = pki_add_key_usage(x, req->usage, err)) != TW_OK ||
	    (rc = pki_add_policies(x, req->policy_oid, req->cps_uri, err)) != TW_OK ||
	    (rc = pki_add_alt_names(x, req, err)) != TW_OK ||
	    (rc = pki_add_basic_constraints(x, req->usage, err)) != TW_OK)
		goto out;
	if (req->usage == PKI_USAGE_TLS && (rc = pki_add_eku(x, err)) != TW_OK)
		goto out;
	if (req->crl_url != NULL && (rc = pki_add_crl_dp(x, req->crl_url, err)) != TW_OK)
		goto out;
	if ((rc = pki_set_sigalg(x, req->issuer_cert != NULL ?
	    X509_get0_pubkey(req->issuer_cert) : req->public_key, err)) != TW_OK)
		goto out;
	*out = x;
	x = NULL;
out:
	X509_free(x);
	return rc;
}

tw_rc pki_issue_certificate(struct signer_client *sc, const char *issuer_key,
	const struct pki_cert_request *req, X509 **out, struct tw_error *err)
{
	X509 *tbs = NULL;
	X509 *x = NULL;
	EVP_PKEY *issuer_pub;
	tw_rc rc;

	*out = NULL;
	if ((rc = pki_build_certificate(req, &tbs, err)) != TW_OK)
		return rc;
	if ((rc = signer_sign_certificate(sc, issuer_key, tbs, &x, err)) != TW_OK)
		goto out;
	/*
	 * Trust but verify: the result must be what we built (same serial and key) and carry
	 * a valid signature of the intended issuer, so a wrong key label or a signer bug never
	 * leaves this function as a certificate.
	 */
	issuer_pub = req->issuer_cert != NULL ? X509_get0_pubkey(req->issuer_cert) :
		req->public_key;
	if (ASN1_INTEGER_cmp(X509_get0_serialNumber(x), X509_get0_serialNumber(tbs)) != 0 ||
	    EVP_PKEY_eq(X509_get0_pubkey(x), req->public_key) != 1 ||
	    issuer_pub == NULL || X509_verify(x, issuer_pub) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO,
			"the signer's certificate for \"%s\" does not verify with the issuer key "
			"\"%s\"; check that the key label matches the issuer certificate",
			req->subject.common_name, issuer_key);
		goto out;
	}
	*out = x;
	x = NULL;
out:
	X509_free(x);
	X509_free(tbs);
	return rc;
}
