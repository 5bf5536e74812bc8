/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dirtier: the lab guest's workload, run by the guest's /init. Linked
 * statically so the initramfs needs nothing but busybox and this file.
 *
 * It fills a working set with non-zero, incompressible pseudo-random data
 * (zero pages travel as a flag and would make migration look instant), says
 * READY, then rewrites whole pages round-robin at a configured rate, paced
 * every few ms. Every page carries a stamp: its index and how many times it
 * has been rewritten ("sweep"). Because pages are rewritten strictly
 * round-robin, the expected sweep of every page follows from one counter, so
 * the verifier needs no table that could itself go stale. A rolling verifier
 * re-derives each page's full content and reports "VERIFY OK n" after every
 * complete pass, or "CORRUPT ..." for a page that does not match: that is
 * what a migration that loses writes (or pages) looks like.
 *
 * Parameters come from the kernel command line (or argv, for runs outside a
 * guest):
 *   vl.ws=MiB        working set (default 768)
 *   vl.dirty=MiB/s   rewrite rate, 0 = idle (default 0)
 *   vl.verify=S      seconds per full verify pass (default 8)
 *   vl.status=S      seconds between STATUS lines (default 5)
 *   vl.seconds=S     exit after S seconds (default 0 = never; tests only)
 *   vl.inject=1      corrupt one page after the first pass (tests only:
 *                    proves the verifier catches it)
 *
 * Console lines (each starts with a keyword, for grep):
 *   READY ws=768MiB dirty=10MiB/s pages=196608 fill_s=3.2
 *   STATUS t=35.0 dirty_mibs=10.00 sweeps=0 written_pages=... verify_passes=3
 *   VERIFY OK 3
 *   CORRUPT page=123 sweep_expected=4 sweep_found=3 word=0
 *   VERIFY FAILED 3 bad_pages=7
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SIZE 4096u
#define PAGE_WORDS (PAGE_SIZE / sizeof(uint64_t))
#define TICK_NS 5000000L          /* pacing period: 5 ms */
#define MAX_CORRUPT_LINES 20      /* per pass, to keep the console readable */
#define STAMP_MAGIC UINT64_C(0x766c2d6c616e6573) /* "vl-lanes" */

struct params {
    uint64_t ws_mib;
    uint64_t dirty_mibs;
    uint64_t verify_s;
    uint64_t status_s;
    uint64_t seconds;
    uint64_t inject;
};

static uint64_t *base;
static uint64_t npages;

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: fast, full-period, and its output is indistinguishable from
 * noise for a compressor, which is all the migration sees. */
static inline uint64_t
mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline uint64_t
word_at(uint64_t seed, uint64_t i)
{
    uint64_t v = mix64(seed + i * UINT64_C(0x9e3779b97f4a7c15));

    /* Never a zero word, so no page can ever be a zero page. */
    return v ? v : UINT64_C(0x5a5a5a5a5a5a5a5a);
}

static inline uint64_t
page_seed(uint64_t page, uint64_t sweep)
{
    return mix64(page * UINT64_C(0x100000001b3) ^ mix64(sweep + 1));
}

static void
fill_page(uint64_t page, uint64_t sweep)
{
    uint64_t *q = base + page * PAGE_WORDS;
    uint64_t seed = page_seed(page, sweep);
    unsigned i;

    q[0] = STAMP_MAGIC ^ page;
    q[1] = sweep;
    for (i = 2; i < PAGE_WORDS; i++)
        q[i] = word_at(seed, i);
}

/* How many times page has been rewritten after `written` round-robin writes. */
static inline uint64_t
sweep_of(uint64_t page, uint64_t written)
{
    return written / npages + (page < written % npages ? 1 : 0);
}

/* Returns -1 if the page is intact, else the index of the first bad word. */
static int
check_page(uint64_t page, uint64_t sweep)
{
    const uint64_t *q = base + page * PAGE_WORDS;
    uint64_t seed = page_seed(page, sweep);
    unsigned i;

    if (q[0] != (STAMP_MAGIC ^ page))
        return 0;
    if (q[1] != sweep)
        return 1;
    for (i = 2; i < PAGE_WORDS; i++) {
        if (q[i] != word_at(seed, i))
            return (int)i;
    }
    return -1;
}

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static void
parse_token(struct params *p, const char *tok)
{
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        { "vl.ws=", offsetof(struct params, ws_mib) },
        { "vl.dirty=", offsetof(struct params, dirty_mibs) },
        { "vl.verify=", offsetof(struct params, verify_s) },
        { "vl.status=", offsetof(struct params, status_s) },
        { "vl.seconds=", offsetof(struct params, seconds) },
        { "vl.inject=", offsetof(struct params, inject) },
    };
    size_t k;

    for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        size_t n = strlen(keys[k].key);

        if (strncmp(tok, keys[k].key, n) == 0) {
            uint64_t *field = (uint64_t *)((char *)p + keys[k].off);

            if (parse_u64(tok + n, field) < 0)
                printf("WARNING ignoring bad parameter '%s'\n", tok);
            return;
        }
    }
}

static void
parse_cmdline(struct params *p)
{
    char buf[4096];
    ssize_t n;
    char *tok, *save = NULL;
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (tok = strtok_r(buf, " \t\n", &save); tok;
         tok = strtok_r(NULL, " \t\n", &save))
        parse_token(p, tok);
}

/* As PID 1 we must never return: the kernel would panic and the console
 * would lose the reason. */
static void
halt_forever(void)
{
    fflush(stdout);
    if (getpid() != 1)
        exit(1);
    for (;;)
        pause();
}

int
main(int argc, char **argv)
{
    struct params p = { 768, 0, 8, 5, 0, 0 };
    double t_start, t_fill, t_next_status, t_last_status;
    uint64_t written = 0, written_at_status = 0;
    uint64_t vcursor = 0, passes = 0, bad_in_pass = 0, lines_in_pass = 0;
    uint64_t bad_total = 0;
    double dirty_credit = 0.0, verify_credit = 0.0;
    double pages_per_s, verify_pages_per_s;
    struct timespec next;
    uint64_t pg;
    int i;

    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_cmdline(&p);
    for (i = 1; i < argc; i++)
        parse_token(&p, argv[i]);
    if (p.ws_mib == 0 || p.verify_s == 0 || p.status_s == 0) {
        printf("FATAL vl.ws, vl.verify and vl.status must be positive\n");
        halt_forever();
    }

    npages = p.ws_mib * (1024 * 1024 / PAGE_SIZE);
    base = mmap(NULL, npages * PAGE_SIZE, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        printf("FATAL cannot map %" PRIu64 " MiB: %s\n", p.ws_mib, strerror(errno));
        halt_forever();
    }
    /* Page-sized dirtying only counts if the kernel does not fold pages
     * into huge ones behind our back (THP would still be fine for QEMU's
     * 4 KiB dirty log, but keep the guest's memory layout plain). */
    madvise(base, npages * PAGE_SIZE, MADV_NOHUGEPAGE);

    t_start = now_s();
    for (pg = 0; pg < npages; pg++)
        fill_page(pg, 0);
    t_fill = now_s();
    printf("READY ws=%" PRIu64 "MiB dirty=%" PRIu64 "MiB/s pages=%" PRIu64
           " fill_s=%.1f\n", p.ws_mib, p.dirty_mibs, npages, t_fill - t_start);

    pages_per_s = (double)p.dirty_mibs * (1024.0 * 1024.0 / PAGE_SIZE);
    verify_pages_per_s = (double)npages / (double)p.verify_s;
    t_start = t_last_status = now_s();
    t_next_status = t_start + (double)p.status_s;
    clock_gettime(CLOCK_MONOTONIC, &next);

    for (;;) {
        double t = now_s();
        uint64_t todo;

        /* Dirtying: credit accrues at the configured rate; at most one
         * second of backlog, so a stall (e.g. migration downtime) does not
         * become a burst afterwards. */
        dirty_credit += pages_per_s * ((double)TICK_NS / 1e9);
        if (dirty_credit > pages_per_s)
            dirty_credit = pages_per_s;
        todo = (uint64_t)dirty_credit;
        dirty_credit -= (double)todo;
        while (todo--) {
            pg = written % npages;
            fill_page(pg, written / npages + 1);
            written++;
        }

        /* Rolling verify of full page contents. */
        verify_credit += verify_pages_per_s * ((double)TICK_NS / 1e9);
        if (verify_credit > verify_pages_per_s)
            verify_credit = verify_pages_per_s;
        todo = (uint64_t)verify_credit;
        verify_credit -= (double)todo;
        while (todo--) {
            uint64_t want = sweep_of(vcursor, written);
            int bad = check_page(vcursor, want);

            if (bad >= 0) {
                bad_in_pass++;
                bad_total++;
                if (lines_in_pass++ < MAX_CORRUPT_LINES) {
                    const uint64_t *q = base + vcursor * PAGE_WORDS;

                    printf("CORRUPT page=%" PRIu64 " sweep_expected=%" PRIu64
                           " sweep_found=%" PRIu64 " word=%d\n",
                           vcursor, want, q[1], bad);
                }
            }
            if (++vcursor == npages) {
                passes++;
                if (bad_in_pass == 0)
                    printf("VERIFY OK %" PRIu64 "\n", passes);
                else
                    printf("VERIFY FAILED %" PRIu64 " bad_pages=%" PRIu64 "\n",
                           passes, bad_in_pass);
                vcursor = 0;
                bad_in_pass = lines_in_pass = 0;
                if (p.inject && passes == 1) {
                    /* Test hook: a silent change of one word. */
                    base[(npages / 2) * PAGE_WORDS + 7] ^= 1;
                    printf("INJECTED page=%" PRIu64 "\n", npages / 2);
                }
            }
        }

        if (t >= t_next_status) {
            printf("STATUS t=%.1f dirty_mibs=%.2f sweeps=%" PRIu64
                   " written_pages=%" PRIu64 " verify_passes=%" PRIu64 "\n",
                   t - t_start,
                   (double)(written - written_at_status) * PAGE_SIZE /
                       (1024.0 * 1024.0) / (t - t_last_status),
                   written / npages, written, passes);
            written_at_status = written;
            t_last_status = t;
            t_next_status += (double)p.status_s;
            if (t_next_status < t)
                t_next_status = t + (double)p.status_s;
        }
        if (p.seconds && getpid() != 1 && t - t_start >= (double)p.seconds) {
            printf("DONE written_pages=%" PRIu64 " verify_passes=%" PRIu64 "\n",
                   written, passes);
            return bad_total ? 1 : 0;
        }

        next.tv_nsec += TICK_NS;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        /* After a long stall, pace from now rather than replaying ticks. */
        if ((double)next.tv_sec + (double)next.tv_nsec / 1e9 < t - 0.1)
            clock_gettime(CLOCK_MONOTONIC, &next);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
}
