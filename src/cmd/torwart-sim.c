/*
 * torwart-sim: the SMGW simulator's command line. Runs many virtual gateways against a
 * wan (see src/sim/sim.h) and exits 0 only when every session succeeded.
 *
 *   torwart-sim --gwa HOST:PORT --gateways DIR...
 *   torwart-sim --count N --home DIR [--gwa HOST:PORT]
 *   options: --rounds R, --resume, --concurrency C, --quiet, --help
 *   daemon:  --listen-wakeup HOST:PORT, --contact-interval S, --stats FILE
 *   faults:  --fault drop|error|ignore-wakeup|malformed[:PERCENT]
 *
 * Exit codes: 0 all sessions ok (daemon: clean stop), 1 some session failed,
 * 2 usage or set-up error.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/home.h"
#include "base/log.h"
#include "base/util.h"
#include "sim/sim.h"
#include "sim/sim_initial.h"
#include "sim/sim_metering.h"
#include "sim/sim_monitor.h"

#define SIM_MAX_GATEWAYS 1000000L

static void usage(FILE *f)
{
	fputs("usage: torwart-sim --gwa HOST:PORT --gateways DIR... [options]\n"
	      "       torwart-sim --count N --home DIR [--gwa HOST:PORT] [options]\n"
	      "\n"
	      "Simulates Smart Meter Gateways: each opens a mutually authenticated TLS session\n"
	      "(TR-03116-3) to the wan service and opens a WAN protocol v1 session.\n"
	      "\n"
	      "  --gwa HOST:PORT     wan address (default with --home: [wan] listen)\n"
	      "  --gateways DIR...   gateway directories written by `torwart gateway add`\n"
	      "  --home DIR          use the first N directories under DIR/gateways (sorted)\n"
	      "  --count N           number of gateways to use with --home\n"
	      "  --rounds R          sessions per gateway (default 1)\n"
	      "  --resume            resume the TLS session in rounds after the first\n"
	      "  --concurrency C     sessions in flight at once (default 64)\n"
	      "  --quiet             print only the summary line\n"
	      "  --max-orders N      orders executed per visit at most (default 64)\n"
	      "  --help              this text\n"
	      "\n"
	      "Daemon mode (runs until SIGTERM/SIGINT, then prints the summary):\n"
	      "  --listen-wakeup HOST:PORT  receive signed wake-ups (UDP) for all gateways and\n"
	      "                      visit a gateway when a valid one for it arrives\n"
	      "  --contact-interval S  each gateway also contacts the GWA every S seconds\n"
	      "  --window S          accepted wake-up clock difference (default 60)\n"
	      "  --stats FILE        rewrite FILE every second with counters (JSON)\n"
	      "\n"
	      "  --alarm TYPE        report alarm TYPE (e.g. tamper) in every session status\n"
	      "  --bootstrap FILE    with one --gateways DIR: install an initial configuration\n"
	      "                      file (UC-3.3.6) into DIR and exit\n"
	      "\n"
	      "torwart-sim values --help: send CMS metering values for an EMT (docs/metering.md)\n"
	      "\n"
	      "Fault injection (repeatable; PERCENT of occasions, default 100):\n"
	      "  --fault drop[:P]    execute an order, then drop the connection without result\n"
	      "  --fault error[:P]   answer an order with an error instead of executing it\n"
	      "  --fault ignore-wakeup[:P]  ignore a valid wake-up\n"
	      "  --fault malformed[:P]  post a malformed result\n"
	      "  --fault fw-corrupt[:P] damage a downloaded firmware image (detected, fetched again)\n"
	      "  --fault fw-refuse[:P]  refuse a verified firmware image\n"
	      "  --fault fw-reboot[:P]  reboot loop after installing: report the old version\n"
	      "  --fault fw-drop[:P]    drop the connection in the middle of a download\n"
	      "\n"
	      "Gateway state (executed orders, retention, profiles, last wake-up) is kept in\n"
	      "DIR/state.json of each gateway and survives restarts.\n"
	      "\n"
	      "Exit status: 0 every session succeeded (daemon: clean stop), 1 some failed,\n"
	      "2 usage or set-up error.\n",
	      f);
}

/* --fault KIND[:PERCENT] */
static int parse_fault(const char *arg, struct sim_faults *f, struct tw_error *err)
{
	const char *colon = strchr(arg, ':');
	size_t n = colon != NULL ? (size_t)(colon - arg) : strlen(arg);
	long pct = 100;
	unsigned *slot;

	if (n == 4 && strncmp(arg, "drop", 4) == 0)
		slot = &f->drop;
	else if (n == 5 && strncmp(arg, "error", 5) == 0)
		slot = &f->error;
	else if (n == 13 && strncmp(arg, "ignore-wakeup", 13) == 0)
		slot = &f->ignore_wakeup;
	else if (n == 9 && strncmp(arg, "malformed", 9) == 0)
		slot = &f->malformed;
	else if (n == 10 && strncmp(arg, "fw-corrupt", 10) == 0)
		slot = &f->fw_corrupt;
	else if (n == 9 && strncmp(arg, "fw-refuse", 9) == 0)
		slot = &f->fw_refuse;
	else if (n == 9 && strncmp(arg, "fw-reboot", 9) == 0)
		slot = &f->fw_reboot;
	else if (n == 7 && strncmp(arg, "fw-drop", 7) == 0)
		slot = &f->fw_drop;
	else {
		tw_error_set(err, TW_E_INVALID, "--fault %s: use drop, error, ignore-wakeup, "
			"malformed, fw-corrupt, fw-refuse, fw-reboot or fw-drop, optionally :PERCENT",
			arg);
		return -1;
	}
	if (colon != NULL && tw_parse_long(colon + 1, 0, 100, &pct, err, "fault percent") !=
	    TW_OK)
		return -1;
	*slot = (unsigned)pct;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first count gateway directories of home/gateways in sorted order. */
static tw_rc home_gateways(const char *home_dir, long count, char ***dirs_out,
	struct tw_error *err)
{
	struct tw_home *home = NULL;
	char *gwdir = NULL, **names = NULL, **dirs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = NULL;
	tw_rc rc;

	*dirs_out = NULL;
	if ((rc = tw_home_open(home_dir, &home, err)) != TW_OK)
		goto out;
	if ((gwdir = tw_home_join(home, "gateways")) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	d = opendir(gwdir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));
			if (nn == NULL) {
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
				goto out;
			}
			names = nn;
		}
		p = tw_asprintf("%s/%s/id", gwdir, de->d_name);
		if (p == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		/* Only directories that look like gateway material count. */
		if (!tw_path_exists(p)) {
			free(p);
			continue;
		}
		free(p);
		if ((names[n] = tw_strdup(de->d_name)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	if ((long)n < count) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "%s has %zu gateways, %ld requested; add "
			"more with `torwart gateway add --home %s --id SMGW-ID`", gwdir, n, count, home_dir);
		goto out;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	dirs = calloc((size_t)count + 1, sizeof(*dirs));
	if (dirs == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (long i = 0; i < count; i++) {
		if ((dirs[i] = tw_asprintf("%s/%s", gwdir, names[i])) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
	}
	*dirs_out = dirs;
	dirs = NULL;
	rc = TW_OK;
out:
	if (d != NULL)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	for (long i = 0; dirs != NULL && i < count; i++)
		free(dirs[i]);
	free(dirs);
	free(gwdir);
	tw_home_free(home);
	return rc;
}

/* [wan] listen of the home, with a wildcard host replaced by loopback. */
static char *home_wan_address(const char *home_dir, struct tw_error *err)
{
	struct tw_home *home = NULL;
	char *host = NULL, *addr = NULL;
	uint16_t port;

	if (tw_home_open(home_dir, &home, err) != TW_OK)
		return NULL;
	if (tw_parse_hostport(tw_config_get_or(home->conf, "wan", "listen",
	    TW_DEFAULT_WAN_LISTEN), &host, &port, err) == TW_OK) {
		if (strcmp(host, "0.0.0.0") == 0)
			addr = tw_asprintf("127.0.0.1:%u", port);
		else if (strcmp(host, "::") == 0)
			addr = tw_asprintf("[::1]:%u", port);
		else if (strchr(host, ':') != NULL)
			addr = tw_asprintf("[%s]:%u", host, port);
		else
			addr = tw_asprintf("%s:%u", host, port);
	}
	free(host);
	tw_home_free(home);
	return addr;
}

int main(int argc, char **argv)
{
	struct sim_options opt;
	struct sim_result res;
	struct tw_error err;
	const char *home = NULL, *bootstrap = NULL;
	char *gwa = NULL, **home_dirs = NULL;
	long count = 0, v;
	int status = 2, daemon_mode = 0;
	tw_rc rc;

	/* `torwart-sim values ...`: metering messages (sim_metering.c). */
	if (argc > 1 && strcmp(argv[1], "values") == 0)
		return sim_metering_main(argc - 1, argv + 1);

	tw_log_init("sim", TW_LOG_WARN);
	memset(&opt, 0, sizeof(opt));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--quiet") == 0) {
			opt.quiet = 1;
		} else if (strcmp(a, "--resume") == 0) {
			opt.resume = 1;
		} else if (has_val && strcmp(a, "--bootstrap") == 0) {   /* sim_initial.c */
			bootstrap = argv[++i];
		} else if (has_val && strcmp(a, "--alarm") == 0) {   /* sim_monitor.c */
			sim_monitor_set_alarm(argv[++i], "major");
		} else if (has_val && strcmp(a, "--fault") == 0) {
			if (parse_fault(argv[++i], &opt.faults, &err) != 0) {
				fprintf(stderr, "torwart-sim: %s\n", err.message);
				goto out;
			}
		} else if (has_val && strcmp(a, "--listen-wakeup") == 0) {
			opt.listen_wakeup = argv[++i];
			daemon_mode = 1;
		} else if (has_val && strcmp(a, "--stats") == 0) {
			opt.stats_file = argv[++i];
		} else if (has_val && (strcmp(a, "--contact-interval") == 0 ||
		    strcmp(a, "--window") == 0 || strcmp(a, "--max-orders") == 0)) {
			if (tw_parse_long(argv[++i], 1, 86400L * 365, &v, &err, a + 2) != TW_OK) {
				fprintf(stderr, "torwart-sim: %s\n", err.message);
				goto out;
			}
			if (strcmp(a, "--contact-interval") == 0) {
				opt.contact_interval_s = (unsigned)v;
				daemon_mode = 1;
			} else if (strcmp(a, "--window") == 0) {
				opt.wakeup_window_s = (unsigned)v;
			} else {
				opt.max_orders = (unsigned)v;
			}
		} else if (strcmp(a, "--gateways") == 0) {
			opt.gateway_dirs = &argv[i + 1];
			while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
				opt.gateway_count++;
				i++;
			}
		} else if (has_val && strcmp(a, "--gwa") == 0) {
			free(gwa);
			gwa = tw_strdup(argv[++i]);
		} else if (has_val && strcmp(a, "--home") == 0) {
			home = argv[++i];
		} else if (has_val && (strcmp(a, "--count") == 0 || strcmp(a, "--rounds") == 0 ||
		    strcmp(a, "--concurrency") == 0)) {
			if (tw_parse_long(argv[++i], 1, strcmp(a, "--count") == 0 ? SIM_MAX_GATEWAYS :
			    1000000L, &v, &err, a + 2) != TW_OK) {
				fprintf(stderr, "torwart-sim: %s\n", err.message);
				goto out;
			}
			if (strcmp(a, "--count") == 0)
				count = v;
			else if (strcmp(a, "--rounds") == 0)
				opt.rounds = (unsigned)v;
			else
				opt.concurrency = (unsigned)v;
		} else {
			fprintf(stderr, "torwart-sim: unknown or incomplete option %s\n", a);
			usage(stderr);
			goto out;
		}
	}
	if (bootstrap != NULL) {
		char *wan = NULL;

		if (opt.gateway_count != 1) {
			fputs("torwart-sim: --bootstrap FILE needs exactly one --gateways DIR\n", stderr);
			goto out;
		}
		if (sim_initial_bootstrap(opt.gateway_dirs[0], bootstrap, &wan, &err) != TW_OK) {
			fprintf(stderr, "torwart-sim: bootstrap refused: %s\n", err.message);
			status = 1;
			goto out;
		}
		printf("sim: %s bootstrapped; GWA at %s\n", opt.gateway_dirs[0], wan);
		free(wan);
		status = 0;
		goto out;
	}
	if (home != NULL) {
		if (opt.gateway_count > 0 || count == 0) {
			fputs("torwart-sim: use --home with --count N (and without --gateways)\n", stderr);
			goto out;
		}
		if (home_gateways(home, count, &home_dirs, &err) != TW_OK) {
			fprintf(stderr, "torwart-sim: %s\n", err.message);
			goto out;
		}
		opt.gateway_dirs = home_dirs;
		opt.gateway_count = (size_t)count;
		if (gwa == NULL && (gwa = home_wan_address(home, &err)) == NULL) {
			fprintf(stderr, "torwart-sim: %s\n", err.message);
			goto out;
		}
	} else if (opt.gateway_count == 0 || gwa == NULL) {
		fputs("torwart-sim: give --gwa HOST:PORT --gateways DIR... or --count N --home DIR\n",
			stderr);
		usage(stderr);
		goto out;
	}
	opt.gwa_address = gwa;

	if (daemon_mode) {
		tw_log_init("sim", TW_LOG_INFO);
		rc = sim_daemon(&opt, &res, &err);
		printf("sim: %zu gateways, %zu sessions ok, %zu failed, %zu resumed, orders %zu ok "
			"%zu failed %zu repeated, wake-ups %zu accepted %zu rejected %zu ignored, peak "
			"%zu connections, %.2f s\n", opt.gateway_count, res.sessions_ok,
			res.sessions_failed, res.resumed, res.orders_ok, res.orders_failed,
			res.orders_repeated, res.wakeups_accepted, res.wakeups_rejected,
			res.wakeups_ignored, res.peak_in_flight, res.seconds);
		if (rc != TW_OK) {
			fprintf(stderr, "torwart-sim: %s\n", err.message);
			goto out;
		}
		status = 0;
		goto out;
	}
	rc = sim_run(&opt, &res, &err);
	printf("sim: %zu gateways, %zu sessions ok, %zu failed, %zu resumed, %.2f s\n",
		opt.gateway_count, res.sessions_ok, res.sessions_failed, res.resumed, res.seconds);
	if (res.orders_ok + res.orders_failed + res.orders_repeated > 0)
		printf("sim: orders %zu ok, %zu failed, %zu repeated\n", res.orders_ok,
			res.orders_failed, res.orders_repeated);
	if (rc != TW_OK && res.sessions_ok + res.sessions_failed == 0) {
		fprintf(stderr, "torwart-sim: %s\n", err.message);
		goto out;
	}
	status = rc == TW_OK ? 0 : 1;
out:
	for (long i = 0; home_dirs != NULL && i < count; i++)
		free(home_dirs[i]);
	free(home_dirs);
	free(gwa);
	return status;
}
