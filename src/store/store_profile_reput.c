/*
 * store_profile_reput.c: queries of the profile re-put (store_profile_reput.h).
 */
#include "store/store_profile_reput.h"

#include "store/db.h"

static const char SQL_EMT_TLS[] = "SELECT c.fingerprint FROM certificates c "
	"JOIN ca_participants p ON p.name = c.owner_id AND p.role = 'emt' "
	"WHERE c.owner_kind = 'emt' AND c.usage = 'TLS' AND c.status = 'valid' "
	"AND p.market_partner_id = ?1 ORDER BY c.not_before DESC, c.id DESC LIMIT 1";

tw_rc store_emt_tls_current(struct tw_store *store, const char *mpid, char fp[65],
	bool *found, struct tw_error *err)
{
	struct db *d = store_db(store, err);

	*found = false;
	fp[0] = '\0';
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	return db_text(d, SQL_EMT_TLS, fp, 65, "certificate fingerprint", found,
		"reading an EMT's current TLS certificate", err, "t", mpid);
}
