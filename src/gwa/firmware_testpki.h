/*
 * firmware_testpki.h: the test manufacturer and the test certified-list anchor of
 * `torwart init --test-pki` (issue 13; docs/firmware.md "Signing test images and lists").
 */
#ifndef TORWART_GWA_FIRMWARE_TESTPKI_H
#define TORWART_GWA_FIRMWARE_TESTPKI_H

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer.h"
#include "gwa/firmware_cms.h"
#include "store/store.h"

#define FW_TEST_VENDOR_DIR  "test-vendor"
#define FW_TEST_VENDOR_KEY  "test-vendor/gwh-sig.key"
#define FW_TEST_VENDOR_CERT "test-vendor/gwh-sig.crt"
#define FW_TEST_VENDOR_CN   "TESTVENDOR.GWH.TORWART"
#define FW_TEST_LIST_KEY    "test-vendor/firmware-list.key"

/*
 * After testpki_create (needs pki/sub-ca.crt and a ceremony session sc): the test
 * manufacturer's key and GWH SIG certificate (issued by the Sub-CA, recorded in the
 * store), and the list anchor's key and self-signed certificate at
 * FW_DEFAULT_LIST_ANCHOR. Keys are files (0600): they belong to outside parties.
 */
tw_rc firmware_testpki_create(const struct tw_home *home, struct signer_client *sc,
	struct tw_store *store, struct tw_error *err);

#endif
