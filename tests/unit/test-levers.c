/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-levers: the daemon's levers on outgoing migrations, driven by
 * sequences of monitor updates (and once by a real VlMonitor replaying a
 * stalling job) through a fake VlLeversOps that records every libvirt
 * call it would have made.  The calls run in the real worker thread;
 * each update is followed by turning the main loop until the levers are
 * idle, so nothing sleeps.
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "levers.h"
#include "monitor.h"
#include "test-util.h"
#include "vl-autoptr.h"

#define MIB (1048576.0)
#define GIB (1024 * MIB)
#define WAIT_MS 10000
#define DOM "web 1; \"x\""
/* libvirt's "unlimited" speed (QEMU_DOMAIN_MIG_BANDWIDTH_MAX) */
#define UNLIMITED_MIB 8796093022207ULL

typedef struct {
    GMutex lock;
    GPtrArray *calls;           /* "set-downtime 400", "abort", ... */
    guint64 downtime_ms;        /* what "runs" */
    guint64 speed_mib;
    gboolean postcopy_fails;
    gboolean abort_fails;
    gboolean get_fails;
    VlMonitor *end_on_abort;    /* a monitor whose job the abort ends */
} Fake;

static Fake *fake;

static void
record(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
record(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_mutex_lock(&fake->lock);
    g_ptr_array_add(fake->calls, g_strdup_vprintf(fmt, ap));
    g_mutex_unlock(&fake->lock);
    va_end(ap);
}

static gboolean
f_get_downtime(gpointer d G_GNUC_UNUSED, virConnectPtr c G_GNUC_UNUSED,
               const char *name, guint64 *ms, GError **error)
{
    ck_assert_str_eq(name, DOM);
    if (fake->get_fails) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "no get");
        return FALSE;
    }
    g_mutex_lock(&fake->lock);
    *ms = fake->downtime_ms;
    g_mutex_unlock(&fake->lock);
    return TRUE;
}

static gboolean
f_set_downtime(gpointer d G_GNUC_UNUSED, virConnectPtr c G_GNUC_UNUSED,
               const char *name, guint64 ms, GError **error G_GNUC_UNUSED)
{
    ck_assert_str_eq(name, DOM);
    record("set-downtime %" G_GUINT64_FORMAT, ms);
    g_mutex_lock(&fake->lock);
    fake->downtime_ms = ms;
    g_mutex_unlock(&fake->lock);
    return TRUE;
}

static gboolean
f_get_speed(gpointer d G_GNUC_UNUSED, virConnectPtr c G_GNUC_UNUSED,
            const char *name G_GNUC_UNUSED, guint64 *mib, GError **error)
{
    if (fake->get_fails) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "no get");
        return FALSE;
    }
    g_mutex_lock(&fake->lock);
    *mib = fake->speed_mib;
    g_mutex_unlock(&fake->lock);
    return TRUE;
}

static gboolean
f_set_speed(gpointer d G_GNUC_UNUSED, virConnectPtr c G_GNUC_UNUSED,
            const char *name G_GNUC_UNUSED, guint64 mib,
            GError **error G_GNUC_UNUSED)
{
    record("set-speed %" G_GUINT64_FORMAT, mib);
    g_mutex_lock(&fake->lock);
    fake->speed_mib = mib;
    g_mutex_unlock(&fake->lock);
    return TRUE;
}

static gboolean
f_postcopy(gpointer d G_GNUC_UNUSED, virConnectPtr c G_GNUC_UNUSED,
           const char *name G_GNUC_UNUSED, GError **error)
{
    record("postcopy");
    if (fake->postcopy_fails) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT,
                    "Cannot switch the migration of '%s' to post-copy: switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag",
                    name);
        return FALSE;
    }
    return TRUE;
}

static gboolean
f_abort(gpointer d G_GNUC_UNUSED, virConnectPtr c G_GNUC_UNUSED,
        const char *name G_GNUC_UNUSED, GError **error)
{
    record("abort");
    if (fake->abort_fails) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "no abort");
        return FALSE;
    }
    return TRUE;
}

static const VlLeversOps fake_ops = {
    .get_max_downtime = f_get_downtime,
    .set_max_downtime = f_set_downtime,
    .get_max_speed = f_get_speed,
    .set_max_speed = f_set_speed,
    .start_postcopy = f_postcopy,
    .abort_job = f_abort,
};

typedef struct {
    GPtrArray *lines;
    GPtrArray *levels;
} Log;

static Log *log_seen;

static void
on_log(GLogLevelFlags level, const char *message, gpointer data G_GNUC_UNUSED)
{
    g_ptr_array_add(log_seen->lines, g_strdup(message));
    g_ptr_array_add(log_seen->levels, GUINT_TO_POINTER(level));
}

static void
setup(void)
{
    fake = g_new0(Fake, 1);
    g_mutex_init(&fake->lock);
    fake->calls = g_ptr_array_new_with_free_func(g_free);
    fake->downtime_ms = 300;
    fake->speed_mib = UNLIMITED_MIB;
    log_seen = g_new0(Log, 1);
    log_seen->lines = g_ptr_array_new_with_free_func(g_free);
    log_seen->levels = g_ptr_array_new();
}

static void
teardown(void)
{
    g_ptr_array_unref(fake->calls);
    g_mutex_clear(&fake->lock);
    g_clear_pointer(&fake, g_free);
    g_ptr_array_unref(log_seen->lines);
    g_ptr_array_unref(log_seen->levels);
    g_clear_pointer(&log_seen, g_free);
}

/* The calls so far, joined by ", ". */
static char *
calls(void)
{
    GString *s = g_string_new(NULL);
    guint i;

    g_mutex_lock(&fake->lock);
    for (i = 0; i < fake->calls->len; i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "",
                               (const char *)g_ptr_array_index(fake->calls, i));
    g_mutex_unlock(&fake->lock);
    return g_string_free(s, FALSE);
}

static void
assert_calls(const char *want)
{
    g_autofree char *got = calls();

    ck_assert_msg(g_str_equal(got, want), "calls: wanted [%s], got [%s]",
                  want, got);
}

static VlMigrationPolicy *
policy_new(void)
{
    VlMigrationPolicy *p = vl_migration_policy_new();

    p->threshold_s = 30;
    return p;
}

static void
ladder_add(VlMigrationPolicy *p, guint after, guint ms)
{
    VlDowntimeStep s = { after, ms };

    g_array_append_val(p->downtime_ladder, s);
}

static VlLevers *
levers_new(const VlMigrationPolicy *p)
{
    VlLevers *lv = vl_levers_new(&fake_ops, NULL, NULL, on_log, NULL);

    vl_levers_set_policy(lv, p);
    return lv;
}

static VlMonitorMigration
update(guint samples, guint64 iteration, VlEtaVerdict verdict, double eta_s,
       double elapsed_s)
{
    VlMonitorMigration m;

    memset(&m, 0, sizeof(m));
    m.domain = (char *)DOM;
    m.direction = VL_MONITOR_DIRECTION_OUT;
    m.active = TRUE;
    m.elapsed_s = elapsed_s;
    m.remaining_bytes = 300 * MIB;
    m.iteration = iteration;
    m.samples = samples;
    m.eta.verdict = verdict;
    m.eta.reason = "test";
    m.eta.eta_s = eta_s;
    m.eta.predicted_total_s = elapsed_s + eta_s;
    m.eta.bandwidth_bps = 22.5 * MIB;
    m.eta.dirty_rate_bps = 20 * MIB;
    m.eta.iteration = iteration;
    m.plan.predicted_total_s = NAN;
    return m;
}

static gboolean
is_idle(gpointer data)
{
    return vl_levers_is_idle(data);
}

static void
feed(VlLevers *lv, const VlMonitorMigration *m)
{
    vl_levers_handle_migration(lv, m);
    ck_assert(vl_test_loop_run_until(is_idle, lv, WAIT_MS));
}

/* @n samples from @first on, all at @iteration with @verdict. */
static guint
feed_n(VlLevers *lv, guint first, guint n, guint64 iteration,
       VlEtaVerdict verdict, double eta_s)
{
    guint i;

    for (i = 0; i < n; i++) {
        VlMonitorMigration m = update(first + i, iteration, verdict, eta_s,
                                      10.0 + first + i);

        feed(lv, &m);
    }
    return first + n;
}

static const VlLeverDecision *
decision(VlLevers *lv, guint i)
{
    GPtrArray *d = vl_levers_get_decisions(lv, DOM);

    ck_assert_ptr_nonnull(d);
    ck_assert_uint_gt(d->len, i);
    return g_ptr_array_index(d, i);
}

/* --- the downtime ladder ------------------------------------------------ */

START_TEST(test_ladder_steps_at_iterations)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    guint64 it;
    guint s = 1;

    ladder_add(p, 2, 400);
    ladder_add(p, 4, 600);
    ladder_add(p, 6, 800);
    lv = levers_new(p);

    /* Late all the way (ETA 100 s over a 30 s threshold, converging). */
    for (it = 1; it <= 8; it++) {
        s = feed_n(lv, s, 2, it, VL_ETA_VERDICT_CONVERGING, 100);
        if (it == 1)
            assert_calls("");
        if (it == 2 || it == 3)
            assert_calls("set-downtime 400");
        if (it == 4 || it == 5)
            assert_calls("set-downtime 400, set-downtime 600");
    }
    assert_calls("set-downtime 400, set-downtime 600, set-downtime 800");
    ck_assert_uint_eq(vl_levers_get_decisions(lv, DOM)->len, 3);
    ck_assert_int_eq(decision(lv, 0)->outcome, VL_LEVER_OUTCOME_APPLIED);
    ck_assert_uint_eq(decision(lv, 0)->previous, 300);
    ck_assert_uint_eq(decision(lv, 0)->iteration, 2);
    ck_assert_uint_eq(decision(lv, 1)->iteration, 4);
    ck_assert_uint_eq(decision(lv, 2)->value, 800);
    ck_assert_uint_eq(decision(lv, 2)->previous, 600);
}
END_TEST

START_TEST(test_ladder_skips_never_down)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    guint s = 1;

    ladder_add(p, 2, 400);
    ladder_add(p, 4, 600);
    ladder_add(p, 6, 800);
    lv = levers_new(p);
    /* The admin (or virt-lanes migrate) started it at 700 ms. */
    fake->downtime_ms = 700;

    /* First seen late at iteration 5: the highest reached step only. */
    s = feed_n(lv, s, 3, 5, VL_ETA_VERDICT_AT_RISK, 80);
    /* 600 < 700: kept, nothing set, and the 400 step is passed for good. */
    assert_calls("");
    ck_assert_uint_eq(vl_levers_get_decisions(lv, DOM)->len, 1);
    ck_assert_int_eq(decision(lv, 0)->outcome, VL_LEVER_OUTCOME_KEPT);
    ck_assert_uint_eq(decision(lv, 0)->value, 600);
    ck_assert_uint_eq(decision(lv, 0)->previous, 700);

    s = feed_n(lv, s, 3, 6, VL_ETA_VERDICT_AT_RISK, 80);
    assert_calls("set-downtime 800");
    /* The iteration counter going back (it does not, but a bad sample
     * might say so) climbs nothing down. */
    s = feed_n(lv, s, 3, 2, VL_ETA_VERDICT_AT_RISK, 80);
    s = feed_n(lv, s, 3, 9, VL_ETA_VERDICT_AT_RISK, 80);
    assert_calls("set-downtime 800");
    ck_assert_uint_eq(vl_levers_get_decisions(lv, DOM)->len, 2);
}
END_TEST

START_TEST(test_ladder_waits_while_on_time)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    guint s = 1;

    ladder_add(p, 2, 400);
    ladder_add(p, 3, 500);
    lv = levers_new(p);

    /* Converging, predicted 10 + s + 5 s < 30 s: on time. */
    s = feed_n(lv, s, 4, 2, VL_ETA_VERDICT_CONVERGING, 5);
    s = feed_n(lv, s, 2, 3, VL_ETA_VERDICT_UNKNOWN, NAN);
    assert_calls("");
    /* Late now, at iteration 3: straight to the 500 ms step. */
    s = feed_n(lv, s, 2, 3, VL_ETA_VERDICT_CONVERGING, 60);
    assert_calls("set-downtime 500");
    ck_assert_str_eq(decision(lv, 0)->verdict, "converging");
    ck_assert_double_eq(decision(lv, 0)->eta_s, 60);
}
END_TEST

START_TEST(test_ladder_without_get)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;

    ladder_add(p, 1, 250);
    lv = levers_new(p);
    /* A libvirt that cannot read the limit: the step is set anyway. */
    fake->get_fails = TRUE;
    feed_n(lv, 1, 3, 1, VL_ETA_VERDICT_AT_RISK, 90);
    assert_calls("set-downtime 250");
    ck_assert_uint_eq(decision(lv, 0)->previous, 0);
}
END_TEST

/* --- post-copy ------------------------------------------------------------- */

START_TEST(test_postcopy_refused_once)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    guint s = 1;

    p->allow_postcopy = TRUE;
    lv = levers_new(p);
    fake->postcopy_fails = TRUE;

    s = feed_n(lv, s, VL_LEVERS_POSTCOPY_SAMPLES - 1, 4,
               VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    assert_calls("");
    s = feed_n(lv, s, 1, 4, VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    assert_calls("postcopy");
    s = feed_n(lv, s, 20, 5, VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    /* Refused once, never asked again; when_hopeless is continue. */
    assert_calls("postcopy");
    ck_assert_int_eq(decision(lv, 0)->outcome, VL_LEVER_OUTCOME_FAILED);
    ck_assert_ptr_nonnull(strstr(decision(lv, 0)->error, "VIR_MIGRATE_POSTCOPY"));
    ck_assert_uint_eq(vl_levers_get_decisions(lv, DOM)->len, 1);
    /* The failure is a warning; "hopeless, continue" is said once. */
    ck_assert_uint_eq(log_seen->lines->len, 2);
    ck_assert_uint_eq(GPOINTER_TO_UINT(g_ptr_array_index(log_seen->levels, 0)),
                      G_LOG_LEVEL_WARNING);
    ck_assert_ptr_nonnull(strstr(g_ptr_array_index(log_seen->lines, 1),
                                 "abort not done; hopeless, but the policy's when_hopeless is continue"));
}
END_TEST

START_TEST(test_postcopy_then_never_abort)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    VlMonitorMigration m;
    guint s = 1;

    p->allow_postcopy = TRUE;
    p->when_hopeless = VL_HOPELESS_ABORT;
    lv = levers_new(p);

    s = feed_n(lv, s, 30, 4, VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    assert_calls("postcopy");
    ck_assert_int_eq(decision(lv, 0)->outcome, VL_LEVER_OUTCOME_APPLIED);
    /* QEMU says post-copy runs: still nothing more. */
    m = update(s, 5, VL_ETA_VERDICT_NOT_CONVERGING, INFINITY, 50);
    m.postcopy = TRUE;
    feed(lv, &m);
    assert_calls("postcopy");
}
END_TEST

START_TEST(test_postcopy_not_before_second_pass)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;

    p->allow_postcopy = TRUE;
    p->when_hopeless = VL_HOPELESS_ABORT;
    lv = levers_new(p);
    /* The first pass, however bleak, is no evidence yet. */
    feed_n(lv, 1, 30, 1, VL_ETA_VERDICT_AT_RISK, INFINITY);
    assert_calls("");
}
END_TEST

/* --- abort ------------------------------------------------------------------ */

START_TEST(test_abort_after_hysteresis)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    guint s = 1;

    p->when_hopeless = VL_HOPELESS_ABORT;
    lv = levers_new(p);

    /* One sample short, then a converging one: the count starts again. */
    s = feed_n(lv, s, VL_LEVERS_HOPELESS_SAMPLES - 1, 5,
               VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    s = feed_n(lv, s, 1, 5, VL_ETA_VERDICT_CONVERGING, 50);
    s = feed_n(lv, s, VL_LEVERS_HOPELESS_SAMPLES - 1, 6,
               VL_ETA_VERDICT_AT_RISK, INFINITY);
    assert_calls("");
    /* At risk with an end within 4 x 30 s is late, not hopeless. */
    s = feed_n(lv, s, 1, 6, VL_ETA_VERDICT_AT_RISK, 80);
    s = feed_n(lv, s, VL_LEVERS_HOPELESS_SAMPLES - 1, 6,
               VL_ETA_VERDICT_AT_RISK, INFINITY);
    assert_calls("");
    s = feed_n(lv, s, 1, 6, VL_ETA_VERDICT_AT_RISK, INFINITY);
    assert_calls("abort");
    s = feed_n(lv, s, 10, 7, VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    assert_calls("abort");
    ck_assert_uint_eq(decision(lv, 0)->streak, VL_LEVERS_HOPELESS_SAMPLES);
    ck_assert_str_eq(decision(lv, 0)->verdict, "at risk");
}
END_TEST

START_TEST(test_abort_far_too_late)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    guint s = 1;

    p->when_hopeless = VL_HOPELESS_ABORT;
    lv = levers_new(p);

    /* At risk, ending at 10 + s + 80 s: below 4 x 30 s. */
    s = feed_n(lv, s, 10, 5, VL_ETA_VERDICT_AT_RISK, 80);
    assert_calls("");
    /* At risk and ending beyond 120 s: hopeless after 5 samples. */
    s = feed_n(lv, s, VL_LEVERS_HOPELESS_SAMPLES - 1, 6,
               VL_ETA_VERDICT_AT_RISK, 180);
    assert_calls("");
    s = feed_n(lv, s, 1, 6, VL_ETA_VERDICT_AT_RISK, 180);
    assert_calls("abort");
    ck_assert_double_eq(decision(lv, 0)->eta_s, 180);
    ck_assert_str_eq(decision(lv, 0)->why, "when_hopeless abort, hopeless for 5 samples");
}
END_TEST

START_TEST(test_abort_converging_too_slowly)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    guint s = 1;

    p->when_hopeless = VL_HOPELESS_ABORT;
    lv = levers_new(p);

    /* During the first pass nothing counts, however long the ETA: a big
     * idle guest on a slow link is slow, not hopeless. */
    s = feed_n(lv, s, 10, 1, VL_ETA_VERDICT_CONVERGING, 100000);
    /* Past it, 100 s still to go: within 4 x 30 s. */
    s = feed_n(lv, s, 10, 2, VL_ETA_VERDICT_CONVERGING, 100);
    assert_calls("");
    /* 180 s still to go after the first pass: the dirtying keeps pace. */
    s = feed_n(lv, s, VL_LEVERS_HOPELESS_SAMPLES - 1, 3,
               VL_ETA_VERDICT_CONVERGING, 180);
    assert_calls("");
    s = feed_n(lv, s, 1, 3, VL_ETA_VERDICT_CONVERGING, 180);
    assert_calls("abort");
    ck_assert_str_eq(decision(lv, 0)->verdict, "converging");
    ck_assert_uint_eq(decision(lv, 0)->streak, VL_LEVERS_HOPELESS_SAMPLES);
}
END_TEST

START_TEST(test_abort_verdict_flipping)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    guint s = 1;
    guint i;

    p->when_hopeless = VL_HOPELESS_ABORT;
    lv = levers_new(p);

    /* Near the saturation ratio the ETA's verdict flips between at risk
     * and converging from one sample to the next; both say 200 s more. */
    for (i = 0; i < VL_LEVERS_HOPELESS_SAMPLES - 1; i++)
        s = feed_n(lv, s, 1, 4, i % 2 ? VL_ETA_VERDICT_AT_RISK
                                      : VL_ETA_VERDICT_CONVERGING, 200);
    assert_calls("");
    s = feed_n(lv, s, 1, 4, VL_ETA_VERDICT_AT_RISK, 200);
    assert_calls("abort");
}
END_TEST

START_TEST(test_abort_repeated_update_not_a_sample)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    VlMonitorMigration m = update(1, 5, VL_ETA_VERDICT_NOT_CONVERGING,
                                  INFINITY, 30);
    guint i;

    p->when_hopeless = VL_HOPELESS_ABORT;
    lv = levers_new(p);
    /* The monitor may notify twice for one sample (post-copy news). */
    for (i = 0; i < 20; i++)
        feed(lv, &m);
    assert_calls("");
}
END_TEST

START_TEST(test_abort_waits_for_ladder)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    guint s = 1;

    p->when_hopeless = VL_HOPELESS_ABORT;
    ladder_add(p, 6, 1000);
    lv = levers_new(p);
    s = feed_n(lv, s, VL_LEVERS_HOPELESS_SAMPLES - 1, 5,
               VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    /* The step applies and the count starts again from it. */
    s = feed_n(lv, s, 1, 6, VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    assert_calls("set-downtime 1000");
    s = feed_n(lv, s, VL_LEVERS_HOPELESS_SAMPLES - 1, 6,
               VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    assert_calls("set-downtime 1000");
    s = feed_n(lv, s, 1, 6, VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    assert_calls("set-downtime 1000, abort");
}
END_TEST

START_TEST(test_abort_failure_not_retried)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;

    p->when_hopeless = VL_HOPELESS_ABORT;
    lv = levers_new(p);
    fake->abort_fails = TRUE;
    feed_n(lv, 1, 20, 5, VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    assert_calls("abort");
    ck_assert_int_eq(decision(lv, 0)->outcome, VL_LEVER_OUTCOME_FAILED);
    ck_assert_str_eq(decision(lv, 0)->error, "no abort");
}
END_TEST

/* --- the bandwidth cap --------------------------------------------------------- */

START_TEST(test_bandwidth_cap)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    VlMonitorMigration m = update(0, 0, VL_ETA_VERDICT_UNKNOWN, NAN, NAN);

    /* 100 Mbit/s = 11.9 MiB/s: 11 MiB/s, at the first update, once. */
    p->max_bandwidth_mbit = 100;
    lv = levers_new(p);
    feed(lv, &m);
    assert_calls("set-speed 11");
    ck_assert_uint_eq(decision(lv, 0)->previous, UNLIMITED_MIB);
    feed_n(lv, 1, 5, 2, VL_ETA_VERDICT_AT_RISK, INFINITY);
    assert_calls("set-speed 11");
}
END_TEST

START_TEST(test_bandwidth_cap_never_raises)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;

    p->max_bandwidth_mbit = 1000;
    lv = levers_new(p);
    fake->speed_mib = 5;    /* virsh migrate --bandwidth 5 */
    feed_n(lv, 1, 3, 1, VL_ETA_VERDICT_CONVERGING, 10);
    assert_calls("");
    ck_assert_int_eq(decision(lv, 0)->outcome, VL_LEVER_OUTCOME_KEPT);
    ck_assert_uint_eq(decision(lv, 0)->value, 119);
    ck_assert_uint_eq(decision(lv, 0)->previous, 5);
}
END_TEST

/* --- when nothing may be done --------------------------------------------------- */

START_TEST(test_nothing_when_policy_forbids)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = levers_new(p);
    g_autoptr(VlLevers) none = levers_new(NULL);
    guint s;

    /* Defaults: no cap, no ladder, no post-copy, continue. */
    s = feed_n(lv, 1, 30, 5, VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    feed_n(lv, s, 5, 9, VL_ETA_VERDICT_AT_RISK, INFINITY);
    feed_n(none, 1, 30, 5, VL_ETA_VERDICT_NOT_CONVERGING, INFINITY);
    assert_calls("");
    ck_assert_uint_eq(vl_levers_get_decisions(lv, DOM)->len, 0);
    /* Only the "hopeless, but continue" note, once. */
    ck_assert_uint_eq(log_seen->lines->len, 1);
}
END_TEST

START_TEST(test_nothing_for_incoming)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    guint i;

    p->allow_postcopy = TRUE;
    p->when_hopeless = VL_HOPELESS_ABORT;
    p->max_bandwidth_mbit = 100;
    ladder_add(p, 1, 500);
    lv = levers_new(p);
    for (i = 1; i <= 30; i++) {
        VlMonitorMigration m = update(i, 5, VL_ETA_VERDICT_NOT_CONVERGING,
                                      INFINITY, i);

        m.direction = i % 2 ? VL_MONITOR_DIRECTION_IN
                            : VL_MONITOR_DIRECTION_UNKNOWN;
        feed(lv, &m);
    }
    assert_calls("");
    ck_assert_ptr_null(vl_levers_get_decisions(lv, DOM));
}
END_TEST

START_TEST(test_next_migration_starts_over)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    VlMonitorMigration m;

    ladder_add(p, 2, 400);
    lv = levers_new(p);
    feed_n(lv, 1, 2, 2, VL_ETA_VERDICT_AT_RISK, 100);
    assert_calls("set-downtime 400");
    m = update(3, 2, VL_ETA_VERDICT_AT_RISK, 100, 13);
    m.active = FALSE;
    feed(lv, &m);
    /* The decisions stay readable after the end. */
    ck_assert_uint_eq(vl_levers_get_decisions(lv, DOM)->len, 1);

    fake->downtime_ms = 300;
    feed_n(lv, 1, 2, 2, VL_ETA_VERDICT_AT_RISK, 100);
    assert_calls("set-downtime 400, set-downtime 400");
    ck_assert_uint_eq(vl_levers_get_decisions(lv, DOM)->len, 1);
}
END_TEST

/* --- what the admin sees ---------------------------------------------------------- */

START_TEST(test_log_and_status)
{
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlLevers) lv = NULL;
    g_autoptr(json_object) domains = json_object_new_array();
    json_object *dom = json_object_new_object();
    json_object *mig = json_object_new_object();
    json_object *levers = NULL;
    json_object *d0 = NULL;
    json_object *v = NULL;
    const char *line;

    ladder_add(p, 3, 450);
    lv = levers_new(p);
    feed_n(lv, 1, 1, 3, VL_ETA_VERDICT_AT_RISK, 71.5);

    ck_assert_uint_eq(log_seen->lines->len, 1);
    line = g_ptr_array_index(log_seen->lines, 0);
    ck_assert_msg(strstr(line, "Outgoing migration of '" DOM "': downtime limit 450 ms applied (was 300 ms)") &&
                  strstr(line, "ETA 71.5 s (threshold 30 s, verdict at risk)") &&
                  strstr(line, "iteration 3") &&
                  strstr(line, "bandwidth 22.5 MiB/s") &&
                  strstr(line, "dirty rate 20.0 MiB/s") &&
                  strstr(line, "remaining 300.0 MiB") &&
                  strstr(line, "ladder step after_iteration 3"),
                  "log line: %s", line);

    json_object_object_add(dom, "name", json_object_new_string(DOM));
    json_object_object_add(mig, "direction", json_object_new_string("out"));
    json_object_object_add(dom, "migration", mig);
    json_object_array_add(domains, dom);
    json_object_array_add(domains, json_object_new_object());
    vl_levers_add_status(lv, domains);
    ck_assert(json_object_object_get_ex(mig, "levers", &levers));
    ck_assert_uint_eq(json_object_array_length(levers), 1);
    d0 = json_object_array_get_idx(levers, 0);
    ck_assert(json_object_object_get_ex(d0, "lever", &v));
    ck_assert_str_eq(json_object_get_string(v), "downtime");
    ck_assert(json_object_object_get_ex(d0, "value", &v));
    ck_assert_int_eq(json_object_get_int64(v), 450);
    ck_assert(json_object_object_get_ex(d0, "outcome", &v));
    ck_assert_str_eq(json_object_get_string(v), "applied");
    ck_assert(json_object_object_get_ex(d0, "eta_s", &v));
    ck_assert_double_eq(json_object_get_double(v), 71.5);
    ck_assert(json_object_object_get_ex(d0, "error", &v));
    ck_assert_ptr_null(v);
}
END_TEST

/* --- through a real monitor -------------------------------------------------------- */

typedef struct {
    GMutex lock;
    GArray *script;             /* VlMonitorJobStats */
    guint next;
    guint aborted_at;           /* samples polled when the abort came */
} Script;

static Script *script;

static gboolean
s_job_stats(gpointer data G_GNUC_UNUSED, virConnectPtr vconn G_GNUC_UNUSED,
            const char *name G_GNUC_UNUSED, gboolean completed,
            VlMonitorJobStats *stats, GError **error G_GNUC_UNUSED)
{
    g_mutex_lock(&script->lock);
    if (completed || script->next >= script->script->len) {
        memset(stats, 0, sizeof(*stats));
        stats->type = VIR_DOMAIN_JOB_NONE;
        stats->downtime_ms = NAN;
    } else {
        *stats = g_array_index(script->script, VlMonitorJobStats,
                               script->next++);
    }
    g_mutex_unlock(&script->lock);
    return TRUE;
}

static const VlMonitorOps script_ops = { .job_stats = s_job_stats };

static gboolean
s_abort(gpointer d G_GNUC_UNUSED, virConnectPtr c G_GNUC_UNUSED,
        const char *name G_GNUC_UNUSED, GError **error G_GNUC_UNUSED)
{
    record("abort");
    /* The job ends: the next poll finds none. */
    g_mutex_lock(&script->lock);
    script->aborted_at = script->next;
    script->next = script->script->len;
    g_mutex_unlock(&script->lock);
    return TRUE;
}

static void
script_add(double t, double processed, double remaining, guint iteration)
{
    VlMonitorJobStats s;

    memset(&s, 0, sizeof(s));
    s.type = VIR_DOMAIN_JOB_UNBOUNDED;
    s.operation = VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
    s.has_memory = TRUE;
    s.downtime_ms = NAN;
    s.sample.time_elapsed_ms = (gint64)(t * 1000);
    s.sample.memory_total = (guint64)GIB;
    s.sample.memory_processed = (guint64)processed;
    s.sample.memory_remaining = (guint64)remaining;
    s.sample.memory_bps = 25000000;
    s.sample.memory_dirty_rate = 24000000 / 4096;
    s.sample.page_size = 4096;
    s.sample.memory_iteration = iteration;
    g_array_append_val(script->script, s);
}

static gboolean
monitor_ended(gpointer data)
{
    return !vl_monitor_is_migrating(data, DOM);
}

START_TEST(test_monitor_stall_aborts)
{
    static const VlLeversOps ops = {
        .get_max_downtime = f_get_downtime,
        .set_max_downtime = f_set_downtime,
        .start_postcopy = f_postcopy,
        .abort_job = s_abort,
    };
    g_autoptr(VlMigrationPolicy) p = policy_new();
    g_autoptr(VlMonitor) mon = NULL;
    g_autoptr(VlLevers) lv = NULL;
    g_autoptr(VlMonitorMigration) last = NULL;
    const VlLeverDecision *d;
    double bw = 25e6;
    double t = 2;
    double processed = 0;
    guint it;
    guint j;

    script = g_new0(Script, 1);
    g_mutex_init(&script->lock);
    script->script = g_array_new(FALSE, FALSE, sizeof(VlMonitorJobStats));
    /* The first pass, then passes that each start with ~400 MiB: QEMU
     * never gets below what the guest dirties meanwhile. */
    for (j = 0; j < 4; j++, t++) {
        processed += bw;
        script_add(t, processed, GIB - processed, 1);
    }
    for (it = 2; it <= 14; it++) {
        for (j = 0; j < 4; j++, t++) {
            processed += bw;
            script_add(t, processed, 400 * MIB - bw * j, it);
        }
    }

    p->when_hopeless = VL_HOPELESS_ABORT;
    mon = vl_monitor_new(&script_ops, NULL, NULL);
    vl_monitor_set_poll_interval(mon, 0);
    lv = vl_levers_new(&ops, NULL, NULL, on_log, NULL);
    vl_levers_set_policy(lv, p);
    vl_levers_attach(lv, mon);
    vl_monitor_handle_qemu_migration(mon, DOM, "setup");
    ck_assert(vl_test_loop_run_until(monitor_ended, mon, WAIT_MS));
    ck_assert(vl_test_loop_run_until(is_idle, lv, WAIT_MS));

    assert_calls("abort");
    d = decision(lv, 0);
    /* The stall detector, or the model before it (at risk, no end in
     * sight: 24 MB/s dirtied of 25 MB/s sent). */
    ck_assert_msg(g_str_equal(d->verdict, "not converging") ||
                  (g_str_equal(d->verdict, "at risk") &&
                   (isinf(d->eta_s) || d->elapsed_s + d->eta_s > 4 * 30)),
                  "verdict %s, ETA %g s", d->verdict, d->eta_s);
    ck_assert_uint_ge(d->iteration, 2);
    ck_assert_uint_ge(d->streak, VL_LEVERS_HOPELESS_SAMPLES);
    /* Aborted well before the script's end. */
    ck_assert_uint_gt(script->aborted_at, 0);
    ck_assert_uint_lt(script->aborted_at, script->script->len - 8);
    last = vl_monitor_get(mon, DOM);
    ck_assert(!last->active);

    vl_levers_detach(lv);
    g_array_unref(script->script);
    g_mutex_clear(&script->lock);
    g_clear_pointer(&script, g_free);
}
END_TEST

START_TEST(test_monitor_learns_downtime)
{
    g_autoptr(VlMonitor) mon = vl_monitor_new(&script_ops, NULL, NULL);
    g_autoptr(VlMonitorMigration) m = NULL;

    script = g_new0(Script, 1);
    g_mutex_init(&script->lock);
    script->script = g_array_new(FALSE, FALSE, sizeof(VlMonitorJobStats));
    script_add(2, 25e6, GIB - 25e6, 1);
    script_add(3, 50e6, GIB - 50e6, 1);
    vl_monitor_set_poll_interval(mon, 0);
    vl_monitor_set_downtime_limit(mon, DOM, 900);   /* not migrating: ignored */
    vl_monitor_handle_qemu_migration(mon, DOM, "setup");
    vl_monitor_set_downtime_limit(mon, DOM, 700);
    vl_monitor_handle_qemu_migration(mon, DOM, "postcopy-active");
    m = vl_monitor_get(mon, DOM);
    ck_assert_uint_eq(m->downtime_limit_ms, 700);
    ck_assert(m->postcopy);
    ck_assert(vl_test_loop_run_until(monitor_ended, mon, WAIT_MS));

    g_array_unref(script->script);
    g_mutex_clear(&script->lock);
    g_clear_pointer(&script, g_free);
}
END_TEST

static Suite *
levers_suite(void)
{
    Suite *s = suite_create("levers");
    TCase *tc;

    tc = tcase_create("ladder");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ladder_steps_at_iterations);
    tcase_add_test(tc, test_ladder_skips_never_down);
    tcase_add_test(tc, test_ladder_waits_while_on_time);
    tcase_add_test(tc, test_ladder_without_get);
    suite_add_tcase(s, tc);

    tc = tcase_create("postcopy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_postcopy_refused_once);
    tcase_add_test(tc, test_postcopy_then_never_abort);
    tcase_add_test(tc, test_postcopy_not_before_second_pass);
    suite_add_tcase(s, tc);

    tc = tcase_create("abort");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_abort_after_hysteresis);
    tcase_add_test(tc, test_abort_far_too_late);
    tcase_add_test(tc, test_abort_converging_too_slowly);
    tcase_add_test(tc, test_abort_verdict_flipping);
    tcase_add_test(tc, test_abort_repeated_update_not_a_sample);
    tcase_add_test(tc, test_abort_waits_for_ladder);
    tcase_add_test(tc, test_abort_failure_not_retried);
    suite_add_tcase(s, tc);

    tc = tcase_create("bandwidth");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_bandwidth_cap);
    tcase_add_test(tc, test_bandwidth_cap_never_raises);
    suite_add_tcase(s, tc);

    tc = tcase_create("inaction");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_nothing_when_policy_forbids);
    tcase_add_test(tc, test_nothing_for_incoming);
    tcase_add_test(tc, test_next_migration_starts_over);
    suite_add_tcase(s, tc);

    tc = tcase_create("report");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_log_and_status);
    suite_add_tcase(s, tc);

    tc = tcase_create("monitor");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_monitor_stall_aborts);
    tcase_add_test(tc, test_monitor_learns_downtime);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(levers_suite());
}
