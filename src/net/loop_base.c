/*
 * loop_base.c: event bases with the epoll change list (loop_base.h).
 */
#include "net/loop_base.h"

struct event_base *loop_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (cfg != NULL) {
		if (event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
			base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	}
	return base != NULL ? base : event_base_new();
}
