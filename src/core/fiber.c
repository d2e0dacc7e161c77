/* fiber.c - fibers on ucontext, stacks from mmap with a guard page, kept in
 * a small process-wide pool (see fiber.h for the rules).
 *
 * Under AddressSanitizer every switch is announced with
 * __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber, so that
 * ASan knows which stack is current (no false reports, fake stacks freed
 * when a fiber ends).
 *
 * Thread safety: the stack pool has its own mutex; a fiber's context and
 * state belong to its scheduler thread; `self` and the scheduler's context
 * are thread-local.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/fiber.h"

#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#include <sanitizer/common_interface_defs.h>
#define FIBER_STACK (2u << 20) /* ASan's redzones and fake frames take room */
#else
#define FIBER_ASAN 0
#define FIBER_STACK (512u << 10)
#endif
#define FIBER_POOL_MAX 256 /* stacks kept for reuse */

struct fiber {
    ucontext_t ctx;
    fiber_fn fn;
    void *ud;
    fiber_waker waker;
    void *waker_ud;
    char *map; /* guard page + stack */
    size_t map_len;
    int done;
    ucontext_t *sched;  /* the scheduler's context while the fiber runs */
    void *asan_fake;    /* ASan: the scheduler's fake stack while switched out */
    const void *sched_bottom;
    size_t sched_size;
    struct fiber *next; /* pool */
};

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fiber *pool;
static int pool_n;
static _Thread_local struct fiber *self;

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static struct fiber *take(void)
{
    struct fiber *f;
    size_t len = FIBER_STACK + page_size();

    pthread_mutex_lock(&pool_mu);
    f = pool;
    if (f) {
        pool = f->next;
        pool_n--;
    }
    pthread_mutex_unlock(&pool_mu);
    if (f)
        return f;
    if (!(f = calloc(1, sizeof *f)))
        return NULL;
    f->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                  -1, 0);
    if (f->map == MAP_FAILED || mprotect(f->map, page_size(), PROT_NONE) != 0) {
        if (f->map != MAP_FAILED)
            munmap(f->map, len);
        free(f);
        return NULL;
    }
    f->map_len = len;
    return f;
}

void fiber_free(struct fiber *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&pool_mu);
    if (pool_n < FIBER_POOL_MAX) {
        f->next = pool;
        pool = f;
        pool_n++;
        f = NULL;
    }
    pthread_mutex_unlock(&pool_mu);
    if (f) {
        munmap(f->map, f->map_len);
        free(f);
    }
}

static void switch_begin(void **fake, const void *bottom, size_t size)
{
#if FIBER_ASAN
    __sanitizer_start_switch_fiber(fake, bottom, size);
#else
    (void)fake, (void)bottom, (void)size;
#endif
}

static void switch_end(void *fake, const void **bottom_old, size_t *size_old)
{
#if FIBER_ASAN
    __sanitizer_finish_switch_fiber(fake, bottom_old, size_old);
#else
    (void)fake, (void)bottom_old, (void)size_old;
#endif
}

static void stack_bounds(const struct fiber *f, const void **bottom, size_t *size)
{
    *bottom = f->map + page_size();
    *size = FIBER_STACK;
}

/* makecontext passes ints: the pointer travels in two halves. */
static void trampoline(unsigned hi, unsigned lo)
{
    struct fiber *f = (struct fiber *)(uintptr_t)(((uint64_t)hi << 32) | (uint64_t)lo);

    switch_end(NULL, &f->sched_bottom, &f->sched_size);
    f->fn(f->ud);
    f->done = 1;
    self = NULL;
    switch_begin(NULL, f->sched_bottom, f->sched_size); /* NULL: this stack is finished */
    setcontext(f->sched);
}

/* The context that starts f at trampoline on its own stack. Apart, because
 * getcontext returns twice for the compiler (nothing here is live across it
 * but its argument, and the context is never set back to that point). */
static __attribute__((noinline)) int make_ctx(struct fiber *volatile f)
{
    uint64_t p;

    if (getcontext(&f->ctx) != 0)
        return -1;
    p = (uint64_t)(uintptr_t)f;
    f->ctx.uc_stack.ss_sp = f->map + page_size();
    f->ctx.uc_stack.ss_size = FIBER_STACK;
    f->ctx.uc_link = NULL;
    makecontext(&f->ctx, (void (*)(void))trampoline, 2, (unsigned)(p >> 32),
                (unsigned)(p & 0xffffffffu));
    return 0;
}

struct fiber *fiber_new(fiber_fn fn, void *ud, fiber_waker waker, void *waker_ud)
{
    struct fiber *f = take();

    if (!f)
        return NULL;
    f->fn = fn;
    f->ud = ud;
    f->waker = waker;
    f->waker_ud = waker_ud;
    f->done = 0;
    f->next = NULL;
    if (make_ctx(f) != 0) {
        fiber_free(f);
        return NULL;
    }
    return f;
}

int fiber_resume(struct fiber *f)
{
    ucontext_t here;
    const void *bottom;
    size_t size;
    void *fake = NULL;

    /* only used while the fiber runs, i.e. inside this call */
    // cppcheck-suppress autoVariables
    f->sched = &here;
    self = f;
    stack_bounds(f, &bottom, &size);
    switch_begin(&fake, bottom, size);
    swapcontext(&here, &f->ctx);
    switch_end(fake, NULL, NULL);
    self = NULL;
    return f->done;
}

void *fiber_data(const struct fiber *f)
{
    return f->ud;
}

struct fiber *fiber_self(void)
{
    return self;
}

void fiber_park(void)
{
    struct fiber *f = self;

    if (!f)
        return;
    self = NULL;
    switch_begin(&f->asan_fake, f->sched_bottom, f->sched_size);
    swapcontext(&f->ctx, f->sched);
    switch_end(f->asan_fake, &f->sched_bottom, &f->sched_size);
    self = f;
}

void fiber_wake(struct fiber *f)
{
    f->waker(f, f->waker_ud);
}
