/*
 * cli_ws.c: `torwart ws ...`: the SM-PKI web service (docs/pki-services.md).
 *   CA side (RA):    ws endpoint set --participant P --url URL   a participant's
 *                    SendCertificates endpoint for asynchronous answers
 *                    ws outbox                                   the outbox's entries
 *   participant side (this home asks a remote Sub-CA, ws_client.h):
 *                    ws request --remote NAME --request FILE [--callback] [--out DIR]
 *                    ws poll --message-id ID [--out DIR]
 *                    ws status --remote NAME
 * All need --home DIR (local: the store and [ws.remote.NAME] of that home).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "store/store_ca.h"
#include "store/store_ws.h"
#include "ws/ws_client.h"

struct ws_opts {
	const char *home, *participant, *url, *remote, *request, *out, *message_id;
	int callback;
};

static int ws_write_certs(const struct ws_client_result *res, const char *dir)
{
	for (size_t i = 0; i < res->n_certs; i++) {
		char *path = tw_asprintf("%s/cert.%zu.der", dir, i);
		FILE *f = path != NULL ? fopen(path, "wb") : NULL;
		bool ok = f != NULL && fwrite(res->certs[i], 1, res->cert_len[i], f) ==
			res->cert_len[i];

		if (f != NULL && fclose(f) != 0)
			ok = false;
		if (!ok) {
			fprintf(stderr, "torwart ws: cannot write %s\n", path != NULL ? path : dir);
			free(path);
			return 1;
		}
		printf("  %s\n", path);
		free(path);
	}
	return 0;
}

static void ws_print(const struct ws_client_result *res)
{
	printf("%s %zu%s%s\n", pki_result_name(res->code), res->n_certs,
		res->message[0] != '\0' ? " " : "", res->message);
	if (res->pending)
		printf("pending: messageID %s (torwart ws poll --message-id %s)\n",
			res->message_id, res->message_id);
}

static int ws_endpoint_set(const struct ws_opts *o, struct tw_store *store)
{
	struct store_ca_participant p;
	struct tw_error err;
	char detail[STORE_TEXT_MAX + 1];

	if (o->participant == NULL || o->url == NULL)
		return cli_usage_error("ws endpoint set needs --participant P --url https://...");
	if (strncmp(o->url, "https://", 8) != 0 || strlen(o->url) >= STORE_WS_URL_MAX ||
	    strpbrk(o->url, " \t\r\n") != NULL)
		return cli_usage_error("--url must be an https:// URL without spaces, under 256 "
			"characters");
	if (store_ca_participant_get(store, o->participant, &p, &err) != TW_OK)
		return cli_fail("ws endpoint set", &err);
	snprintf(detail, sizeof(detail), "url=%s", o->url);
	if (store_ws_endpoint_set(store, o->participant, o->url, tw_now_ms(), cli_actor(),
		&err) != TW_OK ||
	    cli_audit(store, "ws.endpoint.set", o->participant, "ok", detail, &err) != TW_OK)
		return cli_fail("ws endpoint set", &err);
	printf("torwart: %s's SendCertificates endpoint is %s\n", o->participant, o->url);
	return 0;
}

static int ws_outbox_row(const struct store_ws_outbox *e, void *arg)
{
	char when[40];

	(*(size_t *)arg)++;
	tw_time_format_utc(e->next_ms, when, sizeof(when));
	printf("%-6lld %-8lld %-16s %-24s %-10s %-28s %-4lld %s %s\n", (long long)e->id,
		(long long)e->request_id, e->participant, e->message_id, e->state, e->status,
		(long long)e->attempts, when, e->last_error);
	return 0;
}

static int ws_outbox_list(struct tw_store *store)
{
	struct tw_error err;
	size_t n = 0;

	printf("%-6s %-8s %-16s %-24s %-10s %-28s %-4s %s\n", "ID", "REQUEST", "PARTICIPANT",
		"MESSAGE-ID", "STATE", "STATUS", "TRY", "NEXT / LAST ERROR");
	if (store_ws_outbox_foreach(store, NULL, 0, 0, ws_outbox_row, &n, &err) != TW_OK)
		return cli_fail("ws outbox", &err);
	printf("%zu entries\n", n);
	return 0;
}

static int ws_request_cmd(const struct ws_opts *o, const struct tw_home *home,
	struct tw_store *store)
{
	struct ws_remote *r = NULL;
	struct ws_client_result res;
	struct tw_error err;
	unsigned char *der = NULL;
	size_t len = 0;
	int ret = 1;

	memset(&res, 0, sizeof(res));
	if (o->remote == NULL || o->request == NULL)
		return cli_usage_error("ws request needs --remote NAME --request FILE");
	if (tw_read_file(o->request, 64 * 1024, &der, &len, &err) != TW_OK ||
	    ws_remote_open(home, o->remote, &r, &err) != TW_OK ||
	    ws_client_request(r, store, der, len, o->callback != 0, &res, &err) != TW_OK) {
		ret = cli_fail("ws request", &err);
		goto out;
	}
	ws_print(&res);
	ret = pki_result_is_ok(res.code) ? 0 : 2;
	if (ret == 0 && o->out != NULL && ws_write_certs(&res, o->out) != 0)
		ret = 1;
out:
	ws_client_result_clear(&res);
	ws_remote_close(r);
	free(der);
	return ret;
}

static int ws_poll_cmd(const struct ws_opts *o, struct tw_store *store)
{
	struct ws_client_result res;
	struct tw_error err;
	int ret;

	if (o->message_id == NULL)
		return cli_usage_error("ws poll needs --message-id ID");
	if (ws_client_poll(store, o->message_id, &res, &err) != TW_OK)
		return cli_fail("ws poll", &err);
	ws_print(&res);
	ret = res.pending ? 3 : pki_result_is_ok(res.code) ? 0 : 2;
	if (ret == 0 && o->out != NULL && ws_write_certs(&res, o->out) != 0)
		ret = 1;
	ws_client_result_clear(&res);
	return ret;
}

static int ws_status_cmd(const struct ws_opts *o, const struct tw_home *home)
{
	struct ws_remote *r = NULL;
	struct ws_client_result res;
	struct tw_error err;
	int ret;

	memset(&res, 0, sizeof(res));
	if (o->remote == NULL)
		return cli_usage_error("ws status needs --remote NAME");
	if (ws_remote_open(home, o->remote, &r, &err) != TW_OK ||
	    ws_client_status(r, &res, &err) != TW_OK) {
		ws_remote_close(r);
		return cli_fail("ws status", &err);
	}
	ws_print(&res);
	ret = pki_result_is_ok(res.code) ? 0 : 2;
	ws_client_result_clear(&res);
	ws_remote_close(r);
	return ret;
}

int cli_ws(const char *sub, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "participant", required_argument, NULL, 'p' },
		{ "url", required_argument, NULL, 'u' },
		{ "remote", required_argument, NULL, 'r' },
		{ "request", required_argument, NULL, 'q' },
		{ "out", required_argument, NULL, 'o' },
		{ "message-id", required_argument, NULL, 'm' },
		{ "callback", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct ws_opts o;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct tw_error err;
	const char *what = NULL;
	int c, ret = 1;

	memset(&o, 0, sizeof(o));
	if (sub == NULL)
		return cli_usage_error("torwart ws endpoint|outbox|request|poll|status ...");
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': o.home = optarg; break;
		case 'p': o.participant = optarg; break;
		case 'u': o.url = optarg; break;
		case 'r': o.remote = optarg; break;
		case 'q': o.request = optarg; break;
		case 'o': o.out = optarg; break;
		case 'm': o.message_id = optarg; break;
		case 'c': o.callback = 1; break;
		default: return cli_usage_error("unknown option (torwart ws SUB --help)");
		}
	}
	if (strcmp(sub, "endpoint") == 0) {
		what = optind < argc ? argv[optind] : NULL;
		if (what == NULL || strcmp(what, "set") != 0)
			return cli_usage_error("torwart ws endpoint set --participant P --url URL");
	} else if (strcmp(sub, "outbox") != 0 && strcmp(sub, "request") != 0 &&
	    strcmp(sub, "poll") != 0 && strcmp(sub, "status") != 0) {
		return cli_usage_error("torwart ws endpoint|outbox|request|poll|status ...");
	}
	if (o.home == NULL)
		return cli_usage_error("torwart ws needs --home DIR");
	if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK) {
		ret = cli_fail("ws", &err);
		goto out;
	}
	if (strcmp(sub, "endpoint") == 0)
		ret = ws_endpoint_set(&o, store);
	else if (strcmp(sub, "outbox") == 0)
		ret = ws_outbox_list(store);
	else if (strcmp(sub, "request") == 0)
		ret = ws_request_cmd(&o, home, store);
	else if (strcmp(sub, "poll") == 0)
		ret = ws_poll_cmd(&o, store);
	else
		ret = ws_status_cmd(&o, home);
out:
	store_close(store);
	tw_home_free(home);
	return ret;
}
