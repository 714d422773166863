/*
 * wakeup_key.c: the GWA SIG key version of each wake-up (wakeup_key.h).
 */
#include "gwa/wakeup_key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509.h>

#include "base/util.h"
#include "crypto/key_label.h"
#include "crypto/keys.h"
#include "crypto/signer.h"
#include "store/store_gwa_sig.h"

tw_rc wakeup_key_init(struct wakeup_key_state *k, const struct tw_home *home,
	struct tw_error *err)
{
	memset(k, 0, sizeof(*k));
	/* The rotation's own files (gwa_renew_key.c), whatever [worker] gwa_sig_cert says:
	 * the fleet orders are recorded under this certificate's fingerprint. */
	if ((k->cert_path = tw_home_join(home, TW_HOME_GWA_SIG_CERT)) == NULL ||
	    (k->prev_path = tw_asprintf("%s.prev", k->cert_path)) == NULL) {
		wakeup_key_free(k);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

void wakeup_key_free(struct wakeup_key_state *k)
{
	if (k == NULL)
		return;
	free(k->cert_path);
	free(k->prev_path);
	memset(k, 0, sizeof(*k));
}

static void wk_seen(const char *path, struct wakeup_key_file *f)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	if (stat(path, &st) != 0)
		return;
	f->exists = true;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static bool wk_same(const struct wakeup_key_file *a, const struct wakeup_key_file *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
		a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* Fingerprint of the current certificate and the versioned label of the previous one. */
static tw_rc wk_load(struct wakeup_key_state *k, struct tw_error *err)
{
	X509 *cur = NULL, *prev = NULL;
	char label[SIGNER_LABEL_MAX + 1];
	tw_rc rc;

	k->fingerprint[0] = k->prev_label[0] = '\0';
	k->prev_gone = false;
	if (!k->prev_seen.exists)
		return TW_OK;   /* no rotation in progress: nothing else to know */
	if ((rc = keys_read_cert_pem(k->cert_path, &cur, err)) != TW_OK ||
	    (rc = keys_cert_fingerprint(cur, k->fingerprint, err)) != TW_OK ||
	    (rc = keys_read_cert_pem(k->prev_path, &prev, err)) != TW_OK ||
	    (rc = signer_label_of_key(SIGNER_KEY_GWA_SIG, X509_get0_pubkey(prev), label,
	    sizeof(label), err)) != TW_OK)
		goto out;
	/* Between the rotation's install and its switch the ".prev" file holds the key the
	 * base label still signs with; wake-ups of the waiting gateways may use either. */
	snprintf(k->prev_label, sizeof(k->prev_label), "%s", label);
out:
	if (rc != TW_OK)
		k->fingerprint[0] = k->prev_label[0] = '\0';
	X509_free(cur);
	X509_free(prev);
	return rc;
}

tw_rc wakeup_key_refresh(struct wakeup_key_state *k, struct tw_error *err)
{
	struct wakeup_key_file c, p;
	tw_rc rc;

	wk_seen(k->cert_path, &c);
	wk_seen(k->prev_path, &p);
	if (k->loaded && wk_same(&c, &k->cert_seen) && wk_same(&p, &k->prev_seen))
		return TW_OK;
	k->cert_seen = c;
	k->prev_seen = p;
	k->loaded = true;   /* a failure is not retried until a file changes */
	if ((rc = wk_load(k, err)) != TW_OK) {
		char why[TW_ERROR_MESSAGE_MAX];

		snprintf(why, sizeof(why), "%s", err->message);
		tw_error_set(err, rc, "cannot tell the previous GWA SIG key from %s and %s (every "
			"wake-up is signed with the current key): %s", k->cert_path, k->prev_path, why);
	}
	return rc;
}

const char *wakeup_key_prev_label(const struct wakeup_key_state *k)
{
	return k->prev_gone ? "" : k->prev_label;
}

void wakeup_key_prev_gone(struct wakeup_key_state *k)
{
	k->prev_gone = true;
}

tw_rc wakeup_key_choose(struct wakeup_key_state *k, struct tw_store *store,
	struct wakeup_item *items, size_t n, struct tw_error *err)
{
	const char **ids = NULL;
	bool *waiting = NULL;
	tw_rc rc = TW_OK;

	for (size_t i = 0; i < n; i++)
		items[i].previous = false;
	if (n == 0 || wakeup_key_prev_label(k)[0] == '\0')
		return TW_OK;
	if ((ids = calloc(n, sizeof(*ids))) == NULL ||
	    (waiting = calloc(n, sizeof(*waiting))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = items[i].gateway_id;
	if ((rc = store_gwa_sig_waiting_among(store, k->fingerprint, ids, n, waiting, err)) !=
	    TW_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		items[i].previous = waiting[i];
out:
	free(ids);
	free(waiting);
	return rc;
}
