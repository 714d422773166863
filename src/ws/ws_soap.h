/*
 * ws_soap.h: the SOAP 1.1 document/literal envelope of the BSI Sub-CA web service
 * (TR-03129-4 v1.3.1, the WSDL configured as [ws] wsdl), parsed and printed with libxml2.
 *
 * Parsing is strict and bounded: at most WS_BODY_MAX bytes (checked before libxml2 sees
 * them), no DTD at all (a document type declaration stops the parser: no entity can be
 * declared, so none is expanded), no network (XML_PARSE_NONET), no XML_PARSE_NOENT or
 * XML_PARSE_HUGE, element depth at most WS_DEPTH_MAX. The envelope must be
 * soapenv:Envelope with an optional Header (a mustUnderstand header is refused) and a Body
 * holding exactly one element of the WSDL's target namespace named "<Operation>_Req".
 * That element is validated against the types schema extracted from the WSDL at start;
 * an invalid element is still returned (valid = false, message says why) so the caller
 * can answer with the operation's failure_syntax code instead of a fault.
 */
#ifndef TORWART_WS_WS_SOAP_H
#define TORWART_WS_WS_SOAP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "pki/result.h"

#define WS_NS         "uri://bsi.bund.de/Smart-Meter-PKI-Protocol/1.3"
#define WS_SOAPENV_NS "http://schemas.xmlsoap.org/soap/envelope/"
#define WS_BODY_MAX   (256 * 1024)     /* a CRMF request is < 8 KiB; base64 and XML x2 */
#define WS_DEPTH_MAX  16
#define WS_FIELDS_MAX 8                /* the widest _Req element has 4 children */
#define WS_FIELD_NAME_MAX 32
#define WS_CERTS_MAX  8                /* certificates in a certificate sequence */

enum ws_op {
	WS_OP_REQUEST_CERTIFICATE = 0,
	WS_OP_SEND_CERTIFICATES,
	WS_OP_GET_CERTIFICATE_CHAIN,
	WS_OP_CERTIFICATE_REVOCATION_REQUEST,
	WS_OP_GENERAL_MESSAGE,
	WS_OP_GET_SERVICE_STATUS,
	WS_OP_UPDATE_DEVICE_ADMIN,
	WS_OP__COUNT
};

/* The WSDL operation name ("RequestCertificate"), static; NULL outside the enum. */
const char *ws_op_name(enum ws_op op);

/* The compiled types schema of the WSDL. */
struct ws_schema;

/*
 * Read the WSDL at path (no network), check its target namespace is WS_NS, extract its
 * wsdl:types/xs:schema and compile it. TW_E_CONFIG with the reason when any step fails.
 * Free with ws_schema_free.
 */
tw_rc ws_schema_load(const char *path, struct ws_schema **out, struct tw_error *err);
void ws_schema_free(struct ws_schema *schema);

/* One parsed request: the operation and the text of each child of its _Req element. */
struct ws_field {
	char name[WS_FIELD_NAME_MAX];
	char *value;                         /* owned, NUL-terminated UTF-8 */
};

struct ws_request {
	enum ws_op op;
	bool valid;                          /* the _Req element is valid per the schema */
	char message[TW_ERROR_MESSAGE_MAX];  /* why not valid */
	size_t n_fields;
	struct ws_field fields[WS_FIELDS_MAX];
	/* The certificate children of a certificateSeq / certificateSequence field, as
	 * base64 text (owned); that field's own value is their concatenation. */
	size_t n_certs;
	char *certs[WS_CERTS_MAX];
};

/*
 * Parse one SOAP envelope. schema may be NULL (then valid is true when the structure is
 * right; the fuzz target uses this). TW_E_TOO_LARGE over WS_BODY_MAX; TW_E_PROTOCOL for
 * anything that is not a usable envelope (not XML, DTD, too deep, wrong namespace, no or
 * several body elements, unknown operation, mustUnderstand header): answer with a fault.
 * On TW_OK out is filled (caller clears with ws_request_clear, also after a failure).
 */
tw_rc ws_envelope_parse(const struct ws_schema *schema, const char *buf, size_t len,
	struct ws_request *out, struct tw_error *err);
void ws_request_clear(struct ws_request *req);
/*
 * The same for an answer: the Body element must be "<expect>_Res" (a SOAP Fault is
 * TW_E_PROTOCOL with the fault string). Used by the web service's client side
 * (ws_client.c, ws_outbox.c) on the bytes a remote service sends back.
 */
tw_rc ws_answer_parse(const struct ws_schema *schema, const char *buf, size_t len,
	enum ws_op expect, struct ws_request *out, struct tw_error *err);
/* The value of child name, or NULL when absent. Borrowed from req. */
const char *ws_request_field(const struct ws_request *req, const char *name);

/*
 * Decode an xs:base64Binary value (whitespace allowed, as the schema type allows).
 * *out is the caller's (free). TW_E_INVALID for anything else; TW_E_TOO_LARGE over max.
 */
tw_rc ws_base64_decode(const char *text, size_t max, unsigned char **out, size_t *len,
	struct tw_error *err);

/* A DER certificate for a certificate sequence (borrowed). */
struct ws_blob {
	const unsigned char *data;
	size_t len;
};

/*
 * The "<Operation>_Res" envelope: certificates (n may be 0; only for RequestCertificate
 * and GetCertificateChain, in the element the WSDL names), returnCode = code (must be one
 * the operation's enumeration allows: TW_E_INTERNAL otherwise) and returnCodeMessage
 * (omitted when NULL or ""). *out (caller frees) is UTF-8 XML of *len bytes.
 */
tw_rc ws_response_build(enum ws_op op, enum pki_result code, const char *message,
	const struct ws_blob *certs, size_t n, char **out, size_t *len, struct tw_error *err);
/* True when code is in the operation's returnCode enumeration of the WSDL. */
bool ws_op_allows(enum ws_op op, enum pki_result code);

/* One child of a message built by ws_message_build: text, or a certificate sequence. */
struct ws_out_field {
	const char *name;                    /* local name in the WSDL namespace */
	const char *text;                    /* NULL: skip (optional element) unless certs */
	const struct ws_blob *certs;         /* non-NULL: a sequence of certificate children */
	size_t n_certs;
};

/*
 * An envelope whose Body holds element (e.g. "SendCertificates_Req") in the WSDL
 * namespace with the fields in the order given (the schema's order). *out caller frees.
 */
tw_rc ws_message_build(const char *element, const struct ws_out_field *fields, size_t n,
	char **out, size_t *len, struct tw_error *err);

/* A SOAP 1.1 fault (faultcode soapenv:Client or soapenv:Server). *out caller frees. */
tw_rc ws_fault_build(bool client, const char *reason, char **out, size_t *len,
	struct tw_error *err);

/* Once per process before any other call (libxml2's own initialisation, quiet errors). */
void ws_xml_init(void);

#endif
