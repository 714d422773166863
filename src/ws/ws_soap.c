/*
 * ws_soap.c: the SOAP envelope of the BSI Sub-CA web service with libxml2 (ws_soap.h).
 * No hand-written XML: libxml2 parses, validates against the WSDL's own schema, and
 * builds every answer as a tree it then serialises.
 */
#include "ws/ws_soap.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <openssl/evp.h>

#define WSDL_NS "http://schemas.xmlsoap.org/wsdl/"
#define XSD_NS  "http://www.w3.org/2001/XMLSchema"

static const char *const op_names[WS_OP__COUNT] = {
	[WS_OP_REQUEST_CERTIFICATE] = "RequestCertificate",
	[WS_OP_SEND_CERTIFICATES] = "SendCertificates",
	[WS_OP_GET_CERTIFICATE_CHAIN] = "GetCertificateChain",
	[WS_OP_CERTIFICATE_REVOCATION_REQUEST] = "CertificateRevocationRequest",
	[WS_OP_GENERAL_MESSAGE] = "GeneralMessage",
	[WS_OP_GET_SERVICE_STATUS] = "GetServiceStatus",
	[WS_OP_UPDATE_DEVICE_ADMIN] = "UpdateDeviceAdmin",
};

/* The returnCode enumerations of the WSDL's _Res elements, in its order. */
#define R(x) (1u << (x))
static const unsigned op_codes[WS_OP__COUNT] = {
	[WS_OP_REQUEST_CERTIFICATE] = R(PKI_OK_SYNTAX) | R(PKI_OK_CERT_AVAILABLE) |
		R(PKI_FAILURE_SYNTAX) | R(PKI_FAILURE_INCORRECT_REQUEST) |
		R(PKI_FAILURE_SYNCHRONOUS_PROCESSING_NOT_POSSIBLE) |
		R(PKI_FAILURE_REQUEST_NOT_ACCEPTED) | R(PKI_FAILURE_UNAUTHORIZED_REQUEST) |
		R(PKI_FAILURE_OTHER_ERROR) | R(PKI_FAILURE_INTERNAL_ERROR) |
		R(PKI_FAILURE_INNER_SIGNATURE) | R(PKI_FAILURE_OUTER_SIGNATURE) |
		R(PKI_FAILURE_AUTHORIZATION_SIGNATURE) | R(PKI_FAILURE_DOMAIN_PARAMETERS),
	[WS_OP_SEND_CERTIFICATES] = R(PKI_OK_RECEIVED_CORRECTLY) | R(PKI_FAILURE_SYNTAX) |
		R(PKI_FAILURE_MESSAGEID_UNKNOWN) | R(PKI_FAILURE_OTHER_ERROR) |
		R(PKI_FAILURE_INTERNAL_ERROR),
	[WS_OP_GET_CERTIFICATE_CHAIN] = R(PKI_OK_SYNTAX) | R(PKI_OK_CERT_AVAILABLE) |
		R(PKI_FAILURE_SYNTAX) | R(PKI_FAILURE_SYNCHRONOUS_PROCESSING_NOT_POSSIBLE) |
		R(PKI_FAILURE_OTHER_ERROR) | R(PKI_FAILURE_INTERNAL_ERROR) |
		R(PKI_FAILURE_CERT_NOT_AVAILABLE),
	[WS_OP_CERTIFICATE_REVOCATION_REQUEST] = R(PKI_OK_RECEIVED_CORRECTLY) |
		R(PKI_FAILURE_SYNTAX) | R(PKI_FAILURE_INCORRECT_REQUEST) |
		R(PKI_FAILURE_REQUEST_NOT_ACCEPTED) | R(PKI_FAILURE_OTHER_ERROR) |
		R(PKI_FAILURE_INTERNAL_ERROR),
	[WS_OP_GENERAL_MESSAGE] = R(PKI_OK_RECEIVED_CORRECTLY) | R(PKI_FAILURE_SYNTAX) |
		R(PKI_FAILURE_OTHER_ERROR) | R(PKI_FAILURE_INTERNAL_ERROR),
	[WS_OP_GET_SERVICE_STATUS] = R(PKI_OK_RECEIVED_CORRECTLY) | R(PKI_FAILURE_SYNTAX) |
		R(PKI_FAILURE_OTHER_ERROR) | R(PKI_FAILURE_INTERNAL_ERROR),
	[WS_OP_UPDATE_DEVICE_ADMIN] = R(PKI_OK_RECEIVED_CORRECTLY) | R(PKI_FAILURE_SYNTAX) |
		R(PKI_FAILURE_INCORRECT_REQUEST) | R(PKI_FAILURE_REQUEST_NOT_ACCEPTED) |
		R(PKI_FAILURE_OTHER_ERROR) | R(PKI_FAILURE_INTERNAL_ERROR),
};
#undef R

struct ws_schema {
	xmlDocPtr doc;          /* the extracted xs:schema as a document of its own */
	xmlSchemaPtr schema;
};

const char *ws_op_name(enum ws_op op)
{
	return (unsigned)op < WS_OP__COUNT ? op_names[op] : NULL;
}

bool ws_op_allows(enum ws_op op, enum pki_result code)
{
	return (unsigned)op < WS_OP__COUNT && (unsigned)code < 32 &&
		(op_codes[op] & (1u << code)) != 0;
}

/* libxml2 reports through callbacks; the messages we need are collected per call. */
static void ws_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void ws_structured_quiet(void *ctx, const xmlError *e)
{
	(void)ctx;
	(void)e;
}

void ws_xml_init(void)
{
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, ws_quiet);
	xmlSetStructuredErrorFunc(NULL, (xmlStructuredErrorFunc)ws_structured_quiet);
}

static bool ws_is(const xmlNode *n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
		strcmp((const char *)n->ns->href, ns) == 0 &&
		strcmp((const char *)n->name, name) == 0;
}

static xmlNode *ws_child(const xmlNode *parent, const char *ns, const char *name)
{
	for (xmlNode *c = parent != NULL ? parent->children : NULL; c != NULL; c = c->next)
		if (ws_is(c, ns, name))
			return c;
	return NULL;
}

tw_rc ws_schema_load(const char *path, struct ws_schema **out, struct tw_error *err)
{
	struct ws_schema *s = NULL;
	xmlDocPtr wsdl = NULL;
	xmlNode *root, *types, *schema, *copy;
	xmlSchemaParserCtxtPtr pctx = NULL;
	xmlChar *tns = NULL;
	tw_rc rc = TW_OK;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	wsdl = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (wsdl == NULL) {
		rc = tw_error_set(err, TW_E_CONFIG, "[ws] wsdl = %s: not a readable XML file (the "
			"TR-03129-4 WSDL is required; see docs/pki-services.md)", path);
		goto out;
	}
	root = xmlDocGetRootElement(wsdl);
	if (!ws_is(root, WSDL_NS, "definitions") ||
	    (tns = xmlGetProp(root, (const xmlChar *)"targetNamespace")) == NULL ||
	    strcmp((const char *)tns, WS_NS) != 0) {
		rc = tw_error_set(err, TW_E_CONFIG, "[ws] wsdl = %s is not the TR-03129-4 v1.3 WSDL "
			"(wsdl:definitions with targetNamespace %s)", path, WS_NS);
		goto out;
	}
	types = ws_child(root, WSDL_NS, "types");
	schema = ws_child(types, XSD_NS, "schema");
	if (schema == NULL) {
		rc = tw_error_set(err, TW_E_CONFIG, "[ws] wsdl = %s has no wsdl:types/xs:schema",
			path);
		goto out;
	}
	/* The schema as a document of its own; namespaces declared above it are copied. */
	if ((s->doc = xmlNewDoc((const xmlChar *)"1.0")) == NULL ||
	    (copy = xmlDocCopyNode(schema, s->doc, 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	xmlDocSetRootElement(s->doc, copy);
	xmlReconciliateNs(s->doc, copy);
	if ((pctx = xmlSchemaNewDocParserCtxt(s->doc)) == NULL ||
	    (s->schema = xmlSchemaParse(pctx)) == NULL) {
		const xmlError *e = xmlGetLastError();

		rc = tw_error_set(err, TW_E_CONFIG, "[ws] wsdl = %s: its types schema does not "
			"compile (%s)", path, e != NULL && e->message != NULL ? e->message : "?");
		goto out;
	}
	*out = s;
	s = NULL;
out:
	if (pctx != NULL)
		xmlSchemaFreeParserCtxt(pctx);
	xmlFree(tns);
	if (wsdl != NULL)
		xmlFreeDoc(wsdl);
	ws_schema_free(s);
	return rc;
}

void ws_schema_free(struct ws_schema *s)
{
	if (s == NULL)
		return;
	if (s->schema != NULL)
		xmlSchemaFree(s->schema);
	if (s->doc != NULL)
		xmlFreeDoc(s->doc);
	free(s);
}

/* ---- parsing ---- */

/* A document type declaration: stop at once (no entity is ever declared). */
static void ws_sax_dtd(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
	xmlParserCtxtPtr p = ctx;

	(void)name;
	(void)ext;
	(void)sys;
	*(bool *)p->_private = true;
	xmlStopParser(p);
}

static int ws_depth(const xmlNode *n, int depth)
{
	int max = depth;

	if (depth > WS_DEPTH_MAX)
		return depth;
	for (const xmlNode *c = n->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE) {
			int d = ws_depth(c, depth + 1);

			if (d > max)
				max = d;
			if (max > WS_DEPTH_MAX)
				break;
		}
	return max;
}

struct ws_valid_msg {
	char text[TW_ERROR_MESSAGE_MAX];
};

static void ws_valid_error(void *ctx, const xmlError *e)
{
	struct ws_valid_msg *m = ctx;
	size_t n;

	if (m->text[0] != '\0' || e == NULL || e->message == NULL)
		return;   /* the first error is the useful one */
	snprintf(m->text, sizeof(m->text), "%s", e->message);
	n = strlen(m->text);
	while (n > 0 && (m->text[n - 1] == '\n' || m->text[n - 1] == ' '))
		m->text[--n] = '\0';
}

/* Only whitespace and comments may sit between the envelope's elements. */
static bool ws_only_blank(const xmlNode *n)
{
	if (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE)
		return true;
	if (n->type != XML_TEXT_NODE)
		return false;
	for (const xmlChar *p = n->content; p != NULL && *p != '\0'; p++)
		if (!isspace(*p))
			return false;
	return true;
}

static tw_rc ws_headers_ok(const xmlNode *header, struct tw_error *err)
{
	for (const xmlNode *h = header != NULL ? header->children : NULL; h != NULL; h = h->next) {
		xmlChar *mu;
		bool must;

		if (h->type != XML_ELEMENT_NODE)
			continue;
		mu = xmlGetNsProp(h, (const xmlChar *)"mustUnderstand",
			(const xmlChar *)WS_SOAPENV_NS);
		must = mu != NULL && strcmp((const char *)mu, "0") != 0;
		xmlFree(mu);
		if (must)
			return tw_error_set(err, TW_E_PROTOCOL, "header %s must be understood; this "
				"service understands no header", (const char *)h->name);
	}
	return TW_OK;
}

static tw_rc ws_fields(const xmlNode *el, struct ws_request *out, struct tw_error *err)
{
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		struct ws_field *f;
		xmlChar *v;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (out->n_fields == WS_FIELDS_MAX || strlen((const char *)c->name) >=
		    WS_FIELD_NAME_MAX) {
			/* The schema refuses it anyway; without one this is the limit. */
			out->valid = false;
			snprintf(out->message, sizeof(out->message), "unexpected element %.32s",
				(const char *)c->name);
			return TW_OK;
		}
		f = &out->fields[out->n_fields];
		if (strcmp((const char *)c->name, "certificateSeq") == 0 ||
		    strcmp((const char *)c->name, "certificateSequence") == 0) {
			for (const xmlNode *k = c->children; k != NULL; k = k->next) {
				xmlChar *kv;

				if (k->type != XML_ELEMENT_NODE)
					continue;
				if (out->n_certs == WS_CERTS_MAX ||
				    strcmp((const char *)k->name, "certificate") != 0) {
					out->valid = false;
					snprintf(out->message, sizeof(out->message), "more than %d "
						"certificates or an unexpected element in %s",
						WS_CERTS_MAX, (const char *)c->name);
					return TW_OK;
				}
				if ((kv = xmlNodeGetContent(k)) == NULL)
					kv = xmlStrdup((const xmlChar *)"");
				if (kv == NULL || (out->certs[out->n_certs] =
				    strdup((const char *)kv)) == NULL) {
					xmlFree(kv);
					return tw_error_set(err, TW_E_NOMEM, "out of memory");
				}
				xmlFree(kv);
				out->n_certs++;
			}
		}
		if ((v = xmlNodeGetContent(c)) == NULL)
			v = xmlStrdup((const xmlChar *)"");
		if (v == NULL || (f->value = strdup((const char *)v)) == NULL) {
			xmlFree(v);
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		}
		xmlFree(v);
		snprintf(f->name, sizeof(f->name), "%s", (const char *)c->name);
		out->n_fields++;
	}
	return TW_OK;
}

/* Requests (expect = WS_OP__COUNT: any "<Op>_Req") and answers ("<expect>_Res"). */
static tw_rc ws_parse(const struct ws_schema *schema, const char *buf, size_t len,
	enum ws_op expect, struct ws_request *out, struct tw_error *err);

tw_rc ws_envelope_parse(const struct ws_schema *schema, const char *buf, size_t len,
	struct ws_request *out, struct tw_error *err)
{
	return ws_parse(schema, buf, len, WS_OP__COUNT, out, err);
}

tw_rc ws_answer_parse(const struct ws_schema *schema, const char *buf, size_t len,
	enum ws_op expect, struct ws_request *out, struct tw_error *err)
{
	if (expect < 0 || expect >= WS_OP__COUNT) {
		memset(out, 0, sizeof(*out));
		return tw_error_set(err, TW_E_INTERNAL, "ws_answer_parse: no operation");
	}
	return ws_parse(schema, buf, len, expect, out, err);
}

/* The faultstring of a SOAP 1.1 Fault element, into err. */
static tw_rc ws_fault_error(const xmlNode *fault, struct tw_error *err)
{
	for (const xmlNode *c = fault->children; c != NULL; c = c->next) {
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name,
		    "faultstring") == 0) {
			xmlChar *v = xmlNodeGetContent(c);
			tw_rc rc = tw_error_set(err, TW_E_PROTOCOL, "SOAP fault: %.300s",
				v != NULL ? (const char *)v : "");

			xmlFree(v);
			return rc;
		}
	}
	return tw_error_set(err, TW_E_PROTOCOL, "SOAP fault without a faultstring");
}

static tw_rc ws_parse(const struct ws_schema *schema, const char *buf, size_t len,
	enum ws_op expect, struct ws_request *out, struct tw_error *err)
{
	xmlParserCtxtPtr pctx = NULL;
	xmlDocPtr doc = NULL;
	xmlNode *env, *header = NULL, *body = NULL, *op = NULL;
	bool dtd = false;
	char name[64];
	tw_rc rc = TW_OK;
	int i;

	memset(out, 0, sizeof(*out));
	out->op = WS_OP__COUNT;
	if (len > WS_BODY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "SOAP message over %d bytes", WS_BODY_MAX);
	if (len == 0 || buf == NULL)
		return tw_error_set(err, TW_E_PROTOCOL, "empty SOAP message");
	if ((pctx = xmlNewParserCtxt()) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	pctx->_private = &dtd;
	pctx->sax->internalSubset = ws_sax_dtd;
	doc = xmlCtxtReadMemory(pctx, buf, (int)len, NULL, NULL, XML_PARSE_NONET |
		XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (dtd) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "a document type declaration is not allowed");
		goto out;
	}
	if (doc == NULL || !pctx->wellFormed) {
		const xmlError *e = xmlCtxtGetLastError(pctx);

		rc = tw_error_set(err, TW_E_PROTOCOL, "not well-formed XML: %s",
			e != NULL && e->message != NULL ? e->message : "?");
		goto out;
	}
	env = xmlDocGetRootElement(doc);
	if (!ws_is(env, WS_SOAPENV_NS, "Envelope")) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "the root element is not a SOAP 1.1 Envelope "
			"(namespace %s)", WS_SOAPENV_NS);
		goto out;
	}
	if (ws_depth(env, 1) > WS_DEPTH_MAX) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "elements nested deeper than %d",
			WS_DEPTH_MAX);
		goto out;
	}
	/* Envelope: Header? Body, nothing else. */
	for (xmlNode *c = env->children; c != NULL; c = c->next) {
		if (ws_only_blank(c))
			continue;
		if (header == NULL && body == NULL && ws_is(c, WS_SOAPENV_NS, "Header"))
			header = c;
		else if (body == NULL && ws_is(c, WS_SOAPENV_NS, "Body"))
			body = c;
		else {
			rc = tw_error_set(err, TW_E_PROTOCOL, "unexpected content in the Envelope");
			goto out;
		}
	}
	if (body == NULL) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "the Envelope has no Body");
		goto out;
	}
	if ((rc = ws_headers_ok(header, err)) != TW_OK)
		goto out;
	for (xmlNode *c = body->children; c != NULL; c = c->next) {
		if (ws_only_blank(c))
			continue;
		if (op != NULL || c->type != XML_ELEMENT_NODE) {
			rc = tw_error_set(err, TW_E_PROTOCOL, "the Body must hold exactly one element");
			goto out;
		}
		op = c;
	}
	if (op == NULL) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "the Body is empty");
		goto out;
	}
	if (expect != WS_OP__COUNT && ws_is(op, WS_SOAPENV_NS, "Fault")) {
		rc = ws_fault_error(op, err);
		goto out;
	}
	if (op->ns == NULL || strcmp((const char *)op->ns->href, WS_NS) != 0) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "the Body element is not in namespace %s",
			WS_NS);
		goto out;
	}
	for (i = 0; i < WS_OP__COUNT; i++) {
		if (expect != WS_OP__COUNT && i != (int)expect)
			continue;
		snprintf(name, sizeof(name), "%s_%s", op_names[i], expect == WS_OP__COUNT ?
			"Req" : "Res");
		if (strcmp((const char *)op->name, name) == 0)
			break;
	}
	if (i == WS_OP__COUNT) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "unknown operation element %.64s",
			(const char *)op->name);
		goto out;
	}
	out->op = (enum ws_op)i;
	out->valid = true;
	if (schema != NULL) {
		xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(schema->schema);
		struct ws_valid_msg m = { { 0 } };
		int vr;

		if (v == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		xmlSchemaSetValidStructuredErrors(v, (xmlStructuredErrorFunc)ws_valid_error, &m);
		vr = xmlSchemaValidateOneElement(v, op);
		xmlSchemaFreeValidCtxt(v);
		if (vr != 0) {
			out->valid = false;
			snprintf(out->message, sizeof(out->message), "%s is not valid per the WSDL "
				"schema: %s", name, m.text[0] != '\0' ? m.text : "invalid");
		}
	}
	if (out->valid)
		rc = ws_fields(op, out, err);
out:
	if (doc != NULL)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(pctx);
	return rc;
}

void ws_request_clear(struct ws_request *req)
{
	for (size_t i = 0; i < req->n_certs; i++)
		free(req->certs[i]);
	req->n_certs = 0;
	for (size_t i = 0; i < req->n_fields; i++)
		free(req->fields[i].value);
	memset(req, 0, sizeof(*req));
}

const char *ws_request_field(const struct ws_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_fields; i++)
		if (strcmp(req->fields[i].name, name) == 0)
			return req->fields[i].value;
	return NULL;
}

tw_rc ws_base64_decode(const char *text, size_t max, unsigned char **out, size_t *len,
	struct tw_error *err)
{
	size_t n = strlen(text), k = 0, pad = 0;
	char *clean = NULL;
	unsigned char *bin = NULL;
	int got;
	tw_rc rc = TW_OK;

	*out = NULL;
	*len = 0;
	if ((clean = malloc(n + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (!(isalnum(c) || c == '+' || c == '/' || c == '=')) {
			rc = tw_error_set(err, TW_E_INVALID, "invalid base64 character");
			goto out;
		}
		clean[k++] = (char)c;
	}
	clean[k] = '\0';
	if (k == 0 || k % 4 != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "base64 length is not a multiple of 4");
		goto out;
	}
	if (k / 4 * 3 > max) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "decoded value over %zu bytes", max);
		goto out;
	}
	for (size_t i = 0; i < k; i++)
		if (clean[i] == '=' && i < k - 2) {
			rc = tw_error_set(err, TW_E_INVALID, "base64 padding inside the value");
			goto out;
		}
	pad = (clean[k - 1] == '=') + (clean[k - 2] == '=');
	if ((bin = malloc(k / 4 * 3 + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	got = EVP_DecodeBlock(bin, (const unsigned char *)clean, (int)k);
	if (got < 0 || (size_t)got < pad) {
		rc = tw_error_set(err, TW_E_INVALID, "invalid base64");
		goto out;
	}
	*out = bin;
	*len = (size_t)got - pad;
	bin = NULL;
out:
	free(bin);
	free(clean);
	return rc;
}

/* ---- answers ---- */

static tw_rc ws_serialise(xmlDocPtr doc, char **out, size_t *len, struct tw_error *err)
{
	xmlChar *mem = NULL;
	int size = 0;

	xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
	if (mem == NULL || size <= 0 || (*out = malloc((size_t)size + 1)) == NULL) {
		xmlFree(mem);
		return tw_error_set(err, TW_E_NOMEM, "cannot serialise the SOAP answer");
	}
	memcpy(*out, mem, (size_t)size);
	(*out)[size] = '\0';
	*len = (size_t)size;
	xmlFree(mem);
	return TW_OK;
}

/* A new document with soapenv:Envelope/soapenv:Body; *body receives the Body. */
static xmlDocPtr ws_envelope_new(xmlNode **body)
{
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNode *env = doc != NULL ? xmlNewDocNode(doc, NULL, (const xmlChar *)"Envelope",
		NULL) : NULL;
	xmlNs *ns;

	*body = NULL;
	if (env == NULL) {
		if (doc != NULL)
			xmlFreeDoc(doc);
		return NULL;
	}
	xmlDocSetRootElement(doc, env);
	ns = xmlNewNs(env, (const xmlChar *)WS_SOAPENV_NS, (const xmlChar *)"soapenv");
	xmlSetNs(env, ns);
	*body = xmlNewChild(env, ns, (const xmlChar *)"Body", NULL);
	if (ns == NULL || *body == NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

tw_rc ws_response_build(enum ws_op op, enum pki_result code, const char *message,
	const struct ws_blob *certs, size_t n, char **out, size_t *len, struct tw_error *err)
{
	xmlDocPtr doc = NULL;
	xmlNode *body, *res, *seq = NULL;
	xmlNs *ns;
	char name[64];
	const char *seq_name = op == WS_OP_REQUEST_CERTIFICATE ? "certificateSeq" :
		op == WS_OP_GET_CERTIFICATE_CHAIN ? "certificateSequence" : NULL;
	tw_rc rc = TW_OK;

	*out = NULL;
	*len = 0;
	if (!ws_op_allows(op, code) || (n > 0 && seq_name == NULL))
		return tw_error_set(err, TW_E_INTERNAL, "%s cannot answer %s",
			ws_op_name(op) ? ws_op_name(op) : "?", pki_result_name(code) ?
			pki_result_name(code) : "?");
	if ((doc = ws_envelope_new(&body)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	snprintf(name, sizeof(name), "%s_Res", ws_op_name(op));
	if ((res = xmlNewChild(body, NULL, (const xmlChar *)name, NULL)) == NULL ||
	    (ns = xmlNewNs(res, (const xmlChar *)WS_NS, (const xmlChar *)"tns")) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	xmlSetNs(res, ns);
	if (n > 0 && (seq = xmlNewChild(res, ns, (const xmlChar *)seq_name, NULL)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		size_t b64len = 4 * ((certs[i].len + 2) / 3) + 1;
		unsigned char *b64 = malloc(b64len);
		xmlNode *c;

		if (b64 == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		EVP_EncodeBlock(b64, certs[i].data, (int)certs[i].len);
		/* xmlNewTextChild escapes; base64 needs none, but it is the safe call. */
		c = xmlNewTextChild(seq, ns, (const xmlChar *)"certificate", b64);
		free(b64);
		if (c == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
	}
	if (xmlNewTextChild(res, ns, (const xmlChar *)"returnCode",
		(const xmlChar *)pki_result_name(code)) == NULL ||
	    (message != NULL && message[0] != '\0' && xmlNewTextChild(res, ns,
		(const xmlChar *)"returnCodeMessage", (const xmlChar *)message) == NULL)) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	rc = ws_serialise(doc, out, len, err);
out:
	xmlFreeDoc(doc);
	return rc;
}

/* An element without namespace holding text (escaped by libxml2). */
static bool ws_add_plain(xmlDocPtr doc, xmlNode *parent, const char *name, const char *text)
{
	xmlNode *n = xmlNewDocNode(doc, NULL, (const xmlChar *)name, NULL);

	if (n == NULL)
		return false;
	if (xmlAddChild(parent, n) == NULL) {
		xmlFreeNode(n);
		return false;
	}
	xmlNodeAddContent(n, (const xmlChar *)text);
	return text[0] == '\0' || n->children != NULL;
}

tw_rc ws_fault_build(bool client, const char *reason, char **out, size_t *len,
	struct tw_error *err)
{
	xmlDocPtr doc;
	xmlNode *body, *fault;
	tw_rc rc;

	*out = NULL;
	*len = 0;
	if ((doc = ws_envelope_new(&body)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	/*
	 * SOAP 1.1 section 4.4: Fault with unqualified faultcode and faultstring (a child
	 * made with xmlNewChild(ns NULL) would inherit soapenv: from its parent).
	 */
	if ((fault = xmlNewChild(body, body->ns, (const xmlChar *)"Fault", NULL)) == NULL ||
	    !ws_add_plain(doc, fault, "faultcode", client ? "soapenv:Client" :
		"soapenv:Server") ||
	    !ws_add_plain(doc, fault, "faultstring", reason != NULL ? reason : "error"))
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	else
		rc = ws_serialise(doc, out, len, err);
	xmlFreeDoc(doc);
	return rc;
}

tw_rc ws_message_build(const char *element, const struct ws_out_field *fields, size_t n,
	char **out, size_t *len, struct tw_error *err)
{
	xmlDocPtr doc = NULL;
	xmlNode *body, *el;
	xmlNs *ns;
	tw_rc rc = TW_OK;

	*out = NULL;
	*len = 0;
	if ((doc = ws_envelope_new(&body)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((el = xmlNewChild(body, NULL, (const xmlChar *)element, NULL)) == NULL ||
	    (ns = xmlNewNs(el, (const xmlChar *)WS_NS, (const xmlChar *)"tns")) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	xmlSetNs(el, ns);
	for (size_t i = 0; i < n; i++) {
		const struct ws_out_field *f = &fields[i];
		xmlNode *seq;

		if (f->certs == NULL) {
			if (f->text != NULL && xmlNewTextChild(el, ns, (const xmlChar *)f->name,
			    (const xmlChar *)f->text) == NULL) {
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
				goto out;
			}
			continue;
		}
		if (f->n_certs == 0)
			continue;
		if ((seq = xmlNewChild(el, ns, (const xmlChar *)f->name, NULL)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		for (size_t k = 0; k < f->n_certs; k++) {
			size_t b64len = 4 * ((f->certs[k].len + 2) / 3) + 1;
			unsigned char *b64 = malloc(b64len);
			xmlNode *c;

			if (b64 == NULL) {
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
				goto out;
			}
			EVP_EncodeBlock(b64, f->certs[k].data, (int)f->certs[k].len);
			c = xmlNewTextChild(seq, ns, (const xmlChar *)"certificate", b64);
			free(b64);
			if (c == NULL) {
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
				goto out;
			}
		}
	}
	rc = ws_serialise(doc, out, len, err);
out:
	xmlFreeDoc(doc);
	return rc;
}
