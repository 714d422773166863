/*
 * test_ws.c: the SM-PKI web service's SOAP layer (src/ws/ws_soap.c): envelope structure,
 * refusal of DTDs and entities, size/depth limits, schema validation against the real
 * TR-03129-4 WSDL ($TORWART_SHARED/reference/sm-pki; those cases skip when it is absent),
 * base64 decoding and the answers (element names and codes per the WSDL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ws/ws_soap.h"

#define ENV_OPEN "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" " \
	"xmlns:t=\"uri://bsi.bund.de/Smart-Meter-PKI-Protocol/1.3\"><s:Body>"
#define ENV_CLOSE "</s:Body></s:Envelope>"
#define STATUS_REQ ENV_OPEN "<t:GetServiceStatus_Req><t:messageID>m1</t:messageID>" \
	"</t:GetServiceStatus_Req>" ENV_CLOSE

static struct ws_schema *schema;   /* NULL when ../shared is absent */

static int setup(void **state)
{
	const char *shared = getenv("TORWART_SHARED");
	char path[4096];
	struct tw_error err;

	(void)state;
	ws_xml_init();
	if (shared == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/reference/sm-pki/WSDL_TR-03129-4_v1.3.1_Smartmeter.wsdl",
		shared);
	if (ws_schema_load(path, &schema, &err) != TW_OK) {
		print_message("[  NOTE    ] %s: %s; schema cases skip\n", path, err.message);
		schema = NULL;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ws_schema_free(schema);
	return 0;
}

static tw_rc parse(const char *xml, struct ws_request *r, struct tw_error *err)
{
	return ws_envelope_parse(schema, xml, strlen(xml), r, err);
}

static void test_status_parses(void **state)
{
	struct ws_request r;
	struct tw_error err;

	(void)state;
	assert_int_equal(parse(STATUS_REQ, &r, &err), TW_OK);
	assert_int_equal(r.op, WS_OP_GET_SERVICE_STATUS);
	assert_true(r.valid);
	assert_string_equal(ws_request_field(&r, "messageID"), "m1");
	assert_null(ws_request_field(&r, "certReq"));
	ws_request_clear(&r);
}

static void test_structure_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"not xml",
		"<a/>",
		"<s:Envelope xmlns:s=\"urn:wrong\"><s:Body/></s:Envelope>",
		ENV_OPEN ENV_CLOSE,   /* empty body */
		ENV_OPEN "<t:GetServiceStatus_Req/><t:GetServiceStatus_Req/>" ENV_CLOSE,
		ENV_OPEN "<GetServiceStatus_Req xmlns=\"urn:other\"/>" ENV_CLOSE,
		ENV_OPEN "<t:NoSuchOperation_Req/>" ENV_CLOSE,
		ENV_OPEN "text<t:GetServiceStatus_Req/>" ENV_CLOSE,
		"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header>"
		"<h s:mustUnderstand=\"1\"/></s:Header><s:Body><t:GetServiceStatus_Req xmlns:t="
		"\"uri://bsi.bund.de/Smart-Meter-PKI-Protocol/1.3\"><t:messageID>1</t:messageID>"
		"</t:GetServiceStatus_Req></s:Body></s:Envelope>",
		/* A DTD, even one that declares nothing harmful, stops the parser. */
		"<?xml version=\"1.0\"?><!DOCTYPE s:Envelope [<!ENTITY x \"y\">]>" STATUS_REQ,
		"<?xml version=\"1.0\"?><!DOCTYPE s:Envelope SYSTEM \"http://127.0.0.1:1/x.dtd\">"
		STATUS_REQ,
	};
	struct ws_request r;
	struct tw_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tw_rc rc = parse(bad[i], &r, &err);

		if (rc != TW_E_PROTOCOL)
			fail_msg("case %zu: rc %d, expected TW_E_PROTOCOL", i, (int)rc);
		ws_request_clear(&r);
	}
}

static void test_limits(void **state)
{
	size_t n = WS_BODY_MAX + 1, k = 0;
	char *big = malloc(n + 1), *deep = malloc(4096);
	struct ws_request r;
	struct tw_error err;

	(void)state;
	assert_non_null(big);
	assert_non_null(deep);
	memset(big, ' ', n);
	big[n] = '\0';
	assert_int_equal(ws_envelope_parse(schema, big, n, &r, &err), TW_E_TOO_LARGE);
	ws_request_clear(&r);
	k += (size_t)snprintf(deep, 4096, ENV_OPEN "<t:GetServiceStatus_Req><t:messageID>");
	for (int i = 0; i < WS_DEPTH_MAX; i++)
		k += (size_t)snprintf(deep + k, 4096 - k, "<d>");
	for (int i = 0; i < WS_DEPTH_MAX; i++)
		k += (size_t)snprintf(deep + k, 4096 - k, "</d>");
	snprintf(deep + k, 4096 - k, "</t:messageID></t:GetServiceStatus_Req>" ENV_CLOSE);
	assert_int_equal(parse(deep, &r, &err), TW_E_PROTOCOL);
	assert_non_null(strstr(err.message, "deeper"));
	ws_request_clear(&r);
	free(big);
	free(deep);
}

static void test_schema_invalid(void **state)
{
	static const char *const invalid[] = {
		/* missing messageID */
		ENV_OPEN "<t:GetServiceStatus_Req/>" ENV_CLOSE,
		/* unknown callbackIndicator value */
		ENV_OPEN "<t:RequestCertificate_Req><t:callbackIndicator>maybe</t:callbackIndicator>"
		"<t:certReq>AAAA</t:certReq></t:RequestCertificate_Req>" ENV_CLOSE,
		/* (libxml2 2.9 accepts some invalid base64: ws_base64_decode checks it again) */
		/* elements out of order */
		ENV_OPEN "<t:RequestCertificate_Req><t:certReq>AAAA</t:certReq><t:callbackIndicator>"
		"callback_not_possible</t:callbackIndicator></t:RequestCertificate_Req>" ENV_CLOSE,
		/* unqualified children (elementFormDefault qualified) */
		ENV_OPEN "<t:GetServiceStatus_Req><messageID>1</messageID></t:GetServiceStatus_Req>"
		ENV_CLOSE,
		/* fixed value */
		ENV_OPEN "<t:CertificateRevocationRequest_Req><t:callbackIndicator>callback_possible"
		"</t:callbackIndicator><t:certRevReq>AAAA</t:certRevReq>"
		"</t:CertificateRevocationRequest_Req>" ENV_CLOSE,
	};
	struct ws_request r;
	struct tw_error err;

	(void)state;
	if (schema == NULL)
		skip();
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		assert_int_equal(parse(invalid[i], &r, &err), TW_OK);
		if (r.valid)
			fail_msg("case %zu accepted as valid", i);
		assert_non_null(strstr(r.message, "not valid per the WSDL schema"));
		ws_request_clear(&r);
	}
	assert_int_equal(parse(ENV_OPEN "<t:RequestCertificate_Req><t:callbackIndicator>"
		"callback_not_possible</t:callbackIndicator><t:messageID>x</t:messageID><t:certReq>"
		"AAAA\n BBBB</t:certReq></t:RequestCertificate_Req>" ENV_CLOSE, &r, &err), TW_OK);
	assert_true(r.valid);
	assert_int_equal(r.op, WS_OP_REQUEST_CERTIFICATE);
	ws_request_clear(&r);
}

static void test_base64(void **state)
{
	unsigned char *out = NULL;
	size_t len = 0;
	struct tw_error err;

	(void)state;
	assert_int_equal(ws_base64_decode("aGVs\n bG8=", 100, &out, &len, &err), TW_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "hello", 5);
	free(out);
	assert_int_equal(ws_base64_decode("aGVsbA==", 100, &out, &len, &err), TW_OK);
	assert_int_equal(len, 4);
	free(out);
	assert_int_equal(ws_base64_decode("aGV", 100, &out, &len, &err), TW_E_INVALID);
	assert_int_equal(ws_base64_decode("a=Vs", 100, &out, &len, &err), TW_E_INVALID);
	assert_int_equal(ws_base64_decode("aG%s", 100, &out, &len, &err), TW_E_INVALID);
	assert_int_equal(ws_base64_decode("", 100, &out, &len, &err), TW_E_INVALID);
	assert_int_equal(ws_base64_decode("aGVsbG8h", 5, &out, &len, &err), TW_E_TOO_LARGE);
	assert_null(out);
}

static void test_answers(void **state)
{
	static const unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	struct ws_blob b = { der, sizeof(der) };
	struct ws_request r;
	struct tw_error err;
	char *xml = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(ws_response_build(WS_OP_REQUEST_CERTIFICATE, PKI_OK_CERT_AVAILABLE,
		NULL, &b, 1, &xml, &len, &err), TW_OK);
	assert_non_null(strstr(xml, "RequestCertificate_Res"));
	assert_non_null(strstr(xml, ":certificateSeq><tns:certificate>MAMCAQU=</tns:certificate>"));
	assert_non_null(strstr(xml, ">ok_cert_available<"));
	assert_null(strstr(xml, "returnCodeMessage"));
	/* our own answer is no request */
	assert_int_equal(ws_envelope_parse(NULL, xml, len, &r, &err), TW_E_PROTOCOL);
	ws_request_clear(&r);
	free(xml);
	assert_int_equal(ws_response_build(WS_OP_GET_CERTIFICATE_CHAIN, PKI_OK_CERT_AVAILABLE,
		"a<b&c", &b, 1, &xml, &len, &err), TW_OK);
	assert_non_null(strstr(xml, "<tns:certificateSequence>"));
	assert_non_null(strstr(xml, "a&lt;b&amp;c"));
	free(xml);
	/* codes outside an operation's enumeration are refused */
	assert_false(ws_op_allows(WS_OP_GET_SERVICE_STATUS, PKI_FAILURE_UNAUTHORIZED_REQUEST));
	assert_true(ws_op_allows(WS_OP_REQUEST_CERTIFICATE, PKI_FAILURE_UNAUTHORIZED_REQUEST));
	assert_true(ws_op_allows(WS_OP_SEND_CERTIFICATES, PKI_FAILURE_MESSAGEID_UNKNOWN));
	assert_int_equal(ws_response_build(WS_OP_GET_SERVICE_STATUS,
		PKI_FAILURE_UNAUTHORIZED_REQUEST, NULL, NULL, 0, &xml, &len, &err), TW_E_INTERNAL);
	assert_int_equal(ws_response_build(WS_OP_GET_SERVICE_STATUS, PKI_OK_RECEIVED_CORRECTLY,
		NULL, &b, 1, &xml, &len, &err), TW_E_INTERNAL);
	assert_int_equal(ws_fault_build(true, "why", &xml, &len, &err), TW_OK);
	assert_non_null(strstr(xml, "<faultcode>soapenv:Client</faultcode>"));
	assert_non_null(strstr(xml, "<faultstring>why</faultstring>"));
	free(xml);
}

static void test_schema_load_errors(void **state)
{
	struct ws_schema *s = NULL;
	struct tw_error err;
	char path[] = "/tmp/torwart-ws-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_int_equal(ws_schema_load("/nonexistent/x.wsdl", &s, &err), TW_E_CONFIG);
	assert_null(s);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("<definitions xmlns=\"http://schemas.xmlsoap.org/wsdl/\" targetNamespace=\"urn:x\"/>",
		f);
	fclose(f);
	assert_int_equal(ws_schema_load(path, &s, &err), TW_E_CONFIG);
	assert_non_null(strstr(err.message, "targetNamespace"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_parses),
		cmocka_unit_test(test_structure_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_schema_invalid),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_schema_load_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
