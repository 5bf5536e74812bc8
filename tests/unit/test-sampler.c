/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VlSampler: a collection runs in a worker thread, the main loop keeps
 * turning meanwhile, values come from two samples, one run at a time,
 * and a sampler freed during a run never calls back.
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "sampler.h"
#include "test-util.h"
#include "vl-error.h"

#define WAIT_MS 10000

/* A source whose collect() can be held until the test releases it. */
typedef struct {
    GMutex lock;
    GCond cond;
    gboolean hold;
    gboolean inside;        /* collect() is waiting */
    guint collections;
    GThread *main_thread;
    gboolean on_main_thread;
} Fake;

static VlStatsBatch *
fake_collect(gpointer data, virConnectPtr conn G_GNUC_UNUSED,
             GError **error)
{
    Fake *fake = data;
    VlStatsBatch *batch;
    virTypedParameter params[3];
    guint n;

    g_mutex_lock(&fake->lock);
    if (g_thread_self() == fake->main_thread)
        fake->on_main_thread = TRUE;
    fake->inside = TRUE;
    g_main_context_wakeup(NULL);
    while (fake->hold)
        g_cond_wait(&fake->cond, &fake->lock);
    fake->inside = FALSE;
    n = fake->collections++;
    g_mutex_unlock(&fake->lock);

    if (n == 2) {
        g_set_error(error, VL_ERROR, VL_ERROR_FAILED, "collection %u failed", n);
        return NULL;
    }
    memset(params, 0, sizeof(params));
    g_strlcpy(params[0].field, "state.state", sizeof(params[0].field));
    params[0].type = VIR_TYPED_PARAM_INT;
    params[0].value.i = 1;
    g_strlcpy(params[1].field, "cpu.time", sizeof(params[1].field));
    params[1].type = VIR_TYPED_PARAM_ULLONG;
    /* Half a vCPU: 0.5 s of CPU per second. */
    params[1].value.ul = (unsigned long long)n * 5000000000ULL;
    g_strlcpy(params[2].field, "vcpu.current", sizeof(params[2].field));
    params[2].type = VIR_TYPED_PARAM_UINT;
    params[2].value.ui = 1;

    batch = vl_stats_batch_new();
    vl_stats_batch_add(batch, "zeta", 7, params, 3, (gint64)n * 10000000000);
    vl_stats_batch_add(batch, "alpha", 3, params, 1, (gint64)n * 10000000000);
    return batch;
}

static const VlStatsSourceOps fake_ops = {
    .collect = fake_collect,
    .free = NULL,
    .needs_connection = FALSE,
};

typedef struct {
    guint calls;
    VlSample *sample;
    char *error;
} Result;

static void
on_done(VlSampler *sampler G_GNUC_UNUSED, VlSample *sample,
        const GError *error, gpointer user_data)
{
    Result *r = user_data;

    r->calls++;
    g_clear_pointer(&r->sample, vl_sample_free);
    g_clear_pointer(&r->error, g_free);
    r->sample = sample;
    if (error)
        r->error = g_strdup(error->message);
}

static gboolean
done_once(gpointer data)
{
    return ((Result *)data)->calls > 0;
}

static gboolean
fake_inside(gpointer data)
{
    Fake *fake = data;
    gboolean inside;

    g_mutex_lock(&fake->lock);
    inside = fake->inside;
    g_mutex_unlock(&fake->lock);
    return inside;
}

static void
fake_release(Fake *fake)
{
    g_mutex_lock(&fake->lock);
    fake->hold = FALSE;
    g_cond_broadcast(&fake->cond);
    g_mutex_unlock(&fake->lock);
}

static void
run_once(VlSampler *sampler, Result *r)
{
    r->calls = 0;
    ck_assert(vl_sampler_run(sampler, NULL, on_done, r));
    ck_assert(vl_test_loop_run_until(done_once, r, WAIT_MS));
    ck_assert(!vl_sampler_is_running(sampler));
}

START_TEST(test_values_from_two_samples)
{
    Fake fake = { .main_thread = g_thread_self() };
    g_autoptr(VlStatsSource) source = vl_stats_source_new("fake", &fake_ops, &fake);
    g_autoptr(VlSampler) sampler = vl_sampler_new(source);
    Result r = { 0 };
    const VlSampleEntry *e;

    run_once(sampler, &r);
    ck_assert_ptr_nonnull(r.sample);
    ck_assert(!fake.on_main_thread);
    ck_assert_uint_eq(r.sample->entries->len, 2);
    /* Sorted by name. */
    ck_assert_str_eq(g_array_index(r.sample->entries, VlSampleEntry, 0).name, "alpha");
    e = vl_sample_lookup(r.sample, "zeta");
    ck_assert_int_eq(e->state, 1);
    ck_assert(isnan(e->values[VL_INDICATOR_CPU]));     /* first sample */
    ck_assert_ptr_null(vl_sample_lookup(r.sample, "nope"));
    ck_assert_int_ge(r.sample->duration_us, 0);
    ck_assert_int_ge(r.sample->cpu_us, 0);

    run_once(sampler, &r);
    e = vl_sample_lookup(r.sample, "zeta");
    ck_assert_double_eq_tol(e->values[VL_INDICATOR_CPU], 50.0, 1e-9);
    /* "alpha" reported only its state: no CPU value, and no state wrong. */
    e = vl_sample_lookup(r.sample, "alpha");
    ck_assert_int_eq(e->state, 1);
    ck_assert(isnan(e->values[VL_INDICATOR_CPU]));

    /* A failed collection reports its error, and no sample. */
    run_once(sampler, &r);
    ck_assert_ptr_null(r.sample);
    ck_assert_str_eq(r.error, "collection 2 failed");

    /* The tracker survived the failure: rates again at once. */
    run_once(sampler, &r);
    e = vl_sample_lookup(r.sample, "zeta");
    ck_assert(!isnan(e->values[VL_INDICATOR_CPU]));
    vl_sample_free(r.sample);
    g_free(r.error);
}
END_TEST

START_TEST(test_one_run_at_a_time)
{
    Fake fake = { .main_thread = g_thread_self(), .hold = TRUE };
    g_autoptr(VlStatsSource) source = vl_stats_source_new("fake", &fake_ops, &fake);
    g_autoptr(VlSampler) sampler = vl_sampler_new(source);
    Result r = { 0 };
    Result other = { 0 };

    ck_assert(vl_sampler_run(sampler, NULL, on_done, &r));
    /* The collection blocks in its thread; the loop still turns. */
    ck_assert(vl_test_loop_run_until(fake_inside, &fake, WAIT_MS));
    ck_assert(vl_sampler_is_running(sampler));
    ck_assert(!vl_sampler_run(sampler, NULL, on_done, &other));
    ck_assert_uint_eq(r.calls, 0);

    fake_release(&fake);
    ck_assert(vl_test_loop_run_until(done_once, &r, WAIT_MS));
    ck_assert_uint_eq(other.calls, 0);
    ck_assert_uint_eq(fake.collections, 1);
    vl_sample_free(r.sample);
}
END_TEST

static gboolean
collected(gpointer data)
{
    Fake *fake = data;
    guint n;

    g_mutex_lock(&fake->lock);
    n = fake->collections;
    g_mutex_unlock(&fake->lock);
    return n > 0;
}

START_TEST(test_free_during_run)
{
    Fake fake = { .main_thread = g_thread_self(), .hold = TRUE };
    g_autoptr(VlStatsSource) source = vl_stats_source_new("fake", &fake_ops, &fake);
    VlSampler *sampler = vl_sampler_new(source);
    Result r = { 0 };

    ck_assert(vl_sampler_run(sampler, NULL, on_done, &r));
    ck_assert(vl_test_loop_run_until(fake_inside, &fake, WAIT_MS));
    vl_sampler_free(sampler);
    fake_release(&fake);
    ck_assert(vl_test_loop_run_until(collected, &fake, WAIT_MS));
    /* Give the completion every chance to (wrongly) arrive. */
    vl_test_loop_run_until(done_once, &r, 300);
    ck_assert_uint_eq(r.calls, 0);
}
END_TEST

/* A new source starts from scratch: no rate across two sources. */
START_TEST(test_new_source_forgets)
{
    Fake fake = { .main_thread = g_thread_self() };
    g_autoptr(VlStatsSource) source = vl_stats_source_new("fake", &fake_ops, &fake);
    g_autoptr(VlStatsSource) again = vl_stats_source_new("again", &fake_ops, &fake);
    g_autoptr(VlSampler) sampler = vl_sampler_new(source);
    Result r = { 0 };

    run_once(sampler, &r);
    vl_sampler_set_source(sampler, again);
    ck_assert_ptr_eq(vl_sampler_get_source(sampler), again);
    run_once(sampler, &r);
    ck_assert(isnan(vl_sample_lookup(r.sample, "zeta")->values[VL_INDICATOR_CPU]));
    vl_sample_free(r.sample);
}
END_TEST

static Suite *
sampler_suite(void)
{
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("runs");

    tcase_add_test(tc, test_values_from_two_samples);
    tcase_add_test(tc, test_one_run_at_a_time);
    tcase_add_test(tc, test_free_during_run);
    tcase_add_test(tc, test_new_source_forgets);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(sampler_suite());
}
