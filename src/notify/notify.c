/* notify.c - stored notifications, published to open event streams after
 * commit, on this node directly and on other nodes through Redis.
 *
 * notify() inserts the row in the caller's transaction and registers an
 * after-commit hook; a rolled-back change therefore notifies nobody. The
 * hook hands it to this node's streams of the user (through the deliver
 * function app.c sets: sse_publish) and, when
 * SOUK_REDIS_URL is set, PUBLISHes the event on the channel
 * NOTIFY_REDIS_CHANNEL with this node's id. Every node runs one
 * subscriber thread that hands the events of *other* nodes to its own
 * streams (its own were delivered directly, so the origin id keeps them
 * from arriving twice).
 *
 * Redis is best effort: when the subscriber cannot reach it, it polls the
 * table instead (every NOTIFY_POLL_US, the rows created since a little
 * before the last poll, through notifications_created) and hands what this
 * node has not delivered yet to its streams, so a client on another node
 * still gets the event within about a second; the first SUBSCRIBE that
 * works ends the polling after one last poll. Every delivered id is kept
 * for two minutes (seen.c), so an event reaches a stream once whichever
 * way it came. It logs once when polling starts and once when Redis is
 * back. A client that reconnects with Last-Event-ID gets the rest from the
 * table as always.
 *
 * Wire format on Redis: {"o": origin node, "u": user id, "i": notification
 * id, "t": type, "d": the notification as JSON text}.
 *
 * The reads and updates behind notify_http.c (notify_list, notify_mark_read,
 * notify_replay; notify/internal.h) are here too: SQL stays in this file.
 *
 * Thread safety: the query functions are stateless; notify() and the hook from any thread (the publishing
 * connection is behind a mutex); notify_init / notify_shutdown from the
 * main thread.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/arena.h"
#include "userdata/userdata.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/redis.h"
#include "core/uuid.h"
#include "db/db.h"
#include "notify/internal.h"
#include "notify/notify.h"

#define NOTIFY_REDIS_CHANNEL "souk:notify"
#define NOTIFY_TYPE_MAX      64
#define NOTIFY_POLL_US         500000        /* the fallback poll's period */
#define NOTIFY_POLL_OVERLAP_US (3 * 1000000LL) /* each poll reads back this far */
#define NOTIFY_POLL_LOOKBACK_US (5 * 1000000LL) /* the first poll: before the loss was seen */
#define NOTIFY_POLL_ROWS       1000

/* The subscriber thread's fallback state (only that thread touches it). */
static struct {
    int on;
    int64_t since;
} P;

static struct {
    struct db *db;
    char node[37];
    int redis_on;
    struct redis_url rt;
    pthread_mutex_t pub_mu;
    redisContext *pub;
    pthread_mutex_t sub_mu;
    redisContext *sub;
    pthread_t sub_thread;
    int sub_started, stopping;
} N = {.pub_mu = PTHREAD_MUTEX_INITIALIZER, .sub_mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- the notification as JSON ---------------------------------------------- */

json_t *notify_json(const char *id, const char *type, const char *payload_text, int64_t created_at,
                    int64_t read_at, int read_is_null)
{
    json_t *payload = payload_text ? json_loads(payload_text, JSON_DECODE_ANY, NULL) : NULL;

    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "id", id, "type", type, "payload",
                     payload ? payload : json_object(), "created_at", json_time(created_at),
                     "read_at", json_time_or_null(read_at, read_is_null));
}

char *notify_sse_frame(const char *id, const char *type, const char *data)
{
    size_t n = strlen(id) + strlen(type) + strlen(data) + 32;
    char *s = xmalloc(n);

    snprintf(s, n, "id: %s\nevent: %s\ndata: %s\n\n", id, type, data);
    return s;
}

/* ---- Redis connections -------------------------------------------------------- */

/* Publisher and subscriber connections: 2 s to connect, no command timeout (the subscriber
 * waits for messages). */
static redisContext *redis_connect(void)
{
    return redis_open(&N.rt, 2000, 0, NULL, 0);
}

static void redis_publish(const char *msg)
{
    redisReply *r = NULL;

    pthread_mutex_lock(&N.pub_mu);
    for (int attempt = 0; attempt < 2 && !r; attempt++) {
        if (!N.pub && !(N.pub = redis_connect()))
            break;
        r = redisCommand(N.pub, "PUBLISH %s %s", NOTIFY_REDIS_CHANNEL, msg);
        if (!r) { /* connection broken: reconnect once */
            redisFree(N.pub);
            N.pub = NULL;
        }
    }
    pthread_mutex_unlock(&N.pub_mu);
    if (!r)
        log_warn("notify: redis publish failed; other nodes miss this event until replay");
    freeReplyObject(r);
}

/* ---- after commit ---------------------------------------------------------------- */

struct event {
    char user[37], id[37], type[NOTIFY_TYPE_MAX + 1];
    char *data;
};

static void event_free(void *arg)
{
    struct event *e = arg;

    if (e)
        free(e->data);
    free(e);
}

static _Atomic(notify_deliver_fn) deliver;

void notify_set_deliver(notify_deliver_fn fn)
{
    atomic_store(&deliver, fn);
}

static void deliver_here(const char *user, const char *id, const char *type, const char *data)
{
    notify_deliver_fn fn = atomic_load(&deliver);

    if (fn)
        fn(user, id, type, data);
}

static void publish_hook(void *arg)
{
    const struct event *e = arg;

    if (N.redis_on)
        notify_seen_add(e->id, clock_now_us());
    deliver_here(e->user, e->id, e->type, e->data);
    metrics_counter_add("souk_notifications_total", NULL, 1);
    if (N.redis_on) {
        json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s}", "o", N.node, "u", e->user, "i", e->id,
                              "t", e->type, "d", e->data);
        char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
        if (s)
            redis_publish(s);
        free(s);
        json_decref(m);
    }
}

int notify(struct db_conn *tx, const char *user_id, const char *type, const json_t *payload,
           struct souk_errinfo *ei)
{
    int64_t now = clock_now_us();
    struct event *e;
    char *text;
    json_t *j;
    int err;

    if (!user_id || !uuid_valid(user_id))
        return souk_fail(ei, SOUK_INVALID, "notify: bad user id");
    if (!type || !*type || strlen(type) > NOTIFY_TYPE_MAX || strpbrk(type, "\r\n"))
        return souk_fail(ei, SOUK_INVALID, "notify: bad type");
    e = xcalloc(1, sizeof(*e));
    uuid_normalize(user_id, e->user);
    uuid_v7(e->id);
    snprintf(e->type, sizeof e->type, "%s", type);
    text = payload ? json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    err = db_exec_later(tx,
                        "INSERT INTO notifications (id, user_id, type, payload, created_at) "
                        "VALUES ($1, $2, $3, $4, $5)",
                        DB_PARAMS(DBT(e->id), DBT(e->user), DBT(type),
                                  DBT(text ? text : "{}"), DBI(now)),
                        ei);
    if (!err) {
        j = notify_json(e->id, type, text ? text : "{}", now, 0, 1);
        e->data = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        db_after_commit(tx, publish_hook, e, event_free);
    } else {
        event_free(e);
    }
    free(text);
    return err;
}

/* ---- the subscriber ------------------------------------------------------------------ */

static void deliver_remote(const char *msg, size_t len)
{
    json_t *m = json_loadb(msg, len, 0, NULL);
    const char *o = json_string_value(json_object_get(m, "o"));
    const char *u = json_string_value(json_object_get(m, "u"));
    const char *i = json_string_value(json_object_get(m, "i"));
    const char *t = json_string_value(json_object_get(m, "t"));
    const char *d = json_string_value(json_object_get(m, "d"));

    if (o && u && i && t && d && strcmp(o, N.node) != 0 && notify_seen_add(i, clock_now_us()))
        deliver_here(u, i, t, d);
    json_decref(m);
}

static int stopping(void)
{
    pthread_mutex_lock(&N.sub_mu);
    int s = N.stopping;
    pthread_mutex_unlock(&N.sub_mu);
    return s;
}

/* ---- the fallback while Redis is away ---------------------------------------------- */

struct poll_arg {
    int64_t since;
    struct db_res *out;
};

static int poll_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct poll_arg *a = arg;
    return db_query(c,
                    "SELECT user_id, " NOTIFY_COLS " FROM notifications WHERE created_at >= $1 "
                    "ORDER BY created_at LIMIT $2",
                    DB_PARAMS(DBI(a->since), DBI(NOTIFY_POLL_ROWS)), &a->out, ei);
}

/* Hands the rows created since P.since that this node has not delivered to
 * its streams, and moves P.since on (keeping an overlap for rows whose
 * transaction committed after a later one's). */
static void poll_once(void)
{
    struct souk_errinfo ei = {0};
    int64_t started = clock_now_us();
    struct poll_arg a = {.since = P.since};
    int n;

    if (db_run(N.db, poll_fn, &a, &ei)) {
        log_debug("notify: poll failed: %s", ei.detail);
        souk_errinfo_cleanup(&ei);
        db_res_free(a.out);
        return;
    }
    n = db_nrows(a.out);
    for (int i = 0; i < n; i++) {
        const char *id = db_get(a.out, i, 1);
        if (!notify_seen_add(id, started))
            continue;
        json_t *j = notify_json(id, db_get(a.out, i, 2), db_get(a.out, i, 3),
                                db_int(a.out, i, 4), db_int(a.out, i, 5), db_isnull(a.out, i, 5));
        char *data = json_dumps(j, JSON_COMPACT);
        if (data)
            deliver_here(db_get(a.out, i, 0), id, db_get(a.out, i, 2), data);
        free(data);
        json_decref(j);
    }
    if (n == NOTIFY_POLL_ROWS)
        P.since = db_int(a.out, n - 1, 4); /* a burst: go on from the last row */
    else if (started - NOTIFY_POLL_OVERLAP_US > P.since)
        P.since = started - NOTIFY_POLL_OVERLAP_US;
    db_res_free(a.out);
}

static void poll_start(void)
{
    if (P.on)
        return;
    P.on = 1;
    P.since = clock_now_us() - NOTIFY_POLL_LOOKBACK_US;
    log_warn("notify: redis is not reachable; polling the database for other nodes' events "
             "until it is back");
}

static void poll_stop(void)
{
    if (!P.on)
        return;
    poll_once(); /* what was published while the subscription came back */
    P.on = 0;
    log_info("notify: redis is back; events come through it again");
}

/* Reads messages until the connection breaks (or shutdown breaks it). */
static void sub_loop(redisContext *c)
{
    redisReply *r = redisCommand(c, "SUBSCRIBE %s", NOTIFY_REDIS_CHANNEL);
    void *vr;

    if (!r)
        return;
    freeReplyObject(r);
    poll_stop();
    while (redisGetReply(c, &vr) == REDIS_OK) {
        r = vr;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "message") &&
            r->element[2]->type == REDIS_REPLY_STRING)
            deliver_remote(r->element[2]->str, r->element[2]->len);
        freeReplyObject(r);
    }
}

static void *sub_main(void *arg)
{
    (void)arg;
    while (!stopping()) {
        redisContext *c = redis_connect();
        if (!c) {
            struct timespec ts = {0, NOTIFY_POLL_US * 1000L};
            poll_start();
            poll_once();
            nanosleep(&ts, NULL);
            continue;
        }
        pthread_mutex_lock(&N.sub_mu);
        N.sub = N.stopping ? NULL : c;
        pthread_mutex_unlock(&N.sub_mu);
        if (N.sub)
            sub_loop(c);
        pthread_mutex_lock(&N.sub_mu);
        N.sub = NULL;
        pthread_mutex_unlock(&N.sub_mu);
        redisFree(c);
        if (!stopping() && !P.on)
            log_warn("notify: redis subscription lost; reconnecting");
    }
    return NULL;
}

/* ---- start / stop ----------------------------------------------------------------- */

int notify_init(struct db *db, const char *redis_url, struct souk_errinfo *ei)
{
    notify_userdata_register();
    N.db = db;
    uuid_v7(N.node);
    N.stopping = 0;
    if (!redis_url || !*redis_url)
        return 0;
    if (redis_url_parse(redis_url, &N.rt))
        return souk_fail(ei, SOUK_INVALID, "SOUK_REDIS_URL: expected redis://host:port/db");
    N.redis_on = 1;
    if (pthread_create(&N.sub_thread, NULL, sub_main, NULL)) {
        N.redis_on = 0;
        return souk_fail(ei, SOUK_INTERNAL, "notify: cannot start the subscriber thread");
    }
    N.sub_started = 1;
    return 0;
}

void notify_shutdown(void)
{
    if (N.sub_started) {
        pthread_mutex_lock(&N.sub_mu);
        N.stopping = 1;
        if (N.sub) /* wakes redisGetReply in the subscriber */
            shutdown(N.sub->fd, SHUT_RDWR);
        pthread_mutex_unlock(&N.sub_mu);
        pthread_join(N.sub_thread, NULL);
        N.sub_started = 0;
    }
    pthread_mutex_lock(&N.pub_mu);
    if (N.pub)
        redisFree(N.pub);
    N.pub = NULL;
    pthread_mutex_unlock(&N.pub_mu);
    N.redis_on = 0;
    P.on = 0;
    notify_seen_clear();
}

/* ---- queries for notify_http.c (notify/internal.h) -------------------------- */

/* Rows of NOTIFY_COLS as the API's objects (new reference), and frees r. */
static json_t *rows_json(struct db_res *r)
{
    json_t *out = json_array();

    for (int i = 0; i < db_nrows(r); i++)
        json_array_append_new(out, notify_json(db_get(r, i, 0), db_get(r, i, 1), db_get(r, i, 2),
                                               db_int(r, i, 3), db_int(r, i, 4),
                                               db_isnull(r, i, 4)));
    db_res_free(r);
    return out;
}

struct list_arg {
    const struct notify_page_q *q;
    struct db_res *out;
};

static int list_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_arg *a = arg;
    const struct notify_page_q *q = a->q;
    /* $2 = 1 keeps only unread ones */
    static const char *const first =
        "SELECT " NOTIFY_COLS " FROM notifications WHERE user_id = $1 AND "
        "($2 = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT $3";
    static const char *const fwd =
        "SELECT " NOTIFY_COLS " FROM notifications WHERE user_id = $1 AND "
        "($2 = 0 OR read_at IS NULL) AND id < $4 ORDER BY id DESC LIMIT $3";
    static const char *const back =
        "SELECT " NOTIFY_COLS " FROM notifications WHERE user_id = $1 AND "
        "($2 = 0 OR read_at IS NULL) AND id > $4 ORDER BY id ASC LIMIT $3";

    if (!q->after)
        return db_query(c, first, DB_PARAMS(DBT(q->user), DBI(q->unread), DBI(q->limit)),
                        &a->out, ei);
    return db_query(c, q->backwards ? back : fwd,
                    DB_PARAMS(DBT(q->user), DBI(q->unread), DBI(q->limit), DBT(q->after)),
                    &a->out, ei);
}

int notify_list(struct db *db, const struct notify_page_q *q, json_t **rows,
                struct souk_errinfo *ei)
{
    struct list_arg a = {q, NULL};
    int err = db_run(db, list_tx, &a, ei);

    *rows = err ? NULL : rows_json(a.out);
    if (err)
        db_res_free(a.out);
    return err;
}

struct read_arg {
    const char *id, *user;
    struct db_res *out;
};

static int read_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct read_arg *a = arg;

    return db_query(c,
                    "UPDATE notifications SET read_at = COALESCE(read_at, $3) "
                    "WHERE id = $1 AND user_id = $2 RETURNING " NOTIFY_COLS,
                    DB_PARAMS(DBT(a->id), DBT(a->user), DBI(clock_now_us())), &a->out, ei);
}

int notify_mark_read(struct db *db, const char *id, const char *user_id, json_t **out,
                     struct souk_errinfo *ei)
{
    struct read_arg a = {id, user_id, NULL};
    int err = db_tx_run(db, read_tx, &a, ei);
    json_t *rows = err ? NULL : rows_json(a.out);

    if (err)
        db_res_free(a.out);
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    if (!err && !*out)
        err = souk_fail(ei, SOUK_NOT_FOUND, "%s", "no such notification");
    return err;
}

struct replay_arg {
    const char *user, *after;
    int max;
    struct db_res *out;
};

static int replay_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct replay_arg *a = arg;

    return db_query(c,
                    "SELECT " NOTIFY_COLS " FROM notifications WHERE user_id = $1 AND id > $2 "
                    "ORDER BY id ASC LIMIT $3",
                    DB_PARAMS(DBT(a->user), DBT(a->after), DBI(a->max)), &a->out, ei);
}

int notify_replay(struct db *db, const char *user_id, const char *after, int max, json_t **rows,
                  struct souk_errinfo *ei)
{
    struct replay_arg a = {user_id, after, max, NULL};
    int err = db_run(db, replay_tx, &a, ei);

    *rows = err ? NULL : rows_json(a.out);
    if (err)
        db_res_free(a.out);
    return err;
}

/* ---- the export and the erasure (userdata.h) --------------------------------- */

#define NOTIFY_EXPORT_MAX 10000

static int export_notes(struct db_conn *c, const struct userdata_who *w, json_t **out,
                        struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT " NOTIFY_COLS " FROM notifications WHERE user_id = $1 "
                       "ORDER BY id DESC LIMIT $2",
                       DB_PARAMS(DBT(w->user_id), DBI(NOTIFY_EXPORT_MAX)), &r, ei);

    if (err)
        return err;
    *out = rows_json(r);
    return SOUK_OK;
}

/* The user's notifications, and the others' that are about the user (their
 * payloads name the user or the user's vendor profile, and may carry the
 * user's texts: a message's body, a request's message, a review). A scan of
 * the table, once per erasure. */
static int erase_notes(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei)
{
    char *about_user = arena_sprintf(w->a, "%%\"%s\"%%", w->user_id);
    char *about_vendor =
        arena_sprintf(w->a, "%%\"%s\"%%", w->vendor_id[0] ? w->vendor_id : "-");

    return db_exec(c,
                   "DELETE FROM notifications WHERE user_id = $1 OR payload LIKE $2 OR "
                   "payload LIKE $3",
                   DB_PARAMS(DBT(w->user_id), DBT(about_user), DBT(about_vendor)), NULL, ei);
}

static const struct userdata_part notify_part = {
    .key = "notifications", .export_fn = export_notes, .erase = erase_notes, .order = 800};

void notify_userdata_register(void)
{
    userdata_register(&notify_part);
}
