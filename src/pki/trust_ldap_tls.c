/*
 * trust_ldap_tls.c: an LDAP read over TLS made by OpenSSL, with the GWA's TLS certificate
 * as client authentication (DOMAIN.md S-8 "fetch foreign certificates from LDAP
 * directories: URL + bind with the GWA's TLS certificate").
 *
 * Why not libldap's own ldaps://: Debian's libldap does TLS through GnuTLS, which has no
 * brainpool curves, so neither the GWA's brainpool key nor an SM-PKI directory's
 * certificate can be used by it. Instead this file connects, runs the handshake with the
 * project's TLS profile (tls_client_ctx_new: TR-03116-3 suites and groups, strict chain
 * checks, the key in the signer) and hands the established connection to libldap
 * (ldap_init_fd) with an OpenSSL Sockbuf I/O layer pushed on its Sockbuf: libldap encodes
 * and decodes LDAP, every byte on the wire goes through SSL_read/SSL_write. The directory
 * knows the GWA by its TLS certificate; the LDAP operation itself is an anonymous search
 * inside that connection (no password, no SASL).
 */
#include "pki/trust.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>
#include <openldap.h>   /* ldap_init_fd */
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "pki/trust_ldap_internal.h"
#include "store/store_trust.h"

static int tt_setup(Sockbuf_IO_Desc *sbiod, void *arg)
{
	sbiod->sbiod_pvt = arg;
	return 0;
}

static int tt_remove(Sockbuf_IO_Desc *sbiod)
{
	sbiod->sbiod_pvt = NULL;
	return 0;
}

/* Data ready: what OpenSSL holds decrypted already counts, or libldap would wait in poll. */
static int tt_ctrl(Sockbuf_IO_Desc *sbiod, int opt, void *arg)
{
	SSL *ssl = sbiod->sbiod_pvt;

	if (opt == LBER_SB_OPT_DATA_READY && ssl != NULL && SSL_pending(ssl) > 0)
		return 1;
	return LBER_SBIOD_CTRL_NEXT(sbiod, opt, arg);
}

static ber_slen_t tt_io_result(SSL *ssl, int n)
{
	if (n > 0)
		return n;
	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	default:
		ERR_clear_error();
		errno = EIO;
		return -1;
	}
}

static ber_slen_t tt_read(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	SSL *ssl = sbiod->sbiod_pvt;

	return tt_io_result(ssl, SSL_read(ssl, buf, len > INT_MAX ? INT_MAX : (int)len));
}

static ber_slen_t tt_write(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	SSL *ssl = sbiod->sbiod_pvt;

	return tt_io_result(ssl, SSL_write(ssl, buf, len > INT_MAX ? INT_MAX : (int)len));
}

/* close_notify; the socket itself is closed by libldap's provider layer below. */
static int tt_close(Sockbuf_IO_Desc *sbiod)
{
	SSL *ssl = sbiod->sbiod_pvt;

	if (ssl != NULL)
		SSL_shutdown(ssl);
	return 0;
}

static Sockbuf_IO tt_io = {
	.sbi_setup = tt_setup, .sbi_remove = tt_remove, .sbi_ctrl = tt_ctrl,
	.sbi_read = tt_read, .sbi_write = tt_write, .sbi_close = tt_close,
};

/* TCP connect with send/receive time-outs (they bound connect and every TLS read). */
static tw_rc tt_connect(const char *host, int port, long timeout_s, int *fd,
	struct tw_error *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { timeout_s, 0 };
	char ports[16];
	int s = -1, grc;

	*fd = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ports, sizeof(ports), "%d", port);
	if ((grc = getaddrinfo(host, ports, &hints, &res)) != 0)
		return tw_error_set(err, TW_E_UNAVAILABLE, "directory %.200s: %s", host,
			gai_strerror(grc));
	for (ai = res; ai != NULL && s < 0; ai = ai->ai_next) {
		if ((s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0)
			continue;
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(s);
			s = -1;
		}
	}
	freeaddrinfo(res);
	if (s < 0)
		return tw_error_set(err, TW_E_UNAVAILABLE, "directory %.200s:%d does not answer",
			host, port);
	*fd = s;
	return TW_OK;
}

tw_rc trust_ldaps_fetch(SSL_CTX *ctx, const char *url, const char *attr, long timeout_s,
	size_t max, unsigned char **der, size_t *len, struct tw_error *err)
{
	struct trust_ldap_target t;
	LDAPURLDesc *lud = NULL;
	LDAP *ld = NULL;
	Sockbuf *sb = NULL;
	SSL *ssl = NULL;
	struct timeval tv = { timeout_s, 0 };
	char host[256];
	int fd = -1, port, v = LDAP_VERSION3;
	tw_rc rc;

	*der = NULL;
	*len = 0;
	memset(&t, 0, sizeof(t));
	if (url == NULL || strncasecmp(url, "ldaps://", 8) != 0 ||
	    strlen(url) > STORE_TRUST_URL_MAX || ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS ||
	    lud == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "not an RFC 4516 ldaps:// URL");
		goto out;
	}
	if (lud->lud_host == NULL || lud->lud_host[0] == '\0' || lud->lud_dn == NULL ||
	    lud->lud_dn[0] == '\0' || strlen(lud->lud_host) >= sizeof(host) ||
	    strlen(lud->lud_dn) >= sizeof(t.dn) || strlen(attr) >= sizeof(t.attr)) {
		rc = tw_error_set(err, TW_E_INVALID, "the ldaps:// URL needs a host and an entry "
			"(DN) of sane length");
		goto out;
	}
	if ((lud->lud_scope != LDAP_SCOPE_BASE && lud->lud_scope != LDAP_SCOPE_DEFAULT) ||
	    (lud->lud_exts != NULL && lud->lud_crit_exts != 0)) {
		rc = tw_error_set(err, TW_E_INVALID, "the ldaps:// URL asks for a search below the "
			"entry or carries a critical extension");
		goto out;
	}
	snprintf(host, sizeof(host), "%s", lud->lud_host);
	port = lud->lud_port > 0 ? lud->lud_port : LDAPS_PORT;
	snprintf(t.uri, sizeof(t.uri), strchr(host, ':') != NULL ? "ldap://[%s]:%d" :
		"ldap://%s:%d", host, port);
	snprintf(t.dn, sizeof(t.dn), "%s", lud->lud_dn);
	snprintf(t.attr, sizeof(t.attr), "%s", attr);
	if ((rc = tt_connect(host, port, timeout_s, &fd, err)) != TW_OK)
		goto out;
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS, "cannot create a TLS connection");
		goto out;
	}
	/* The directory's certificate must name the host of the URL (DNS name or IP). */
	{
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

		if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
			ERR_clear_error();
			if (SSL_set1_host(ssl, host) != 1 ||
			    SSL_set_tlsext_host_name(ssl, host) != 1) {
				rc = tw_error_set_openssl(err, TW_E_TLS, "cannot set the expected host");
				goto out;
			}
		}
	}
	if (SSL_connect(ssl) != 1) {
		long vr = SSL_get_verify_result(ssl);

		rc = tw_error_set_openssl(err, TW_E_TLS, "TLS with the directory %.200s:%d "
			"failed%s%s", host, port, vr != X509_V_OK ? ": " : "",
			vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "");
		goto out;
	}
	if (ldap_init_fd(fd, LDAP_PROTO_TCP, t.uri, &ld) != LDAP_SUCCESS || ld == NULL) {
		rc = tw_error_set(err, TW_E_INTERNAL, "libldap does not take the connection");
		goto out;
	}
	fd = -1;   /* libldap's now: closed by ldap_unbind_ext_s */
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS || sb == NULL ||
	    ber_sockbuf_add_io(sb, &tt_io, LBER_SBIOD_LEVEL_TRANSPORT, ssl) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot put TLS under libldap");
		goto out;
	}
	rc = trust_ldap_search(ld, &t, timeout_s, max, der, len, err);
	if (rc == TW_E_UNAVAILABLE)
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "LDAP search over TLS at %.200s:%d failed "
			"(the directory may refuse the GWA's certificate): %s", host, port,
			err->message);
out:
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);   /* closes through tt_close, then the socket */
	else if (ssl != NULL)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	if (lud != NULL)
		ldap_free_urldesc(lud);
	ERR_clear_error();
	return rc;
}
