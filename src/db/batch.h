/* batch.h - writes to one hot row, applied together: a per-key sequencer
 * with group commit.
 *
 * A burst on one auction (one stocked variant) is a burst on one row: one
 * transaction at a time can hold it, so requests that each lock, write and
 * commit it run one after the other, each paying the round trips of a whole
 * transaction while the others wait. batch_run queues the request under its
 * key instead; while a transaction of that key is in flight, every request of
 * the same key that arrives waits in the queue, and the next transaction
 * takes them all (in arrival order, up to BATCH_MAX) and runs fn over them
 * once: one lock, one set of writes, one commit for the lot. fn gives each
 * request its own outcome in its arg (the caller's struct); what batch_run
 * returns is the transaction's (0: committed).
 *
 * The waiting is done by parking the request's fiber (src/core/fiber.h), so
 * a handler thread goes on serving other requests (and queueing more of the
 * burst) meanwhile. The transaction runs on the thread of the request at
 * the head of the queue (the leader); when it is done the leader wakes the
 * others and hands the queue to the next one. Called outside a fiber (the
 * CLI, a job, a handler without a fiber stack), or on SQLite (whose BEGIN
 * IMMEDIATE already makes every writer wait for the whole file; batches
 * measured slower there), batch_run runs a batch of one on the spot. The
 * queue is per node: nodes still contend for the row lock,
 * each with its batches.
 *
 * fn may be run more than once for one batch (db_tx_run retries on
 * SOUK_RETRY), so it resets the outcomes it writes; all args of one key
 * share fn, so keys name their kind ("bid:<auction id>").
 *
 * Thread safety: any thread; fn runs on the leader's.
 */
#ifndef SOUK_DB_BATCH_H
#define SOUK_DB_BATCH_H

#include "core/err.h"

struct db;
struct db_conn;

#define BATCH_MAX 64

typedef int (*batch_fn)(struct db_conn *tx, void **args, int n, struct souk_errinfo *ei);

int batch_run(struct db *db, const char *key, batch_fn fn, void *arg, struct souk_errinfo *ei);

#endif
