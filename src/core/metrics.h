/* metrics.h - a tiny in-process metrics registry, rendered in the
 * Prometheus text exposition format by GET /metrics.
 *
 * A series is a metric name plus a label string already formatted the
 * Prometheus way (`route="/api/x/",method="GET"`; build it with
 * metrics_labels(), which escapes values). Series are created on first use.
 * Keep label values bounded (route templates, not paths): the registry
 * refuses new series past METRICS_MAX_SERIES.
 *
 * Thread safety: every function may be called from any thread (one mutex).
 */
#ifndef SOUK_METRICS_H
#define SOUK_METRICS_H

#include <stddef.h>

#define METRICS_MAX_SERIES 10000

/* Optional: the # HELP line of a metric family. name and help are copied. */
void metrics_describe(const char *name, const char *help);

/* Counters only go up. labels may be NULL or "". */
void metrics_counter_add(const char *name, const char *labels, double v);
/* Gauges. */
void metrics_gauge_set(const char *name, const char *labels, double v);
void metrics_gauge_add(const char *name, const char *labels, double delta);
/* Latency histogram (seconds) with fixed buckets from 0.5 ms to 10 s. */
void metrics_observe(const char *name, const char *labels, double seconds);

/* Formats key/value pairs into buf as `k1="v1",k2="v2"` (values escaped),
 * for example metrics_labels(buf, sizeof buf, "route", r, "method", m,
 * METRICS_END). Truncates to fit; returns buf. */
#define METRICS_END ((const char *)0)
char *metrics_labels(char *buf, size_t n, ...) __attribute__((sentinel));

/* The whole registry in text format (malloc'd, caller frees). */
char *metrics_render(void);
/* Drops every series (tests). */
void metrics_reset(void);

#endif
