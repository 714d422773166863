/*
 * test_shares.c: the custodian share wrapper (src/crypto/shares.c) over libgfshare.
 *
 * k-1 shares are refused, every choice of k of n shares recombines the secret, a share
 * given twice or from another set is refused before any arithmetic, and a tampered share
 * (even one whose check line was recomputed, as an attacker would) is caught by the
 * verifier with TW_E_INTEGRITY and leaves no secret behind. The text encodings round
 * trip and refuse damage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/shares.h"

static const unsigned char secret32[32] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
	0x0f, 0x10, 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b,
	0x3c, 0x2d, 0x1e, 0x00,
};

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void test_split_combine_all_subsets(void **state)
{
	struct share_set set;
	struct share sh[5], pick[3];
	unsigned char out[32];
	struct tw_error err;
	int combos = 0;

	(void)state;
	assert_int_equal(shares_split(secret32, sizeof(secret32), 3, 5, &set, sh, &err), TW_OK);
	assert_int_equal(set.k, 3);
	assert_int_equal(set.n, 5);
	/* A share alone says nothing about the secret: no share equals it. */
	for (int i = 0; i < 5; i++)
		assert_memory_not_equal(sh[i].y, secret32, sizeof(secret32));
	for (int a = 0; a < 5; a++)
		for (int b = a + 1; b < 5; b++)
			for (int c = b + 1; c < 5; c++) {
				pick[0] = sh[c];   /* any order */
				pick[1] = sh[a];
				pick[2] = sh[b];
				memset(out, 0xaa, sizeof(out));
				assert_int_equal(shares_combine(&set, pick, 3, out, &err), TW_OK);
				assert_memory_equal(out, secret32, sizeof(secret32));
				combos++;
			}
	assert_int_equal(combos, 10);
	for (int i = 0; i < 5; i++)
		share_wipe(&sh[i]);
}

static void test_too_few_shares(void **state)
{
	struct share_set set;
	struct share sh[3];
	unsigned char out[32];
	struct tw_error err;

	(void)state;
	assert_int_equal(shares_split(secret32, sizeof(secret32), 2, 3, &set, sh, &err), TW_OK);
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(shares_combine(&set, sh, 1, out, &err), TW_E_INVALID);
	assert_non_null(strstr(err.message, "1 share of 2 needed"));
	assert_true(all_zero(out, sizeof(out)));
	assert_int_equal(shares_combine(&set, sh, 0, out, &err), TW_E_INVALID);
	/* The same share twice is not two shares. */
	{
		struct share twice[2] = { sh[1], sh[1] };

		assert_int_equal(shares_combine(&set, twice, 2, out, &err), TW_E_INVALID);
		assert_non_null(strstr(err.message, "twice"));
	}
	assert_int_equal(shares_combine(&set, sh + 1, 2, out, &err), TW_OK);
	assert_memory_equal(out, secret32, sizeof(secret32));
}

static void test_tampered_share(void **state)
{
	struct share_set set, other;
	struct share sh[3], sh2[3], bad[2];
	unsigned char out[32];
	char text[SHARES_TEXT_MAX];
	struct tw_error err;

	(void)state;
	assert_int_equal(shares_split(secret32, sizeof(secret32), 2, 3, &set, sh, &err), TW_OK);
	/* One flipped bit in one share's value: the verifier catches it. */
	bad[0] = sh[0];
	bad[1] = sh[2];
	bad[1].y[7] ^= 0x01;
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(shares_combine(&set, bad, 2, out, &err), TW_E_INTEGRITY);
	assert_non_null(strstr(err.message, "wrong or was altered"));
	assert_true(all_zero(out, sizeof(out)));
	/* The attacker re-encodes the altered share, so its check line is valid again:
	 * parsing accepts it, combining still fails. */
	assert_int_equal(share_encode(&bad[1], "for custodian 3", text, sizeof(text), &err), TW_OK);
	assert_int_equal(share_parse((unsigned char *)text, strlen(text), &bad[1], &err), TW_OK);
	assert_int_equal(shares_combine(&set, bad, 2, out, &err), TW_E_INTEGRITY);
	/* A changed index (same y) is tampering too. */
	bad[1] = sh[2];
	bad[1].index = 2;
	assert_int_equal(shares_combine(&set, bad, 2, out, &err), TW_E_INTEGRITY);
	/* A share of another ceremony is refused by its set id, before combining. */
	assert_int_equal(shares_split(secret32, sizeof(secret32), 2, 3, &other, sh2, &err), TW_OK);
	bad[1] = sh2[1];
	assert_int_equal(shares_combine(&set, bad, 2, out, &err), TW_E_INVALID);
	assert_non_null(strstr(err.message, "another custodian set"));
	/* A wrong verifier record (the home's file altered) fails as well. */
	set.verifier[0] ^= 0x80;
	assert_int_equal(shares_combine(&set, sh, 2, out, &err), TW_E_INTEGRITY);
}

static void test_split_refusals(void **state)
{
	struct share_set set;
	struct share sh[SHARES_N_MAX + 1];
	struct tw_error err;

	(void)state;
	assert_int_equal(shares_split(secret32, 32, 1, 3, &set, sh, &err), TW_E_INVALID);
	assert_int_equal(shares_split(secret32, 32, 4, 3, &set, sh, &err), TW_E_INVALID);
	assert_int_equal(shares_split(secret32, 32, 2, SHARES_N_MAX + 1, &set, sh, &err),
		TW_E_INVALID);
	assert_int_equal(shares_split(secret32, 0, 2, 3, &set, sh, &err), TW_E_INVALID);
	assert_int_equal(shares_split(secret32, SHARES_SECRET_MAX + 1, 2, 3, &set, sh, &err),
		TW_E_INVALID);
}

static void test_text_round_trip(void **state)
{
	struct share_set set, set2;
	struct share sh[3], back;
	char text[SHARES_TEXT_MAX], stext[SHARES_TEXT_MAX];
	struct tw_error err;
	char *p;

	(void)state;
	assert_int_equal(shares_split(secret32, sizeof(secret32), 2, 3, &set, sh, &err), TW_OK);
	assert_int_equal(share_encode(&sh[1], "share 2 of 3 for alice", text, sizeof(text),
		&err), TW_OK);
	assert_int_equal(share_parse((unsigned char *)text, strlen(text), &back, &err), TW_OK);
	assert_memory_equal(&back, &sh[1], sizeof(back));
	/* A damaged digit without a recomputed check line: refused at parse time. */
	p = strstr(text, "\nshare ") + 7;
	*p = *p == 'a' ? 'b' : 'a';
	assert_int_equal(share_parse((unsigned char *)text, strlen(text), &back, &err),
		TW_E_INVALID);
	assert_non_null(strstr(err.message, "check line"));
	/* The error never echoes share bytes. */
	{
		char frag[9];

		memcpy(frag, p, 8);
		frag[8] = '\0';
		assert_null(strstr(err.message, frag));
	}
	assert_true(all_zero((unsigned char *)&back, sizeof(back)));
	/* Strictness: upper-case hex, leading zeros, missing lines, NUL bytes. */
	assert_int_equal(share_parse((const unsigned char *)"torwart-custodian-share 1\n", 26,
		&back, &err), TW_E_INVALID);
	assert_int_equal(share_parse((const unsigned char *)"x\0y", 3, &back, &err),
		TW_E_INVALID);
	assert_int_equal(share_encode(&sh[0], NULL, text, sizeof(text), &err), TW_OK);
	p = strstr(text, "\nk 2\n");
	assert_non_null(p);
	memcpy(p, "\nk 02", 5);
	assert_int_equal(share_parse((unsigned char *)text, strlen(text), &back, &err),
		TW_E_INVALID);
	/* A comment with a newline could forge lines: refused. */
	assert_int_equal(share_encode(&sh[0], "a\nk 9", text, sizeof(text), &err), TW_E_INVALID);
	/* The set record round trips and combines. */
	assert_int_equal(share_set_encode(&set, stext, sizeof(stext), &err), TW_OK);
	assert_int_equal(share_set_parse((unsigned char *)stext, strlen(stext), &set2, &err),
		TW_OK);
	assert_memory_equal(&set, &set2, sizeof(set));
	stext[strlen(stext) - 2] = 'G';
	assert_int_equal(share_set_parse((unsigned char *)stext, strlen(stext), &set2, &err),
		TW_E_INVALID);
}

/* A share sealed to one custodian's key opens with that key only (issue 9). */
static void test_sealed_share(void **state)
{
	struct tw_error err;
	EVP_PKEY *a = NULL, *b = NULL, *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	const char *text = "torwart-custodian-share 1\nset 0011223344556677\n";
	char *sealed = NULL, *plain = NULL, *bad = NULL, id[17];
	size_t len = 0;

	(void)state;
	assert_int_equal(share_key_generate(&a, &err), TW_OK);
	assert_int_equal(share_key_generate(&b, &err), TW_OK);
	assert_non_null(p256);
	assert_int_equal(share_seal(a, text, "share 1 of 3 for A", &sealed, &err), TW_OK);
	assert_true(share_is_sealed((const unsigned char *)sealed, strlen(sealed)));
	assert_false(share_is_sealed((const unsigned char *)text, strlen(text)));
	assert_null(strstr(sealed, "0011223344556677"));
	assert_int_equal(share_key_id(a, id, &err), TW_OK);
	assert_non_null(strstr(sealed, id));
	assert_int_equal(share_unseal(a, (const unsigned char *)sealed, strlen(sealed), &plain,
		&len, &err), TW_OK);
	assert_int_equal(len, strlen(text));
	assert_string_equal(plain, text);
	free(plain);
	plain = NULL;
	/* Another custodian's key: refused by name before any decryption. */
	assert_int_equal(share_unseal(b, (const unsigned char *)sealed, strlen(sealed), &plain,
		&len, &err), TW_E_DENIED);
	assert_null(plain);
	/* One flipped character of the box: the tag does not verify. */
	bad = strdup(sealed);
	assert_non_null(bad);
	{
		char *box = strstr(bad, "\nbox ") + 10;

		*box = *box == 'A' ? 'B' : 'A';
	}
	assert_int_equal(share_unseal(a, (const unsigned char *)bad, strlen(bad), &plain, &len,
		&err), TW_E_INTEGRITY);
	/* The header is bound too: another "to" id is another recipient. */
	free(bad);
	bad = strdup(sealed);
	assert_non_null(bad);
	{
		char *to = strstr(bad, "\nto ") + 4;

		*to = *to == '0' ? '1' : '0';
	}
	assert_int_equal(share_unseal(a, (const unsigned char *)bad, strlen(bad), &plain, &len,
		&err), TW_E_DENIED);
	free(bad);
	bad = NULL;
	/* Only brainpoolP256r1 custodian keys; garbage is a clear error. */
	assert_int_equal(share_seal(p256, text, NULL, &bad, &err), TW_E_INVALID);
	assert_null(bad);
	assert_int_equal(share_unseal(a, (const unsigned char *)"torwart-sealed-share 1\n", 23,
		&plain, &len, &err), TW_E_INVALID);
	free(bad);
	free(sealed);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(p256);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_combine_all_subsets),
		cmocka_unit_test(test_too_few_shares),
		cmocka_unit_test(test_tampered_share),
		cmocka_unit_test(test_split_refusals),
		cmocka_unit_test(test_text_round_trip),
		cmocka_unit_test(test_sealed_share),
	};

	return cmocka_run_group_tests_name("shares", tests, NULL, NULL);
}
