/* metrics.c - counters, gauges and histograms in one mutex-guarded
 * registry, rendered as Prometheus text.
 *
 * Layout: a family per metric name (kind + help), each holding a list of
 * series (one per label string); series are also found through a small
 * hash table keyed by "name{labels}". Updates are a hash lookup and an add
 * under the mutex: cheap next to an HTTP request.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "core/str.h"
#include "core/arena.h"
#include "core/metrics.h"

enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM };

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])
#define NHASH 1024

struct series {
    char *key;    /* "name{labels}" */
    char *labels;
    double value; /* counter/gauge; histogram sum */
    uint64_t count;
    uint64_t buckets[NBUCKETS]; /* non-cumulative */
    struct series *hnext, *fnext;
};

struct family {
    char *name;
    char *help;
    enum kind kind;
    int typed; /* kind known (first update decides) */
    struct series *head, *tail;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct series *table[NHASH];
static struct family **fams;
static int nfams, capfams, nseries;

static unsigned hash_str(const char *s)
{
    return str_hash(s);
}

static struct family *family_get(const char *name)
{
    for (int i = 0; i < nfams; i++)
        if (strcmp(fams[i]->name, name) == 0)
            return fams[i];
    if (nfams == capfams) {
        capfams = capfams ? capfams * 2 : 32;
        fams = xrealloc(fams, (size_t)capfams * sizeof *fams);
    }
    struct family *f = xcalloc(1, sizeof *f);
    f->name = xstrdup(name);
    fams[nfams++] = f;
    return f;
}

/* Finds or creates a series; NULL when the registry is full. Called locked. */
static struct series *series_get(const char *name, const char *labels, enum kind kind)
{
    char key[512];
    const char *l = labels ? labels : "";
    snprintf(key, sizeof key, "%s{%s}", name, l);
    unsigned h = hash_str(key) % NHASH;
    for (struct series *s = table[h]; s; s = s->hnext)
        if (strcmp(s->key, key) == 0)
            return s;
    if (nseries >= METRICS_MAX_SERIES)
        return NULL;
    struct family *f = family_get(name);
    if (!f->typed) {
        f->kind = kind;
        f->typed = 1;
    }
    struct series *s = xcalloc(1, sizeof *s);
    s->key = xstrdup(key);
    s->labels = xstrdup(l);
    s->hnext = table[h];
    table[h] = s;
    if (f->tail)
        f->tail->fnext = s;
    else
        f->head = s;
    f->tail = s;
    nseries++;
    return s;
}

void metrics_describe(const char *name, const char *help)
{
    pthread_mutex_lock(&mu);
    struct family *f = family_get(name);
    free(f->help);
    f->help = xstrdup(help);
    pthread_mutex_unlock(&mu);
}

static void update(const char *name, const char *labels, enum kind kind, int set, double v)
{
    pthread_mutex_lock(&mu);
    struct series *s = series_get(name, labels, kind);
    if (s) {
        if (set)
            s->value = v;
        else
            s->value += v;
    }
    pthread_mutex_unlock(&mu);
}

void metrics_counter_add(const char *name, const char *labels, double v)
{
    update(name, labels, K_COUNTER, 0, v);
}

void metrics_gauge_set(const char *name, const char *labels, double v)
{
    update(name, labels, K_GAUGE, 1, v);
}

void metrics_gauge_add(const char *name, const char *labels, double delta)
{
    update(name, labels, K_GAUGE, 0, delta);
}

void metrics_observe(const char *name, const char *labels, double seconds)
{
    size_t b = 0;
    while (b < NBUCKETS && seconds > bucket_le[b])
        b++;
    pthread_mutex_lock(&mu);
    struct series *s = series_get(name, labels, K_HISTOGRAM);
    if (s) {
        s->value += seconds;
        s->count++;
        if (b < NBUCKETS)
            s->buckets[b]++;
    }
    pthread_mutex_unlock(&mu);
}

char *metrics_labels(char *buf, size_t n, ...)
{
    va_list ap;
    size_t o = 0;
    const char *k;

    if (n == 0)
        return buf;
    buf[0] = '\0';
    va_start(ap, n);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        int w = snprintf(buf + o, n - o, "%s%s=\"", o ? "," : "", k);
        if (w < 0 || (size_t)w >= n - o)
            break;
        o += (size_t)w;
        for (; v && *v && o + 3 < n; v++) {
            char c = *v;
            if (c == '\\' || c == '"' || c == '\n') {
                buf[o++] = '\\';
                c = c == '\n' ? 'n' : c;
            }
            buf[o++] = c;
        }
        if (o + 2 > n)
            break;
        buf[o++] = '"';
        buf[o] = '\0';
    }
    va_end(ap);
    buf[n - 1] = '\0';
    return buf;
}

/* ---- rendering ---------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int w = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (w >= 0 && (size_t)w < b->cap - b->len) {
            b->len += (size_t)w;
            return;
        }
        b->cap = b->cap * 2 + (w > 0 ? (size_t)w : 0);
        b->p = xrealloc(b->p, b->cap);
    }
}

static const char *kind_name(enum kind k)
{
    return k == K_COUNTER ? "counter" : k == K_GAUGE ? "gauge" : "histogram";
}

/* `name{labels}` or `name{labels,extra}` with the commas right. */
static void sb_series(struct sbuf *b, const char *name, const char *suffix, const char *labels,
                      const char *extra)
{
    int hl = labels && *labels, he = extra && *extra;
    sb_printf(b, "%s%s", name, suffix);
    if (hl || he)
        sb_printf(b, "{%s%s%s}", hl ? labels : "", hl && he ? "," : "", he ? extra : "");
}

static void render_histogram(struct sbuf *b, const struct family *f, const struct series *s)
{
    uint64_t cum = 0;
    char le[48];
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += s->buckets[i];
        snprintf(le, sizeof le, "le=\"%g\"", bucket_le[i]);
        sb_series(b, f->name, "_bucket", s->labels, le);
        sb_printf(b, " %llu\n", (unsigned long long)cum);
    }
    sb_series(b, f->name, "_bucket", s->labels, "le=\"+Inf\"");
    sb_printf(b, " %llu\n", (unsigned long long)s->count);
    sb_series(b, f->name, "_sum", s->labels, NULL);
    sb_printf(b, " %.6f\n", s->value);
    sb_series(b, f->name, "_count", s->labels, NULL);
    sb_printf(b, " %llu\n", (unsigned long long)s->count);
}

static void render_family(struct sbuf *b, const struct family *f)
{
    if (!f->head)
        return;
    if (f->help)
        sb_printf(b, "# HELP %s %s\n", f->name, f->help);
    sb_printf(b, "# TYPE %s %s\n", f->name, kind_name(f->kind));
    for (const struct series *s = f->head; s; s = s->fnext) {
        if (f->kind == K_HISTOGRAM) {
            render_histogram(b, f, s);
            continue;
        }
        sb_series(b, f->name, "", s->labels, NULL);
        sb_printf(b, " %.17g\n", s->value);
    }
}

static int cmp_family(const void *a, const void *b)
{
    return strcmp((*(struct family *const *)a)->name, (*(struct family *const *)b)->name);
}

char *metrics_render(void)
{
    struct sbuf b = {xmalloc(4096), 0, 4096};
    b.p[0] = '\0';
    pthread_mutex_lock(&mu);
    qsort(fams, (size_t)nfams, sizeof *fams, cmp_family);
    for (int i = 0; i < nfams; i++)
        render_family(&b, fams[i]);
    pthread_mutex_unlock(&mu);
    return b.p;
}

void metrics_reset(void)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nfams; i++) {
        struct series *s = fams[i]->head;
        while (s) {
            struct series *n = s->fnext;
            free(s->key);
            free(s->labels);
            free(s);
            s = n;
        }
        free(fams[i]->name);
        free(fams[i]->help);
        free(fams[i]);
    }
    free(fams);
    fams = NULL;
    nfams = capfams = nseries = 0;
    memset(table, 0, sizeof table);
    pthread_mutex_unlock(&mu);
}
