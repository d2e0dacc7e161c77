/* mail.c - templated e-mail, sent exactly once where that can be known.
 *
 * mail_enqueue() queues a "mail.send" job in the caller's transaction; the
 * payload holds the recipient, the template name, the variables and a
 * send key (the caller's unique_key, else a fresh UUID). The job:
 *
 *   1. looks up the sent-marker row mail_sent(key): 'sent' -> nothing to
 *      do (a retry after a send whose job bookkeeping failed); absent ->
 *      inserts it as 'sending' with a Message-ID fixed now, committed
 *      before any SMTP traffic;
 *   2. renders the template (subject and text as is, HTML escaped);
 *   3. sends it through SMTP with libcurl when SOUK_SMTP_URL is set
 *      (smtp://user:pass@host:port, STARTTLS when offered; smtps:// for
 *      TLS from the start), else writes <data_dir>/mail/<key>.eml;
 *   4. marks the row 'sent'.
 *
 * If 4 fails after a successful send, the key is remembered in this
 * process so that the retry only marks it. A row still 'sending' seen by
 * another process means we cannot know whether the message went out (the
 * worker died mid-conversation): it is sent again with the same Message-ID
 * (at-least-once, and receivers can deduplicate on the Message-ID). A
 * refusal from the server (4xx/5xx) means it was not sent: the job fails
 * and retries with backoff.
 *
 * Thread safety: mail_init from the main thread; everything else from any
 * thread (the "sent but unrecorded" set has its own mutex).
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/b64.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/uuid.h"
#include "db/db.h"
#include "userdata/userdata.h"
#include "jobs/jobs.h"
#include "mail/mail.h"
#include "core/str.h"

#define MAIL_ATTEMPTS       8
#define MAIL_KEY_MAX        200
#define MAIL_ADDR_MAX       254
#define MAIL_SMTP_TIMEOUT_S 60

struct mail_template {
    const char *name;
    const char *subject;
    const char *text;
    const char *html;
};

static const struct mail_template templates[] = {
    {"welcome", "Welcome to souk, {{first_name}}",
     "Hello {{first_name}},\n\nyour account {{email}} is ready.\n\n-- souk\n",
     "<p>Hello {{first_name}},</p><p>your account <b>{{email}}</b> is ready.</p>"
     "<p>-- souk</p>"},
    {"order_invoice", "Your order {{order_id}} from {{vendor_name}}",
     "Thank you for your order {{order_id}}.\n\n"
     "Vendor: {{vendor_name}}\n"
     "{{lines}}\n\n"
     "Subtotal: {{subtotal}} {{currency}}\n"
     "Total:    {{total}} {{currency}}\n\n"
     "-- souk\n",
     "<p>Thank you for your order <b>{{order_id}}</b>.</p>"
     "<p>Vendor: {{vendor_name}}</p>"
     "<table><tr><th>Service</th><th>Variant</th><th>Qty</th><th>Unit price</th></tr>"
     "<tr><td>{{service_name}}</td><td>{{variant_name}}</td><td>{{quantity}}</td>"
     "<td>{{unit_price}} {{currency}}</td></tr></table>"
     "<p>Subtotal: {{subtotal}} {{currency}}<br><b>Total: {{total}} {{currency}}</b></p>"
     "<p>-- souk</p>"},
    {"order_vendor_paid", "New paid order {{order_id}}",
     "You have a new paid order {{order_id}} from {{customer_email}}.\n\n"
     "{{lines}}\n\nTotal: {{total}} {{currency}}\n\n-- souk\n",
     "<p>You have a new paid order <b>{{order_id}}</b> from {{customer_email}}.</p>"
     "<p>{{lines}}</p><p><b>Total: {{total}} {{currency}}</b></p><p>-- souk</p>"},
    {"auction_outbid", "You have been outbid",
     "Hello {{first_name}},\n\nsomeone bid {{amount}} {{currency}} on an auction you were "
     "leading (auction {{auction_id}}).\nThe next bid must be at least {{minimum_next_bid}} "
     "{{currency}}; the auction ends at {{ends_at}}.\n\n-- souk\n",
     "<p>Hello {{first_name}},</p><p>someone bid <b>{{amount}} {{currency}}</b> on an auction "
     "you were leading (auction {{auction_id}}).</p><p>The next bid must be at least "
     "{{minimum_next_bid}} {{currency}}; the auction ends at {{ends_at}}.</p><p>-- souk</p>"},
    {"payment_failed", "Payment failed for {{what}}",
     "We could not charge your card for {{what}}.\nPlease update your payment method.\n",
     "<p>We could not charge your card for <b>{{what}}</b>.</p>"
     "<p>Please update your payment method.</p>"},
    {"subscription_expired", "Your subscription has expired",
     "Hello {{first_name}},\n\n{{what}} has expired: its renewal could not be paid.\n"
     "Premium recipes of that chef are locked again; subscribe again at any time.\n\n-- souk\n",
     "<p>Hello {{first_name}},</p><p>{{what}} has expired: its renewal could not be paid.</p>"
     "<p>Premium recipes of that chef are locked again; subscribe again at any time.</p>"
     "<p>-- souk</p>"},
    {"promotion_expiring", "Your {{product}} promotion ends soon",
     "Hello {{first_name}},\n\nyour {{product}} promotion of {{target}} ends at {{ends_at}}.\n"
     "Buy it again before then to keep it running without a gap.\n\n-- souk\n",
     "<p>Hello {{first_name}},</p><p>your <b>{{product}}</b> promotion of {{target}} ends at "
     "{{ends_at}}.</p><p>Buy it again before then to keep it running without a gap.</p>"
     "<p>-- souk</p>"},
    {"test", "{{subject}}", "{{body}}\n", "<p>{{body}}</p>"},
};

/* ---- rendering ------------------------------------------------------------ */

static void sb_put_html(struct strbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            strbuf_puts(b, "&amp;");
            break;
        case '<':
            strbuf_puts(b, "&lt;");
            break;
        case '>':
            strbuf_puts(b, "&gt;");
            break;
        case '"':
            strbuf_puts(b, "&quot;");
            break;
        case '\'':
            strbuf_puts(b, "&#39;");
            break;
        default:
            strbuf_put(b, s, 1);
        }
    }
}

static void put_var(struct strbuf *b, const json_t *vars, const char *name, size_t n, int html)
{
    char key[128];
    const json_t *v;
    char *dumped = NULL;
    const char *s = "";

    if (n >= sizeof key)
        return;
    memcpy(key, name, n);
    key[n] = '\0';
    v = json_object_get(vars, key);
    if (json_is_string(v))
        s = json_string_value(v);
    else if (v && !json_is_null(v))
        s = dumped = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (html)
        sb_put_html(b, s ? s : "");
    else
        strbuf_puts(b, s ? s : "");
    free(dumped);
}

char *mail_render(const char *tmpl, const json_t *vars, int html)
{
    struct strbuf b = {0};
    const char *p = tmpl;

    strbuf_put(&b, "", 0);
    while (*p) {
        const char *open = strstr(p, "{{"), *close;
        if (!open || !(close = strstr(open + 2, "}}"))) {
            strbuf_puts(&b, p);
            break;
        }
        strbuf_put(&b, p, (size_t)(open - p));
        const char *name = open + 2, *end = close;
        while (name < end && *name == ' ')
            name++;
        while (end > name && end[-1] == ' ')
            end--;
        put_var(&b, vars, name, (size_t)(end - name), html);
        p = close + 2;
    }
    return b.p;
}

static const struct mail_template *template_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof templates / sizeof templates[0]; i++)
        if (!strcmp(templates[i].name, name))
            return &templates[i];
    return NULL;
}

int mail_template_exists(const char *template_name)
{
    return template_find(template_name) != NULL;
}

/* ---- the message ------------------------------------------------------------ */

static const char *mail_from(void)
{
    const char *f = getenv("SOUK_MAIL_FROM");
    return f && *f ? f : "no-reply@localhost";
}

/* Base64 body in 76-character lines. */
static void put_b64_body(struct strbuf *b, const char *s)
{
    size_t n = strlen(s);
    char *enc = xmalloc(B64_ENCODED_LEN(n) + 1);
    size_t len = b64_encode(enc, s, n);

    for (size_t i = 0; i < len; i += 76) {
        strbuf_put(b, enc + i, len - i < 76 ? len - i : 76);
        strbuf_puts(b, "\r\n");
    }
    free(enc);
}

/* A Subject with non-ASCII bytes becomes an RFC 2047 encoded word. */
static void put_subject(struct strbuf *b, const char *subj)
{
    int ascii = 1;

    for (const unsigned char *p = (const unsigned char *)subj; *p; p++)
        if (*p >= 0x80 || *p < 0x20)
            ascii = 0;
    strbuf_puts(b, "Subject: ");
    if (ascii) {
        strbuf_puts(b, subj);
    } else {
        size_t n = strlen(subj);
        char *enc = xmalloc(B64_ENCODED_LEN(n) + 1);
        b64_encode(enc, subj, n);
        strbuf_puts(b, "=?UTF-8?B?");
        strbuf_puts(b, enc);
        strbuf_puts(b, "?=");
        free(enc);
    }
    strbuf_puts(b, "\r\n");
}

static char *message_build(const char *to, const char *message_id, const struct mail_template *t,
                           const json_t *vars)
{
    char *subject = mail_render(t->subject, vars, 0), *text = mail_render(t->text, vars, 0);
    char *html = mail_render(t->html, vars, 1);
    char date[64], boundary[48], hdr[600];
    struct strbuf b = {0};
    time_t now = time(NULL);
    struct tm tm;

    for (char *p = subject; *p; p++) /* no header injection through variables */
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    uuid_v7(boundary + 5);
    memcpy(boundary, "souk-", 5);
    snprintf(hdr, sizeof hdr,
             "Date: %s\r\nFrom: %s\r\nTo: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n", date,
             mail_from(), to, message_id);
    strbuf_puts(&b, hdr);
    put_subject(&b, subject);
    snprintf(hdr, sizeof hdr,
             "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n--%s\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n",
             boundary, boundary);
    strbuf_puts(&b, hdr);
    put_b64_body(&b, text);
    snprintf(hdr, sizeof hdr,
             "--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n",
             boundary);
    strbuf_puts(&b, hdr);
    put_b64_body(&b, html);
    snprintf(hdr, sizeof hdr, "--%s--\r\n", boundary);
    strbuf_puts(&b, hdr);
    free(subject);
    free(text);
    free(html);
    return b.p;
}

/* ---- transports ---------------------------------------------------------------- */

struct upload {
    const char *data;
    size_t len, off;
};

static size_t upload_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nitems;

    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    return n;
}

static int smtp_send(const char *url, const char *to, const char *msg, struct souk_errinfo *ei)
{
    struct upload u = {msg, strlen(msg), 0};
    struct curl_slist *rcpt = NULL;
    char from[MAIL_ADDR_MAX + 3], rcpt_addr[MAIL_ADDR_MAX + 3], errbuf[CURL_ERROR_SIZE] = "";
    long code = 0;
    CURL *h = curl_easy_init();
    CURLcode rc;

    if (!h)
        return souk_fail(ei, SOUK_INTERNAL, "curl_easy_init failed");
    snprintf(from, sizeof from, "<%s>", mail_from());
    snprintf(rcpt_addr, sizeof rcpt_addr, "<%s>", to);
    rcpt = curl_slist_append(rcpt, rcpt_addr);
    curl_easy_setopt(h, CURLOPT_URL, url); /* user:password in the URL, if any */
    curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &u);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)MAIL_SMTP_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        return souk_fail(ei, SOUK_UPSTREAM, "smtp: %s (last reply %ld)",
                         errbuf[0] ? errbuf : curl_easy_strerror(rc), code);
    return 0;
}

static const char *data_dir(void)
{
    const char *d =
        souk_cfg && souk_cfg->data_dir[0] ? souk_cfg->data_dir : getenv("SOUK_DATA_DIR");
    return d && *d ? d : "./data";
}

/* Writes <data_dir>/mail/<key>.eml through a temporary file and rename,
 * so a reader never sees half a message and a re-run overwrites. */
static int eml_write(const char *key, const char *msg, struct souk_errinfo *ei)
{
    char dir[600], path[900], tmp[920];
    FILE *f;
    size_t n = strlen(msg);

    snprintf(dir, sizeof dir, "%s/mail", data_dir());
    if (mkdir(dir, 0700) && errno != EEXIST)
        return souk_fail(ei, SOUK_INTERNAL, "mail: cannot create %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/", dir);
    for (size_t i = strlen(path), k = 0; key[k] && i < sizeof path - 5; k++, i++) {
        char ch = key[k];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || ch == '.';
        path[i] = ok && !(k == 0 && ch == '.') ? ch : '_';
        path[i + 1] = '\0';
    }
    strcat(path, ".eml");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!(f = fopen(tmp, "wb")))
        return souk_fail(ei, SOUK_INTERNAL, "mail: cannot write %s: %s", tmp, strerror(errno));
    if (fwrite(msg, 1, n, f) != n || fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return souk_fail(ei, SOUK_INTERNAL, "mail: cannot write %s", path);
    }
    return 0;
}

/* ---- "sent but not recorded" in this process ----------------------------------- */

static pthread_mutex_t unrecorded_mu = PTHREAD_MUTEX_INITIALIZER;
static char *unrecorded[64];

static void unrecorded_add(const char *key)
{
    pthread_mutex_lock(&unrecorded_mu);
    for (int i = 0; i < 64; i++) {
        if (!unrecorded[i]) {
            unrecorded[i] = xstrdup(key);
            break;
        }
    }
    pthread_mutex_unlock(&unrecorded_mu);
}

/* 1 if key was sent by this process but not recorded; removes it. */
static int unrecorded_take(const char *key)
{
    int found = 0;

    pthread_mutex_lock(&unrecorded_mu);
    for (int i = 0; i < 64 && !found; i++) {
        if (unrecorded[i] && !strcmp(unrecorded[i], key)) {
            free(unrecorded[i]);
            unrecorded[i] = NULL;
            found = 1;
        }
    }
    pthread_mutex_unlock(&unrecorded_mu);
    return found;
}

/* ---- the job -------------------------------------------------------------------- */

struct marker {
    const char *key, *to, *tmpl;
    char message_id[128];
    int sent;
};

static int marker_begin_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct marker *m = arg;
    struct db_res *r = NULL;
    char uuid[37];
    int err;

    err = db_query(c, "SELECT state, message_id FROM mail_sent WHERE key = $1",
                   DB_PARAMS(DBT(m->key)), &r, ei);
    if (!err && db_nrows(r) == 1) {
        m->sent = !strcmp(db_get(r, 0, 0), "sent");
        snprintf(m->message_id, sizeof m->message_id, "%s", db_get(r, 0, 1));
    }
    if (err || db_nrows(r) == 1) {
        db_res_free(r);
        return err;
    }
    db_res_free(r);
    uuid_v7(uuid);
    snprintf(m->message_id, sizeof m->message_id, "<%s@souk>", uuid);
    return db_exec(
        c,
        "INSERT INTO mail_sent (key, state, message_id, to_addr, template, "
        "created_at) VALUES ($1, 'sending', $2, $3, $4, $5)",
        DB_PARAMS(DBT(m->key), DBT(m->message_id), DBT(m->to), DBT(m->tmpl), DBI(clock_now_us())),
        NULL, ei);
}

static int marker_sent_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const struct marker *m = arg;

    return db_exec(c,
                   "UPDATE mail_sent SET state = 'sent', sent_at = $2, "
                   "attempts = attempts + 1 WHERE key = $1",
                   DB_PARAMS(DBT(m->key), DBI(clock_now_us())), NULL, ei);
}

static int deliver(const struct marker *m, const struct mail_template *t, const json_t *vars,
                   struct souk_errinfo *ei)
{
    const char *url =
        souk_cfg && souk_cfg->smtp_url[0] ? souk_cfg->smtp_url : getenv("SOUK_SMTP_URL");
    char *msg = message_build(m->to, m->message_id, t, vars);
    int err = url && *url ? smtp_send(url, m->to, msg, ei) : eml_write(m->key, msg, ei);

    free(msg);
    return err;
}

static int mail_send_job(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const json_t *p = job->payload;
    struct marker m = {.key = json_string_value(json_object_get(p, "key")),
                       .to = json_string_value(json_object_get(p, "to")),
                       .tmpl = json_string_value(json_object_get(p, "template"))};
    const struct mail_template *t = template_find(m.tmpl);
    int err;

    if (!m.key || !m.to || !t)
        return souk_fail(ei, SOUK_PRECONDITION, "mail.send: bad payload");
    if ((err = db_tx_run(db, marker_begin_tx, &m, ei)))
        return err;
    if (m.sent)
        return 0;
    if (!unrecorded_take(m.key)) {
        if ((err = deliver(&m, t, json_object_get(p, "vars"), ei)))
            return err;
        log_json(LOG_INFO, "mail sent",
                 json_pack("{s:s, s:s, s:s}", "template", m.tmpl, "message_id", m.message_id, "job",
                           job->id));
    }
    if ((err = db_tx_run(db, marker_sent_tx, &m, ei)))
        unrecorded_add(m.key); /* the retry records it without sending again */
    return err;
}

/* ---- public ---------------------------------------------------------------------- */

static int addr_valid(const char *to)
{
    size_t n = to ? strlen(to) : 0;
    const char *at = to ? strchr(to, '@') : NULL;

    if (n < 3 || n > MAIL_ADDR_MAX || !at || at == to || !at[1])
        return 0;
    for (const char *p = to; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == ';' ||
            *p == '"' || (unsigned char)*p == 0x7f)
            return 0;
    return 1;
}

int mail_enqueue(struct db_conn *tx, const char *to, const char *template_name, const json_t *vars,
                 const char *unique_key, struct souk_errinfo *ei)
{
    char key[MAIL_KEY_MAX + 8], job_key[MAIL_KEY_MAX + 16];
    json_t *payload;
    int err;

    if (!addr_valid(to))
        return souk_fail(ei, SOUK_INVALID, "mail: bad recipient address");
    if (!template_find(template_name))
        return souk_fail(ei, SOUK_INVALID, "mail: unknown template %s",
                         template_name ? template_name : "(null)");
    if (unique_key && strlen(unique_key) > MAIL_KEY_MAX)
        return souk_fail(ei, SOUK_INVALID, "mail: unique key too long");
    if (unique_key)
        snprintf(key, sizeof key, "%s", unique_key);
    else
        uuid_v7(key);
    snprintf(job_key, sizeof job_key, "mail:%s", key);
    payload = json_pack("{s:s, s:s, s:O, s:s}", "to", to, "template", template_name, "vars",
                        vars ? (json_t *)vars : json_null(), "key", key);
    if (!payload)
        return souk_fail(ei, SOUK_INVALID, "mail: variables are not JSON");
    err = job_enqueue(tx, "mail.send", payload, 0, unique_key ? job_key : NULL, NULL, ei);
    json_decref(payload);
    return err;
}

static const struct userdata_part mail_part;

void mail_init(void)
{
    userdata_register(&mail_part);
    static int done;

    if (done)
        return;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    job_register("mail.send", mail_send_job, MAIL_ATTEMPTS);
    done = 1;
}

/* ---- the erasure (userdata.h): the record of sent mail forgets the address ---- */

static int erase_mail(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei)
{
    return db_exec(c, "UPDATE mail_sent SET to_addr = '' WHERE to_addr = $1",
                   DB_PARAMS(DBT(w->email)), NULL, ei);
}

static const struct userdata_part mail_part = {.erase = erase_mail, .order = 850};
