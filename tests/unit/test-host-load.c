/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's own load: libvirt's node counters read, two readings
 * turned into percentages, and the judgement against host_load.
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "host-load.h"
#include "indicators.h"
#include "test-util.h"

static void
set_cpu(virNodeCPUStats *s, const char *field, guint64 value)
{
    memset(s, 0, sizeof(*s));
    g_strlcpy(s->field, field, sizeof(s->field));
    s->value = value;
}

static void
set_memory(virNodeMemoryStats *s, const char *field, guint64 value)
{
    memset(s, 0, sizeof(*s));
    g_strlcpy(s->field, field, sizeof(s->field));
    s->value = value;
}

START_TEST(test_from_node)
{
    virNodeCPUStats cpu[5];
    virNodeMemoryStats memory[4];
    VlHostStats stats;

    set_cpu(&cpu[0], "user", 300);
    set_cpu(&cpu[1], "kernel", 100);
    set_cpu(&cpu[2], "idle", 500);
    set_cpu(&cpu[3], "iowait", 100);
    set_cpu(&cpu[4], "intr", 999999);     /* ignored */
    set_memory(&memory[0], "total", 8000);
    set_memory(&memory[1], "free", 1000);
    set_memory(&memory[2], "buffers", 500);
    set_memory(&memory[3], "cached", 1500);

    vl_host_stats_from_node(cpu, 5, memory, 4, 42, &stats);
    ck_assert(stats.cpu_known);
    ck_assert_uint_eq(stats.cpu_busy_ns, 400);
    ck_assert_uint_eq(stats.cpu_total_ns, 1000);
    ck_assert(stats.memory_known);
    ck_assert_uint_eq(stats.memory_total_kib, 8000);
    ck_assert_uint_eq(stats.memory_used_kib, 5000);
    ck_assert_int_eq(stats.timestamp_ns, 42);

    /* Without idle the CPU is unknown; without free the memory. */
    vl_host_stats_from_node(cpu, 2, memory, 1, 0, &stats);
    ck_assert(!stats.cpu_known);
    ck_assert(!stats.memory_known);

    /* Nothing at all (the test driver has no memory statistics). */
    vl_host_stats_from_node(NULL, 0, NULL, 0, 0, &stats);
    ck_assert(!stats.cpu_known);
    ck_assert(!stats.memory_known);

    /* A zero total, and more free than total: never negative. */
    set_memory(&memory[0], "total", 0);
    vl_host_stats_from_node(NULL, 0, memory, 2, 0, &stats);
    ck_assert(!stats.memory_known);
    set_memory(&memory[0], "total", 100);
    set_memory(&memory[1], "free", G_MAXUINT64);
    vl_host_stats_from_node(NULL, 0, memory, 4, 0, &stats);
    ck_assert(stats.memory_known);
    ck_assert_uint_eq(stats.memory_used_kib, 0);

    /* A field name without its NUL matches nothing. */
    memset(cpu[2].field, 'x', sizeof(cpu[2].field));
    vl_host_stats_from_node(cpu, 5, NULL, 0, 0, &stats);
    ck_assert(!stats.cpu_known);
}
END_TEST

static VlHostStats
reading(gboolean cpu, guint64 busy, guint64 total, gboolean memory,
        guint64 mem_total, guint64 used)
{
    VlHostStats s = { 0 };

    s.cpu_known = cpu;
    s.cpu_busy_ns = busy;
    s.cpu_total_ns = total;
    s.memory_known = memory;
    s.memory_total_kib = mem_total;
    s.memory_used_kib = used;
    return s;
}

START_TEST(test_compute)
{
    VlHostStats a = reading(TRUE, 1000, 4000, TRUE, 1000, 250);
    VlHostStats b = reading(TRUE, 1900, 5000, TRUE, 1000, 800);
    VlHostStats reset = reading(TRUE, 100, 6000, TRUE, 1000, 800);
    VlHostStats still = reading(TRUE, 1000, 4000, FALSE, 0, 0);
    double v[VL_HOST_INDICATOR_LAST];

    /* First reading: memory only. */
    vl_host_load_compute(NULL, &a, v);
    ck_assert(isnan(v[VL_HOST_INDICATOR_CPU]));
    ck_assert_double_eq_tol(v[VL_HOST_INDICATOR_MEMORY], 25.0, 1e-9);

    vl_host_load_compute(&a, &b, v);
    ck_assert_double_eq_tol(v[VL_HOST_INDICATOR_CPU], 90.0, 1e-9);
    ck_assert_double_eq_tol(v[VL_HOST_INDICATOR_MEMORY], 80.0, 1e-9);

    /* Busy went backwards, or no time passed: no CPU value. */
    vl_host_load_compute(&b, &reset, v);
    ck_assert(isnan(v[VL_HOST_INDICATOR_CPU]));
    vl_host_load_compute(&a, &still, v);
    ck_assert(isnan(v[VL_HOST_INDICATOR_CPU]));
    ck_assert(isnan(v[VL_HOST_INDICATOR_MEMORY]));
}
END_TEST

typedef struct {
    gboolean cpu_on, memory_on;
    double cpu, memory;
    VlContainerHostLoad expected;
} ClassifyCase;

/* cpu 40/85, memory 60/90 when listed. */
static const ClassifyCase classify_cases[] = {
    { TRUE, FALSE, 86, NAN, VL_CONTAINER_HOST_OVER },
    { TRUE, FALSE, 85, NAN, VL_CONTAINER_HOST_IN_BAND },   /* strict */
    { TRUE, FALSE, 40, NAN, VL_CONTAINER_HOST_IN_BAND },   /* strict */
    { TRUE, FALSE, 39.9, NAN, VL_CONTAINER_HOST_UNDER },
    { TRUE, FALSE, NAN, 99, VL_CONTAINER_HOST_UNKNOWN },
    { TRUE, TRUE, 10, 95, VL_CONTAINER_HOST_OVER },         /* any over */
    { TRUE, TRUE, 10, 70, VL_CONTAINER_HOST_IN_BAND },      /* all under */
    { TRUE, TRUE, 10, 50, VL_CONTAINER_HOST_UNDER },
    { TRUE, TRUE, 90, NAN, VL_CONTAINER_HOST_UNKNOWN },     /* partial view */
    { FALSE, TRUE, NAN, 91, VL_CONTAINER_HOST_OVER },       /* cpu not listed */
    { FALSE, FALSE, 99, 99, VL_CONTAINER_HOST_UNKNOWN },    /* no host_load */
};

START_TEST(test_classify)
{
    const ClassifyCase *c = &classify_cases[_i];
    VlHostLoadPolicy policy = { 0 };
    double values[VL_HOST_INDICATOR_LAST] = { c->cpu, c->memory };

    policy.enabled = c->cpu_on || c->memory_on;
    policy.indicators[VL_HOST_INDICATOR_CPU] =
        (VlHostThresholds){ c->cpu_on, 40, 85 };
    policy.indicators[VL_HOST_INDICATOR_MEMORY] =
        (VlHostThresholds){ c->memory_on, 60, 90 };
    ck_assert_int_eq(vl_host_load_classify(&policy, values), c->expected);
}
END_TEST

START_TEST(test_classify_null)
{
    double values[VL_HOST_INDICATOR_LAST] = { 99, 99 };

    ck_assert_int_eq(vl_host_load_classify(NULL, values),
                     VL_CONTAINER_HOST_UNKNOWN);
}
END_TEST

static Suite *
host_load_suite(void)
{
    Suite *s = suite_create("host-load");
    TCase *tc;

    tc = tcase_create("read");
    tcase_add_test(tc, test_from_node);
    tcase_add_test(tc, test_compute);
    suite_add_tcase(s, tc);

    tc = tcase_create("classify");
    tcase_add_loop_test(tc, test_classify, 0, G_N_ELEMENTS(classify_cases));
    tcase_add_test(tc, test_classify_null);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(host_load_suite());
}
