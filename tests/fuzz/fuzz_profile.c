/*
 * fuzz_profile.c: libFuzzer target over every parser of outside bytes in profile
 * management and monitoring: profile documents (gwa/profile.h, from operators, EMTs and
 * gateways), reported profile sets (session status, order results), alarm and
 * notification messages (POST /v1/alarms, session status) and signed log results
 * (gwa/monitor.h).
 *
 * Invariants checked beyond "no crash": a document that validates re-validates from its
 * canonical text with the same hash and can be masked; a parsed
 * message re-encodes to one that parses to the same struct.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gwa/monitor.h"
#include "gwa/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_profile(const uint8_t *data, size_t size)
{
	struct profile_doc *doc = NULL, *again = NULL;
	json_t *masked = NULL;
	char h1[65], h2[65], *text = NULL;

	if (profile_parse(data, size, &doc, NULL) != TW_OK)
		return;
	if (profile_canonical(doc->json, &text, NULL) != TW_OK ||
	    profile_parse(text, strlen(text), &again, NULL) != TW_OK ||
	    profile_hash(doc->json, h1, NULL) != TW_OK ||
	    profile_hash(again->json, h2, NULL) != TW_OK || strcmp(h1, h2) != 0)
		abort();
	if (profile_secrets(doc->json, doc->type, PROFILE_MASK_SECRETS, NULL, "GW", &masked,
	    NULL) != TW_OK)
		abort();
	json_decref(masked);
	free(text);
	profile_doc_free(again);
	profile_doc_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct monitor_message m, m2;
	struct profile_set_item *items = NULL;
	struct monitor_log_entry *entries = NULL;
	json_t *obj, *enc = NULL;
	char hash[65], kind[16], *text;
	size_t n;

	check_profile(data, size);
	if (monitor_message_parse(data, size, &m, NULL) == TW_OK) {
		if (monitor_message_to_json(&m, &enc, NULL) != TW_OK ||
		    (text = json_dumps(enc, JSON_COMPACT)) == NULL)
			abort();
		if (monitor_message_parse(text, strlen(text), &m2, NULL) != TW_OK ||
		    memcmp(&m, &m2, sizeof(m)) != 0)
			abort();
		free(text);
		json_decref(enc);
	}
	if (size > MONITOR_BODY_MAX)
		return 0;
	obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (obj == NULL)
		return 0;
	if (profile_set_parse(obj, &items, &n, hash, NULL) == TW_OK)
		free(items);
	if (monitor_logs_parse(obj, kind, &entries, &n, NULL) == TW_OK) {
		if (monitor_logs_to_json(kind, entries, n, &enc, NULL) != TW_OK)
			abort();
		json_decref(enc);
		free(entries);
	}
	json_decref(obj);
	return 0;
}
