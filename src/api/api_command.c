/*
 * api_command.c: POST /v1/commands (see api_command.h). The api decides (role, tenant,
 * four-eyes) before anything runs; the command itself runs as its own exec'ed `torwart`
 * process so that a long command (job create --wait, ca issue of a thousand requests)
 * never stalls the event loop, a crash in it cannot take the api down, and no SQLite
 * state crosses a fork (SQLite forbids using its state in a forked child).
 */
#define _GNU_SOURCE 1
#include "api/api_command.h"
#include "api/api_resource.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "audit/audit.h"
#include "auth/command.h"
#include "base/log.h"
#include "base/util.h"
#include "gwa/gateway.h"
#include "gwa/job.h"
#include "crypto/secretbox.h"
#include "store/store_auth.h"
#include "store/store_jobs.h"

#define AC_DEFAULT_TIMEOUT_S 3600L
/* Results kept for retries with the same request id (bounded retention). */
#define AC_REQUEST_KEEP_S    (24L * 3600L)
#define AC_REQUEST_AAD       "torwart-api-request/"
#define AC_REQUEST_BODY_KEEP (1024 * 1024)   /* larger answers: outcome only */
/*
 * The four-eyes batch of initial configuration files (docs/initial-config.md): the
 * release only unlocks the request; its requester fetches the files once. The approval's
 * result starts with this text until the fetch (then "executed: ...").
 */
#define AC_IC_ACTION   "initial-config.batch"
#define AC_IC_RELEASED "released for one fetch"

struct api_cmd_job;

struct api_commands {
	struct event_base *base;
	const struct tw_home *home;
	struct tw_store *store;
	const struct auth_settings *settings;
	long timeout_s;
	char *spool;                   /* <home>/spool/commands */
	char *nonces;                  /* <home>/spool/nonces (single-use principals) */
	char *requests;                /* <home>/spool/requests (idempotency records) */
	struct event *purge;           /* hourly: expired idempotency records */
	char *program;                 /* the `torwart` next to this torwartd */
	struct secretbox *box;         /* seals the principal handed to each command */
	struct api_cmd_job *running;
};

/* One running command. */
struct api_cmd_job {
	struct api_commands *ac;
	struct api_cmd_job *next;
	struct evhttp_request *req;    /* NULL once the client has gone */
	struct evhttp_connection *evcon;
	const struct auth_command *cmd;
	pid_t pid;
	int fd;                        /* read end of the child's life-line pipe */
	struct event *ev, *timer;
	bool timed_out;
	char dir[PATH_MAX];            /* private working directory of this command */
	int argc;
	char **argv;                   /* as run, temporary paths in place of files */
	unsigned char kinds[AUTH_CMD_ARGS_MAX];
	struct auth_principal who;     /* whose command it is */
	char role[STORE_NAME_MAX + 1];   /* fits the admin log's role field */
	char detail[STORE_TEXT_MAX + 1];
	json_t *approval;              /* the released request, for approved runs */
	int64_t fleet_max;             /* fleet commands: the fleet the api counted (0 = none) */
	char nonce[33];                /* of the sealed principal, until the child took it */
	char request[PATH_MAX];        /* idempotency record to complete, or "" */
	json_t *request_argv;          /* the argv of that record */
	/* An output sent back under another argv index than it ran with (initial-config
	 * --fetch runs the stored argv, the client names its --out): -1 = none. */
	int out_from, out_to;
};

/* ---- small helpers ---- */

static const char *ac_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static void ac_send(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *out = evbuffer_new();
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		"application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (out != NULL && text != NULL)
		evbuffer_add(out, text, strlen(text));
	evhttp_send_reply(req, code, ac_reason(code), out);
	free(text);
	if (out != NULL)
		evbuffer_free(out);
}

static int ac_status(tw_rc rc)
{
	switch (rc) {
	case TW_E_INVALID: case TW_E_PROTOCOL: return 400;
	case TW_E_DENIED: return 403;
	case TW_E_NOT_FOUND: return 404;
	case TW_E_EXISTS: return 409;
	case TW_E_TOO_LARGE: return 413;
	case TW_E_UNAVAILABLE: return 503;
	default: return 500;
	}
}

/* RFC 9457 problem details (api_resource.h), the old "error" member included. */
static void ac_error(struct evhttp_request *req, tw_rc rc, const struct tw_error *err)
{
	api_problem_send(req, rc, err);
}

/* Admin-log entry as p (best effort: the command's own entries are the record). */
static void ac_audit(struct tw_store *store, const struct auth_principal *p,
	const char *action, const char *object, const char *result, const char *detail)
{
	struct tw_error err;

	if (store != NULL && auth_audit_as(store, p, action, object, result, detail, &err) !=
	    TW_OK)
		tw_err("cannot write the admin log (%s %s): %s", action, object, err.message);
}

/* A logged, typed refusal of something auth_check cannot express (an option). */
static tw_rc ac_deny(struct tw_store *store, const struct auth_principal *p,
	const char *object, struct tw_error *err, const char *msg)
{
	tw_error_set(err, TW_E_DENIED, "%s", msg);
	ac_audit(store, p, "auth.denied", object, "denied", msg);
	return TW_E_DENIED;
}

/* "ca revoke 01ab --reason keyCompromise" (truncated, escaped: auth_text_escape) for
 * the log, so that no argument can forge or hide a line of it. */
static void ac_join(int argc, char *const *argv, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < argc && used + 1 < size; i++) {
		char esc[STORE_TEXT_MAX + 1];
		int n = snprintf(buf + used, size - used, "%s%s", i > 0 ? " " : "",
			auth_text_escape(argv[i], esc, sizeof(esc)));

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static void ac_free_argv(int argc, char **argv)
{
	if (argv == NULL)
		return;
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

/* argv of a JSON array of strings (no NUL inside). *argv is the caller's. */
static tw_rc ac_argv(const json_t *arr, int *argc, char ***argv, struct tw_error *err)
{
	size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
	char **v = NULL;
	tw_rc rc = TW_OK;

	*argc = 0;
	*argv = NULL;
	if (n < 2 || n > AUTH_CMD_ARGS_MAX)
		return tw_error_set(err, TW_E_INVALID, "\"argv\" must be an array of 2 to %d "
			"strings", AUTH_CMD_ARGS_MAX);
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *s = json_array_get(arr, i);
		const char *text = json_string_value(s);

		if (text == NULL || strlen(text) != json_string_length(s) ||
		    json_string_length(s) > AUTH_CMD_ARG_MAX) {
			rc = tw_error_set(err, TW_E_INVALID, "argument %zu is not a string of at most "
				"%d bytes without NUL", i, AUTH_CMD_ARG_MAX);
			break;
		}
		if ((v[i] = tw_strdup(text)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			break;
		}
	}
	if (rc != TW_OK) {
		ac_free_argv((int)n, v);
		return rc;
	}
	*argc = (int)n;
	*argv = v;
	return TW_OK;
}

/* ---- policy: role, tenant, four-eyes ---- */

/*
 * How many gateways a job create reaches, as p sees them (tenant-scoped), read from THE
 * parse of its argv and counted by the selection code of the order itself
 * (job_fleet_count), so that no spelling of the options (abbreviated, repeated, a second
 * selector) and no foreign or unknown id changes the number the four-eyes rule sees.
 */
static tw_rc ac_fleet_size(struct api_commands *ac, const struct auth_principal *p,
	const struct auth_cmd_args *args, int64_t *count, struct tw_error *err)
{
	const char *gw = auth_cmd_args_value(args, "--gateway");
	const char *gwid = auth_cmd_args_value(args, "--gateway-id");
	const char *gws = auth_cmd_args_value(args, "--gateways");
	const char *tag = auth_cmd_args_value(args, "--tag");
	const char *tenant = auth_cmd_args_value(args, "--tenant");
	int selectors = (gw != NULL || gwid != NULL) + (gws != NULL) + (tag != NULL) +
		(tenant != NULL);
	char *sel = NULL;
	tw_rc rc;

	*count = 0;
	if (selectors != 1)
		return tw_error_set(err, TW_E_INVALID, "job create selects gateways with exactly "
			"one of --gateway ID, --gateways all|ID,ID, --tag T, --tenant T");
	if (gw != NULL || gwid != NULL) {
		*count = 1;
		return TW_OK;
	}
	sel = gws != NULL ? (strcmp(gws, "all") == 0 ? tw_strdup("all") :
		tw_asprintf("ids:%s", gws)) : tag != NULL ? tw_asprintf("tag:%s", tag) :
		tw_asprintf("tenant:%s", tenant);
	if (sel == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	store_scope_tenant(ac->store, p->break_glass ? 0 : p->tenant_id);
	rc = job_fleet_count(ac->store, sel, count, err);
	store_scope_tenant(ac->store, 0);
	free(sel);
	return rc;
}

/* `profile reput --apply` orders a fleet (issue 12); its dry run orders nothing. */
static bool ac_reput_apply(const struct auth_command *c, const struct auth_cmd_args *args)
{
	return strcmp(c->command, "profile") == 0 && strcmp(c->sub, "reput") == 0 &&
		auth_cmd_args_get(args, "--apply") != NULL;
}

/*
 * Fleet commands whose run is bounded by the fleet the api counted for its four-eyes
 * decision (the command refuses when its selection has grown beyond it meanwhile).
 */
static bool ac_fleet_bounded(const struct auth_command *c, const struct auth_cmd_args *args)
{
	return (strcmp(c->command, "job") == 0 && strcmp(c->sub, "create") == 0) ||
		(strcmp(c->command, "gateway") == 0 && (strcmp(c->sub, "renew") == 0 ||
		 strcmp(c->sub, "crl-push") == 0)) || ac_reput_apply(c, args);
}

/*
 * Another tenant's object is indistinguishable from a missing one (issue 9): after the
 * role check, an object p may not see and an object that does not exist get the same
 * refusal (404, the same message), decided here before anything runs, so that no
 * command's own handling (or a table its store handle does not scope) can tell them
 * apart. The attempt on a foreign object is in the admin log for the security officer.
 */
static tw_rc ac_hidden(struct api_commands *ac, const struct auth_principal *p, bool found,
	int64_t tenant, const char *what, struct tw_error *err, const char *missing)
{
	if (found && (p->break_glass || tenant == p->tenant_id))
		return TW_OK;
	if (found)
		ac_audit(ac->store, p, "auth.hidden", what, "refused", "object of another tenant: "
			"answered as a missing one");
	return tw_error_set(err, TW_E_NOT_FOUND, "%s", missing);
}

/* Role for op, and gateway id visible to p. */
static tw_rc ac_check_gateway(struct api_commands *ac, const struct auth_principal *p,
	enum auth_op op, const char *id, struct tw_error *err)
{
	struct store_gateway gw;
	char what[STORE_ID_MAX + 16], missing[STORE_ID_MAX + 48];
	struct tw_error ignore;
	bool found;
	tw_rc rc;

	snprintf(what, sizeof(what), "gateway:%.64s", id);
	if ((rc = auth_check(ac->store, p, op, 0, what, err)) != TW_OK)
		return rc;
	found = store_gateway_get(ac->store, id, &gw, &ignore) == TW_OK;
	snprintf(missing, sizeof(missing), "gateway %.64s is not registered", id);
	return ac_hidden(ac, p, found, found ? gw.tenant_id : 0, what, err, missing);
}

/*
 * May p run the parsed command? Role for the command's operation, on the tenant of every
 * gateway and job it names; options with cross-tenant effects only for break-glass.
 */
static tw_rc ac_authorise(struct api_commands *ac, const struct auth_principal *p,
	const struct auth_command *c, const struct auth_cmd_args *args, struct tw_error *err)
{
	enum auth_op op = c->upgrade_option != NULL &&
		auth_cmd_args_get(args, c->upgrade_option) != NULL ? c->upgrade_op : c->op;
	char what[96];
	const char *v;
	bool named = false;
	tw_rc rc;

	snprintf(what, sizeof(what), "command:%s %s", c->command, c->sub);
	if (c->tenant_denied_option != NULL && !p->break_glass &&
	    auth_cmd_args_get(args, c->tenant_denied_option) != NULL) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%s moves objects between tenants: only break-glass "
			"may do that (docs/security.md)", c->tenant_denied_option);
		return ac_deny(ac->store, p, what, err, msg);
	}
	if ((v = auth_cmd_args_value(args, c->gateway_option)) != NULL ||
	    (v = auth_cmd_args_value(args, c->gateway_alias)) != NULL) {
		if ((rc = ac_check_gateway(ac, p, op, v, err)) != TW_OK)
			return rc;
		named = true;
	}
	if ((v = auth_cmd_args_value(args, c->gateways_option)) != NULL &&
	    strcmp(v, "all") != 0) {
		char id[STORE_ID_MAX + 1];

		while (*v != '\0') {
			size_t n = strcspn(v, ",");

			if (n == 0 || n > STORE_ID_MAX)
				return tw_error_set(err, TW_E_INVALID, "%s: empty or over-long id",
					c->gateways_option);
			memcpy(id, v, n);
			id[n] = '\0';
			if ((rc = ac_check_gateway(ac, p, op, id, err)) != TW_OK)
				return rc;
			v += n + (v[n] == ',');
		}
		named = true;
	}
	if ((v = auth_cmd_args_value(args, c->job_option)) != NULL) {
		struct store_job job;
		struct tw_error ignore;
		long id = 0;
		int64_t tenant = 0;

		bool found = false;
		char missing[80];

		snprintf(what, sizeof(what), "job:%.40s", v);
		if ((rc = auth_check(ac->store, p, op, 0, what, err)) != TW_OK)
			return rc;
		if (tw_parse_long(v, 1, LONG_MAX, &id, &ignore, "job id") == TW_OK &&
		    store_job_get(ac->store, id, &job, &ignore) == TW_OK) {
			found = true;
			tenant = job.tenant_id;
			store_job_clear(&job);
		}
		snprintf(missing, sizeof(missing), "there is no job %.40s", v);
		if ((rc = ac_hidden(ac, p, found, tenant, what, err, missing)) != TW_OK)
			return rc;
		named = true;
	}
	if (!named && (rc = auth_check(ac->store, p, op, 0, what, err)) != TW_OK)
		return rc;
	return TW_OK;
}

/* Parse argv of c as the api does (validated before: cannot fail but for memory). */
static tw_rc ac_parse(const struct auth_command *c, int argc, char *const *argv,
	struct auth_cmd_args **out, struct tw_error *err)
{
	tw_rc rc;

	if ((*out = malloc(sizeof(**out))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = auth_command_parse(c, argc, argv, 0, *out, err)) != TW_OK) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- idempotency records (request ids) ---- */

/* <requests>/<hex SHA-256 of "operator-id:request-id">, its sealing AAD in aad. */
static char *ac_request_path(struct api_commands *ac, const struct auth_principal *p,
	const char *request_id, char aad[128])
{
	unsigned char md[32];
	char hex[65], *key;
	unsigned int n = 0;

	if ((key = tw_asprintf("%lld:%s", (long long)p->operator_id, request_id)) == NULL)
		return NULL;
	EVP_Digest(key, strlen(key), md, &n, EVP_sha256(), NULL);
	free(key);
	tw_hex_encode(md, sizeof(md), hex);
	snprintf(aad, 128, "%s%s", AC_REQUEST_AAD, hex);
	return tw_asprintf("%s/%s", ac->requests, hex);
}

/* Write record (sealed: results may hold key material) to path. */
static tw_rc ac_request_write(struct api_commands *ac, const char *path, const json_t *rec,
	bool exclusive, struct tw_error *err)
{
	const char *slash = strrchr(path, '/');
	char aad[128], *text = json_dumps(rec, JSON_COMPACT), *sealed = NULL;
	tw_rc rc;

	snprintf(aad, sizeof(aad), "%s%s", AC_REQUEST_AAD, slash != NULL ? slash + 1 : path);
	if (text == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = secretbox_seal(ac->box, aad, text, strlen(text), &sealed, err);
	tw_wipe(text, strlen(text));
	free(text);
	if (rc == TW_OK)
		rc = tw_write_file(path, sealed, strlen(sealed), 0600, exclusive, err);
	free(sealed);
	return rc;
}

/* The record at path (NULL when there is none or it does not open). */
static json_t *ac_request_read(struct api_commands *ac, const char *path, const char *aad)
{
	unsigned char *data = NULL;
	char *plain = NULL;
	size_t len = 0, plen = 0;
	struct tw_error err;
	json_t *rec = NULL;

	if (tw_read_file(path, (size_t)AUTH_CMD_BODY_MAX * 4, &data, &len, &err) != TW_OK)
		return NULL;
	if (secretbox_unseal(ac->box, aad, (const char *)data, &plain, &plen, &err) == TW_OK)
		rec = json_loadb(plain, plen, 0, NULL);
	if (plain != NULL) {
		tw_wipe(plain, plen);
		free(plain);
	}
	free(data);
	return rec;
}

/* Complete the job's idempotency record with the answer (best effort, logged). */
static void ac_request_done(struct api_commands *ac, const char *path, const json_t *argv,
	int status, const json_t *body, bool outputs_once)
{
	struct tw_error err;
	json_t *rec;

	if (path == NULL || path[0] == '\0')
		return;
	if (outputs_once && json_object_get(body, "files") != NULL) {
		/* Handed over once (initial configuration files): a retry learns how it ended,
		 * the spool keeps no copy of the files. */
		json_t *copy = json_copy((json_t *)body);

		if (copy != NULL) {
			json_object_set_new(copy, "files", json_object());
			json_object_set_new(copy, "files_not_kept", json_true());
			rec = json_pack("{s:s,s:O,s:i,s:o}", "state", "done", "argv", argv, "status",
				status, "body", copy);
		} else {
			rec = NULL;
		}
		goto write;
	}
	{
		/* Large answers (exports) are not kept: a retry learns that it ran and how it
		 * ended, not its output (bounded spool: AC_REQUEST_BODY_KEEP per record). */
		char *text = json_dumps(body, JSON_COMPACT);
		size_t len = text != NULL ? strlen(text) : 0;

		free(text);
		if (len > AC_REQUEST_BODY_KEEP) {
			char msg[200];

			snprintf(msg, sizeof(msg), "this request ran already (exit %lld); its answer "
				"was too large to keep for a retry: run it again with a new request id "
				"if you need its output", (long long)json_integer_value(json_object_get(
				body, "exit")));
			rec = json_pack("{s:s,s:O,s:i,s:{s:{s:s,s:s}}}", "state", "done", "argv", argv,
				"status", 409, "body", "error", "code", tw_strerror(TW_E_EXISTS),
				"message", msg);
			goto write;
		}
	}
	rec = json_pack("{s:s,s:O,s:i,s:O}", "state", "done", "argv", argv, "status", status,
		"body", body);
write:
	if (rec == NULL || ac_request_write(ac, path, rec, false, &err) != TW_OK)
		tw_err("cannot record the result of a command for retries: %s",
			rec == NULL ? "out of memory" : err.message);
	json_decref(rec);
}

/* Drop idempotency records older than AC_REQUEST_KEEP_S. */
static void ac_request_purge(struct api_commands *ac)
{
	DIR *d = opendir(ac->requests);
	struct dirent *e;
	time_t now = time(NULL);

	while (d != NULL && (e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", ac->requests, e->d_name);
		if (lstat(path, &st) == 0 && now - st.st_mtime > AC_REQUEST_KEEP_S)
			unlink(path);
	}
	if (d != NULL)
		closedir(d);
}

static void ac_on_purge(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ac_request_purge(arg);
}

/* ---- running a command ---- */

static int ac_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);   /* best effort: a left-over file is only disk space in 0700 spool */
	return 0;
}

static void ac_rmdir(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, ac_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void ac_job_free(struct api_cmd_job *j)
{
	if (j == NULL)
		return;
	if (j->ev != NULL)
		event_free(j->ev);
	if (j->timer != NULL)
		event_free(j->timer);
	if (j->fd >= 0)
		close(j->fd);
	if (j->evcon != NULL && j->req != NULL)
		evhttp_connection_set_closecb(j->evcon, NULL, NULL);
	ac_rmdir(j->dir);
	if (j->nonce[0] != '\0') {
		char path[PATH_MAX + 40];

		/* Not taken by the child (it did not start): never usable later. */
		snprintf(path, sizeof(path), "%s/%s", j->ac->nonces, j->nonce);
		unlink(path);
	}
	if (j->request[0] != '\0')
		unlink(j->request);   /* a record never completed: a retry runs it afresh */
	ac_free_argv(j->argc, j->argv);
	json_decref(j->approval);
	json_decref(j->request_argv);
	free(j);
}

static void ac_unlink_job(struct api_cmd_job *j)
{
	for (struct api_cmd_job **pp = &j->ac->running; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
}

/* A file of the child as base64 (at most max bytes; *truncated when longer). */
static json_t *ac_file_b64(const char *path, size_t max, bool *truncated)
{
	unsigned char *data = NULL;
	char *text = NULL;
	struct tw_error err;
	struct stat st;
	size_t len = 0;
	json_t *out = NULL;
	FILE *f;

	*truncated = false;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return NULL;
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	len = (size_t)st.st_size > max ? max : (size_t)st.st_size;
	*truncated = (size_t)st.st_size > max;
	if ((data = malloc(len + 1)) != NULL && fread(data, 1, len, f) == len &&
	    auth_b64_encode(data, len, &text, &err) == TW_OK)
		out = json_string(text);
	fclose(f);
	free(data);
	free(text);
	return out;
}

static struct {
	json_t *entries;
	size_t prefix, total;
	bool too_large;
	const struct secretbox *box;
} ac_walk;

/* A private key the command wrote sealed (gwa/gateway.h): opened only to send it. */
static json_t *ac_sealed_b64(const char *path)
{
	unsigned char *data = NULL;
	char *plain = NULL, *text = NULL;
	size_t len = 0, plen = 0;
	struct tw_error err;
	json_t *out = NULL;

	if (tw_read_file(path, AUTH_CMD_FILE_MAX, &data, &len, &err) == TW_OK &&
	    secretbox_unseal(ac_walk.box, GATEWAY_SEALED_AAD, (const char *)data, &plain, &plen,
	    &err) == TW_OK && auth_b64_encode((unsigned char *)plain, plen, &text, &err) == TW_OK)
		out = json_string(text);
	if (plain != NULL) {
		tw_wipe(plain, plen);
		free(plain);
	}
	if (text != NULL) {
		tw_wipe(text, strlen(text));
		free(text);
	}
	free(data);
	return out;
}

static int ac_collect_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	bool truncated = false;
	json_t *data;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	ac_walk.total += (size_t)st->st_size;
	if (ac_walk.total > AUTH_CMD_FILE_MAX) {
		ac_walk.too_large = true;
		return 1;
	}
	{
		size_t plen = strlen(path), slen = strlen(GATEWAY_SEALED_SUFFIX);

		if (plen > slen && strcmp(path + plen - slen, GATEWAY_SEALED_SUFFIX) == 0) {
			char *name = tw_strdup(path + ac_walk.prefix);

			if (name == NULL || (data = ac_sealed_b64(path)) == NULL) {
				free(name);
				return 0;
			}
			name[strlen(name) - slen] = '\0';
			json_array_append_new(ac_walk.entries, json_pack("{s:s,s:i,s:o}", "path",
				name, "mode", (int)(st->st_mode & 0777), "data", data));
			free(name);
			return 0;
		}
	}
	if ((data = ac_file_b64(path, AUTH_CMD_FILE_MAX, &truncated)) == NULL)
		return 0;
	json_array_append_new(ac_walk.entries, json_pack("{s:s,s:i,s:o}", "path",
		path + ac_walk.prefix, "mode", (int)(st->st_mode & 0777), "data", data));
	return 0;
}

static bool ac_is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The files and directories the command wrote for OUT arguments. */
static json_t *ac_outputs(struct api_cmd_job *j, bool *too_large)
{
	json_t *files = json_object();

	*too_large = false;
	for (int i = 0; files != NULL && i < j->argc; i++) {
		char key[16];
		bool truncated = false;
		/* A batch of initial configuration files makes a directory of its --out. */
		bool dir = j->kinds[i] == AUTH_CMD_DIR_OUT || (j->kinds[i] == AUTH_CMD_FILE_OUT &&
			j->cmd->outputs_once && ac_is_dir(j->argv[i]));
		json_t *data;

		snprintf(key, sizeof(key), "%d", i == j->out_from ? j->out_to : i);
		if (j->kinds[i] == AUTH_CMD_FILE_OUT && !dir) {
			if ((data = ac_file_b64(j->argv[i], AUTH_CMD_FILE_MAX, &truncated)) != NULL)
				json_object_set_new(files, key, json_pack("{s:o}", "data", data));
			*too_large |= truncated;
		} else if (dir && tw_path_exists(j->argv[i])) {
			ac_walk.entries = json_array();
			ac_walk.prefix = strlen(j->argv[i]) + 1;
			ac_walk.total = 0;
			ac_walk.too_large = false;
			ac_walk.box = j->ac->box;
			nftw(j->argv[i], ac_collect_one, 16, FTW_PHYS);
			json_object_set_new(files, key, json_pack("{s:o}", "entries", ac_walk.entries));
			*too_large |= ac_walk.too_large;
		}
	}
	return files;
}

static void ac_finish(struct api_cmd_job *j)
{
	struct api_commands *ac = j->ac;
	int status = 0, code;
	bool t_out = false, t_err = false, too_large = false;
	char path[PATH_MAX + 16], result[48], object[96];
	json_t *out, *errs, *files, *body;

	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	code = WIFEXITED(status) ? WEXITSTATUS(status) :
		128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	if (j->timed_out)
		snprintf(result, sizeof(result), "timed out after %ld s", ac->timeout_s);
	else if (code == 0)
		snprintf(result, sizeof(result), "ok");
	else
		snprintf(result, sizeof(result), "exit %d", code);
	snprintf(object, sizeof(object), "command:%s %s", j->cmd->command, j->cmd->sub);
	j->who.break_glass = false;
	{
		/* The command's principal as it ran (for approved runs: with the release). */
		struct audit_entry e;
		struct tw_error err;

		memset(&e, 0, sizeof(e));
		e.actor = j->who.name;
		e.role = j->role;
		e.client = j->who.client;
		e.action = "api.command";
		e.object = object;
		e.result = result;
		e.detail = j->detail;
		if (audit_append(ac->store, &e, &err) != TW_OK)
			tw_err("cannot write the admin log (api.command): %s", err.message);
	}
	if (j->approval != NULL) {
		/* A released command: the approval's final state says what really happened
		 * (auth_approval_outcome), and the answer shows that state. */
		struct auth_principal sys;
		struct tw_error err;
		char line[256] = "", what[STORE_TEXT_MAX + 1];
		int64_t id = json_integer_value(json_object_get(j->approval, "id"));
		FILE *f;

		snprintf(path, sizeof(path), "%s/stderr", j->dir);
		if (code != 0 && (f = fopen(path, "r")) != NULL) {
			if (fgets(line, sizeof(line), f) == NULL)
				line[0] = '\0';
			line[strcspn(line, "\r\n")] = '\0';
			fclose(f);
		}
		snprintf(what, sizeof(what), "`%s %s` %s%s%s", j->cmd->command, j->cmd->sub, result,
			line[0] != '\0' ? ": " : "", line);
		memset(&sys, 0, sizeof(sys));
		snprintf(sys.name, sizeof(sys.name), "system:api");
		snprintf(sys.client, sizeof(sys.client), "%s", j->who.client);
		if (id > 0 && auth_approval_outcome(ac->store, &sys, id, code == 0 && !j->timed_out,
		    what, &err) != TW_OK)
			tw_err("cannot record the outcome of approval %lld: %s", (long long)id,
				err.message);
		else if (id > 0) {
			struct store_approval a;

			if (store_approval_get(ac->store, id, &a, &err) == TW_OK) {
				json_object_set_new(j->approval, "state", json_string(a.state));
				json_object_set_new(j->approval, "result", json_string(a.result));
			}
		}
	}
	if (j->req != NULL) {
		snprintf(path, sizeof(path), "%s/stdout", j->dir);
		out = ac_file_b64(path, AUTH_CMD_OUTPUT_MAX, &t_out);
		snprintf(path, sizeof(path), "%s/stderr", j->dir);
		errs = ac_file_b64(path, AUTH_CMD_OUTPUT_MAX, &t_err);
		files = ac_outputs(j, &too_large);
		body = json_pack("{s:i,s:o,s:o,s:o,s:b,s:b}", "exit", j->timed_out ? 124 : code,
			"stdout", out != NULL ? out : json_string(""), "stderr",
			errs != NULL ? errs : json_string(""), "files",
			files != NULL ? files : json_object(), "truncated", t_out || t_err ||
			too_large, "timed_out", j->timed_out);
		if (body != NULL && j->approval != NULL) {
			json_t *wrap = json_pack("{s:O,s:o}", "approval", j->approval, "command", body);

			body = wrap;
		}
		evhttp_connection_set_closecb(j->evcon, NULL, NULL);
		if (body != NULL) {
			ac_request_done(ac, j->request, j->request_argv, 200, body,
				j->cmd->outputs_once);
			j->request[0] = '\0';
			ac_send(j->req, 200, body);
		} else {
			struct tw_error err;

			tw_error_set(&err, TW_E_NOMEM, "out of memory building the answer");
			ac_error(j->req, TW_E_NOMEM, &err);
		}
		json_decref(body);
		j->req = NULL;
	}
	if (j->request[0] != '\0') {
		/* The client went away (the lost answer a retry asks for): keep the outcome. */
		bool t = false, big = false;
		json_t *o, *e, *f, *b;

		snprintf(path, sizeof(path), "%s/stdout", j->dir);
		o = ac_file_b64(path, AUTH_CMD_OUTPUT_MAX, &t);
		snprintf(path, sizeof(path), "%s/stderr", j->dir);
		e = ac_file_b64(path, AUTH_CMD_OUTPUT_MAX, &t);
		/* Output handed over once and its client gone: the files are not kept. */
		f = j->cmd->outputs_once ? json_object() : ac_outputs(j, &big);
		b = json_pack("{s:i,s:o,s:o,s:o,s:b,s:b}", "exit", j->timed_out ? 124 : code,
			"stdout", o != NULL ? o : json_string(""), "stderr",
			e != NULL ? e : json_string(""), "files", f != NULL ? f : json_object(),
			"truncated", t || big, "timed_out", j->timed_out);
		if (b != NULL) {
			ac_request_done(ac, j->request, j->request_argv, 200, b,
				j->cmd->outputs_once);
			j->request[0] = '\0';
		}
		json_decref(b);
	}
	ac_unlink_job(j);
	ac_job_free(j);
}

static void ac_on_child(evutil_socket_t fd, short what, void *arg)
{
	struct api_cmd_job *j = arg;
	char buf[64];
	ssize_t n;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN)))
		return;
	ac_finish(j);   /* EOF: the child has exited (or closed its life line) */
}

static void ac_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct api_cmd_job *j = arg;

	(void)fd;
	(void)what;
	j->timed_out = true;
	tw_warn("command %s %s of %s ran over %ld s: killing it", j->cmd->command,
		j->cmd->sub, j->who.name, j->ac->timeout_s);
	kill(j->pid, SIGKILL);
}

static void ac_on_close(struct evhttp_connection *evcon, void *arg)
{
	struct api_cmd_job *j = arg;

	(void)evcon;
	/* The client went away: the command still runs to its end and is logged. */
	j->req = NULL;
}

/*
 * In the child: exec a fresh `torwart` (nothing of the api's SQLite, OpenSSL or libevent
 * state survives into the command) with the sealed principal in its environment. Never
 * returns.
 */
static void ac_child(struct api_cmd_job *j, int lifeline, char **argv, const char *sealed)
{
	char path[PATH_MAX + 16];
	int fd;
	struct rlimit rl;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/stdout", j->dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
		dup2(fd, 1);
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/stderr", j->dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
		dup2(fd, 2);
		close(fd);
	}
	/* Keep only stdio and the life line: no listening sockets, no client connections. */
	if (lifeline != 3) {
		dup2(lifeline, 3);
		close(lifeline);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t max = rl.rlim_cur > 65536 ? 65536 : rl.rlim_cur;

		for (rlim_t i = 4; i < max; i++)
			close((int)i);
	}
	if (setenv(AUTH_CMD_ACT_AS_ENV, sealed, 1) == 0)
		execv(j->ac->program, argv);
	fprintf(stderr, "torwart: the api cannot start %s: %s\n", j->ac->program,
		strerror(errno));
	_exit(127);
}

/*
 * Prepare the working directory (input files written, output paths assigned), fork the
 * child and watch it. On success j belongs to ac->running; on failure the caller frees.
 */
static tw_rc ac_start(struct api_cmd_job *j, const json_t *files, struct tw_error *err)
{
	struct api_commands *ac = j->ac;
	int lifeline[2] = { -1, -1 };
	struct timeval tv = { ac->timeout_s, 0 };
	struct auth_cmd_principal as;
	char **xargv = NULL, *sealed = NULL;
	tw_rc rc = TW_OK;

	snprintf(j->dir, sizeof(j->dir), "%s/cmd.XXXXXX", ac->spool);
	if (mkdtemp(j->dir) == NULL) {
		j->dir[0] = '\0';
		return tw_error_set(err, TW_E_IO, "cannot create a working directory in %s: %s",
			ac->spool, strerror(errno));
	}
	/* files was checked by api_command_parse (only input-file arguments, strings). */
	for (int i = 2; i < j->argc; i++) {
		enum auth_cmd_file_kind kind = auth_command_file_kind(j->cmd, j->argc, j->argv, i);
		char path[PATH_MAX + 32], key2[16];
		unsigned char *data = NULL;
		size_t len = 0;
		const char *b64;

		if (kind == 0)
			continue;
		j->kinds[i] = (unsigned char)kind;
		snprintf(path, sizeof(path), "%s/%s-%d", j->dir, kind == AUTH_CMD_FILE_IN ? "in" :
			"out", i);
		if (kind == AUTH_CMD_FILE_IN) {
			snprintf(key2, sizeof(key2), "%d", i);
			b64 = json_string_value(json_object_get(files, key2));
			if (b64 == NULL)
				return tw_error_set(err, TW_E_INVALID, "%s %s: the file's content is "
					"missing (files.%d)", j->argv[i - 1], j->argv[i], i);
			if ((rc = auth_b64_decode(b64, strlen(b64), &data, &len, err)) != TW_OK)
				return rc;
			if (len > AUTH_CMD_FILE_MAX) {
				free(data);
				return tw_error_set(err, TW_E_TOO_LARGE, "%s: over %d bytes",
					j->argv[i - 1], AUTH_CMD_FILE_MAX);
			}
			/* A custodian share never lies on disk in clear: sealed with the data key
			 * (context "share", bound to this file's name) before it is written;
			 * `ca custodian-share` opens it through the signer (issue 9). */
			if (strcmp(j->cmd->command, "ca") == 0 &&
			    strcmp(j->cmd->sub, "custodian-share") == 0) {
				char aad[256], *boxed = NULL;

				if ((rc = auth_command_spool_share_aad(path, aad, sizeof(aad), err)) ==
				    TW_OK &&
				    (rc = secretbox_seal(ac->box, aad, data, len, &boxed, err)) == TW_OK)
					rc = tw_write_file(path, boxed, strlen(boxed), 0600, true, err);
				free(boxed);
			} else {
				rc = tw_write_file(path, data, len, 0600, true, err);
			}
			tw_wipe(data, len);
			free(data);
			if (rc != TW_OK)
				return rc;
		}
		free(j->argv[i]);
		if ((j->argv[i] = tw_strdup(path)) == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	/* The command line as exec'ed: torwart CMD SUB --home DIR ARGS..., and its sealed
	 * principal, both made before fork (the child only execs). */
	if ((xargv = calloc((size_t)j->argc + 4, sizeof(*xargv))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	xargv[0] = ac->program;
	xargv[1] = j->argv[0];
	xargv[2] = j->argv[1];
	xargv[3] = "--home";
	xargv[4] = ac->home->dir;
	for (int i = 2; i < j->argc; i++)
		xargv[i + 3] = j->argv[i];
	memset(&as, 0, sizeof(as));
	snprintf(as.actor, sizeof(as.actor), "%s", j->who.name);
	snprintf(as.role, sizeof(as.role), "%s", j->role);
	snprintf(as.client, sizeof(as.client), "%s", j->who.client);
	as.tenant_id = j->who.break_glass ? 0 : j->who.tenant_id;
	as.fleet_max = j->fleet_max;
	{
		/* Single use (issue 9): the child consumes the nonce file (unlink) before it
		 * acts; a copied TORWART_ACT_AS finds it gone. */
		unsigned char rnd[16];
		char npath[PATH_MAX + 40];

		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			free(xargv);
			return tw_error_set(err, TW_E_CRYPTO, "no random bytes for the nonce");
		}
		tw_hex_encode(rnd, sizeof(rnd), as.nonce);
		snprintf(npath, sizeof(npath), "%s/%s", ac->nonces, as.nonce);
		if ((rc = tw_write_file(npath, "", 0, 0600, true, err)) != TW_OK) {
			free(xargv);
			return rc;
		}
		memcpy(j->nonce, as.nonce, sizeof(j->nonce));
	}
	if ((rc = auth_command_seal_principal(ac->box, &as, j->argc + 3, xargv, tw_now_ms(),
	    &sealed, err)) != TW_OK) {
		free(xargv);
		return rc;
	}
	if (pipe(lifeline) != 0) {
		rc = tw_error_set(err, TW_E_IO, "pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	j->pid = fork();
	if (j->pid < 0) {
		close(lifeline[0]);
		close(lifeline[1]);
		rc = tw_error_set(err, TW_E_IO, "cannot start the command: %s", strerror(errno));
		goto out;
	}
	if (j->pid == 0) {
		close(lifeline[0]);
		ac_child(j, lifeline[1], xargv, sealed);
	}
	/* The child owns the nonce now (consumed or, after its end, removed by us). */
	close(lifeline[1]);
	j->fd = lifeline[0];
	evutil_make_socket_nonblocking(j->fd);
	j->ev = event_new(ac->base, j->fd, EV_READ | EV_PERSIST, ac_on_child, j);
	j->timer = evtimer_new(ac->base, ac_on_timeout, j);
	if (j->ev == NULL || j->timer == NULL || event_add(j->ev, NULL) != 0 ||
	    evtimer_add(j->timer, &tv) != 0) {
		/* Cannot watch it: stop it rather than leave an unobserved command running. */
		kill(j->pid, SIGKILL);
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			;
		rc = tw_error_set(err, TW_E_NOMEM, "cannot watch the command");
		goto out;
	}
	if (j->req != NULL) {
		j->evcon = evhttp_request_get_connection(j->req);
		if (j->evcon != NULL) {
			evhttp_connection_set_closecb(j->evcon, ac_on_close, j);
			/* The reply comes when the command ends, not within the idle timeout. */
			evhttp_connection_set_timeout(j->evcon, (int)ac->timeout_s + 60);
		}
	}
	j->next = ac->running;
	ac->running = j;
out:
	free(xargv);
	if (sealed != NULL) {
		tw_wipe(sealed, strlen(sealed));
		free(sealed);
	}
	return rc;
}

static struct api_cmd_job *ac_job_new(struct api_commands *ac, struct evhttp_request *req,
	const struct auth_command *c, int argc, char **argv, const struct auth_principal *who)
{
	struct api_cmd_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->ac = ac;
	j->req = req;
	j->cmd = c;
	j->fd = -1;
	j->out_from = -1;
	j->out_to = -1;
	j->argc = argc;
	j->argv = argv;
	j->who = *who;
	auth_principal_role_text(who, j->role, sizeof(j->role));
	ac_join(argc, argv, j->detail, sizeof(j->detail));
	return j;
}

/* ---- initial configuration files: the four-eyes batch (docs/initial-config.md) ---- */

struct ac_ids {
	char *list;
	size_t len, cap;
};

static int ac_ids_add(const struct store_gateway *gw, void *arg)
{
	struct ac_ids *ids = arg;
	size_t n = strlen(gw->gateway_id);

	if (ids->len + n + 2 > ids->cap) {
		size_t cap = (ids->cap + n + 2) * 2;
		char *list = realloc(ids->list, cap);

		if (list == NULL)
			return 1;
		ids->list = list;
		ids->cap = cap;
	}
	if (ids->len > 0)
		ids->list[ids->len++] = ',';
	memcpy(ids->list + ids->len, gw->gateway_id, n + 1);
	ids->len += n;
	return 0;
}

/*
 * The stored request of a batch: the explicit gateway list the selector names now (what
 * the approver sees is what is exported, whatever a tag holds later), the requester's
 * --out, and each --recipient with its uploaded certificate. *params is the caller's.
 */
static tw_rc ac_ic_params(struct api_commands *ac, const struct auth_principal *p,
	const struct auth_cmd_args *args, const json_t *files, int64_t count, json_t **params,
	struct tw_error *err)
{
	const char *gws = auth_cmd_args_value(args, "--gateways");
	const char *tag = auth_cmd_args_value(args, "--tag");
	const char *tenant = auth_cmd_args_value(args, "--tenant");
	const struct auth_cmd_opt *out = auth_cmd_args_get(args, "--out");
	struct ac_ids ids = { 0 };
	json_t *argv = NULL, *rfiles = NULL;
	char *sel = NULL, *text = NULL;
	tw_rc rc;

	*params = NULL;
	if (out == NULL || out->value == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "a batch needs --out DIR");
		goto out;
	}
	sel = gws != NULL ? (strcmp(gws, "all") == 0 ? tw_strdup("all") :
		tw_asprintf("ids:%s", gws)) : tag != NULL ? tw_asprintf("tag:%s", tag) :
		tenant != NULL ? tw_asprintf("tenant:%s", tenant) : NULL;
	if (sel == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "a batch selects gateways with --gateways, "
			"--tag or --tenant");
		goto out;
	}
	store_scope_tenant(ac->store, p->break_glass ? 0 : p->tenant_id);
	rc = job_fleet_foreach(ac->store, sel, ac_ids_add, &ids, err);
	store_scope_tenant(ac->store, 0);
	if (rc != TW_OK)
		goto out;
	if (ids.list == NULL || ids.len + 1 > AUTH_CMD_ARG_MAX) {
		rc = ids.list == NULL ?
			tw_error_set(err, TW_E_NOT_FOUND, "the selection names no gateway") :
			tw_error_set(err, TW_E_TOO_LARGE, "the batch's gateway list is over %d "
				"bytes: split it into smaller batches", AUTH_CMD_ARG_MAX);
		goto out;
	}
	argv = json_pack("[s,s,s,s,s,s]", "gateway", "initial-config", "--gateways", ids.list,
		"--out", out->value);
	rfiles = json_object();
	if (argv == NULL || rfiles == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (int k = 0; k < args->count; k++) {
		char from[16], to[24];
		const char *data;

		if (strcmp(args->opt[k].name, "--recipient") != 0)
			continue;
		snprintf(from, sizeof(from), "%d", args->opt[k].value_index);
		data = json_string_value(json_object_get(files, from));
		if (data == NULL || args->opt[k].value == NULL) {
			rc = tw_error_set(err, TW_E_INVALID, "--recipient: the certificate was not "
				"sent along");
			goto out;
		}
		json_array_append_new(argv, json_string("--recipient"));
		json_array_append_new(argv, json_string(args->opt[k].value));
		snprintf(to, sizeof(to), "%zu", json_array_size(argv) - 1);
		json_object_set_new(rfiles, to, json_string(data));
	}
	*params = json_pack("{s:O,s:O,s:I}", "argv", argv, "files", rfiles, "fleet_size",
		(json_int_t)count);
	if (*params == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	text = json_dumps(*params, JSON_COMPACT);
	if (text == NULL || strlen(text) > STORE_APPROVAL_PARAMS_MAX) {
		json_decref(*params);
		*params = NULL;
		rc = tw_error_set(err, TW_E_TOO_LARGE, "a batch request holds at most %d bytes of "
			"gateway ids and recipient certificates: split the batch or give fewer "
			"recipients", STORE_APPROVAL_PARAMS_MAX);
	}
out:
	free(text);
	free(sel);
	free(ids.list);
	json_decref(argv);
	json_decref(rfiles);
	return rc;
}

/*
 * `gateway initial-config --fetch ID --out DIR`: the files of a released batch request,
 * for its requester, once, within approval_ttl after the release. The request is
 * claimed (its result becomes "executed: files fetched ...") before the command runs,
 * by an update conditional on the released result, so a second fetch (also through
 * another api process on the same store) finds it claimed. On
 * success *run_argv (the stored argv, *run_argc entries) and *files are the caller's, *a
 * holds the request.
 */
static tw_rc ac_ic_fetch(struct api_commands *ac, const struct auth_principal *p,
	const struct auth_cmd_args *args, int *run_argc, char ***run_argv, json_t **files,
	struct store_approval *a, struct tw_error *err)
{
	const char *v = auth_cmd_args_value(args, "--fetch");
	const struct auth_command *c = NULL;
	struct auth_cmd_args *rargs = NULL;
	json_t *params = NULL;
	char what[64], missing[96];
	long id = 0;
	tw_rc rc;

	*run_argc = 0;
	*run_argv = NULL;
	*files = NULL;
	if (args->count != 2 || auth_cmd_args_get(args, "--out") == NULL)
		return tw_error_set(err, TW_E_INVALID, "--fetch ID takes --out DIR and nothing "
			"else: the request holds the gateways and recipients");
	if ((rc = tw_parse_long(v, 1, 0x7fffffffL, &id, err, "request id")) != TW_OK)
		return rc;
	snprintf(what, sizeof(what), "approval:%ld", id);
	snprintf(missing, sizeof(missing), "there is no initial-config batch request %ld", id);
	{
		struct tw_error ignore;
		bool found = store_approval_get(ac->store, id, a, &ignore) == TW_OK &&
			strcmp(a->action, AC_IC_ACTION) == 0;

		if ((rc = ac_hidden(ac, p, found, found ? a->tenant_id : 0, what, err, missing)) !=
		    TW_OK)
			return rc;
	}
	if (a->requester_id != p->operator_id)
		return ac_deny(ac->store, p, what, err, "only the operator who requested a batch "
			"fetches its files");
	if (strcmp(a->state, "executed") != 0)
		return tw_error_set(err, TW_E_DENIED, "request %ld is %s, not released: it "
			"produces no files%s", id, a->state, strcmp(a->state, "pending") == 0 ?
			" until another operator approves it (torwart approval approve)" : "");
	if (strncmp(a->result, AC_IC_RELEASED, strlen(AC_IC_RELEASED)) != 0)
		return tw_error_set(err, TW_E_EXISTS, "the files of request %ld were fetched "
			"already (%.200s): a batch is handed over once; request a new one", id,
			a->result);
	if (tw_now_ms() > a->decided_ms + (int64_t)ac->settings->approval_ttl_s * 1000) {
		struct tw_error oerr;

		if (auth_approval_outcome(ac->store, p, id, false, "not fetched within the "
		    "approval_ttl after its release: no files were produced", &oerr) != TW_OK)
			tw_err("cannot record the expiry of approval %ld: %s", id, oerr.message);
		return tw_error_set(err, TW_E_DENIED, "request %ld was released more than %ld s "
			"ago and not fetched: it produces no files; request a new one", id,
			ac->settings->approval_ttl_s);
	}
	params = json_loads(a->params, JSON_REJECT_DUPLICATES, NULL);
	if ((rc = ac_argv(json_object_get(params, "argv"), run_argc, run_argv, err)) != TW_OK ||
	    (rc = auth_command_validate(*run_argc, *run_argv, &c, err)) != TW_OK ||
	    (rc = ac_parse(c, *run_argc, *run_argv, &rargs, err)) != TW_OK)
		goto out;
	if (!c->outputs_once || auth_cmd_args_get(rargs, "--out") == NULL) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "request %ld holds no initial-config "
			"batch", id);
		goto out;
	}
	/* The requester may still export these gateways (role, tenant) now. */
	if ((rc = ac_authorise(ac, p, c, rargs, err)) != TW_OK)
		goto out;
	{
		char done[STORE_TEXT_MAX + 1];

		snprintf(done, sizeof(done), "files fetched by %s (the next api.command entry "
			"has the export's outcome)", p->name);
		/* Conditional on the result read above: with several api processes on one
		 * store, only one fetch claims the request. */
		if ((rc = auth_approval_claim(ac->store, p, id, a->result, done, err)) != TW_OK)
			goto out;
	}
	*files = json_incref(json_object_get(params, "files"));
out:
	if (rc != TW_OK) {
		ac_free_argv(*run_argc, *run_argv);
		*run_argc = 0;
		*run_argv = NULL;
	}
	free(rargs);
	json_decref(params);
	return rc;
}

/* The release of a batch: it only unlocks the request for its requester's one fetch. */
static tw_rc ac_ic_release(struct tw_store *store, const struct auth_action_ctx *ctx,
	const json_t *params, char *result, size_t result_size, struct tw_error *err)
{
	const json_t *arr = json_object_get(params, "argv");
	const struct auth_command *c = auth_command_find(
		json_string_value(json_array_get(arr, 0)),
		json_string_value(json_array_get(arr, 1)));

	(void)store;
	if (c == NULL || !c->outputs_once)
		return tw_error_set(err, TW_E_INVALID, "request %lld holds no initial-config "
			"batch", (long long)ctx->request->id);
	snprintf(result, result_size, "%s: %s fetches the files with `torwart gateway "
		"initial-config --fetch %lld --out DIR` within %ld s", AC_IC_RELEASED,
		ctx->request->requester, (long long)ctx->request->id,
		ctx->settings != NULL ? ctx->settings->approval_ttl_s : 0L);
	return TW_OK;
}

/* ---- the endpoint ---- */

tw_rc api_command_parse(const char *data, size_t len, json_t **body, int *argc,
	char ***argv, const struct auth_command **cmd, struct tw_error *err)
{
	json_error_t jerr;
	const char *key;
	json_t *value, *files;
	tw_rc rc;

	*body = NULL;
	*argc = 0;
	*argv = NULL;
	*cmd = NULL;
	if (data == NULL || len == 0 || len > AUTH_CMD_BODY_MAX)
		return tw_error_set(err, len == 0 ? TW_E_INVALID : TW_E_TOO_LARGE, "the request "
			"body must be a JSON object of 1 to %d bytes", AUTH_CMD_BODY_MAX);
	*body = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*body == NULL || !json_is_object(*body)) {
		rc = tw_error_set(err, TW_E_INVALID, "the request body is not a JSON object: %s",
			*body == NULL ? jerr.text : "another JSON value");
		goto fail;
	}
	if ((rc = ac_argv(json_object_get(*body, "argv"), argc, argv, err)) != TW_OK ||
	    (rc = auth_command_validate(*argc, *argv, cmd, err)) != TW_OK)
		goto fail;
	files = json_object_get(*body, "files");
	if (files != NULL && !json_is_object(files)) {
		rc = tw_error_set(err, TW_E_INVALID, "\"files\" must be an object");
		goto fail;
	}
	json_object_foreach(files, key, value) {
		long idx = 0;
		struct tw_error ignore;

		if (!json_is_string(value) ||
		    tw_parse_long(key, 2, *argc - 1, &idx, &ignore, "file index") != TW_OK ||
		    auth_command_file_kind(*cmd, *argc, *argv, (int)idx) != AUTH_CMD_FILE_IN) {
			rc = tw_error_set(err, TW_E_INVALID, "file %.16s does not belong to an input "
				"file option of '%s %s'", key, (*cmd)->command, (*cmd)->sub);
			goto fail;
		}
	}
	if (json_object_get(*body, "why") != NULL &&
	    !json_is_string(json_object_get(*body, "why"))) {
		rc = tw_error_set(err, TW_E_INVALID, "\"why\" must be a string");
		goto fail;
	}
	/* A reason is shown to the approver: one line of text, no escape sequences. */
	if (json_is_string(json_object_get(*body, "why")) &&
	    (strlen(json_string_value(json_object_get(*body, "why"))) !=
	     json_string_length(json_object_get(*body, "why")) ||
	     (rc = auth_text_check(json_string_value(json_object_get(*body, "why")), "why",
	     err)) != TW_OK)) {
		rc = tw_error_set(err, TW_E_INVALID, "\"why\" must be one line of text without "
			"control characters");
		goto fail;
	}
	if (json_object_get(*body, "request_id") != NULL) {
		const char *rid = json_string_value(json_object_get(*body, "request_id"));
		size_t n = rid != NULL ? strlen(rid) : 0;

		/* It names a spool file: no leading dot (hidden file, "." or ".."). */
		if (rid == NULL || n < 8 || n > 64 || rid[0] == '.' ||
		    n != json_string_length(json_object_get(
		    *body, "request_id")) || strspn(rid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
		    "mnopqrstuvwxyz0123456789._-") != n) {
			rc = tw_error_set(err, TW_E_INVALID, "\"request_id\" must be 8 to 64 of "
				"A-Z a-z 0-9 . _ -, not starting with a dot");
			goto fail;
		}
	}
	return TW_OK;
fail:
	ac_free_argv(*argc, *argv);
	*argc = 0;
	*argv = NULL;
	*cmd = NULL;
	json_decref(*body);
	*body = NULL;
	return rc;
}

void api_command_handle(struct api_commands *ac, struct evhttp_request *req,
	const struct auth_principal *p)
{
	const struct auth_command *c = NULL;
	struct auth_cmd_args *args = NULL;
	struct api_cmd_job *j = NULL;
	struct tw_error err;
	json_t *body = NULL, *rec = NULL;
	char **argv = NULL, what[96], *request = NULL, aad[128];
	const char *rid;
	int64_t count = 0;
	int argc = 0, out_from = -1, out_to = -1;
	/* initial-config --fetch: the released request, its stored argv's files */
	bool fetch = false;
	struct store_approval fa;
	json_t *ffiles = NULL;
	tw_rc rc;

	memset(&fa, 0, sizeof(fa));
	if (ac == NULL) {
		rc = tw_error_set(&err, TW_E_UNAVAILABLE, "this api cannot run commands");
		goto fail;
	}
	snprintf(what, sizeof(what), "command:? ?");
	{
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = in != NULL ? evbuffer_get_length(in) : 0;
		const char *data = n > 0 ? (const char *)evbuffer_pullup(in, (ev_ssize_t)n) : NULL;

		if ((rc = api_command_parse(data, n, &body, &argc, &argv, &c, &err)) != TW_OK)
			goto refused;
	}
	snprintf(what, sizeof(what), "command:%.40s %.40s", argv[0], argv[1]);
	/* One reading of argv for everything the api decides (auth/command.h). */
	if ((rc = ac_parse(c, argc, argv, &args, &err)) != TW_OK)
		goto refused;
	if ((rc = ac_authorise(ac, p, c, args, &err)) != TW_OK) {
		if (rc != TW_E_DENIED)
			goto refused;
		goto fail;   /* auth_check logged it */
	}
	/* A retry of a request id: the first answer, never a second run. */
	if ((rid = json_string_value(json_object_get(body, "request_id"))) != NULL) {
		if ((request = ac_request_path(ac, p, rid, aad)) == NULL) {
			rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
			goto fail;
		}
		if (tw_path_exists(request)) {
			const char *state;

			rec = ac_request_read(ac, request, aad);
			state = json_string_value(json_object_get(rec, "state"));
			if (rec == NULL || !json_equal(json_object_get(rec, "argv"),
			    json_object_get(body, "argv"))) {
				rc = tw_error_set(&err, TW_E_EXISTS, "request id %s was used for another "
					"command: use a new one", rid);
				goto refused;
			}
			if (state != NULL && strcmp(state, "done") == 0) {
				ac_audit(ac->store, p, "api.command", what, "replayed", "retry of "
					"request id: the first result, not run again");
				ac_send(req, (int)json_integer_value(json_object_get(rec, "status")),
					json_object_get(rec, "body"));
				goto out;
			}
			rc = tw_error_set(&err, TW_E_EXISTS, "request %s is still running, or the api "
				"stopped while it ran: its outcome is unknown; check (job list, audit) "
				"before you run it again with a new request id", rid);
			goto refused;
		}
		rec = json_pack("{s:s,s:O}", "state", "running", "argv",
			json_object_get(body, "argv"));
		if (rec == NULL || (rc = ac_request_write(ac, request, rec, true, &err)) != TW_OK) {
			if (rec == NULL)
				rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
			free(request);
			request = NULL;   /* not ours (a concurrent retry) or not written */
			goto refused;
		}
	}
	fetch = c->outputs_once && auth_cmd_args_get(args, "--fetch") != NULL;
	if (fetch) {
		int fargc = 0;
		char **fargv = NULL;

		out_to = auth_cmd_args_get(args, "--out") != NULL ?
			auth_cmd_args_get(args, "--out")->value_index : -1;
		if ((rc = ac_ic_fetch(ac, p, args, &fargc, &fargv, &ffiles, &fa, &err)) != TW_OK)
			goto refused;
		free(args);
		args = NULL;
		ac_free_argv(argc, argv);
		argc = fargc;
		argv = fargv;
		if ((rc = ac_parse(c, argc, argv, &args, &err)) != TW_OK)
			goto refused;
		out_from = auth_cmd_args_get(args, "--out")->value_index;
	} else if (c->four_eyes != NULL) {
		count = 1;
		if (((strcmp(c->command, "job") == 0 && strcmp(c->sub, "create") == 0) ||
		     (strcmp(c->command, "gateway") == 0 && (strcmp(c->sub, "renew") == 0 ||
		      strcmp(c->sub, "crl-push") == 0 ||
		      strcmp(c->sub, "initial-config") == 0)) || ac_reput_apply(c, args)) &&
		    (rc = ac_fleet_size(ac, p, args, &count, &err)) != TW_OK)
			goto refused;
		if (auth_four_eyes_required(ac->settings, c->four_eyes, count)) {
			const char *why = json_string_value(json_object_get(body, "why"));
			json_t *params = NULL, *arr = json_array(), *answer;
			int64_t id = 0;

			if (strcmp(c->four_eyes, AC_IC_ACTION) == 0) {
				/* The batch's gateways and recipients are stored; the files
				 * are made when the requester fetches them after the release. */
				json_decref(arr);
				if ((rc = ac_ic_params(ac, p, args, json_object_get(body, "files"),
				    count, &params, &err)) != TW_OK)
					goto refused;
			} else {
				if (json_object_size(json_object_get(body, "files")) > 0) {
					json_decref(arr);
					rc = tw_error_set(&err, TW_E_INVALID, "a four-eyes command "
						"takes no files");
					goto refused;
				}
				for (int i = 0; arr != NULL && i < argc; i++)
					json_array_append_new(arr, json_string(argv[i]));
				/* The approver sees the fleet the order reaches; the run may not
				 * exceed it. */
				params = json_pack("{s:o,s:I}", "argv", arr, "fleet_size",
					(json_int_t)count);
			}
			if (why == NULL || why[0] == '\0') {
				json_decref(params);
				rc = tw_error_set(&err, TW_E_INVALID, "'%s %s' needs a second person's "
					"release (%s): say why with --why TEXT", c->command, c->sub,
					c->four_eyes);
				goto refused;
			}
			rc = auth_approval_request(ac->store, ac->settings, p, p->tenant_id,
				c->four_eyes, params, why, &id, &err);
			json_decref(params);
			if (rc != TW_OK)
				goto refused;
			answer = json_pack("{s:I,s:s,s:s}", "approval", (json_int_t)id, "action",
				c->four_eyes, "message", "stored as a four-eyes request: it runs when "
				"another operator with the approver role approves it");
			ac_request_done(ac, request, json_object_get(body, "argv"), 202, answer,
				false);
			free(request);
			request = NULL;
			ac_send(req, 202, answer);
			json_decref(answer);
			goto out;
		}
	}
	if ((j = ac_job_new(ac, req, c, argc, argv, p)) == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	argv = NULL;   /* the job's now */
	argc = 0;
	if (ac_fleet_bounded(c, args))
		j->fleet_max = count;
	if (fetch) {
		char role[256];

		j->out_from = out_from;
		j->out_to = out_to;
		auth_principal_role_text(p, role, sizeof(role));
		snprintf(j->role, sizeof(j->role), "%s; released by %s (approval %lld)", role,
			fa.decided_by, (long long)fa.id);
	}
	if (request != NULL) {
		snprintf(j->request, sizeof(j->request), "%s", request);
		j->request_argv = json_incref(json_object_get(body, "argv"));
		free(request);
		request = NULL;
	}
	if ((rc = ac_start(j, fetch ? ffiles : json_object_get(body, "files"), &err)) !=
	    TW_OK) {
		ac_job_free(j);
		j = NULL;
		goto refused;
	}
	goto out;
refused:
	ac_audit(ac->store, p, "api.command", what, "refused", err.message);
fail:
	if (request != NULL)
		unlink(request);   /* refused: a retry is decided afresh */
	ac_error(req, rc, &err);
out:
	free(request);
	free(args);
	json_decref(rec);
	json_decref(ffiles);
	ac_free_argv(argc, argv);
	json_decref(body);
}

/* ---- four-eyes commands ---- */

static const char *const ac_actions[] = {
	"ca.key.activate", "ca.key.deactivate", "ca.revoke", "firmware.downgrade",
	"firmware.release", "fleet.order", "policy.change", "rollout.start",
};

bool api_command_is_action(const char *action)
{
	for (size_t i = 0; action != NULL && i < sizeof(ac_actions) / sizeof(ac_actions[0]);
	     i++) {
		if (strcmp(action, ac_actions[i]) == 0)
			return true;
	}
	return false;
}

/*
 * The release itself (inside the approval's transaction): check that the stored
 * command is one of this action. It runs after the commit (api_command_run_approved),
 * because it works on its own store connection.
 */
static tw_rc ac_action_release(struct tw_store *store, const struct auth_action_ctx *ctx,
	const json_t *params, char *result, size_t result_size, struct tw_error *err)
{
	const json_t *arr = json_object_get(params, "argv");
	const char *cmd = json_string_value(json_array_get(arr, 0));
	const char *sub = json_string_value(json_array_get(arr, 1));
	const struct auth_command *c = auth_command_find(cmd, sub);

	(void)store;
	if (c == NULL || c->four_eyes == NULL ||
	    strcmp(c->four_eyes, ctx->request->action) != 0)
		return tw_error_set(err, TW_E_INVALID, "request %lld holds no %s command",
			(long long)ctx->request->id, ctx->request->action);
	snprintf(result, result_size, "released: `%s %s` runs as %s, its outcome is the next "
		"api.command entry", cmd, sub, ctx->request->requester);
	return TW_OK;
}

void api_command_register_actions(void)
{
	struct tw_error err;

	for (size_t i = 0; i < sizeof(ac_actions) / sizeof(ac_actions[0]); i++) {
		if (auth_action_register(ac_actions[i], ac_action_release, &err) != TW_OK)
			tw_err("cannot register the four-eyes action %s: %s", ac_actions[i],
				err.message);
	}
	/* Not in ac_actions: its release runs nothing; the requester fetches (--fetch). */
	if (auth_action_register(AC_IC_ACTION, ac_ic_release, &err) != TW_OK)
		tw_err("cannot register the four-eyes action %s: %s", AC_IC_ACTION, err.message);
}

void api_command_run_approved(struct api_commands *ac, struct evhttp_request *req,
	const struct auth_principal *approver, const struct store_approval *a,
	json_t *approval)
{
	const struct auth_command *c = NULL;
	struct auth_cmd_args *args = NULL;
	struct store_operator op;
	struct auth_principal who;
	struct api_cmd_job *j = NULL;
	struct tw_error err;
	json_t *params = NULL;
	char **argv = NULL, role[256];
	int argc = 0;
	tw_rc rc;

	memset(&op, 0, sizeof(op));
	if (ac == NULL) {
		rc = tw_error_set(&err, TW_E_UNAVAILABLE, "this api cannot run commands");
		goto fail;
	}
	params = json_loads(a->params, JSON_REJECT_DUPLICATES, NULL);
	if ((rc = ac_argv(json_object_get(params, "argv"), &argc, &argv, &err)) != TW_OK ||
	    (rc = auth_command_validate(argc, argv, &c, &err)) != TW_OK ||
	    (rc = ac_parse(c, argc, argv, &args, &err)) != TW_OK)
		goto fail;
	/* The requester must still exist, be enabled and hold the permission now. */
	if (a->requester_id == 0 ||
	    store_operator_get_by_id(ac->store, a->requester_id, &op, &err) != TW_OK ||
	    strcmp(op.status, "enabled") != 0) {
		rc = tw_error_set(&err, TW_E_DENIED, "approved, but the requester %s is no longer "
			"an enabled operator: the command does not run", a->requester);
		goto fail;
	}
	memset(&who, 0, sizeof(who));
	who.operator_id = op.id;
	who.tenant_id = op.tenant_id;
	who.roles = op.roles;
	snprintf(who.name, sizeof(who.name), "%s", op.name);
	snprintf(who.tenant, sizeof(who.tenant), "%s", op.tenant);
	snprintf(who.client, sizeof(who.client), "%s", approver->client);
	if ((rc = ac_authorise(ac, &who, c, args, &err)) != TW_OK)
		goto fail;
	if ((j = ac_job_new(ac, req, c, argc, argv, &who)) == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	argv = NULL;
	/* A released fleet order reaches at most the fleet the approver saw. */
	if (ac_fleet_bounded(c, args))
		j->fleet_max = json_is_integer(json_object_get(params, "fleet_size")) ?
			(int64_t)json_integer_value(json_object_get(params, "fleet_size")) : 1;
	auth_principal_role_text(&who, role, sizeof(role));
	snprintf(j->role, sizeof(j->role), "%s; released by %s (approval %lld)", role,
		approver->name, (long long)a->id);
	j->approval = approval;
	approval = NULL;
	if ((rc = ac_start(j, NULL, &err)) != TW_OK) {
		ac_job_free(j);
		goto fail;
	}
	goto out;
fail:
	{
		char object[48];

		snprintf(object, sizeof(object), "approval:%lld", (long long)a->id);
		ac_audit(ac != NULL ? ac->store : NULL, approver, "api.command", object, "failed",
			err.message);
		/* Released but not run: the approval must not read "executed". */
		if (ac != NULL) {
			struct tw_error oerr;
			struct store_approval now;

			if (auth_approval_outcome(ac->store, approver, a->id, false, err.message,
			    &oerr) != TW_OK)
				tw_err("cannot record the outcome of approval %lld: %s",
					(long long)a->id, oerr.message);
			else if (approval != NULL &&
			    store_approval_get(ac->store, a->id, &now, &oerr) == TW_OK) {
				json_object_set_new(approval, "state", json_string(now.state));
				json_object_set_new(approval, "result", json_string(now.result));
			}
		}
		if (approval != NULL) {
			json_t *body = json_pack("{s:O,s:{s:s,s:s}}", "approval", approval, "error",
				"code", tw_strerror(rc), "message", err.message);

			ac_send(req, ac_status(rc), body);
			json_decref(body);
		} else {
			ac_error(req, rc, &err);
		}
	}
out:
	free(args);
	tw_wipe(&op, sizeof(op));
	json_decref(approval);
	json_decref(params);
	ac_free_argv(argc, argv);
}

tw_rc api_commands_new(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, const struct auth_settings *settings,
	struct api_commands **out, struct tw_error *err)
{
	struct api_commands *ac = calloc(1, sizeof(*ac));
	const char *t = tw_config_get(home->conf, "api", "command_timeout");
	long timeout = AC_DEFAULT_TIMEOUT_S;
	tw_rc rc;

	*out = NULL;
	if (ac == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (t != NULL && (rc = tw_parse_long(t, 1, 86400, &timeout, err,
	    "[api] command_timeout")) != TW_OK)
		goto fail;
	ac->base = base;
	ac->home = home;
	ac->store = store;
	ac->settings = settings;
	ac->timeout_s = timeout;
	if ((ac->spool = tw_home_join(home, "spool/commands")) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	if ((ac->nonces = tw_home_join(home, AUTH_CMD_NONCE_DIR)) == NULL ||
	    (ac->requests = tw_home_join(home, "spool/requests")) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	/* What an api killed mid-command left behind: working directories (sealed keys at
	 * most, see gwa/gateway.h) and unused nonces. Nothing of it is still needed. */
	ac_rmdir(ac->spool);
	ac_rmdir(ac->nonces);
	if ((rc = tw_mkdir_p(ac->spool, 0700, err)) != TW_OK ||
	    (rc = tw_mkdir_p(ac->nonces, 0700, err)) != TW_OK ||
	    (rc = tw_mkdir_p(ac->requests, 0700, err)) != TW_OK ||
	    (rc = secretbox_open(home, &ac->box, err)) != TW_OK)
		goto fail;
	ac_request_purge(ac);
	{
		struct timeval hour = { 3600, 0 };

		if ((ac->purge = event_new(base, -1, EV_PERSIST, ac_on_purge, ac)) == NULL ||
		    event_add(ac->purge, &hour) != 0) {
			rc = tw_error_set(err, TW_E_NOMEM, "cannot schedule the purge of request "
				"records");
			goto fail;
		}
	}
	{
		/* The `torwart` installed (or built) next to this torwartd. */
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *slash;

		if (n <= 0) {
			rc = tw_error_set(err, TW_E_IO, "cannot find this program: %s",
				strerror(errno));
			goto fail;
		}
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL)
			*slash = '\0';
		if ((ac->program = tw_asprintf("%s/torwart", self)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto fail;
		}
		if (access(ac->program, X_OK) != 0) {
			rc = tw_error_set(err, TW_E_CONFIG, "%s is missing: the api runs operator "
				"commands with it (install torwart next to torwartd)", ac->program);
			goto fail;
		}
	}
	api_command_register_actions();
	*out = ac;
	return TW_OK;
fail:
	if (ac->purge != NULL)
		event_free(ac->purge);
	secretbox_free(ac->box);
	free(ac->program);
	free(ac->spool);
	free(ac->nonces);
	free(ac->requests);
	free(ac);
	return rc;
}

void api_commands_free(struct api_commands *ac)
{
	if (ac == NULL)
		return;
	while (ac->running != NULL) {
		struct api_cmd_job *j = ac->running;

		ac->running = j->next;
		kill(j->pid, SIGKILL);
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			;
		ac_job_free(j);
	}
	if (ac->purge != NULL)
		event_free(ac->purge);
	secretbox_free(ac->box);
	free(ac->program);
	free(ac->spool);
	free(ac->nonces);
	free(ac->requests);
	free(ac);
}
