/*
 * fuzz_ws_answer.c: libFuzzer target over the answers a remote web service sends back
 * (ws_answer_parse in src/ws/ws_soap.c): what ws_client.c reads from a remote Sub-CA
 * and ws_outbox.c from a participant's SendCertificates endpoint. The first input byte
 * picks the operation whose _Res is expected; the rest is the answer.
 *
 * With TORWART_WS_WSDL naming the TR-03129-4 WSDL, answers are schema-validated as in
 * the client. Invariants: a parsed answer names the expected operation, holds at most
 * WS_FIELDS_MAX fields and WS_CERTS_MAX certificates, all with values; re-encoding its
 * certificate texts as a SendCertificates_Req (ws_message_build) yields XML that the
 * request parser accepts as that operation.
 *
 * Build: see tests/fuzz/meson.build (clang, -Dfuzz=true).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws/ws_soap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ws_schema *schema;

static void load_schema(void)
{
	static int done;
	const char *path = getenv("TORWART_WS_WSDL");
	struct tw_error err;

	if (done)
		return;
	done = 1;
	ws_xml_init();
	if (path != NULL && ws_schema_load(path, &schema, &err) != TW_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_request a, back;
	struct tw_error err;
	enum ws_op op;
	char *xml = NULL;
	size_t len = 0;

	if (size < 1)
		return 0;
	load_schema();
	op = (enum ws_op)(data[0] % WS_OP__COUNT);
	if (ws_answer_parse(schema, (const char *)data + 1, size - 1, op, &a, &err) == TW_OK) {
		const struct ws_out_field f[] = {
			{ "messageID", "m", NULL, 0 },
			{ "statusInfo", "ok_cert_available", NULL, 0 },
		};

		if (a.op != op || a.n_fields > WS_FIELDS_MAX || a.n_certs > WS_CERTS_MAX)
			abort();
		for (size_t i = 0; i < a.n_fields; i++)
			if (a.fields[i].value == NULL)
				abort();
		for (size_t i = 0; i < a.n_certs; i++)
			if (a.certs[i] == NULL)
				abort();
		if (ws_message_build("SendCertificates_Req", f, 2, &xml, &len, &err) != TW_OK ||
		    ws_envelope_parse(NULL, xml, len, &back, &err) != TW_OK ||
		    back.op != WS_OP_SEND_CERTIFICATES)
			abort();
		ws_request_clear(&back);
		free(xml);
	}
	ws_request_clear(&a);
	return 0;
}
