/*
 * fuzz_dir_ldap.c: libFuzzer target over the directory front end's LDAP message reader
 * (dir/dir_ldap_msg.c), which reads every byte an SM-PKI participant sends over LDAPS
 * before slapd does, and over the BindResponse reader of slapd's answer.
 *
 * Invariants: framing never claims more than the limit; a message that frames and parses
 * has a messageID in range and a known-shaped answer can be written for it; the writer's
 * answers parse back (a BindResponse gives back its id and code).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dir/dir_ldap_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dir_ldap_msg m;
	unsigned char out[1400];
	size_t mlen = 0, n;
	int32_t id;
	int result;

	if (dir_ldap_frame(data, size, 65536, &mlen, NULL) == TW_OK && mlen > 0) {
		if (mlen > 65536)
			abort();
		if (mlen <= size && dir_ldap_parse(data, mlen, &m, NULL) == TW_OK) {
			if (m.id < 0 || m.op < 0 || m.op > 30 || strlen(m.oid) > DIR_LDAP_OID_MAX)
				abort();
			if (dir_ldap_response_op(m.op) >= 0) {
				n = dir_ldap_encode_result(out, sizeof(out), m.id, DIR_OP_BIND_RES, 48,
					"refused");
				if (n == 0 || dir_ldap_bind_result(out, n, &id, &result, NULL) != TW_OK ||
				    id != m.id || result != 48)
					abort();
			}
		}
	}
	(void)dir_ldap_bind_result(data, size, &id, &result, NULL);
	return 0;
}
