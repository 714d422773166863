/*
 * fuzz_ws_envelope.c: libFuzzer target over the SM-PKI web service's SOAP envelope parser
 * (ws_envelope_parse in src/ws/ws_soap.c), the bytes a participant POSTs to [ws] listen.
 *
 * With TORWART_WS_WSDL naming the TR-03129-4 WSDL, bodies are also schema-validated as in
 * the service; without it the structural checks alone run. Invariants: a parsed request
 * names an operation of the enum and holds at most WS_FIELDS_MAX fields with values; the
 * answer built for it (failure_syntax, which every operation allows, with the parser's
 * message) is itself XML the parser reads as a usable envelope of no request operation
 * (TW_E_PROTOCOL), and a fault with the error message builds.
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
		abort();   /* asked for a schema that does not load: a setup error */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_request req, back;
	struct tw_error err;
	char *xml = NULL;
	size_t len = 0;
	tw_rc rc;

	load_schema();
	rc = ws_envelope_parse(schema, (const char *)data, size, &req, &err);
	if (rc == TW_OK) {
		if ((unsigned)req.op >= WS_OP__COUNT || req.n_fields > WS_FIELDS_MAX)
			abort();
		for (size_t i = 0; i < req.n_fields; i++)
			if (req.fields[i].value == NULL || ws_request_field(&req,
			    req.fields[i].name) == NULL)
				abort();
		if (ws_response_build(req.op, PKI_FAILURE_SYNTAX, req.valid ? NULL : req.message,
		    NULL, 0, &xml, &len, &err) != TW_OK)
			abort();
		if (ws_envelope_parse(NULL, xml, len, &back, &err) != TW_E_PROTOCOL)
			abort();
		ws_request_clear(&back);
		free(xml);
	} else {
		if (ws_fault_build(true, err.message, &xml, &len, &err) != TW_OK)
			abort();
		free(xml);
	}
	ws_request_clear(&req);
	return 0;
}
