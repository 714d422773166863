/*
 * bev_coalesce.c: small messages of a TLS bufferevent in one chain (bev_coalesce.h).
 */
#include "net/bev_coalesce.h"

#include <event2/buffer.h>

static void bev_coalesce_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
	void *arg)
{
	size_t len;

	(void)arg;
	if (info->n_added == 0)
		return;
	len = evbuffer_get_length(buf);
	/* evbuffer_peek with no vectors: how many chains hold the first len bytes. */
	if (len == 0 || len > BEV_COALESCE_MAX || evbuffer_peek(buf, -1, NULL, NULL, 0) < 2)
		return;
	/* The same bytes in the same order; the length does not change, so no callback runs
	 * again and the bufferevent's own one (a write event) is unaffected. */
	(void)evbuffer_pullup(buf, -1);
}

bool bev_coalesce_writes(struct bufferevent *bev)
{
	return bev != NULL &&
		evbuffer_add_cb(bufferevent_get_output(bev), bev_coalesce_cb, NULL) != NULL;
}
