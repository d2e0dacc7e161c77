/* log.h - structured logs: one JSON object per line on stderr.
 * Never pass credentials, tokens or card numbers. */
#ifndef SOUK_LOG_H
#define SOUK_LOG_H

#include <jansson.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
int log_parse_level(const char *s, enum log_level *out); /* "debug".."error"; 0 ok */
/* {"ts":..., "level":..., "msg":...} */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like log_msg but with extra fields; steals the reference to `fields`. */
void log_json(enum log_level lvl, const char *msg, json_t *fields);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
