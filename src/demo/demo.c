/* demo.c - the demo marketplace (see demo.h).
 *
 * People go through the domains' own functions (users_create,
 * vendors_create, vendors_plan_create), so they are real accounts that can
 * sign in. Recipes and the demo subscriptions are written straight into
 * the tables of src/recipes and src/subscriptions (this folder belongs to
 * that issue), in bulk: full-text indexing is done by the database itself
 * (the FTS5 triggers, the generated tsvector), so the result is exactly
 * what the API would have made.
 *
 * Content is generated from small word lists with a fixed-seed xorshift
 * generator: the same N gives the same cookbook.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/uuid.h"
#include "db/db.h"
#include "demo/demo.h"
#include "users/users.h"
#include "vendors/vendors.h"

#define DEMO_BATCH           2000 /* recipes per transaction */
#define DEMO_ROWS_PER_INSERT 25
#define DEMO_COLS            16
#define DEMO_CHEFS_MAX       200
#define DEMO_FANS            5
#define N(a)                 ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const CUISINES[] = {
    "italian", "mexican", "indian",    "japanese", "thai",    "french",   "greek",      "lebanese",
    "chinese", "korean",  "ethiopian", "peruvian", "spanish", "moroccan", "vietnamese", "american"};
static const char *const ADJ[] = {
    "Smoky",  "Crispy", "Slow-cooked", "Spicy",  "Creamy",  "Charred",   "Zesty",     "Golden",
    "Rustic", "Silky",  "Herby",       "Sticky", "Roasted", "Grandma's", "Weeknight", "Midnight"};
static const char *const MAIN[] = {
    "chickpea", "lentil",  "chicken",    "salmon", "tofu",     "mushroom",    "aubergine",
    "lamb",     "prawn",   "pumpkin",    "beef",   "halloumi", "cauliflower", "pork",
    "squid",    "spinach", "black bean", "duck",   "cod",      "sweet potato"};
static const char *const DISH[] = {
    "curry",   "stew",      "tacos",     "salad", "noodles", "risotto", "soup",     "pie",
    "skewers", "dumplings", "flatbread", "bowl",  "tagine",  "gratin",  "fritters", "ramen"};
static const char *const PANTRY[] = {
    "garlic",    "onion",   "ginger",       "olive oil", "lemon",     "cumin",  "smoked paprika",
    "coriander", "chilli",  "coconut milk", "tomatoes",  "soy sauce", "miso",   "rice",
    "yoghurt",   "feta",    "parsley",      "lime",      "sesame",    "butter", "cream",
    "saffron",   "harissa", "fennel",       "kale"};
static const char *const DIETS[] = {"vegan",      "vegetarian", "gluten-free",
                                    "dairy-free", "nut-free",   "low-carb"};
static const char *const DIFF[] = {"easy", "medium", "hard"};
static const char *const DIFF_PHRASE[] = {"An easy", "A medium-effort", "A weekend"};
static const char *const CHEF_WORDS[] = {"Kitchen", "Table",  "Pantry", "Hearth",
                                         "Spoon",   "Larder", "Oven",   "Garden"};

struct rng {
    unsigned long long s;
};

static unsigned rnd(struct rng *r, unsigned n)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return n ? (unsigned)(r->s % n) : 0;
}

struct chef {
    char id[37];
};

/* ---- people ---------------------------------------------------------------------- */

static int make_chef(struct db *db, const char *tag, int i, struct rng *r, struct chef *out,
                     struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    char email[128], user_id[37], name[128];
    struct vendor_profile p;
    int err;

    snprintf(email, sizeof email, "chef%03d-%s@demo.souk.test", i + 1, tag);
    snprintf(name, sizeof name, "%s %s", ADJ[rnd(r, N(ADJ))], CHEF_WORDS[rnd(r, N(CHEF_WORDS))]);
    err = users_create(db, email, DEMO_PASSWORD, "VENDOR", "Chef", name, user_id, ei);
    if (!err) {
        struct vendor_in in = {.business_name = name,
                               .bio = "Recipes from the demo kitchen.",
                               .city = "Demo City",
                               .address = ""};
        err = vendors_create(db, user_id, &in, a, &p, ei);
    }
    for (int rank = 1; !err && rank <= 2; rank++) {
        struct plan pl = {.name = rank == 1 ? "Home cook" : "Chef's table",
                          .description = rank == 1 ? "Premium recipes" : "Everything, first",
                          .price = rank == 1 ? 499 : 1299,
                          .currency = "usd",
                          .interval = "month",
                          .rank = rank,
                          .is_active = 1},
                    out_pl;
        snprintf(pl.vendor_id, sizeof pl.vendor_id, "%s", p.id);
        err = vendors_plan_create(db, &pl, a, &out_pl, ei);
    }
    if (!err) {
        snprintf(out->id, sizeof out->id, "%s", p.id);
        if (i < 3)
            printf("demo: chef %s / %s (%s)\n", email, DEMO_PASSWORD, name);
    }
    arena_free(a);
    return err;
}

/* A fan subscribed to the first chefs on their top plan, for 30 days. */
struct fan_args {
    const char *user_id;
    const struct chef *chefs;
    int nchefs;
};

static int subscribe_fan(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct fan_args *f = arg;
    int64_t now = clock_now_us(), end = now + INT64_C(30) * 86400 * 1000000;
    int err = 0;

    for (int i = 0; !err && i < f->nchefs && i < 3; i++) {
        char id[37];
        uuid_v7(id);
        err = db_exec(tx,
                      "INSERT INTO subscriptions (id, user_id, chef_id, plan_id, status, "
                      "current_period_start, current_period_end, created_at, updated_at) "
                      "SELECT $1, $2, $3, p.id, 'active', $4, $5, $4, $4 FROM plans p WHERE "
                      "p.vendor_id = $3 ORDER BY p.rank DESC LIMIT 1",
                      DB_PARAMS(DBT(id), DBT(f->user_id), DBT(f->chefs[i].id), DBI(now), DBI(end)),
                      NULL, ei);
    }
    return err;
}

static int make_fans(struct db *db, const char *tag, const struct chef *chefs, int nchefs,
                     struct souk_errinfo *ei)
{
    int err = 0;

    for (int i = 0; !err && i < DEMO_FANS; i++) {
        char email[128], id[37];
        snprintf(email, sizeof email, "fan%d-%s@demo.souk.test", i + 1, tag);
        err = users_create(db, email, DEMO_PASSWORD, "CUSTOMER", "Fan", "Demo", id, ei);
        if (!err)
            err = db_tx_run(db, subscribe_fan, &(struct fan_args){id, chefs, nchefs}, ei);
        if (!err && i == 0)
            printf("demo: subscriber %s / %s\n", email, DEMO_PASSWORD);
    }
    return err;
}

/* ---- recipes ----------------------------------------------------------------------- */

/* One generated recipe, as the 16 column values of an insert. */
static void gen_recipe(struct arena *a, struct rng *r, const struct chef *chefs, int nchefs,
                       int64_t now, struct db_param *p)
{
    const char *main = MAIN[rnd(r, N(MAIN))];
    json_t *ing = json_array(), *diet = json_array();
    char tags[128] = "|", id[37], *is, *ds;
    int premium = rnd(r, 4) == 0, ndiet = (int)rnd(r, 3);

    json_array_append_new(ing, json_string(main));
    for (int i = 0, n = 3 + (int)rnd(r, 6); i < n; i++)
        json_array_append_new(ing, json_string(PANTRY[rnd(r, N(PANTRY))]));
    for (int i = 0; i < ndiet; i++) {
        const char *d = DIETS[rnd(r, N(DIETS))];
        if (strstr(tags, d))
            continue;
        json_array_append_new(diet, json_string(d));
        snprintf(tags + strlen(tags), sizeof tags - strlen(tags), "%s|", d);
    }
    is = json_dumps(ing, JSON_COMPACT);
    ds = json_dumps(diet, JSON_COMPACT);
    uuid_v7(id);
    p[0] = DBT(arena_strdup(a, id));
    p[1] = DBT(chefs[rnd(r, (unsigned)nchefs)].id);
    p[2] = DBT(arena_sprintf(a, "%s %s %s", ADJ[rnd(r, N(ADJ))], main, DISH[rnd(r, N(DISH))]));
    p[3] = DBT(arena_sprintf(a, "%s %s for %d, ready when you are.",
                             DIFF_PHRASE[rnd(r, N(DIFF_PHRASE))], DISH[rnd(r, N(DISH))],
                             2 + (int)rnd(r, 5)));
    p[4] = DBT(arena_strdup(a, is));
    p[5] = DBT("Prepare everything. Cook gently. Taste, season, serve.");
    p[6] = DBT(CUISINES[rnd(r, N(CUISINES))]);
    p[7] = DBT(arena_strdup(a, ds));
    p[8] = DBT(arena_strdup(a, tags));
    p[9] = DBT(DIFF[rnd(r, N(DIFF))]);
    p[10] = DBI(5 + rnd(r, 176));
    p[11] = DBB(premium);
    p[12] = DBI(premium && rnd(r, 3) == 0 ? 2 : 1);
    p[13] = premium && rnd(r, 2) ? DBI(199 + 100 * rnd(r, 5)) : DBNULL;
    p[14] = DBI(now - (int64_t)rnd(r, 365u * 86400u) * 1000000 - rnd(r, 1000000));
    p[15] = p[14];
    free(is);
    free(ds);
    json_decref(ing);
    json_decref(diet);
}

static char *insert_sql(int rows)
{
    static const char head[] =
        "INSERT INTO recipes (id, chef_id, title, summary, ingredients, instructions, cuisine, "
        "dietary, dietary_tags, difficulty, cook_minutes, is_premium, required_rank, price, "
        "created_at, updated_at) VALUES ";
    size_t cap = sizeof head + (size_t)rows * DEMO_COLS * 8 + 16, len;
    char *sql = xmalloc(cap);

    len = (size_t)snprintf(sql, cap, "%s", head);
    for (int r = 0; r < rows; r++) {
        len += (size_t)snprintf(sql + len, cap - len, "%s(", r ? ", " : "");
        for (int c = 0; c < DEMO_COLS; c++)
            len += (size_t)snprintf(sql + len, cap - len, "%s$%d", c ? ", " : "",
                                    r * DEMO_COLS + c + 1);
        len += (size_t)snprintf(sql + len, cap - len, ")");
    }
    return sql;
}

struct batch {
    struct rng *r;
    const struct chef *chefs;
    int nchefs;
    int count;
    int64_t now;
};

static int batch_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct batch *b = arg;
    struct db_param p[DEMO_ROWS_PER_INSERT * DEMO_COLS];
    struct rng saved = *b->r; /* a retried transaction generates the same rows */
    int err = 0;

    for (int done = 0; !err && done < b->count; done += DEMO_ROWS_PER_INSERT) {
        int rows = b->count - done < DEMO_ROWS_PER_INSERT ? b->count - done : DEMO_ROWS_PER_INSERT;
        struct arena *a = arena_new(16384);
        char *sql = insert_sql(rows);
        for (int i = 0; i < rows; i++)
            gen_recipe(a, b->r, b->chefs, b->nchefs, b->now, p + i * DEMO_COLS);
        err = db_exec(tx, sql, p, rows * DEMO_COLS, NULL, ei);
        free(sql);
        arena_free(a);
    }
    if (err)
        *b->r = saved;
    return err;
}

int demo_run(struct db *db, int recipes, void (*progress)(long done, long total))
{
    struct souk_errinfo ei = {0};
    struct rng r = {0x9E3779B97F4A7C15ull ^ (unsigned long long)recipes};
    int nchefs = recipes / 150 < 8                ? 8
                 : recipes / 150 > DEMO_CHEFS_MAX ? DEMO_CHEFS_MAX
                                                  : recipes / 150;
    struct chef *chefs = xcalloc((size_t)nchefs, sizeof *chefs);
    char tag[9];
    int err = 0;

    snprintf(tag, sizeof tag, "%08x", (unsigned)(clock_now_us() / 1000) ^ (unsigned)getpid());
    for (int i = 0; !err && i < nchefs; i++)
        err = make_chef(db, tag, i, &r, &chefs[i], &ei);
    if (!err)
        err = make_fans(db, tag, chefs, nchefs, &ei);
    struct demo_specialist specs[DEMO_SPECIALISTS];
    memset(specs, 0, sizeof specs);
    if (!err)
        err = demo_projects(db, tag, specs, &ei);
    if (!err)
        err = demo_home(db, tag, specs, DEMO_SPECIALISTS, &ei);
    if (!err)
        err = demo_listings(db, tag);
    for (long done = 0; !err && done < recipes;) {
        struct batch b = {&r, chefs, nchefs,
                          (int)(recipes - done < DEMO_BATCH ? recipes - done : DEMO_BATCH),
                          clock_now_us()};
        err = db_tx_run(db, batch_tx, &b, &ei);
        done += b.count;
        if (progress)
            progress(done, recipes);
    }
    if (err)
        log_error("demo: %s: %s", souk_err_str(err), ei.detail);
    souk_errinfo_cleanup(&ei);
    free(chefs);
    return err;
}
