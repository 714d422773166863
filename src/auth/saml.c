/*
 * saml.c: SAML 2.0 assertion verification with libxmlsec1 (see saml.h for the attacks it
 * defends against and why each check is there).
 *
 * Order: bytes (size, DTD) -> parse (no network, no entities) -> tree walk (no DTD or
 * entity nodes, one Assertion, one Signature, bounded depth and size) -> IDs registered
 * on Assertion/Response only -> signature (configured key, restricted algorithms, one
 * same-document Reference to the signature's parent) -> fields of that assertion node.
 * Only after the signature is good are issuer, audience, times and subject judged, so a
 * forged document is always "saml_signature", never a more specific and misleading code.
 */
#include "auth/saml.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/keys.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include "base/log.h"

#define NS_SAML   "urn:oasis:names:tc:SAML:2.0:assertion"
#define NS_SAMLP  "urn:oasis:names:tc:SAML:2.0:protocol"
#define NS_DSIG   "http://www.w3.org/2000/09/xmldsig#"
#define CM_BEARER "urn:oasis:names:tc:SAML:2.0:cm:bearer"
#define ST_OK     "urn:oasis:names:tc:SAML:2.0:status:Success"

#define SAML_DEPTH_MAX 24
#define SAML_NODES_MAX 4000

static const char *const saml_codes[] = {
	[SAML_OK] = "saml_ok", [SAML_MALFORMED] = "saml_malformed",
	[SAML_ENTITY] = "saml_entity", [SAML_UNSIGNED] = "saml_unsigned",
	[SAML_WRAPPING] = "saml_wrapping", [SAML_SIGNATURE] = "saml_signature",
	[SAML_ISSUER] = "saml_issuer", [SAML_AUDIENCE] = "saml_audience",
	[SAML_EXPIRED] = "saml_expired", [SAML_NOT_YET_VALID] = "saml_not_yet_valid",
	[SAML_SUBJECT] = "saml_subject", [SAML_REPLAYED] = "saml_replayed",
	[SAML_IDP] = "saml_idp", [SAML_OPERATOR] = "saml_operator",
	[SAML_CERTIFICATE] = "saml_certificate", [SAML_RECIPIENT] = "saml_recipient",
	[SAML_IN_RESPONSE_TO] = "saml_in_response_to",
};

const char *saml_refusal_code(enum saml_refusal r)
{
	return (size_t)r < sizeof(saml_codes) / sizeof(saml_codes[0]) && saml_codes[r] != NULL ?
		saml_codes[r] : "saml_malformed";
}

/* ---- library set-up (once per process) ---- */

static pthread_once_t saml_once = PTHREAD_ONCE_INIT;
static bool saml_ready;

/* xmlsec reports every refused document on stderr by default: a debug line is enough. */
static void saml_xmlsec_errors(const char *file, int line, const char *func,
	const char *object, const char *subject, int reason, const char *msg)
{
	(void)file;
	(void)line;
	tw_debug("xmlsec: %s: %s %s (%d) %s", func != NULL ? func : "-",
		object != NULL ? object : "", subject != NULL ? subject : "", reason,
		msg != NULL ? msg : "");
}

/* libxml2's generic error handler: silence (refusals are typed by us). */
static void saml_xml_errors(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void saml_init(void)
{
	xmlInitParser();
	if (xmlSecInit() < 0)
		return;
	if (xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0 ||
	    xmlSecCryptoInit() < 0)
		return;
	xmlSecErrorsSetCallback(saml_xmlsec_errors);
	saml_ready = true;
}

tw_rc saml_library_init(struct tw_error *err)
{
	pthread_once(&saml_once, saml_init);
	return saml_ready ? TW_OK : tw_error_set(err, TW_E_INTERNAL, "the XML security library "
		"(libxmlsec1 with OpenSSL) did not initialise");
}

/* ---- helpers ---- */

static tw_rc saml_refuse(enum saml_refusal r, enum saml_refusal *why, struct tw_error *err,
	const char *fmt, const char *arg)
{
	char text[200];

	*why = r;
	snprintf(text, sizeof(text), fmt, arg != NULL ? arg : "");
	return tw_error_set(err, TW_E_DENIED, "%s: %s", saml_refusal_code(r), text);
}

static bool saml_is(const xmlNode *n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
		strcmp((const char *)n->ns->href, ns) == 0 &&
		strcmp((const char *)n->name, name) == 0;
}

/* The only direct child element ns:name of parent; NULL if none; *many if several. */
static xmlNode *saml_child(xmlNode *parent, const char *ns, const char *name, bool *many)
{
	xmlNode *found = NULL;

	for (xmlNode *c = parent != NULL ? parent->children : NULL; c != NULL; c = c->next) {
		if (!saml_is(c, ns, name))
			continue;
		if (found != NULL && many != NULL)
			*many = true;
		if (found == NULL)
			found = c;
	}
	return found;
}

/*
 * The text of an element that holds exactly one text node and nothing else: a comment
 * (NameID truncation), a CDATA section, an element or an empty value is refused.
 */
static bool saml_text(const xmlNode *n, char *dst, size_t size)
{
	const xmlNode *t = n != NULL ? n->children : NULL;
	size_t len;

	if (t == NULL || t->next != NULL || t->type != XML_TEXT_NODE || t->content == NULL)
		return false;
	len = strlen((const char *)t->content);
	if (len == 0 || len >= size)
		return false;
	memcpy(dst, t->content, len + 1);
	return true;
}

/* An attribute's value (no namespace) into dst; false if absent or too long. */
static bool saml_attr(xmlNode *n, const char *name, char *dst, size_t size)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	bool ok = v != NULL && strlen((const char *)v) > 0 && strlen((const char *)v) < size;

	if (ok)
		memcpy(dst, v, strlen((const char *)v) + 1);
	xmlFree(v);
	return ok;
}

/* n decimal digits at s into *v; false on anything else. */
static bool saml_digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

bool saml_time_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, used = 0;
	const char *p;
	int64_t frac = 0, scale = 100;
	time_t t;

	*ms = 0;
	/* YYYY-MM-DDThh:mm:ss at fixed positions, digits only (no sign, no spaces). */
	if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || !saml_digits(s, 4, &y) || !saml_digits(s + 5, 2, &mo) ||
	    !saml_digits(s + 8, 2, &d) || !saml_digits(s + 11, 2, &h) ||
	    !saml_digits(s + 14, 2, &mi) || !saml_digits(s + 17, 2, &sec))
		return false;
	used = 19;
	p = s + used;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		for (; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	/* SAML times are UTC without an offset (SAML core 1.3.3). */
	if (strcmp(p, "Z") != 0 || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > 31 || h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return false;
	*ms = (int64_t)t * 1000 + frac;
	return true;
}

/* A time attribute: absent is fine (*ms = 0) unless required; malformed is not. */
static bool saml_time_attr(xmlNode *n, const char *name, bool required, int64_t *ms)
{
	char v[64];

	*ms = 0;
	if (n == NULL || xmlHasProp(n, (const xmlChar *)name) == NULL)
		return !required;
	return saml_attr(n, name, v, sizeof(v)) && saml_time_parse(v, ms);
}

/* ---- the tree walk ---- */

struct saml_walk {
	size_t nodes, assertions, signatures, encrypted;
	xmlNode *assertion, *signature[2];    /* the first two signatures */
	bool bad_node;
};

static void saml_walk(xmlNode *n, int depth, struct saml_walk *w)
{
	for (; n != NULL && !w->bad_node; n = n->next) {
		if (++w->nodes > SAML_NODES_MAX || depth > SAML_DEPTH_MAX) {
			w->bad_node = true;
			return;
		}
		switch (n->type) {
		case XML_ELEMENT_NODE:
			if (saml_is(n, NS_SAML, "Assertion")) {
				w->assertions++;
				w->assertion = n;
			} else if (saml_is(n, NS_SAML, "EncryptedAssertion")) {
				w->encrypted++;
			} else if (saml_is(n, NS_DSIG, "Signature")) {
				if (w->signatures < 2)
					w->signature[w->signatures] = n;
				w->signatures++;
			}
			saml_walk(n->children, depth + 1, w);
			break;
		case XML_TEXT_NODE:
		case XML_COMMENT_NODE:
			break;
		default:
			/* DTD, entity declarations and references, CDATA, PIs, XInclude: none of
			 * them belongs in an assertion. */
			w->bad_node = true;
			return;
		}
	}
}

/* The parsed document with its verified-shape pointers. */
struct saml_doc {
	xmlDoc *doc;
	xmlNode *root, *assertion;
	/* One signature (Assertion or Response), or two: the Response's and its Assertion's. */
	xmlNode *signature[2], *signed_node[2];
	size_t nsig;
};

/*
 * Parse and check the shape; on TW_OK d holds the document (caller frees d->doc) and
 * the assertion's fields are in out (unverified).
 */
static tw_rc saml_load(const char *xml, size_t len, struct saml_doc *d,
	struct saml_assertion *out, enum saml_refusal *why, struct tw_error *err)
{
	struct saml_walk w;
	xmlNode *subject, *nameid, *cond, *issuer;
	xmlChar *ref_uri = NULL;
	xmlNode *si, *ref;
	char sid[SAML_TEXT_MAX + 1], rid[SAML_TEXT_MAX + 1];
	bool many = false;
	tw_rc rc = TW_OK;

	memset(d, 0, sizeof(*d));
	memset(out, 0, sizeof(*out));
	*why = SAML_OK;
	if ((rc = saml_library_init(err)) != TW_OK)
		return rc;
	if (xml == NULL || len == 0)
		return saml_refuse(SAML_MALFORMED, why, err, "no assertion%s", "");
	if (len > SAML_XML_MAX) {
		*why = SAML_MALFORMED;
		return tw_error_set(err, TW_E_TOO_LARGE, "saml_malformed: the assertion is over "
			"%d bytes", SAML_XML_MAX);
	}
	/* Before the parser sees it: a DTD is how XXE and entity expansion arrive. */
	if (memmem(xml, len, "<!DOCTYPE", 9) != NULL || memmem(xml, len, "<!ENTITY", 8) != NULL)
		return saml_refuse(SAML_ENTITY, why, err, "a document type or entity declaration "
			"is refused%s", "");
	if (memchr(xml, '\0', len) != NULL)
		return saml_refuse(SAML_MALFORMED, why, err, "a NUL byte in the document%s", "");
	xmlSetGenericErrorFunc(NULL, saml_xml_errors);
	d->doc = xmlReadMemory(xml, (int)len, "assertion.xml", NULL, XML_PARSE_NONET |
		XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (d->doc == NULL) {
		rc = saml_refuse(SAML_MALFORMED, why, err, "not well-formed XML%s", "");
		goto out;
	}
	if (d->doc->intSubset != NULL || d->doc->extSubset != NULL) {
		rc = saml_refuse(SAML_ENTITY, why, err, "a document type is refused%s", "");
		goto out;
	}
	/* No ID may exist before ours (xml:id would let another node answer "#ID"). */
	if (d->doc->ids != NULL) {
		rc = saml_refuse(SAML_WRAPPING, why, err, "the document declares IDs of its own "
			"(xml:id)%s", "");
		goto out;
	}
	d->root = xmlDocGetRootElement(d->doc);
	memset(&w, 0, sizeof(w));
	saml_walk(d->root, 0, &w);
	if (w.bad_node) {
		rc = saml_refuse(SAML_ENTITY, why, err, "a node kind or size no assertion has "
			"(entity, CDATA, processing instruction, nesting over %s levels)", "24");
		goto out;
	}
	if (w.encrypted > 0) {
		rc = saml_refuse(SAML_MALFORMED, why, err, "encrypted assertions are not "
			"supported%s", "");
		goto out;
	}
	if (w.assertions != 1) {
		rc = saml_refuse(w.assertions == 0 ? SAML_MALFORMED : SAML_WRAPPING, why, err,
			"exactly one Assertion is accepted%s", "");
		goto out;
	}
	d->assertion = w.assertion;
	if (saml_is(d->root, NS_SAMLP, "Response")) {
		xmlNode *status = saml_child(d->root, NS_SAMLP, "Status", &many);
		xmlNode *code = saml_child(status, NS_SAMLP, "StatusCode", &many);
		char value[SAML_TEXT_MAX + 1];

		if (d->assertion->parent != d->root) {
			rc = saml_refuse(SAML_WRAPPING, why, err, "the Assertion is not a child of "
				"the Response%s", "");
			goto out;
		}
		if (code == NULL || many || !saml_attr(code, "Value", value, sizeof(value)) ||
		    strcmp(value, ST_OK) != 0) {
			rc = saml_refuse(SAML_MALFORMED, why, err, "the Response's status is not "
				"Success%s", "");
			goto out;
		}
	} else if (d->root != d->assertion) {
		rc = saml_refuse(SAML_MALFORMED, why, err, "the document is neither an Assertion "
			"nor a Response%s", "");
		goto out;
	}
	if (!saml_attr(d->assertion, "ID", out->id, sizeof(out->id)) ||
	    !saml_attr(d->assertion, "Version", sid, sizeof(sid)) || strcmp(sid, "2.0") != 0) {
		rc = saml_refuse(SAML_MALFORMED, why, err, "the Assertion needs an ID and "
			"Version 2.0%s", "");
		goto out;
	}
	/* The IDs a Reference may name: the Assertion's and the Response's, nothing else. */
	if (xmlAddID(NULL, d->doc, (const xmlChar *)out->id,
	    xmlHasProp(d->assertion, (const xmlChar *)"ID")) == NULL) {
		rc = saml_refuse(SAML_WRAPPING, why, err, "the Assertion's ID is not unique%s", "");
		goto out;
	}
	if (d->root != d->assertion) {
		if (!saml_attr(d->root, "ID", rid, sizeof(rid)) ||
		    xmlAddID(NULL, d->doc, (const xmlChar *)rid,
		    xmlHasProp(d->root, (const xmlChar *)"ID")) == NULL) {
			rc = saml_refuse(SAML_WRAPPING, why, err, "the Response needs an ID of its "
				"own%s", "");
			goto out;
		}
	}
	/*
	 * One signature, enveloped in the Assertion or in the Response holding it; or two
	 * (identity providers that sign both): one in the Response, one in its Assertion.
	 * Both are verified then. Any other number or place is a wrapping shape.
	 */
	if (w.signatures == 0) {
		rc = saml_refuse(SAML_UNSIGNED, why, err, "the assertion is not signed%s", "");
		goto out;
	}
	if (w.signatures > 2 ||
	    (w.signatures == 1 && w.signature[0]->parent != d->assertion &&
	     w.signature[0]->parent != d->root) ||
	    (w.signatures == 2 && (d->root == d->assertion ||
	     !((w.signature[0]->parent == d->root && w.signature[1]->parent == d->assertion) ||
	       (w.signature[1]->parent == d->root &&
	        w.signature[0]->parent == d->assertion))))) {
		rc = saml_refuse(SAML_WRAPPING, why, err, "one signature, enveloped in the "
			"Assertion or its Response (or one in each), is accepted%s", "");
		goto out;
	}
	d->nsig = w.signatures;
	for (size_t i = 0; i < d->nsig; i++) {
		d->signature[i] = w.signature[i];
		d->signed_node[i] = w.signature[i]->parent;
		si = saml_child(d->signature[i], NS_DSIG, "SignedInfo", &many);
		ref = saml_child(si, NS_DSIG, "Reference", &many);
		xmlFree(ref_uri);
		ref_uri = NULL;
		if (ref == NULL || many || (ref_uri = xmlGetNoNsProp(ref,
		    (const xmlChar *)"URI")) == NULL ||
		    !saml_attr(d->signed_node[i], "ID", sid, sizeof(sid)) || ref_uri[0] != '#' ||
		    strcmp((const char *)ref_uri + 1, sid) != 0) {
			rc = saml_refuse(SAML_WRAPPING, why, err, "the one Reference must name the ID "
				"of the signed Assertion or Response%s", "");
			goto out;
		}
	}
	/* The fields, from the assertion node (the signed one or inside the signed one). */
	issuer = saml_child(d->assertion, NS_SAML, "Issuer", &many);
	if (issuer == NULL || many || !saml_text(issuer, out->issuer, sizeof(out->issuer))) {
		rc = saml_refuse(SAML_MALFORMED, why, err, "the Assertion needs one Issuer with "
			"plain text%s", "");
		goto out;
	}
	subject = saml_child(d->assertion, NS_SAML, "Subject", &many);
	nameid = saml_child(subject, NS_SAML, "NameID", &many);
	if (subject == NULL || nameid == NULL || many ||
	    !saml_text(nameid, out->name_id, sizeof(out->name_id))) {
		rc = saml_refuse(SAML_SUBJECT, why, err, "the Subject needs one NameID of plain "
			"text (no comment or markup inside)%s", "");
		goto out;
	}
	cond = saml_child(d->assertion, NS_SAML, "Conditions", &many);
	if (many || !saml_time_attr(cond, "NotBefore", false, &out->not_before_ms) ||
	    !saml_time_attr(cond, "NotOnOrAfter", false, &out->expires_ms)) {
		rc = saml_refuse(SAML_MALFORMED, why, err, "malformed Conditions times%s", "");
		goto out;
	}
out:
	xmlFree(ref_uri);
	if (rc != TW_OK) {
		xmlFreeDoc(d->doc);
		memset(d, 0, sizeof(*d));
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

tw_rc saml_parse(const char *xml, size_t len, struct saml_assertion *out,
	enum saml_refusal *why, struct tw_error *err)
{
	struct saml_doc d;
	tw_rc rc = saml_load(xml, len, &d, out, why, err);

	xmlFreeDoc(d.doc);
	return rc;
}

/* Signature i over d->signed_node[i] by the configured certificate's key. */
static tw_rc saml_signature(struct saml_doc *d, size_t i, const struct saml_expect *x,
	enum saml_refusal *why, struct tw_error *err)
{
	xmlSecDSigCtxPtr ctx = NULL;
	xmlSecKeyPtr key;
	xmlSecDSigReferenceCtxPtr ref;
	xmlChar *want = NULL;
	tw_rc rc = TW_OK;

	if (x->idp_cert_pem == NULL || x->idp_cert_len == 0 || x->idp_cert_len > 65536 ||
	    (key = xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *)x->idp_cert_pem,
	    (xmlSecSize)x->idp_cert_len, xmlSecKeyDataFormatCertPem, NULL, NULL, NULL)) ==
	    NULL)
		return tw_error_set(err, TW_E_CONFIG, "the identity provider's certificate cannot "
			"be loaded; set it again with `torwart context idp-set`");
	if ((ctx = xmlSecDSigCtxCreate(NULL)) == NULL) {
		xmlSecKeyDestroy(key);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	ctx->signKey = key;    /* owned by ctx now; a KeyInfo in the document is ignored */
	ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
	/* A ds:Manifest's references mean nothing to SAML and could name other documents. */
	ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
	if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformInclC14NId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha384Id) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha512Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformInclC14NId) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha256Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha384Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha512Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha256Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha384Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha512Id) < 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot restrict the signature algorithms");
		goto out;
	}
	if (xmlSecDSigCtxVerify(ctx, d->signature[i]) < 0 ||
	    ctx->status != xmlSecDSigStatusSucceeded) {
		rc = saml_refuse(SAML_SIGNATURE, why, err, "the signature does not verify with the "
			"identity provider's certificate (or uses a refused algorithm)%s", "");
		goto out;
	}
	/* What was verified is the node we read: one reference, "#" + the parent's ID. */
	want = xmlGetNoNsProp(d->signed_node[i], (const xmlChar *)"ID");
	ref = xmlSecPtrListGetSize(&ctx->signedInfoReferences) == 1 ?
		xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0) : NULL;
	if (ref == NULL || ref->status != xmlSecDSigStatusSucceeded || ref->uri == NULL ||
	    want == NULL || ref->uri[0] != '#' ||
	    strcmp((const char *)ref->uri + 1, (const char *)want) != 0 ||
	    xmlGetID(d->doc, want) == NULL || xmlGetID(d->doc, want)->parent != d->signed_node[i])
		rc = saml_refuse(SAML_WRAPPING, why, err, "the signed reference is not the "
			"assertion read%s", "");
out:
	xmlFree(want);
	xmlSecDSigCtxDestroy(ctx);
	return rc;
}

tw_rc saml_verify(const char *xml, size_t len, const struct saml_expect *x,
	struct saml_assertion *out, enum saml_refusal *why, struct tw_error *err)
{
	struct saml_doc d;
	xmlNode *subject, *sc, *scd, *cond, *ar;
	char method[SAML_TEXT_MAX + 1], aud[SAML_TEXT_MAX + 1], url[1024];
	char resp_irt[SAML_TEXT_MAX + 1] = "";
	int64_t sc_end = 0, skew_ms = (x->skew_s >= 0 ? x->skew_s : SAML_SKEW_DEFAULT_S) * 1000;
	bool audience_ok = false, many = false, bearer = false, wrong_recipient = false;
	bool bad_irt = false;
	tw_rc rc;

	if ((rc = saml_load(xml, len, &d, out, why, err)) != TW_OK)
		return rc;
	for (size_t i = 0; i < d.nsig; i++)
		if ((rc = saml_signature(&d, i, x, why, err)) != TW_OK)
			goto out;
	if (x->issuer == NULL || strcmp(out->issuer, x->issuer) != 0) {
		rc = saml_refuse(SAML_ISSUER, why, err, "issued by '%.100s', not by the context's "
			"identity provider", out->issuer);
		goto out;
	}
	/* Audience: at least one AudienceRestriction, each naming this GWA (SAML core 2.5.1.4:
	 * every restriction must be met). */
	cond = saml_child(d.assertion, NS_SAML, "Conditions", &many);
	for (ar = cond != NULL ? cond->children : NULL; ar != NULL; ar = ar->next) {
		bool this_one = false;

		if (!saml_is(ar, NS_SAML, "AudienceRestriction"))
			continue;
		for (xmlNode *a = ar->children; a != NULL; a = a->next)
			if (saml_is(a, NS_SAML, "Audience") && saml_text(a, aud, sizeof(aud)) &&
			    x->audience != NULL && strcmp(aud, x->audience) == 0)
				this_one = true;
		if (!this_one) {
			audience_ok = false;
			break;
		}
		audience_ok = true;
	}
	if (!audience_ok) {
		rc = saml_refuse(SAML_AUDIENCE, why, err, "the assertion is not restricted to this "
			"service provider (%.100s)", x->audience != NULL ? x->audience : "-");
		goto out;
	}
	/* The bearer confirmation (SAML profiles 4.1.4.2): its NotOnOrAfter is required. */
	subject = saml_child(d.assertion, NS_SAML, "Subject", &many);
	for (sc = subject != NULL ? subject->children : NULL; sc != NULL && !bearer;
	     sc = sc->next) {
		int64_t nb = 0;

		if (!saml_is(sc, NS_SAML, "SubjectConfirmation") ||
		    !saml_attr(sc, "Method", method, sizeof(method)) ||
		    strcmp(method, CM_BEARER) != 0)
			continue;
		scd = saml_child(sc, NS_SAML, "SubjectConfirmationData", &many);
		if (scd == NULL || !saml_time_attr(scd, "NotOnOrAfter", true, &sc_end) ||
		    !saml_time_attr(scd, "NotBefore", false, &nb) || nb != 0)
			continue;    /* a bearer confirmation must not carry NotBefore */
		/* Browser binding: the confirmation names the endpoint it was meant for, so an
		 * assertion for another service's consumer URL cannot be replayed here. */
		if (x->recipient != NULL && (!saml_attr(scd, "Recipient", url, sizeof(url)) ||
		    strcmp(url, x->recipient) != 0)) {
			wrong_recipient = true;
			continue;
		}
		if (xmlHasProp(scd, (const xmlChar *)"InResponseTo") != NULL &&
		    !saml_attr(scd, "InResponseTo", out->in_response_to,
		    sizeof(out->in_response_to)))
			bad_irt = true;
		bearer = true;
	}
	if (!bearer) {
		rc = wrong_recipient ?
			saml_refuse(SAML_RECIPIENT, why, err, "the bearer confirmation's Recipient is "
			"not this endpoint (%.200s)", x->recipient) :
			saml_refuse(SAML_SUBJECT, why, err, "no bearer SubjectConfirmation with a "
			"NotOnOrAfter%s", "");
		goto out;
	}
	if (d.root != d.assertion) {
		/* The Response's own Destination and InResponseTo (SAML core 3.2.2). */
		if (x->recipient != NULL &&
		    xmlHasProp(d.root, (const xmlChar *)"Destination") != NULL &&
		    (!saml_attr(d.root, "Destination", url, sizeof(url)) ||
		     strcmp(url, x->recipient) != 0)) {
			rc = saml_refuse(SAML_RECIPIENT, why, err, "the Response's Destination is not "
				"this endpoint (%.200s)", x->recipient);
			goto out;
		}
		if (xmlHasProp(d.root, (const xmlChar *)"InResponseTo") != NULL &&
		    !saml_attr(d.root, "InResponseTo", resp_irt, sizeof(resp_irt)))
			bad_irt = true;
		if (resp_irt[0] != '\0' && out->in_response_to[0] != '\0' &&
		    strcmp(resp_irt, out->in_response_to) != 0)
			bad_irt = true;
		if (out->in_response_to[0] == '\0')
			memcpy(out->in_response_to, resp_irt, sizeof(resp_irt));
	}
	if (bad_irt) {
		rc = saml_refuse(SAML_MALFORMED, why, err, "InResponseTo is empty, too long, or "
			"differs between the Response and its assertion%s", "");
		goto out;
	}
	if (out->expires_ms == 0 || sc_end < out->expires_ms)
		out->expires_ms = sc_end;
	if (x->now_ms >= out->expires_ms + skew_ms) {
		rc = saml_refuse(SAML_EXPIRED, why, err, "the assertion has expired%s", "");
		goto out;
	}
	if (out->not_before_ms != 0 && x->now_ms + skew_ms < out->not_before_ms) {
		rc = saml_refuse(SAML_NOT_YET_VALID, why, err, "the assertion is not valid yet "
			"(NotBefore in the future beyond the allowed skew)%s", "");
		goto out;
	}
out:
	xmlFreeDoc(d.doc);
	if (rc != TW_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
