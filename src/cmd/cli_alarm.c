/*
 * cli_alarm.c: `torwart alarm list|ack`: gateway alarms across the fleet and their
 * acknowledgement (issue 15; docs/monitoring.md "Acknowledging alarms").
 *
 * An acknowledgement says that an operator took the alarm over; it is stored once
 * (gateway_message_acks) with the admin-log entry gateway.alarm.ack in the same
 * transaction, and never changed. Through the api (POST /v1/alarms/{id}/ack or the CLI
 * with --token-file) the command runs as the operator on a store scoped to its tenant:
 * another tenant's alarm is "does not exist", as a missing one.
 *
 * Exit status: 0 ok, 1 failure or refusal, 2 usage.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/command.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "store/store_alarms.h"

struct alarm_opts {
	const char *home, *id, *gateway, *reason;
	bool open;
};

static const char alarm_usage[] =
	"usage: torwart alarm list --home DIR [--gateway ID] [--open]\n"
	"       torwart alarm ack --home DIR --id N [--reason TEXT]";

static int alarm_parse(int argc, char **argv, struct alarm_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' }, { "id", required_argument, NULL, 'i' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "reason", required_argument, NULL, 'R' }, { "open", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'i': o->id = optarg; break;
		case 'g': o->gateway = optarg; break;
		case 'R': o->reason = optarg; break;
		case 'o': o->open = true; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

struct alarm_list {
	struct tw_store *store;
	bool open;
	size_t count;
};

static int print_alarm(const struct store_gateway_message *m, void *arg)
{
	struct alarm_list *l = arg;
	struct store_alarm_ack ack;
	struct store_gateway gw;
	struct tw_error ignore;
	struct cli_esc e = { 0 };
	char when[40];
	bool acked = false;

	/* Tenant scope: a gateway the store does not show is not listed. */
	if (store_gateway_get(l->store, m->gateway_id, &gw, &ignore) != TW_OK)
		return 0;
	if (store_alarm_ack_get(l->store, m->id, &ack, &acked, &ignore) != TW_OK)
		acked = false;
	if (l->open && acked)
		return 0;
	l->count++;
	tw_time_format_utc(m->received_ms, when, sizeof(when));
	/* Every stored text escaped, like `gateway logs --kind messages` (a row the wan did not
	 * check, e.g. from a restored or edited store, cannot hide or forge a line). */
	printf("%-6lld %-20s %-9s %-20s %-24s %-14s %s\n", (long long)m->id,
		cli_esc(&e, m->gateway_id), cli_esc(&e, m->severity), cli_esc(&e, m->type), when,
		acked ? cli_esc(&e, ack.acked_by) : "open", cli_esc(&e, m->message));
	cli_esc_free(&e);
	return 0;
}

int cli_alarm(const char *sub, int argc, char **argv)
{
	struct alarm_opts o;
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	int ret = 1;
	long id = 0;

	tw_error_clear(&err);
	if (sub == NULL || alarm_parse(argc, argv, &o) != 0)
		return cli_usage_error(alarm_usage);
	if (o.home == NULL)
		return cli_usage_error("torwart alarm needs --home DIR (or --token-file FILE)");
	if (strcmp(sub, "ack") == 0 && o.id == NULL)
		return cli_usage_error("alarm ack needs --id N (the number alarm list shows)");
	if (o.id != NULL && tw_parse_long(o.id, 1, LONG_MAX, &id, &err, "alarm id") != TW_OK)
		return cli_usage_error(err.message);
	if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK) {
		ret = cli_fail("alarm", &err);
		goto out;
	}
	if (strcmp(sub, "list") == 0) {
		struct alarm_list l = { store, o.open, 0 };
		char detail[96];

		printf("%-6s %-20s %-9s %-20s %-24s %-14s %s\n", "ID", "GATEWAY", "SEVERITY",
			"TYPE", "RECEIVED (UTC)", "ACKNOWLEDGED", "MESSAGE");
		if (store_gateway_message_foreach(store, o.gateway, "alarm", print_alarm, &l,
		    &err) != TW_OK) {
			ret = cli_fail("alarm list", &err);
			goto out;
		}
		printf("%zu alarm%s\n", l.count, l.count == 1 ? "" : "s");
		snprintf(detail, sizeof(detail), "%zu alarm(s) listed%s", l.count,
			o.open ? " (open only)" : "");
		/* M-4.5.6.7: reads of operating data are logged too. */
		if (cli_audit(store, "gateway.alarm.read", o.gateway != NULL ? o.gateway : "alarms",
		    "ok", detail, &err) != TW_OK)
			ret = cli_fail("alarm list", &err);
		else
			ret = 0;
	} else if (strcmp(sub, "ack") == 0) {
		struct store_gateway_message m;
		struct store_alarm_ack ack;
		struct store_gateway gw;
		char object[32], detail[STORE_TEXT_MAX + 1];
		tw_rc rc;

		memset(&ack, 0, sizeof(ack));
		snprintf(object, sizeof(object), "alarm:%ld", id);
		rc = store_alarm_get(store, id, &m, &err);
		/* Another tenant's alarm reads exactly like a missing one. */
		if (rc == TW_OK && (strcmp(m.kind, "alarm") != 0 ||
		    store_gateway_get(store, m.gateway_id, &gw, &err) != TW_OK))
			rc = TW_E_NOT_FOUND;
		if (rc == TW_E_NOT_FOUND)
			rc = tw_error_set(&err, TW_E_NOT_FOUND, "alarm %ld does not exist (torwart "
				"alarm list shows the ids)", id);
		if (rc == TW_OK && o.reason != NULL && strlen(o.reason) > STORE_TEXT_MAX - 64)
			rc = tw_error_set(&err, TW_E_INVALID, "--reason is longer than %d bytes",
				STORE_TEXT_MAX - 64);
		if (rc == TW_OK) {
			ack.message_id = id;
			snprintf(ack.acked_by, sizeof(ack.acked_by), "%s", cli_actor());
			ack.acked_ms = tw_now_ms();
			snprintf(ack.note, sizeof(ack.note), "%s", o.reason != NULL ? o.reason : "");
			snprintf(detail, sizeof(detail), "%s %s of %s acknowledged%s%s", m.severity,
				m.type, m.gateway_id, o.reason != NULL ? ": " : "",
				o.reason != NULL ? o.reason : "");
			struct audit_entry entry = { .actor = cli_actor(), .role = cli_role,
				.client = cli_client(), .action = "gateway.alarm.ack", .object = object,
				.result = "ok", .detail = detail };

			/* The acknowledgement and its admin-log entry: both or neither. */
			if ((rc = store_begin(store, &err)) == TW_OK &&
			    (rc = store_alarm_ack_insert(store, &ack, &err)) == TW_OK &&
			    (rc = audit_append_in_tx(store, &entry, &err)) == TW_OK)
				rc = store_commit(store, &err);
			if (rc != TW_OK)
				store_rollback(store);
		}
		if (rc != TW_OK) {
			struct tw_error ignored;

			(void)cli_audit(store, "gateway.alarm.ack", object, "refused", err.message,
				&ignored);
			ret = cli_fail("alarm ack", &err);
		} else {
			printf("torwart: alarm %ld (%s %s of %s) acknowledged by %s\n", id, m.severity,
				m.type, m.gateway_id, ack.acked_by);
			ret = 0;
		}
	} else {
		ret = cli_usage_error(alarm_usage);
	}
out:
	store_close(store);
	tw_home_free(home);
	return ret;
}
