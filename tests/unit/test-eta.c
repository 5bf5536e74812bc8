/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-eta.c: online re-estimation from job-stats samples
 *
 * The traces come from a small stand-alone simulation of QEMU 7.2's
 * pre-copy loop (10 ms steps, sync when remaining < bandwidth x downtime
 * checked every 50 ms, job stats polled every second), deliberately not
 * the estimator's own code.
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "eta.h"
#include "test-util.h"

#define MIB (1048576.0)
#define GIB (1024 * MIB)
#define PAGE 4096

typedef struct {
    double memory;
    double bw;              /* bytes/s */
    double bw_noise;        /* +- this fraction, a new draw every second */
    double dirty;           /* bytes/s */
    double dirty_noise;     /* +- this fraction, a new draw every pass */
    double ws;              /* writable working set */
    double setup;           /* seconds before RAM flows */
    double max_time;
    guint32 seed;
} TraceSpec;

typedef struct {
    GArray *samples;        /* VlEtaSample */
    gboolean completed;
    double completion_s;
    GArray *boundary_remaining;     /* double: remaining right after syncs */
} Trace;

static void
trace_clear(Trace *t)
{
    g_clear_pointer(&t->samples, g_array_unref);
    g_clear_pointer(&t->boundary_remaining, g_array_unref);
}

static Trace
make_trace(const TraceSpec *spec)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(spec->seed);
    Trace tr = { 0 };
    double dt = 0.01;
    double R = spec->memory;
    double processed = 0;
    double dirtied = 0;
    double since_rate = 0;
    double reported = 0;
    double bw = spec->bw;
    double dirty = spec->dirty;
    guint64 iteration = 0;
    long step;

    tr.samples = g_array_new(FALSE, TRUE, sizeof(VlEtaSample));
    tr.boundary_remaining = g_array_new(FALSE, TRUE, sizeof(double));

    for (step = 0; step * dt < spec->max_time; step++) {
        double t = step * dt;

        if (step % 100 == 0) {
            VlEtaSample s = { 0 };

            bw = spec->bw * (1 + spec->bw_noise * g_rand_double_range(rand, -1, 1));
            s.time_elapsed_ms = step * 10;
            s.memory_total = spec->memory;
            s.memory_processed = processed;
            s.memory_remaining = R;
            s.memory_bps = iteration ? bw : 0;
            s.memory_dirty_rate = reported / PAGE;
            s.page_size = PAGE;
            s.memory_iteration = iteration;
            s.downtime_limit_ms = 300;
            g_array_append_val(tr.samples, s);
        }
        if (t < spec->setup)
            continue;
        if (iteration == 0)
            iteration = 1;      /* the sync in ram_save_setup */

        processed += MIN(R, bw * dt);
        R -= MIN(R, bw * dt);
        dirtied = MIN(dirtied + dirty * dt, spec->ws);
        since_rate += dt;

        if (step % 5 == 0 && R < bw * 0.3) {
            R += dirtied;
            /* QEMU: new dirty pages found / time since the last sync */
            reported = dirtied / since_rate;
            dirtied = 0;
            since_rate = 0;
            iteration++;
            g_array_append_val(tr.boundary_remaining, R);
            dirty = spec->dirty *
                    (1 + spec->dirty_noise * g_rand_double_range(rand, -1, 1));
            if (R < bw * 0.3) {
                tr.completed = TRUE;
                tr.completion_s = t + R / bw;
                break;
            }
        }
    }
    return tr;
}

static void
feed(VlEta *eta, const VlEtaSample *s, VlEtaResult *r)
{
    g_autoptr(GError) error = NULL;

    ck_assert_msg(vl_eta_update(eta, s, &error), "update failed: %s",
                  error ? error->message : "?");
    vl_eta_get_result(eta, r);
}

START_TEST(test_converging)
{
    /* the lab's one-lane 10 MiB/s case */
    TraceSpec spec = {
        .memory = GIB, .bw = 22.7 * MIB, .dirty = 10 * MIB, .ws = 768 * MIB,
        .setup = 1.5, .max_time = 300, .seed = 1,
    };
    Trace tr = make_trace(&spec);
    g_autoptr(VlEta) eta = vl_eta_new(NULL);
    VlEtaResult r;
    guint checked = 0;
    guint i;

    /* no zero pages here: ~45 s for the first pass, ~82 s in all */
    ck_assert(tr.completed);
    ck_assert(tr.completion_s > 75 && tr.completion_s < 90);

    for (i = 0; i < tr.samples->len; i++) {
        const VlEtaSample *s = &g_array_index(tr.samples, VlEtaSample, i);
        double t = s->time_elapsed_ms / 1000.0;
        double truth = tr.completion_s - t;

        feed(eta, s, &r);
        ck_assert_int_ne(r.verdict, VL_ETA_VERDICT_NOT_CONVERGING);
        if (s->memory_iteration < 2)
            continue;
        /* once a dirty rate is known the ETA holds, sawtooth or not */
        ck_assert_msg(r.verdict == VL_ETA_VERDICT_CONVERGING,
                      "at %.0f s: '%s' (%s)", t,
                      vl_eta_verdict_to_string(r.verdict), r.reason);
        ck_assert_msg(fabs(r.eta_s - truth) <= 0.10 * truth + 1.0,
                      "at %.0f s: ETA %.1f s, truth %.1f s", t, r.eta_s, truth);
        checked++;
    }
    ck_assert_uint_ge(checked, 30);
    ck_assert(fabs(r.bandwidth_bps - 22.7 * MIB) < 0.02 * 22.7 * MIB);
    ck_assert(fabs(r.dirty_rate_bps - 10 * MIB) < 0.05 * 10 * MIB);
    ck_assert(r.rho > 0.4 && r.rho < 0.48);
    ck_assert(!r.dirty_rate_saturated);
    ck_assert_uint_eq(r.boundaries_without_progress, 0);
    trace_clear(&tr);
}
END_TEST

START_TEST(test_not_converging)
{
    /* the lab's one-lane 30 MiB/s case: the 768 MiB working set is
     * re-dirtied faster than it is sent */
    TraceSpec spec = {
        .memory = GIB, .bw = 22.7 * MIB, .dirty = 30 * MIB, .ws = 768 * MIB,
        .setup = 1.5, .max_time = 240, .seed = 2,
    };
    Trace tr = make_trace(&spec);
    g_autoptr(VlEta) eta = vl_eta_new(NULL);
    VlEtaResult r;
    double fired_at = -1;
    guint i;

    ck_assert(!tr.completed);
    for (i = 0; i < tr.samples->len; i++) {
        const VlEtaSample *s = &g_array_index(tr.samples, VlEtaSample, i);

        feed(eta, s, &r);
        if (r.verdict == VL_ETA_VERDICT_NOT_CONVERGING && fired_at < 0)
            fired_at = s->time_elapsed_ms / 1000.0;
        /* before the first pass ends nothing shows a stall */
        if (s->memory_iteration <= 2)
            ck_assert_int_ne(r.verdict, VL_ETA_VERDICT_NOT_CONVERGING);
        /* QEMU's first rate (768 MiB over a 45 s pass, 17 MiB/s) looks
         * fine; from the next boundary on, remaining has not fallen and
         * the reported rate sits at the link rate */
        if (s->memory_iteration >= 3)
            ck_assert_msg(r.verdict != VL_ETA_VERDICT_CONVERGING,
                          "at %.0f s: converging?",
                          s->time_elapsed_ms / 1000.0);
    }
    ck_assert_int_eq(r.verdict, VL_ETA_VERDICT_NOT_CONVERGING);
    ck_assert(isinf(r.eta_s));
    ck_assert(r.dirty_rate_saturated);
    ck_assert_uint_ge(r.boundaries_without_progress, 3);
    /* passes take ~34 s: the first after pass 1 sets the mark, three
     * more without progress fire it */
    ck_assert_msg(fired_at > 100 && fired_at < 200, "fired at %.0f s", fired_at);
    trace_clear(&tr);
}
END_TEST

START_TEST(test_growing)
{
    /* dirtying all of RAM faster than the link: remaining grows */
    TraceSpec spec = {
        .memory = GIB, .bw = 50 * MIB, .dirty = 60 * MIB, .ws = GIB,
        .setup = 1, .max_time = 200, .seed = 3,
    };
    Trace tr = make_trace(&spec);
    g_autoptr(VlEta) eta = vl_eta_new(NULL);
    VlEtaResult r;
    guint i;

    for (i = 0; i < tr.samples->len; i++)
        feed(eta, &g_array_index(tr.samples, VlEtaSample, i), &r);
    ck_assert(!tr.completed);
    ck_assert_int_eq(r.verdict, VL_ETA_VERDICT_NOT_CONVERGING);
    trace_clear(&tr);
}
END_TEST

START_TEST(test_noisy_converging)
{
    /* bandwidth +-40 % second to second, dirty rate +-60 % pass to pass
     * around rho = 0.6: remaining at the boundaries goes up now and then
     * and hovers near the threshold at the end, but converges */
    guint noisy = 0;
    guint32 seed;

    for (seed = 11; seed < 19; seed++) {
        TraceSpec spec = {
            .memory = 2 * GIB, .bw = 40 * MIB, .bw_noise = 0.4,
            .dirty = 25 * MIB, .dirty_noise = 0.6, .ws = 1.5 * GIB,
            .setup = 1, .max_time = 600, .seed = seed,
        };
        Trace tr = make_trace(&spec);
        g_autoptr(VlEta) eta = vl_eta_new(NULL);
        VlEtaResult r;
        guint i;

        ck_assert(tr.completed);
        for (i = 1; i < tr.boundary_remaining->len; i++) {
            if (g_array_index(tr.boundary_remaining, double, i) >
                g_array_index(tr.boundary_remaining, double, i - 1)) {
                noisy++;
                break;
            }
        }
        for (i = 0; i < tr.samples->len; i++) {
            const VlEtaSample *s = &g_array_index(tr.samples, VlEtaSample, i);

            feed(eta, s, &r);
            ck_assert_msg(r.verdict != VL_ETA_VERDICT_NOT_CONVERGING,
                          "seed %u: called stalled at %.0f s (%s)", seed,
                          s->time_elapsed_ms / 1000.0, r.reason);
        }
        trace_clear(&tr);
    }
    /* the test means nothing if the traces were smooth: at least half
     * of them must have had remaining rise at a boundary */
    ck_assert_uint_ge(noisy, 4);
}
END_TEST

/* wire bytes for @bitmap bytes of RAM with 25 % zero pages */
static double
wire25(double bitmap)
{
    return bitmap * (0.75 * (PAGE + 8) + 0.25 * 9) / PAGE;
}

START_TEST(test_first_pass_zero_pages)
{
    /* a 1 GiB guest with 25 % zero pages, 100 MiB/s, half way through
     * the first pass: processed vs. done tells the zero share, so the
     * rest takes wire25(512 MiB) / 100 MiB/s = 3.85 s, not 5.1 s */
    double B = 100 * MIB;
    double r1 = 512 * MIB + B / wire25(1);     /* one second earlier */
    g_autoptr(VlEta) eta = vl_eta_new(NULL);
    VlEtaSample s = {
        .time_elapsed_ms = 1000, .memory_total = GIB,
        .memory_processed = wire25(GIB - r1), .memory_remaining = r1,
        .memory_bps = B, .page_size = PAGE, .memory_iteration = 1,
    };
    VlEtaConfig cfg;
    g_autoptr(VlEta) with_prior = NULL;
    VlEtaResult r;

    feed(eta, &s, &r);
    s.time_elapsed_ms = 2000;
    s.memory_processed = wire25(512 * MIB);
    s.memory_remaining = 512 * MIB;
    feed(eta, &s, &r);

    ck_assert(fabs(r.bandwidth_bps - B) < 1e-6 * B);
    /* no dirty rate yet: an ETA, but no verdict */
    ck_assert_int_eq(r.verdict, VL_ETA_VERDICT_UNKNOWN);
    ck_assert_msg(fabs(r.eta_s - wire25(512 * MIB) / B) < 0.01,
                  "ETA %.3f s", r.eta_s);

    /* a rate measured before the migration fills the gap */
    vl_eta_config_init(&cfg);
    cfg.prior_dirty_rate_bps = 200 * MIB;
    with_prior = vl_eta_new(&cfg);
    feed(with_prior, &s, &r);
    ck_assert_int_eq(r.verdict, VL_ETA_VERDICT_AT_RISK);
    ck_assert_str_eq(r.reason, "dirty rate above bandwidth");
}
END_TEST

START_TEST(test_time_cap)
{
    TraceSpec spec = {
        .memory = GIB, .bw = 22.7 * MIB, .dirty = 10 * MIB, .ws = 768 * MIB,
        .setup = 1.5, .max_time = 300, .seed = 1,
    };
    Trace tr = make_trace(&spec);
    VlEtaConfig cfg;
    g_autoptr(VlEta) eta = NULL;
    VlEtaResult r;
    guint i;

    vl_eta_config_init(&cfg);
    cfg.time_cap_s = 50;        /* it needs ~68 s */
    eta = vl_eta_new(&cfg);
    for (i = 0; i < tr.samples->len; i++) {
        const VlEtaSample *s = &g_array_index(tr.samples, VlEtaSample, i);

        feed(eta, s, &r);
        if (s->memory_iteration >= 3)
            break;
    }
    ck_assert_int_eq(r.verdict, VL_ETA_VERDICT_AT_RISK);
    ck_assert_str_eq(r.reason, "exceeds time cap");
    trace_clear(&tr);
}
END_TEST

START_TEST(test_bad_samples)
{
    g_autoptr(VlEta) eta = vl_eta_new(NULL);
    VlEtaSample good = {
        .time_elapsed_ms = 5000, .memory_total = GIB,
        .memory_processed = 100 * MIB, .memory_remaining = 900 * MIB,
        .memory_bps = 20 * MIB, .page_size = PAGE, .memory_iteration = 1,
    };
    VlEtaResult before;
    VlEtaResult after;
    struct {
        const char *field;
        VlEtaSample s;
    } bad[] = {
        { "'time_elapsed'", good },
        { "'memory_processed'", good },
        { "'memory_iteration'", good },
        { "'memory_remaining'", good },
        { "'memory_page_size'", good },
        { "'memory_page_size'", good },
        { "'time_elapsed'", good },
        { "'downtime_limit'", good },
        { "'memory_total'", good },
    };
    guint i;

    good.memory_iteration = 2;
    feed(eta, &good, &before);
    bad[0].s.time_elapsed_ms = 4000;            /* backwards */
    bad[1].s.memory_processed = 50 * MIB;       /* backwards */
    bad[2].s.memory_iteration = 1;              /* backwards */
    bad[3].s.memory_remaining = 2 * GIB;        /* above total */
    bad[4].s.page_size = 0;
    bad[5].s.page_size = G_MAXUINT64;
    bad[6].s.time_elapsed_ms = -1;
    bad[7].s.downtime_limit_ms = G_MAXUINT64;
    bad[8].s.memory_total = G_MAXUINT64;
    bad[8].s.memory_remaining = 0;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;

        bad[i].s.memory_iteration = MAX(bad[i].s.memory_iteration, i == 2 ? 1 : 2);
        ck_assert_msg(!vl_eta_update(eta, &bad[i].s, &error), "case %u", i);
        ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_ESTIMATE));
        ck_assert_msg(strstr(error->message, bad[i].field), "case %u: '%s'",
                      i, error->message);
        vl_eta_get_result(eta, &after);
        ck_assert(memcmp(&before, &after, sizeof(before)) == 0);
    }
}
END_TEST

START_TEST(test_before_ram_flows)
{
    g_autoptr(VlEta) eta = vl_eta_new(NULL);
    VlEtaSample s = { .time_elapsed_ms = 800, .page_size = PAGE };
    VlEtaResult r;

    vl_eta_get_result(eta, &r);
    ck_assert_int_eq(r.verdict, VL_ETA_VERDICT_UNKNOWN);
    ck_assert(isnan(r.eta_s));

    /* setup: nothing sent, total not even known yet */
    feed(eta, &s, &r);
    ck_assert_int_eq(r.verdict, VL_ETA_VERDICT_UNKNOWN);
    ck_assert(isnan(r.eta_s) && isnan(r.bandwidth_bps));
    s.time_elapsed_ms = 1500;
    s.memory_total = GIB;
    s.memory_remaining = GIB;
    feed(eta, &s, &r);
    ck_assert(isnan(r.bandwidth_bps));  /* a zero rate is not a slow link */
}
END_TEST

static Suite *
eta_suite(void)
{
    Suite *s = suite_create("eta");
    TCase *tc;

    tc = tcase_create("traces");
    tcase_add_test(tc, test_converging);
    tcase_add_test(tc, test_not_converging);
    tcase_add_test(tc, test_growing);
    tcase_add_test(tc, test_noisy_converging);
    tcase_add_test(tc, test_time_cap);
    suite_add_tcase(s, tc);

    tc = tcase_create("samples");
    tcase_add_test(tc, test_first_pass_zero_pages);
    tcase_add_test(tc, test_bad_samples);
    tcase_add_test(tc, test_before_ram_flows);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    return vl_test_run_suite(eta_suite());
}
