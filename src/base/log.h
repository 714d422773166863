/*
 * log.h: operational logging to stderr (and so to the supervisor / journald).
 *
 * This is the diagnostic log, not the admin log: the tamper-evident record of who did
 * what lives in audit/. Never pass secrets to these functions.
 */
#ifndef TORWART_BASE_LOG_H
#define TORWART_BASE_LOG_H

enum tw_log_level { TW_LOG_DEBUG = 0, TW_LOG_INFO, TW_LOG_WARN, TW_LOG_ERROR };

/* ident names the process ("wan", "signer", ...); copied. Thread-safe afterwards. */
void tw_log_init(const char *ident, enum tw_log_level min_level);
/* The process's ident ("torwart" before tw_log_init); static, for labels like a database
 * connection's application_name. */
const char *tw_log_ident(void);
/* Parse "debug|info|warn|error"; returns -1 for anything else. */
int tw_log_level_parse(const char *name);
void tw_log(enum tw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tw_debug(...) tw_log(TW_LOG_DEBUG, __VA_ARGS__)
#define tw_info(...)  tw_log(TW_LOG_INFO, __VA_ARGS__)
#define tw_warn(...)  tw_log(TW_LOG_WARN, __VA_ARGS__)
#define tw_err(...)   tw_log(TW_LOG_ERROR, __VA_ARGS__)

#endif
