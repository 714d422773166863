/* home.c: locate a home directory and resolve the paths its configuration names. */
#include "base/home.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"

void tw_home_free(struct tw_home *home)
{
	if (home == NULL)
		return;
	free(home->dir);
	tw_config_free(home->conf);
	free(home);
}

tw_rc tw_home_open(const char *dir, struct tw_home **out, struct tw_error *err)
{
	struct tw_home *home = NULL;
	char resolved[PATH_MAX];
	char *conf_path = NULL;
	tw_rc rc;

	*out = NULL;
	if (dir == NULL || *dir == '\0')
		return tw_error_set(err, TW_E_INVALID, "no home directory given; use --home DIR");
	if (realpath(dir, resolved) == NULL)
		return tw_error_set(err, TW_E_NOT_FOUND,
			"home %s does not exist; create it with `torwart init --home %s`", dir, dir);
	home = calloc(1, sizeof(*home));
	if (home == NULL || (home->dir = tw_strdup(resolved)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	conf_path = tw_home_join(home, "torwart.conf");
	if (conf_path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	rc = tw_config_load(conf_path, &home->conf, err);
	if (rc == TW_E_NOT_FOUND)
		tw_error_set(err, rc, "%s is not a Torwart home (no torwart.conf); "
			"create one with `torwart init --home %s`", dir, dir);
	if (rc != TW_OK)
		goto out;
	*out = home;
	home = NULL;
out:
	free(conf_path);
	tw_home_free(home);
	return rc;
}

char *tw_home_join(const struct tw_home *home, const char *rel)
{
	if (rel[0] == '/')
		return tw_strdup(rel);
	return tw_asprintf("%s/%s", home->dir, rel);
}

char *tw_home_path(const struct tw_home *home, const char *section, const char *key,
	const char *def)
{
	const char *v = tw_config_get_or(home->conf, section, key, def);

	return v != NULL ? tw_home_join(home, v) : NULL;
}

/* ---- store URL (issue 10) ---- */

char *tw_home_store_url(const struct tw_home *home)
{
	const char *url = tw_config_get_or(home->conf, "store", "url", TW_DEFAULT_STORE);
	const char *svc = getenv("TORWART_STORE_SERVICE"), *own;
	const char *path = url;
	char *abs, *out, key[40];

	/*
	 * A service may log in with a database role of its own (src/store/roles.pg.sql,
	 * docs/security.md "Database roles"): [store] url_wan, url_api, url_worker. The key is
	 * the process's log ident; the commands the api runs for remote operators inherit the
	 * api's (TORWART_STORE_SERVICE=api, set by the api). Such a role has less than the
	 * owner's [store] url, so an environment choosing it can only lose privileges.
	 */
	snprintf(key, sizeof(key), "url_%s", svc != NULL && *svc != '\0' ? svc : tw_log_ident());
	if ((own = tw_config_get_or(home->conf, "store", key, NULL)) != NULL && *own != '\0')
		url = own;

	if (strstr(url, "://") != NULL)
		return tw_strdup(url);
	if (strncmp(url, "sqlite:", 7) == 0) {
		path = url + 7;
		if (*path == '\0')
			return tw_strdup(url);
	}
	if ((abs = tw_home_join(home, path)) == NULL)
		return NULL;
	out = tw_asprintf("sqlite:%s", abs);
	free(abs);
	return out;
}
