/* fiber.h - a piece of work on its own stack that can park while it waits
 * for something another thread will finish (a provider call in flight),
 * so that the thread that runs it can do other work meanwhile.
 *
 * The HTTP server runs the handlers of ROUTE_PROVIDER routes in fibers
 * (src/http/server.c); the Stripe client parks the fiber for the length of
 * each call and each retry wait (src/payments/stripe.c), so no worker thread
 * waits on the network. The job workers run the kinds registered with
 * job_register_provider in fibers the same way (src/jobs/jobs.c). Code that
 * is not in a fiber (other jobs, the CLI) sees fiber_self() == NULL and
 * simply blocks.
 *
 * Rules for code that may park (anything that calls the provider):
 *   - never park holding a mutex, a database transaction or a pooled
 *     connection (other fibers of the same thread would wait on it);
 *   - a fiber is always resumed by the thread that started it (its
 *     scheduler), so thread-local state seen before and after a park is
 *     that thread's.
 *
 * Thread safety: fiber_wake may be called from any thread, once per park;
 * everything else belongs to the fiber's scheduler thread.
 */
#ifndef SOUK_CORE_FIBER_H
#define SOUK_CORE_FIBER_H

#include <stddef.h>

struct fiber;
typedef void (*fiber_fn)(void *ud);
/* Called by fiber_wake (any thread): must arrange for the scheduler to call
 * fiber_resume(f) on the thread that owns f. */
typedef void (*fiber_waker)(struct fiber *f, void *ud);

/* Scheduler side --------------------------------------------------------- */
/* A fiber that will run fn(ud) on a stack of its own (taken from a pool);
 * NULL when no stack can be had. */
struct fiber *fiber_new(fiber_fn fn, void *ud, fiber_waker waker, void *waker_ud);
/* Runs f until it returns (then 1: free it) or parks (0). */
int fiber_resume(struct fiber *f);
/* Frees a finished fiber (its stack goes back to the pool). */
void fiber_free(struct fiber *f);
/* The user data given to fiber_new. */
void *fiber_data(const struct fiber *f);

/* Fiber side ------------------------------------------------------------- */
/* The fiber this code runs in, or NULL on a plain thread stack. */
struct fiber *fiber_self(void);
/* Switches back to the scheduler; returns once fiber_wake(self) was called
 * and the scheduler resumed the fiber. Every wake is matched by exactly one
 * park: the wake may come first (even before the fiber parks, from another
 * thread), and the park that follows must still happen, since the waker has
 * already queued the fiber to be resumed. */
void fiber_park(void);
/* Any thread: the fiber may go on (calls its waker). Once per park. */
void fiber_wake(struct fiber *f);

#endif
