/*
 * alert_mail.c: alerts as e-mail through an SMTP relay with libcurl (alert_mail.h).
 *
 * Why libcurl and not a small SMTP client of our own: the dialogue itself is short, but
 * STARTTLS (with the downgrade refused), SMTPS, multi-line replies, dot-stuffing of the
 * body and time-outs at every step are exactly the details a hand-written client gets
 * wrong; libcurl (Debian's OpenSSL flavour, so the relay's certificate is checked by the
 * same OpenSSL as everything else) has them done and maintained. It costs one library.
 */
#include "audit/alert_mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "base/log.h"
#include "base/util.h"

#define AM_SUBJECT_MAX 200

const char *alert_mail_rcpts(const struct tw_config *conf, const char *role)
{
	char key[STORE_ID_MAX + 16];

	snprintf(key, sizeof(key), "mail.%s", role);
	return tw_config_get(conf, "alert", key);
}

static bool am_addr_ok(const char *a)
{
	const char *at = strchr(a, '@');

	if (at == NULL || at == a || at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return false;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("<>()[],;:\"\\", *p) != NULL)
			return false;
	return true;
}

tw_rc alert_mail_parse_rcpts(const char *list, char out[][ALERT_MAIL_ADDR_MAX + 1],
	size_t *n, struct tw_error *err)
{
	char *copy = list != NULL ? strdup(list) : NULL, *save = NULL, *tok;
	tw_rc rc = TW_OK;

	*n = 0;
	if (copy == NULL)
		return tw_error_set(err, list == NULL ? TW_E_CONFIG : TW_E_NOMEM,
			list == NULL ? "no recipients" : "out of memory");
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL && rc == TW_OK;
	     tok = strtok_r(NULL, " \t,", &save)) {
		if (strlen(tok) > ALERT_MAIL_ADDR_MAX || !am_addr_ok(tok))
			rc = tw_error_set(err, TW_E_CONFIG, "[alert] mail recipient \"%.80s\" is not a "
				"bare address local@domain", tok);
		else if (*n == ALERT_MAIL_RCPT_MAX)
			rc = tw_error_set(err, TW_E_CONFIG, "[alert] at most %d mail recipients per "
				"role", ALERT_MAIL_RCPT_MAX);
		else
			snprintf(out[(*n)++], ALERT_MAIL_ADDR_MAX + 1, "%s", tok);
	}
	if (rc == TW_OK && *n == 0)
		rc = tw_error_set(err, TW_E_CONFIG, "[alert] mail recipient list is empty");
	free(copy);
	return rc;
}

/* Append s to the buffer, every byte outside printable ASCII as \xHH (max: cut). */
static void am_put(char *buf, size_t size, size_t *pos, const char *s, size_t max)
{
	size_t used = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && used < max; p++, used++) {
		int n;

		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			n = snprintf(buf + *pos, size - *pos, "%c", *p);
		else
			n = snprintf(buf + *pos, size - *pos, "\\x%02x", *p);
		if (n < 0 || (size_t)n >= size - *pos)
			return;
		*pos += (size_t)n;
	}
}

static void am_raw(char *buf, size_t size, size_t *pos, const char *s)
{
	int n = snprintf(buf + *pos, size - *pos, "%s", s);

	if (n > 0 && (size_t)n < size - *pos)
		*pos += (size_t)n;
}

tw_rc alert_mail_compose(const struct store_alert *a, const char *from, const char *to,
	const char *date, char **out, size_t *len, struct tw_error *err)
{
	/* Each byte of the alert becomes at most 4: room for all fields and the headers. */
	size_t size = 4 * (sizeof(a->subject) + sizeof(a->message) + sizeof(a->kind) +
		sizeof(a->role)) + 2048, pos = 0;
	char *buf = malloc(size), id[32];

	*out = NULL;
	*len = 0;
	if (buf == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	snprintf(id, sizeof(id), "%lld", (long long)a->id);
	am_raw(buf, size, &pos, "Date: ");
	am_put(buf, size, &pos, date, 64);
	am_raw(buf, size, &pos, "\r\nFrom: ");
	am_put(buf, size, &pos, from, ALERT_MAIL_ADDR_MAX);
	am_raw(buf, size, &pos, "\r\nTo: ");
	am_put(buf, size, &pos, to, ALERT_MAIL_RCPT_MAX * (ALERT_MAIL_ADDR_MAX + 2));
	am_raw(buf, size, &pos, "\r\nSubject: [torwart] ");
	am_put(buf, size, &pos, a->severity, 16);
	am_raw(buf, size, &pos, " ");
	am_put(buf, size, &pos, a->kind, STORE_ID_MAX);
	am_raw(buf, size, &pos, ": ");
	am_put(buf, size, &pos, a->subject, AM_SUBJECT_MAX);
	am_raw(buf, size, &pos, "\r\nMessage-ID: <torwart-alert-");
	am_raw(buf, size, &pos, id);
	am_raw(buf, size, &pos, "@");
	am_put(buf, size, &pos, strchr(from, '@') != NULL ? strchr(from, '@') + 1 : "torwart",
		ALERT_MAIL_ADDR_MAX);
	am_raw(buf, size, &pos, ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
		"charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\nAuto-Submitted: "
		"auto-generated\r\n\r\nTorwart alert ");
	am_raw(buf, size, &pos, id);
	am_raw(buf, size, &pos, "\r\nkind:     ");
	am_put(buf, size, &pos, a->kind, STORE_ID_MAX);
	am_raw(buf, size, &pos, "\r\nrole:     ");
	am_put(buf, size, &pos, a->role, STORE_ID_MAX);
	am_raw(buf, size, &pos, "\r\nseverity: ");
	am_put(buf, size, &pos, a->severity, 16);
	am_raw(buf, size, &pos, "\r\nsubject:  ");
	am_put(buf, size, &pos, a->subject, sizeof(a->subject));
	am_raw(buf, size, &pos, "\r\n\r\n");
	am_put(buf, size, &pos, a->message, sizeof(a->message));
	am_raw(buf, size, &pos, "\r\n");
	*out = buf;
	*len = pos;
	return TW_OK;
}

struct am_upload {
	const char *data;
	size_t len, off;
};

static size_t am_read(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct am_upload *u = arg;
	size_t room = size * nmemb, n = u->len - u->off;

	if (n > room)
		n = room;
	memcpy(ptr, u->data + u->off, n);
	u->off += n;
	return n;
}

tw_rc alert_mail_send(const struct tw_home *home, const struct store_alert *a,
	const char *rcpts, struct tw_error *err)
{
	const struct tw_config *conf = home->conf;
	const char *relay = tw_config_get(conf, "alert", "mail_relay");
	const char *from = tw_config_get(conf, "alert", "mail_from");
	const char *tls = tw_config_get_or(conf, "alert", "mail_tls", "starttls");
	char (*to)[ALERT_MAIL_ADDR_MAX + 1] = NULL;
	char path[ALERT_MAIL_ADDR_MAX + 3], date[64], errbuf[CURL_ERROR_SIZE] = "";
	char *ca = NULL, *msg = NULL, *to_line = NULL;
	struct curl_slist *list = NULL;
	struct am_upload up;
	struct tm tm;
	time_t now = time(NULL);
	long timeout = 10;
	size_t n = 0, len = 0;
	CURL *c = NULL;
	CURLcode cc;
	tw_rc rc;

	if (relay == NULL || from == NULL) {
		rc = tw_error_set(err, TW_E_CONFIG, "[alert] mail_relay and mail_from are needed "
			"for mail to role %s", a->role);
		goto out;
	}
	if (strncmp(relay, "smtp://", 7) != 0 && strncmp(relay, "smtps://", 8) != 0) {
		rc = tw_error_set(err, TW_E_CONFIG, "[alert] mail_relay must be smtp://host[:port] "
			"or smtps://host[:port]");
		goto out;
	}
	if (strcmp(tls, "starttls") != 0 && strcmp(tls, "none") != 0) {
		rc = tw_error_set(err, TW_E_CONFIG, "[alert] mail_tls is starttls or none");
		goto out;
	}
	if (!am_addr_ok(from) || strlen(from) > ALERT_MAIL_ADDR_MAX) {
		rc = tw_error_set(err, TW_E_CONFIG, "[alert] mail_from is not a bare address");
		goto out;
	}
	if ((rc = tw_config_get_long(conf, "alert", "mail_timeout", 10, 1, 120, &timeout,
	    err)) != TW_OK)
		goto out;
	if ((to = calloc(ALERT_MAIL_RCPT_MAX, sizeof(*to))) == NULL ||
	    (to_line = calloc(ALERT_MAIL_RCPT_MAX, ALERT_MAIL_ADDR_MAX + 2)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = alert_mail_parse_rcpts(rcpts, to, &n, err)) != TW_OK)
		goto out;
	/* to_line holds ALERT_MAIL_RCPT_MAX addresses of ALERT_MAIL_ADDR_MAX plus ", " each. */
	for (size_t i = 0, at = 0; i < n; i++) {
		size_t room = (size_t)ALERT_MAIL_RCPT_MAX * (ALERT_MAIL_ADDR_MAX + 2) - at;
		int w = snprintf(to_line + at, room, "%s%s", i > 0 ? ", " : "", to[i]);

		if (w < 0 || (size_t)w >= room)
			break;
		at += (size_t)w;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if ((rc = alert_mail_compose(a, from, to_line, date, &msg, &len, err)) != TW_OK)
		goto out;
	if ((c = curl_easy_init()) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create a mail transfer");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct curl_slist *l;

		snprintf(path, sizeof(path), "<%s>", to[i]);
		if ((l = curl_slist_append(list, path)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		list = l;
	}
	snprintf(path, sizeof(path), "<%s>", from);
	up = (struct am_upload){ .data = msg, .len = len };
	curl_easy_setopt(c, CURLOPT_URL, relay);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, path);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, list);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, am_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &up);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* STARTTLS is required, never "try": a relay (or someone in between) that does not
	 * offer it fails the delivery instead of getting the alert in clear. */
	if (strncmp(relay, "smtp://", 7) == 0 && strcmp(tls, "starttls") == 0)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (tw_config_get(conf, "alert", "mail_ca") != NULL) {
		if ((ca = tw_home_path(home, "alert", "mail_ca", "")) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	}
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "mail relay %.100s: %s", relay,
			errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	rc = TW_OK;
out:
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(list);
	free(msg);
	free(ca);
	free(to);
	free(to_line);
	return rc;
}
