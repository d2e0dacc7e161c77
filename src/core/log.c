/* log.c - one JSON object per line on stderr, written with a single
 * write(2) so that lines from different threads never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

static enum log_level min_level = LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
    min_level = lvl;
}

int log_parse_level(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

void log_json(enum log_level lvl, const char *msg, json_t *fields)
{
    char ts[CLOCK_RFC3339_LEN];
    json_t *o;
    char *line;

    if (lvl < min_level) {
        json_decref(fields);
        return;
    }
    o = json_object();
    clock_format(clock_now_us(), ts);
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(names[lvl]));
    json_object_set_new(o, "msg", json_string(msg ? msg : ""));
    if (fields)
        json_object_update(o, fields);
    json_decref(fields);
    line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (line) {
        size_t n = strlen(line);
        line[n] = '\n'; /* overwrite the NUL: json_dumps gave n+1 bytes */
        ssize_t w = write(STDERR_FILENO, line, n + 1);
        (void)w;
        free(line);
    }
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    if (lvl < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_json(lvl, buf, NULL);
}
