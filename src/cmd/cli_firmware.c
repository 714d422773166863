/*
 * cli_firmware.c: `torwart firmware ...`: the firmware catalogue (docs/firmware.md).
 * Thin adapter over src/gwa/firmware.h; every change and every refusal is in the admin
 * log (firmware.add, firmware.release, firmware.downgrade, firmware.withdraw,
 * firmware.list.import, firmware.check).
 *
 * Exit status: 0 ok, 1 failure or refusal (one line says why), 2 usage,
 * 3 `show`: the stored file no longer matches its recorded SHA-256.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "gwa/firmware.h"

#define CLI_FW_CHANGED 3

struct fw_opts {
	const char *home, *file, *model, *version, *id, *reason, *signature, *receipt;
};

static const char fw_usage[] =
	"usage: torwart firmware add --home DIR --file IMG --signature CMS [--model M]\n"
	"                            [--version V] [--receipt FILE]\n"
	"       torwart firmware list --home DIR\n"
	"       torwart firmware show --home DIR --id N\n"
	"       torwart firmware release|downgrade --home DIR --id N\n"
	"       torwart firmware withdraw --home DIR --id N [--reason TEXT]\n"
	"       torwart firmware import-list --home DIR --file LIST.cms\n"
	"       torwart firmware certified --home DIR\n"
	"       torwart firmware check --home DIR";

static int fw_parse(int argc, char **argv, struct fw_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' }, { "file", required_argument, NULL, 'f' },
		{ "model", required_argument, NULL, 'm' },
		{ "version", required_argument, NULL, 'v' }, { "id", required_argument, NULL, 'i' },
		{ "reason", required_argument, NULL, 'R' },
		{ "signature", required_argument, NULL, 's' },
		{ "receipt", required_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'f': o->file = optarg; break;
		case 'm': o->model = optarg; break;
		case 'v': o->version = optarg; break;
		case 'i': o->id = optarg; break;
		case 'R': o->reason = optarg; break;
		case 's': o->signature = optarg; break;
		case 'r': o->receipt = optarg; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static int print_row(const struct store_firmware *f, void *arg)
{
	char when[40];

	(*(size_t *)arg)++;
	tw_time_format_utc(f->uploaded_ms, when, sizeof(when));
	printf("%-5lld %-9s %-24s %-16s %10lld %-10s %.16s  %s\n", (long long)f->id, f->state,
		f->model, f->version, (long long)f->size, f->signature, f->sha256, when);
	return 0;
}

static void print_one(const struct store_firmware *f)
{
	char when[40];

	printf("id:         %lld\nmodel:      %s\nversion:    %s\nstate:      %s\n"
		"size:       %lld\nsha256:     %s\nsignature:  %s\nfile:       %s\n",
		(long long)f->id, f->model, f->version, f->state, (long long)f->size, f->sha256,
		f->signature, f->path);
	tw_time_format_utc(f->uploaded_ms, when, sizeof(when));
	printf("uploaded:   %s by %s\n", when, f->uploaded_by);
	if (f->released_ms > 0) {
		tw_time_format_utc(f->released_ms, when, sizeof(when));
		printf("released:   %s by %s\n", when, f->released_by);
	}
	if (f->withdrawn_ms > 0) {
		tw_time_format_utc(f->withdrawn_ms, when, sizeof(when));
		printf("withdrawn:  %s by %s\n", when, f->withdrawn_by);
	}
}

/*
 * The answer to the manufacturer (UC-3.3.1): a JSON receipt, "accepted" with what was
 * stored or "refused" with the verdict (docs/firmware.md "Receipt").
 */
static void fw_write_receipt(const char *path, enum fw_verdict verdict,
	const struct store_firmware *f, const char *message)
{
	json_t *r = json_object();
	char when[40];

	tw_time_format_utc(tw_now_ms(), when, sizeof(when));
	if (r == NULL)
		return;
	json_object_set_new(r, "format", json_string("torwart-firmware-receipt/1"));
	json_object_set_new(r, "time", json_string(when));
	if (verdict == FW_OK) {
		json_object_set_new(r, "result", json_string("accepted"));
		json_object_set_new(r, "image", json_integer(f->id));
		json_object_set_new(r, "model", json_string(f->model));
		json_object_set_new(r, "version", json_string(f->version));
		json_object_set_new(r, "size", json_integer(f->size));
		json_object_set_new(r, "sha256", json_string(f->sha256));
	} else {
		json_object_set_new(r, "result", json_string("refused"));
		json_object_set_new(r, "error", json_string(fw_verdict_name(verdict)));
		json_object_set_new(r, "message", json_string(message));
	}
	if (json_dump_file(r, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
		fprintf(stderr, "torwart: cannot write the receipt %s\n", path);
	json_decref(r);
}

static int print_entry(const char *model, const char *version, void *arg)
{
	(*(size_t *)arg)++;
	printf("%-32s %s\n", model, version);
	return 0;
}

static tw_rc fw_id(const struct fw_opts *o, int64_t *id, struct tw_error *err)
{
	long v = 0;
	tw_rc rc = tw_parse_long(o->id, 1, LONG_MAX, &v, err, "firmware id");

	*id = v;
	return rc;
}

int cli_firmware(const char *sub, int argc, char **argv)
{
	struct fw_opts o;
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct store_firmware f;
	struct firmware_actor who = { .actor = cli_actor(), .role = cli_role,
		.client = cli_client() };
	size_t count = 0;
	int64_t id = 0;
	int ret = 1;

	tw_error_clear(&err);
	if (sub == NULL || fw_parse(argc, argv, &o) != 0)
		return cli_usage_error(fw_usage);
	if (o.home == NULL)
		return cli_usage_error("torwart firmware needs --home DIR");
	if (strcmp(sub, "add") == 0 && (o.file == NULL || o.signature == NULL))
		return cli_usage_error("firmware add needs --file IMG and --signature CMS (the "
			"manufacturer's signed manifest, docs/firmware.md)");
	if (strcmp(sub, "import-list") == 0 && o.file == NULL)
		return cli_usage_error("firmware import-list needs --file LIST.cms");
	if ((strcmp(sub, "show") == 0 || strcmp(sub, "release") == 0 ||
	     strcmp(sub, "downgrade") == 0 || strcmp(sub, "withdraw") == 0) && o.id == NULL)
		return cli_usage_error("firmware show/release/downgrade/withdraw need --id N");
	if (o.id != NULL && fw_id(&o, &id, &err) != TW_OK)
		return cli_usage_error(err.message);
	if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK) {
		ret = cli_fail("firmware", &err);
		goto out;
	}
	if (strcmp(sub, "add") == 0) {
		enum fw_verdict verdict = FW_REFUSED;

		if (firmware_add_signed(home, store, &who, o.file, o.signature, o.model,
		    o.version, &f, &verdict, &err) != TW_OK) {
			if (verdict == FW_OK)
				verdict = FW_REFUSED;
			if (o.receipt != NULL)
				fw_write_receipt(o.receipt, verdict, NULL, err.message);
			fprintf(stderr, "torwart: refused (%s)\n", fw_verdict_name(verdict));
			ret = cli_fail("firmware add", &err);
		} else {
			if (o.receipt != NULL)
				fw_write_receipt(o.receipt, FW_OK, &f, NULL);
			printf("torwart: firmware image %lld: %s %s, %lld bytes, SHA-256 %s, signature "
				"verified (uploaded; release with `torwart firmware release --id %lld`)\n",
				(long long)f.id, f.model, f.version, (long long)f.size, f.sha256,
				(long long)f.id);
			ret = 0;
		}
	} else if (strcmp(sub, "list") == 0) {
		printf("%-5s %-9s %-24s %-16s %10s %-10s %-16s  %s\n", "ID", "STATE", "MODEL",
			"VERSION", "SIZE", "SIGNATURE", "SHA-256", "UPLOADED (UTC)");
		if (store_firmware_foreach(store, print_row, &count, &err) != TW_OK)
			ret = cli_fail("firmware list", &err);
		else {
			printf("%zu image%s\n", count, count == 1 ? "" : "s");
			ret = 0;
		}
	} else if (strcmp(sub, "show") == 0) {
		if (store_firmware_get(store, id, &f, &err) != TW_OK) {
			ret = cli_fail("firmware show", &err);
			goto out;
		}
		print_one(&f);
		{
			struct store_firmware_sig sig;
			bool found = false;
			bool certified = false;

			if (store_firmware_sig_get(store, f.id, &sig, &found, &err) == TW_OK && found) {
				char when[40];

				printf("signer:     %s (serial %s)\nissuer:     %s\n", sig.signer,
					sig.signer_serial, sig.signer_issuer);
				if (sig.checked_ms > 0) {
					tw_time_format_utc(sig.checked_ms, when, sizeof(when));
					printf("checked:    %s: %s\n", when, sig.check_result);
				}
			}
			if (store_firmware_certified(store, f.model, f.version, &certified, &err) ==
			    TW_OK)
				printf("certified:  %s\n", certified ? "yes (on the current list)" :
					"no (not on the current certified list)");
			tw_error_clear(&err);
		}
		/* T-SU.1: show whether the bytes at rest are still the recorded ones. */
		if (firmware_verify_file(home, &f, &err) == TW_OK) {
			printf("integrity:  ok (file re-hashed, matches)\n");
			ret = 0;
		} else {
			printf("integrity:  FAILED: %s\n", err.message);
			ret = CLI_FW_CHANGED;
		}
	} else if (strcmp(sub, "release") == 0) {
		if (firmware_release(home, store, &who, id, &f, &err) != TW_OK)
			ret = cli_fail("firmware release", &err);
		else {
			printf("torwart: firmware image %lld (%s %s) released; signature %s\n",
				(long long)f.id, f.model, f.version, f.signature);
			ret = 0;
		}
	} else if (strcmp(sub, "downgrade") == 0) {
		if (firmware_downgrade(home, store, &who, id, &f, &err) != TW_OK)
			ret = cli_fail("firmware downgrade", &err);
		else {
			printf("torwart: firmware image %lld (%s %s) released as an approved "
				"downgrade\n", (long long)f.id, f.model, f.version);
			ret = 0;
		}
	} else if (strcmp(sub, "import-list") == 0) {
		struct store_firmware_list l;

		if (firmware_import_list(home, store, &who, o.file, &l, &err) != TW_OK)
			ret = cli_fail("firmware import-list", &err);
		else {
			printf("torwart: certified firmware list %lld (issued %s, %lld entries) is "
				"current\n", (long long)l.sequence, l.issued, (long long)l.entries);
			ret = 0;
		}
	} else if (strcmp(sub, "certified") == 0) {
		struct store_firmware_list l;
		bool found = false;

		if (store_firmware_list_current(store, &l, &found, &err) != TW_OK) {
			ret = cli_fail("firmware certified", &err);
			goto out;
		}
		if (!found) {
			printf("no certified firmware list imported (torwart firmware import-list)\n");
			ret = 0;
			goto out;
		}
		printf("list %lld issued %s, signed by %s\n", (long long)l.sequence, l.issued,
			l.signer);
		if (store_firmware_list_foreach(store, print_entry, &count, &err) != TW_OK)
			ret = cli_fail("firmware certified", &err);
		else {
			printf("%zu certified version%s\n", count, count == 1 ? "" : "s");
			ret = 0;
		}
	} else if (strcmp(sub, "check") == 0) {
		int checked = 0, failed = 0;

		if (firmware_check_all(home, store, &who, &checked, &failed, &err) != TW_OK)
			ret = cli_fail("firmware check", &err);
		else {
			printf("torwart: %d image%s checked, %d failed%s\n", checked,
				checked == 1 ? "" : "s", failed, failed > 0 ?
				" (see the admin log, firmware.check; an alert was raised)" : "");
			ret = failed > 0 ? CLI_FW_CHANGED : 0;
		}
	} else if (strcmp(sub, "withdraw") == 0) {
		if (firmware_withdraw(home, store, &who, id, o.reason, &f, &err) != TW_OK)
			ret = cli_fail("firmware withdraw", &err);
		else {
			printf("torwart: firmware image %lld (%s %s) withdrawn\n", (long long)f.id,
				f.model, f.version);
			ret = 0;
		}
	} else {
		ret = cli_usage_error(fw_usage);
	}
out:
	store_close(store);
	tw_home_free(home);
	return ret;
}
