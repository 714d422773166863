/*
 * gwa_rotation.c: the rotation state machine (gwa_rotation.h).
 */
#include "gwa/gwa_rotation.h"

#include <string.h>

static bool set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static bool same(const char *a, const char *b)
{
	return set(a) && set(b) && strcmp(a, b) == 0;
}

enum gwa_rot_step gwa_rot_next(const struct gwa_rot_facts *f)
{
	if (set(f->next)) {
		/* Installed first, then the signer's switch (gwa_renew_key.c says why). */
		if (same(f->installed, f->next))
			return GWA_ROT_COMMIT;
		if (!same(f->installed, f->current))
			return GWA_ROT_BROKEN;
		return same(f->staged, f->next) ? GWA_ROT_INSTALL : GWA_ROT_ISSUE;
	}
	if (!same(f->installed, f->current))
		return GWA_ROT_BROKEN;
	/* A key kept from the last switch: its grace period has to end first. */
	if (set(f->prev) && !same(f->prev, f->current))
		return GWA_ROT_BLOCKED;
	return GWA_ROT_PREPARE;
}

const char *gwa_rot_step_name(enum gwa_rot_step s)
{
	switch (s) {
	case GWA_ROT_PREPARE: return "prepare";
	case GWA_ROT_ISSUE: return "issue";
	case GWA_ROT_INSTALL: return "install";
	case GWA_ROT_COMMIT: return "commit";
	case GWA_ROT_BLOCKED: return "blocked";
	case GWA_ROT_BROKEN: return "broken";
	}
	return "?";
}
