/*
 * ca_reqdir.c: which entries of a directory `torwart ca issue --request-dir` issues, in
 * which order, and what it says about the others (the rules: ca.h, ca_reqdir_list).
 * Reads names and lstat data only; the request files are read by ca_issue_files, one at
 * a time, when their turn comes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/command.h"
#include "pki/ca.h"

/* An escaped name: a byte becomes at most "\xNN" (255 bytes of name, so 4 * 255). */
#define CA_REQDIR_SHOWN_MAX 1100

static int ca_reqdir_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ca_reqdir_note_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ca_reqdir_note *)a)->name,
		((const struct ca_reqdir_note *)b)->name);
}

static bool ca_reqdir_is_der(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && memcmp(name + n - 4, ".der", 4) == 0;
}

/* Count the entry and keep its note while there is room. */
static tw_rc ca_reqdir_note(struct ca_reqdir *d, size_t *cap, enum ca_reqdir_kind kind,
	const char *name, const char *why, struct tw_error *err)
{
	char shown[CA_REQDIR_SHOWN_MAX];
	struct ca_reqdir_note *nn;

	if (kind == CA_REQDIR_REFUSED)
		d->refused++;
	else
		d->skipped++;
	if (d->nnotes >= CA_REQDIR_NOTES_MAX)
		return TW_OK;
	if (d->nnotes == *cap) {
		size_t c = *cap != 0 ? 2 * *cap : 16;

		if ((nn = realloc(d->notes, c * sizeof(*nn))) == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory listing the directory");
		d->notes = nn;
		*cap = c;
	}
	auth_text_escape(name, shown, sizeof(shown));
	if ((d->notes[d->nnotes].name = strdup(shown)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory listing the directory");
	d->notes[d->nnotes].kind = kind;
	d->notes[d->nnotes].why = why;
	d->nnotes++;
	return TW_OK;
}

static tw_rc ca_reqdir_add(struct ca_reqdir *d, size_t *cap, const char *dir,
	const char *name, struct tw_error *err)
{
	size_t len = strlen(dir) + 1 + strlen(name) + 1;
	char **nf, *path;

	if (d->n == *cap) {
		size_t c = *cap != 0 ? 2 * *cap : 64;

		if ((nf = realloc(d->files, c * sizeof(*nf))) == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory listing the directory");
		d->files = nf;
		*cap = c;
	}
	if ((path = malloc(len)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory listing the directory");
	snprintf(path, len, "%s/%s", dir, name);
	d->files[d->n++] = path;
	return TW_OK;
}

tw_rc ca_reqdir_list(const char *dir, size_t max, struct ca_reqdir *out,
	struct tw_error *err)
{
	char shown_dir[CA_REQDIR_SHOWN_MAX];
	size_t fcap = 0, ncap = 0, der = 0;
	DIR *dp = NULL;
	tw_rc rc = TW_OK;

	memset(out, 0, sizeof(*out));
	if (dir == NULL || dir[0] == '\0')
		return tw_error_set(err, TW_E_INVALID, "--request-dir needs a directory");
	auth_text_escape(dir, shown_dir, sizeof(shown_dir));
	if ((dp = opendir(dir)) == NULL) {
		int e = errno;

		rc = tw_error_set(err, e == ENOENT ? TW_E_NOT_FOUND : e == ENOTDIR ? TW_E_INVALID :
			TW_E_IO, "cannot open the request directory %s: %s", shown_dir, strerror(e));
		goto out;
	}
	for (;;) {
		struct dirent *de;
		struct stat st;
		const char *name;
		struct tw_error text_err;

		errno = 0;
		if ((de = readdir(dp)) == NULL) {
			if (errno != 0)
				rc = tw_error_set(err, TW_E_IO, "cannot read the request directory %s: %s",
					shown_dir, strerror(errno));
			break;
		}
		name = de->d_name;
		if (name[0] == '.')
			continue;   /* hidden, "." and ".." */
		if (fstatat(dirfd(dp), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			/* Gone since readdir (or unreadable): nothing to issue, say so. */
			rc = ca_reqdir_note(out, &ncap, ca_reqdir_is_der(name) ?
				CA_REQDIR_REFUSED : CA_REQDIR_SKIPPED, name, "cannot be examined (lstat "
				"failed); not read", err);
			if (rc != TW_OK)
				break;
			continue;
		}
		if (!ca_reqdir_is_der(name)) {
			rc = ca_reqdir_note(out, &ncap, CA_REQDIR_SKIPPED, name,
				S_ISDIR(st.st_mode) ? "a directory (not searched)" :
				S_ISLNK(st.st_mode) ? "a symbolic link (not followed)" :
				"not named *.der", err);
			if (rc != TW_OK)
				break;
			continue;
		}
		if (++der > max) {
			rc = tw_error_set(err, TW_E_TOO_LARGE, "%s holds more than %zu request files "
				"(*.der); nothing was issued: move some of them to another directory and "
				"issue each directory with its own command", shown_dir, max);
			break;
		}
		if (auth_text_check(name, "file name", &text_err) != TW_OK)
			rc = ca_reqdir_note(out, &ncap, CA_REQDIR_REFUSED, name, "its name holds "
				"control characters or invalid UTF-8 (shown escaped); not read: rename it",
				err);
		else if (S_ISLNK(st.st_mode))
			rc = ca_reqdir_note(out, &ncap, CA_REQDIR_REFUSED, name, "a symbolic link; "
				"not followed: copy the request into the directory", err);
		else if (!S_ISREG(st.st_mode))
			rc = ca_reqdir_note(out, &ncap, CA_REQDIR_REFUSED, name, "not a regular file "
				"(a directory, fifo, socket or device); not read", err);
		else
			rc = ca_reqdir_add(out, &fcap, dir, name, err);
		if (rc != TW_OK)
			break;
	}
	if (rc != TW_OK)
		goto out;
	/* Same prefix: the byte order of the paths is the byte order of the names. */
	if (out->n > 1)
		qsort(out->files, out->n, sizeof(*out->files), ca_reqdir_cmp);
	if (out->nnotes > 1)
		qsort(out->notes, out->nnotes, sizeof(*out->notes), ca_reqdir_note_cmp);
	if (out->n == 0 && out->refused == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "%s holds no request file (a regular file "
			"named *.der; names starting with '.' are ignored)%s", shown_dir,
			out->skipped > 0 ? "; its other entries are listed above" : "");
out:
	if (dp != NULL)
		closedir(dp);
	return rc;
}

void ca_reqdir_free(struct ca_reqdir *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->files[i]);
	for (size_t i = 0; i < d->nnotes; i++)
		free(d->notes[i].name);
	free(d->files);
	free(d->notes);
	memset(d, 0, sizeof(*d));
}
