/* sm_pki_expect.h: profile-shape assertions shared by test_crypto.c and test_pki_profile.c. */
#ifndef TORWART_TESTS_SM_PKI_EXPECT_H
#define TORWART_TESTS_SM_PKI_EXPECT_H

#include <openssl/x509.h>

#include "pki/profile.h"

/* Fail the test unless x has the real SM-PKI extension order and criticality for usage. */
void sm_pki_assert_extensions(X509 *x, enum pki_usage usage, const char *what);

#endif
