/*
 * test_saml.c: SAML 2.0 assertion verification (src/auth/saml.c). The fixture below was
 * signed by the xmlsec1 command-line tool (ECDSA P-256, SHA-256, exclusive c14n) with the
 * key of idp_cert, so the signer is not our code; its times lie in 2030 and each case
 * passes its own "now". The integration test saml_login.sh covers the login itself
 * (replay cache, operator mapping, session) with assertions signed at test time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/saml.h"

static const char idp_cert[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBfjCCASOgAwIBAgIUOQ7PB4KSJysgq+3OoZF3o3/pEdMwCgYIKoZIzj0EAwIw\n"
	"EzERMA8GA1UEAwwIZnV6eiBpZHAwIBcNMjYxMjA3MTI0NzU2WhgPMjEyNjExMTMx\n"
	"MjQ3NTZaMBMxETAPBgNVBAMMCGZ1enogaWRwMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
	"AQcDQgAEuhtw9m4QLjJ+BdZ/of2BWjgPPqpjON1nATmN7kgzwDfP6GlE0FJ7fHcq\n"
	"RQrSYQzl/PIj02vHbmVPcqvldvsgoqNTMFEwHQYDVR0OBBYEFAfNSgRWaDRefGCx\n"
	"vk4avo6dsWKzMB8GA1UdIwQYMBaAFAfNSgRWaDRefGCxvk4avo6dsWKzMA8GA1Ud\n"
	"EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAIW1v/uWmA5orSkYENUFNIpG\n"
	"CAAD+LspXgdKKgB1HsQsAiEAxcKFNEBTT1Q1SUoxsVx2MEA/5oDqgWibdvXuWG+v\n"
	"g6I=\n"
	"-----END CERTIFICATE-----\n";

static const char other_cert[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBfTCCASOgAwIBAgIUJMFBeCacLdIurzxqUtdFzrWdUi4wCgYIKoZIzj0EAwIw\n"
	"EzERMA8GA1UEAwwIZnV6eiBpZHAwIBcNMjYxMjA3MTI0ODI0WhgPMjEyNjExMTMx\n"
	"MjQ4MjRaMBMxETAPBgNVBAMMCGZ1enogaWRwMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
	"AQcDQgAE6kILgQCVnNmnV77zpW7rR32bla+qaAkQgjrzfgNvRxNOAMR259nLz/Jx\n"
	"RZEym1+OW3ftJhQVAD0aBzrnhJLvmKNTMFEwHQYDVR0OBBYEFPOSXhFL25ha+rpA\n"
	"hr8Maq7t2aWvMB8GA1UdIwQYMBaAFPOSXhFL25ha+rpAhr8Maq7t2aWvMA8GA1Ud\n"
	"EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgOO661lhpgO5AGIUxDlnVtmdm\n"
	"yStG2zkip2qocNy4UmECIQDqJI+fsEw/S55LZr20L9fTAXHjlSqRxFXmAc3WQTmU\n"
	"PQ==\n"
	"-----END CERTIFICATE-----\n";

static const char signed_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_u1\" Version=\"2.0\" IssueInstant=\"2030-01-01T00:00:00Z\">\n"
	"<saml:Issuer>https://idp.test/u</saml:Issuer>\n"
	"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\n"
	"<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n"
	"<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\"/>\n"
	"<ds:Reference URI=\"#_u1\"><ds:Transforms>\n"
	"<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\n"
	"<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\n"
	"<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n"
	"<ds:DigestValue>7tcZOUvLo5kDi14MSEc+homz5jV8uoqjlhUKSiuPeXU=</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>VAsC6VltH3BlBcehkKx7N0BuWkyM2/wtAa8lHWK4ZdQPLg2wqZWufKfeDW2n0c8p\n"
	"uVBwqBW21be34rx5mQXFsA==</ds:SignatureValue></ds:Signature>\n"
	"<saml:Subject><saml:NameID>alice</saml:NameID>\n"
	"<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:SubjectConfirmationData NotOnOrAfter=\"2030-01-01T00:10:00Z\"/></saml:SubjectConfirmation></saml:Subject>\n"
	"<saml:Conditions NotBefore=\"2030-01-01T00:00:00Z\" NotOnOrAfter=\"2030-01-01T00:10:00Z\"><saml:AudienceRestriction><saml:Audience>https://sp.test/</saml:Audience></saml:AudienceRestriction></saml:Conditions>\n"
	"</saml:Assertion>\n";

/* A Response signed by the same key around the signed assertion above (IdPs that sign
 * both), and the same with the Response signed by other_cert's key. */
static const char both_signed_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_r2\" Vers"
	"ion=\"2.0\" IssueInstant=\"2030-01-01T00:00:00Z\"><ds:Signature xmlns:ds=\"http://ww"
	"w.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"ht"
	"tp://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www."
	"w3.org/2001/04/xmldsig-more#ecdsa-sha256\"/><ds:Reference URI=\"#_r2\"><ds:Transform"
	"s><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/"
	"><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transform"
	"s><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:Digest"
	"Value>tbr5zNNSipbYMDGiQraPEJup+6gi1UCivF3Fpt9uSzQ=</ds:DigestValue></ds:Reference></"
	"ds:SignedInfo><ds:SignatureValue>pNa/2gdJgcvriV06XrNRhesmT55M6NokyW4FBqNZWrcTaQ3ssJa"
	"5iUlbeb20p/l9\n"
	"mf+qNGSXpLh2Jsus0SjPfQ==</ds:SignatureValue></ds:Signature><samlp:Status><samlp:Stat"
	"usCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\n"
	"<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_u1\" Vers"
	"ion=\"2.0\" IssueInstant=\"2030-01-01T00:00:00Z\">\n"
	"<saml:Issuer>https://idp.test/u</saml:Issuer>\n"
	"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\n"
	"<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n"
	"<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	"\"/>\n"
	"<ds:Reference URI=\"#_u1\"><ds:Transforms>\n"
	"<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
	"\n"
	"<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms"
	">\n"
	"<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n"
	"<ds:DigestValue>7tcZOUvLo5kDi14MSEc+homz5jV8uoqjlhUKSiuPeXU=</ds:DigestValue></ds:Re"
	"ference></ds:SignedInfo><ds:SignatureValue>VAsC6VltH3BlBcehkKx7N0BuWkyM2/wtAa8lHWK4Z"
	"dQPLg2wqZWufKfeDW2n0c8p\n"
	"uVBwqBW21be34rx5mQXFsA==</ds:SignatureValue></ds:Signature>\n"
	"<saml:Subject><saml:NameID>alice</saml:NameID>\n"
	"<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:Sub"
	"jectConfirmationData NotOnOrAfter=\"2030-01-01T00:10:00Z\"/></saml:SubjectConfirmati"
	"on></saml:Subject>\n"
	"<saml:Conditions NotBefore=\"2030-01-01T00:00:00Z\" NotOnOrAfter=\"2030-01-01T00:10:"
	"00Z\"><saml:AudienceRestriction><saml:Audience>https://sp.test/</saml:Audience></sam"
	"l:AudienceRestriction></saml:Conditions>\n"
	"</saml:Assertion>\n"
	"</samlp:Response>\n";

static const char response_other_key_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_r2\" Vers"
	"ion=\"2.0\" IssueInstant=\"2030-01-01T00:00:00Z\"><ds:Signature xmlns:ds=\"http://ww"
	"w.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"ht"
	"tp://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www."
	"w3.org/2001/04/xmldsig-more#ecdsa-sha256\"/><ds:Reference URI=\"#_r2\"><ds:Transform"
	"s><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/"
	"><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transform"
	"s><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:Digest"
	"Value>tbr5zNNSipbYMDGiQraPEJup+6gi1UCivF3Fpt9uSzQ=</ds:DigestValue></ds:Reference></"
	"ds:SignedInfo><ds:SignatureValue>uLIk5B+N04/YsPwo9hMs1nMfG+Ix6zSEX5292LXsQ0kLEa4ZXXI"
	"avhnkkirnLbju\n"
	"621/4VIKLHSQOMGwjXbmhw==</ds:SignatureValue></ds:Signature><samlp:Status><samlp:Stat"
	"usCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\n"
	"<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_u1\" Vers"
	"ion=\"2.0\" IssueInstant=\"2030-01-01T00:00:00Z\">\n"
	"<saml:Issuer>https://idp.test/u</saml:Issuer>\n"
	"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\n"
	"<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n"
	"<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	"\"/>\n"
	"<ds:Reference URI=\"#_u1\"><ds:Transforms>\n"
	"<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
	"\n"
	"<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms"
	">\n"
	"<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n"
	"<ds:DigestValue>7tcZOUvLo5kDi14MSEc+homz5jV8uoqjlhUKSiuPeXU=</ds:DigestValue></ds:Re"
	"ference></ds:SignedInfo><ds:SignatureValue>VAsC6VltH3BlBcehkKx7N0BuWkyM2/wtAa8lHWK4Z"
	"dQPLg2wqZWufKfeDW2n0c8p\n"
	"uVBwqBW21be34rx5mQXFsA==</ds:SignatureValue></ds:Signature>\n"
	"<saml:Subject><saml:NameID>alice</saml:NameID>\n"
	"<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:Sub"
	"jectConfirmationData NotOnOrAfter=\"2030-01-01T00:10:00Z\"/></saml:SubjectConfirmati"
	"on></saml:Subject>\n"
	"<saml:Conditions NotBefore=\"2030-01-01T00:00:00Z\" NotOnOrAfter=\"2030-01-01T00:10:"
	"00Z\"><saml:AudienceRestriction><saml:Audience>https://sp.test/</saml:Audience></sam"
	"l:AudienceRestriction></saml:Conditions>\n"
	"</saml:Assertion>\n"
	"</samlp:Response>\n";

/* The same assertion (ID _h1) signed with HMAC-SHA256 by the xmlsec1 tool. */
static const char hmac_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_h1\" Vers"
	"ion=\"2.0\" IssueInstant=\"2030-01-01T00:00:00Z\">\n"
	"<saml:Issuer>https://idp.test/u</saml:Issuer>\n"
	"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\n"
	"<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n"
	"<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#hmac-sha256\""
	"/>\n"
	"<ds:Reference URI=\"#_h1\"><ds:Transforms>\n"
	"<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
	"\n"
	"<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms"
	">\n"
	"<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n"
	"<ds:DigestValue>GyMw2Qny7MuPoPqO84Jd9WdS69dm+NE5a3lFC9Ib37M=</ds:DigestValue></ds:Re"
	"ference></ds:SignedInfo><ds:SignatureValue>VoGwtyu+UIFub+O27F0oCiVV10PVIBoSTXlS3ezIb"
	"Ac=</ds:SignatureValue></ds:Signature>\n"
	"<saml:Subject><saml:NameID>alice</saml:NameID>\n"
	"<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:Sub"
	"jectConfirmationData NotOnOrAfter=\"2030-01-01T00:10:00Z\"/></saml:SubjectConfirmati"
	"on></saml:Subject>\n"
	"<saml:Conditions NotBefore=\"2030-01-01T00:00:00Z\" NotOnOrAfter=\"2030-01-01T00:10:"
	"00Z\"><saml:AudienceRestriction><saml:Audience>https://sp.test/</saml:Audience></sam"
	"l:AudienceRestriction></saml:Conditions>\n"
	"</saml:Assertion>\n";

#define T_0500 1893456300000LL   /* 2030-01-01T00:05:00Z */

static struct saml_expect expect_at(int64_t now_ms)
{
	struct saml_expect x = { idp_cert, sizeof(idp_cert) - 1, "https://idp.test/u",
		"https://sp.test/", now_ms, 60, NULL };

	return x;
}

/* The fixture with the first occurrence of from replaced by to (caller frees). */
static char *edit(const char *from, const char *to)
{
	const char *at = strstr(signed_xml, from);
	size_t n = strlen(signed_xml) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);

	assert_non_null(at);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - signed_xml), signed_xml, to, at + strlen(from));
	return out;
}

static enum saml_refusal verify(const char *xml, const struct saml_expect *x,
	struct saml_assertion *a)
{
	enum saml_refusal why = SAML_OK;
	struct tw_error err;
	tw_rc rc = saml_verify(xml, strlen(xml), x, a, &why, &err);

	if (rc == TW_OK)
		assert_int_equal(why, SAML_OK);
	else
		assert_int_not_equal(why, SAML_OK);
	return why;
}

static void test_valid(void **state)
{
	struct saml_expect x = expect_at(T_0500);
	struct saml_assertion a;

	(void)state;
	assert_int_equal(verify(signed_xml, &x, &a), SAML_OK);
	assert_string_equal(a.name_id, "alice");
	assert_string_equal(a.id, "_u1");
	assert_string_equal(a.issuer, "https://idp.test/u");
	assert_int_equal(a.expires_ms, 1893456600000LL);
	/* Within the skew after NotOnOrAfter: still good; beyond it: expired. */
	x.now_ms = 1893456600000LL + 30000;
	assert_int_equal(verify(signed_xml, &x, &a), SAML_OK);
	x.now_ms = 1893456600000LL + 61000;
	assert_int_equal(verify(signed_xml, &x, &a), SAML_EXPIRED);
	x.now_ms = 1893456000000LL - 120000;
	assert_int_equal(verify(signed_xml, &x, &a), SAML_NOT_YET_VALID);
}

static void test_wrong_party(void **state)
{
	struct saml_expect x = expect_at(T_0500);
	struct saml_assertion a;

	(void)state;
	x.issuer = "https://idp.test/other";
	assert_int_equal(verify(signed_xml, &x, &a), SAML_ISSUER);
	x = expect_at(T_0500);
	x.audience = "https://sp.test/other";
	assert_int_equal(verify(signed_xml, &x, &a), SAML_AUDIENCE);
	x = expect_at(T_0500);
	x.idp_cert_pem = other_cert;
	x.idp_cert_len = sizeof(other_cert) - 1;
	assert_int_equal(verify(signed_xml, &x, &a), SAML_SIGNATURE);
	assert_string_equal(a.name_id, "");     /* nothing of a refused assertion is kept */
}

static void test_tampered(void **state)
{
	struct saml_expect x = expect_at(T_0500);
	struct saml_assertion a;
	char *s;

	(void)state;
	s = edit("<saml:NameID>alice<", "<saml:NameID>alicf<");
	assert_int_equal(verify(s, &x, &a), SAML_SIGNATURE);
	free(s);
	/* The comment-truncation shape: refused before any signature is looked at. */
	s = edit("<saml:NameID>alice<", "<saml:NameID>ali<!---->ce<");
	assert_int_equal(verify(s, &x, &a), SAML_SUBJECT);
	free(s);
	s = edit("NotOnOrAfter=\"2030-01-01T00:10:00Z\"/>", "NotOnOrAfter=\"2031-01-01T00:10:00Z\"/>");
	assert_int_equal(verify(s, &x, &a), SAML_SIGNATURE);
	free(s);
	/* The reference names another ID: wrapping, whatever the signature says. */
	s = edit("URI=\"#_u1\"", "URI=\"#_u2\"");
	assert_int_equal(verify(s, &x, &a), SAML_WRAPPING);
	free(s);
	s = edit("URI=\"#_u1\"", "URI=\"\"");
	assert_int_equal(verify(s, &x, &a), SAML_WRAPPING);
	free(s);
	/* HMAC (a shared secret, or the public certificate misused as one) is refused. */
	assert_int_equal(verify(hmac_xml, &x, &a), SAML_SIGNATURE);
	/* An xml:id elsewhere could answer "#_u1". */
	s = edit("<saml:Issuer>", "<saml:Issuer xml:id=\"_u1\">");
	assert_int_equal(verify(s, &x, &a), SAML_WRAPPING);
	free(s);
	/* A second assertion next to the signed one. */
	s = edit("</saml:Conditions>", "</saml:Conditions><saml:Advice><saml:Assertion "
		"ID=\"_x\" Version=\"2.0\"/></saml:Advice>");
	assert_int_equal(verify(s, &x, &a), SAML_WRAPPING);
	free(s);
	/* A second signature. */
	s = edit("<saml:Subject>", "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/"
		"xmldsig#\"/><saml:Subject>");
	assert_int_equal(verify(s, &x, &a), SAML_WRAPPING);
	free(s);
}

static void test_unsigned_and_entities(void **state)
{
	struct saml_expect x = expect_at(T_0500);
	struct saml_assertion a;
	const char *sig = strstr(signed_xml, "<ds:Signature");
	const char *end = strstr(signed_xml, "</ds:Signature>");
	char *s = malloc(strlen(signed_xml) + 1), *d;

	(void)state;
	assert_non_null(s);
	snprintf(s, strlen(signed_xml) + 1, "%.*s%s", (int)(sig - signed_xml), signed_xml,
		end + strlen("</ds:Signature>"));
	assert_int_equal(verify(s, &x, &a), SAML_UNSIGNED);
	free(s);
	d = edit("<saml:Assertion", "<!DOCTYPE a [<!ENTITY e \"x\">]><saml:Assertion");
	assert_int_equal(verify(d, &x, &a), SAML_ENTITY);
	free(d);
	d = edit("<saml:Assertion", "<!DOCTYPE a SYSTEM \"http://127.0.0.1:1/x.dtd\">"
		"<saml:Assertion");
	assert_int_equal(verify(d, &x, &a), SAML_ENTITY);
	free(d);
	d = edit("<saml:Issuer>", "<?pi x?><saml:Issuer>");
	assert_int_equal(verify(d, &x, &a), SAML_ENTITY);
	free(d);
	assert_int_equal(verify("<a>", &x, &a), SAML_MALFORMED);
	assert_int_equal(verify("<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:"
		"assertion\" ID=\"_1\" Version=\"2.0\"/>", &x, &a), SAML_UNSIGNED);
}

static void test_response(void **state)
{
	struct saml_expect x = expect_at(T_0500);
	struct saml_assertion a;
	const char *body = strstr(signed_xml, "<saml:Assertion");
	const char *head = "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:"
		"protocol\" ID=\"_r\" Version=\"2.0\"><samlp:Status><samlp:StatusCode Value=\""
		"urn:oasis:names:tc:SAML:2.0:status:%s\"/></samlp:Status>%s</samlp:Response>";
	size_t n = strlen(head) + strlen(body) + 32;
	char *s = malloc(n);

	(void)state;
	assert_non_null(s);
	snprintf(s, n, head, "Success", body);
	assert_int_equal(verify(s, &x, &a), SAML_OK);
	assert_string_equal(a.name_id, "alice");
	snprintf(s, n, head, "Requester", body);
	assert_int_equal(verify(s, &x, &a), SAML_MALFORMED);
	free(s);
}

/*
 * The console's binding: with a recipient expected, a bearer confirmation without that
 * Recipient is refused (saml_recipient), never read as good; InResponseTo of a Response
 * is reported (the login refuses solicited answers), an empty one is malformed.
 */
static void test_recipient_in_response_to(void **state)
{
	struct saml_expect x = expect_at(T_0500);
	struct saml_assertion a;
	const char *body = strstr(signed_xml, "<saml:Assertion");
	const char *head = "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:"
		"protocol\" ID=\"_r\" Version=\"2.0\"%s><samlp:Status><samlp:StatusCode Value=\""
		"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>%s</samlp:Response>";
	size_t n = strlen(head) + strlen(body) + 128;
	char *s = malloc(n);

	(void)state;
	assert_non_null(s);
	/* The fixture's confirmation names no Recipient: fine without one expected... */
	assert_int_equal(verify(signed_xml, &x, &a), SAML_OK);
	assert_string_equal(a.in_response_to, "");
	/* ... refused where the console expects its consumer URL. */
	x.recipient = "https://sp.test/console/saml/acs";
	assert_int_equal(verify(signed_xml, &x, &a), SAML_RECIPIENT);
	assert_string_equal(a.name_id, "");
	x.recipient = NULL;
	snprintf(s, n, head, " InResponseTo=\"_req7\"", body);
	assert_int_equal(verify(s, &x, &a), SAML_OK);
	assert_string_equal(a.in_response_to, "_req7");
	snprintf(s, n, head, " InResponseTo=\"\"", body);
	assert_int_equal(verify(s, &x, &a), SAML_MALFORMED);
	snprintf(s, n, head, " Destination=\"https://other.test/acs\"", body);
	assert_int_equal(verify(s, &x, &a), SAML_OK);    /* not checked without a recipient */
	assert_string_equal(saml_refusal_code(SAML_RECIPIENT), "saml_recipient");
	assert_string_equal(saml_refusal_code(SAML_IN_RESPONSE_TO), "saml_in_response_to");
	free(s);
}

static void test_both_signed(void **state)
{
	struct saml_expect x = expect_at(T_0500);
	struct saml_assertion a;
	char *s;
	const char *at;

	(void)state;
	assert_int_equal(verify(both_signed_xml, &x, &a), SAML_OK);
	assert_string_equal(a.name_id, "alice");
	/* The inner signature is good, the Response's is by another key: both count. */
	assert_int_equal(verify(response_other_key_xml, &x, &a), SAML_SIGNATURE);
	/* Changing the Response outside the assertion breaks the Response's signature. */
	at = strstr(both_signed_xml, "IssueInstant=\"2030-01-01T00:00:00Z\"");
	assert_non_null(at);
	assert_true(at < strstr(both_signed_xml, "<saml:Assertion"));
	s = strdup(both_signed_xml);
	assert_non_null(s);
	s[at - both_signed_xml + strlen("IssueInstant=\"2030-01-01T00:00:0")] = '1';
	assert_int_equal(verify(s, &x, &a), SAML_SIGNATURE);
	free(s);
}

static void test_time(void **state)
{
	int64_t ms = 0;

	(void)state;
	assert_true(saml_time_parse("2030-01-01T00:05:00Z", &ms));
	assert_int_equal(ms, T_0500);
	assert_true(saml_time_parse("2030-01-01T00:05:00.250Z", &ms));
	assert_int_equal(ms, T_0500 + 250);
	assert_false(saml_time_parse("2030-01-01T00:05:00+01:00", &ms));
	assert_false(saml_time_parse("2030-01-01T00:05:00", &ms));
	assert_false(saml_time_parse("2030-13-01T00:05:00Z", &ms));
	assert_false(saml_time_parse("2030-01-01T00:05:00.Z", &ms));
	assert_false(saml_time_parse("", &ms));
	assert_string_equal(saml_refusal_code(SAML_REPLAYED), "saml_replayed");
	assert_string_equal(saml_refusal_code((enum saml_refusal)999), "saml_malformed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_wrong_party),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_unsigned_and_entities),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_both_signed),
		cmocka_unit_test(test_recipient_in_response_to),
		cmocka_unit_test(test_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
