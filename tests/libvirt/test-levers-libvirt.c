/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-levers-libvirt: the levers' real libvirt calls against
 * test:///default.  The test driver has no migration, so every call is
 * refused; what is tested is that each refusal comes back as one clear
 * error naming the domain and libvirt's reason, that a VlLevers on the
 * daemon's kind of connection records it as a failed decision, logs it
 * as a warning once and never retries it, and that an unknown (or oddly
 * named) domain is an error, not a crash.
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "levers.h"
#include "virt-test.h"
#include "vl-virt-autoptr.h"

#define DOM "test"

static void
quiet_errors(void *data G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}

START_TEST(test_ops_refused_by_test_driver)
{
    const VlLeversOps *ops = vl_levers_ops_libvirt();
    g_autoptr(virConnect) conn = virConnectOpen("test:///default");
    g_autoptr(GError) error = NULL;
    guint64 v = 12345;

    ck_assert_ptr_nonnull(conn);
    ck_assert(!ops->get_max_downtime(NULL, conn, DOM, &v, &error));
    ck_assert_uint_eq(v, 12345);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_LIBVIRT));
    ck_assert_msg(g_str_has_prefix(error->message,
                                   "Cannot read the downtime limit of 'test': ") &&
                  strstr(error->message, "not supported"), "%s", error->message);
    g_clear_error(&error);

    ck_assert(!ops->set_max_downtime(NULL, conn, DOM, 500, &error));
    ck_assert_msg(g_str_has_prefix(error->message,
                                   "Cannot set the downtime limit of 'test' to '500' ms: "),
                  "%s", error->message);
    g_clear_error(&error);

    ck_assert(!ops->get_max_speed(NULL, conn, DOM, &v, &error));
    ck_assert_uint_eq(v, 12345);
    g_clear_error(&error);
    ck_assert(!ops->set_max_speed(NULL, conn, DOM, 11, &error));
    ck_assert_msg(g_str_has_prefix(error->message,
                                   "Cannot cap the migration of 'test' at '11' MiB/s: "),
                  "%s", error->message);
    g_clear_error(&error);

    ck_assert(!ops->start_postcopy(NULL, conn, DOM, &error));
    ck_assert_msg(g_str_has_prefix(error->message,
                                   "Cannot switch the migration of 'test' to post-copy: "),
                  "%s", error->message);
    g_clear_error(&error);

    ck_assert(!ops->abort_job(NULL, conn, DOM, &error));
    ck_assert_msg(g_str_has_prefix(error->message,
                                   "Cannot abort the migration of 'test': "),
                  "%s", error->message);
}
END_TEST

START_TEST(test_ops_unknown_domain)
{
    const VlLeversOps *ops = vl_levers_ops_libvirt();
    g_autoptr(virConnect) conn = virConnectOpen("test:///default");
    g_autoptr(GError) error = NULL;

    ck_assert(!ops->abort_job(NULL, conn, "no such; \"x\"\n", &error));
    ck_assert_msg(g_str_has_prefix(error->message,
                                   "Cannot find domain 'no such; \"x\"\n'"),
                  "%s", error->message);
    g_clear_error(&error);
    /* Not connected: the same error, no crash. */
    ck_assert(!ops->set_max_downtime(NULL, NULL, DOM, 400, &error));
    ck_assert(g_str_has_prefix(error->message, "Cannot find domain 'test'"));
}
END_TEST

typedef struct {
    guint warnings;
    guint messages;
    char *last;
} Log;

static void
on_log(GLogLevelFlags level, const char *message, gpointer data)
{
    Log *log = data;

    if (level == G_LOG_LEVEL_WARNING)
        log->warnings++;
    else
        log->messages++;
    g_free(log->last);
    log->last = g_strdup(message);
}

static gboolean
connected(gpointer data)
{
    return vl_conn_get_virt(((VlVirtTestRig *)data)->conn) != NULL;
}

static gboolean
is_idle(gpointer data)
{
    return vl_levers_is_idle(data);
}

START_TEST(test_levers_on_refusing_driver)
{
    g_autoptr(VlVirtTestRig) rig = vl_virt_test_rig_new("test:///default", 100, 1000);
    g_autoptr(VlMigrationPolicy) p = vl_migration_policy_new();
    g_autoptr(VlLevers) lv = NULL;
    VlDowntimeStep step = { 2, 800 };
    VlMonitorMigration m;
    const VlLeverDecision *d;
    Log log = { 0, 0, NULL };
    guint i;

    ck_assert(vl_virt_test_wait(connected, rig));
    p->threshold_s = 10;
    p->max_bandwidth_mbit = 400;
    p->when_hopeless = VL_HOPELESS_ABORT;
    g_array_append_val(p->downtime_ladder, step);
    lv = vl_levers_new(NULL, NULL, rig->conn, on_log, &log);
    vl_levers_set_policy(lv, p);

    memset(&m, 0, sizeof(m));
    m.domain = (char *)DOM;
    m.direction = VL_MONITOR_DIRECTION_OUT;
    m.active = TRUE;
    m.elapsed_s = 20;
    m.remaining_bytes = 1e8;
    m.iteration = 3;
    m.eta.verdict = VL_ETA_VERDICT_NOT_CONVERGING;
    m.eta.eta_s = INFINITY;
    m.eta.predicted_total_s = INFINITY;
    m.eta.bandwidth_bps = 2e7;
    m.eta.dirty_rate_bps = 2e7;
    for (i = 1; i <= 12; i++) {
        m.samples = i;
        vl_levers_handle_migration(lv, &m);
        ck_assert(vl_virt_test_wait(is_idle, lv));
    }

    /* The cap, the ladder step and the abort, each tried once. */
    ck_assert_uint_eq(vl_levers_get_decisions(lv, DOM)->len, 3);
    d = g_ptr_array_index(vl_levers_get_decisions(lv, DOM), 0);
    ck_assert_int_eq(d->lever, VL_LEVER_BANDWIDTH);
    ck_assert_uint_eq(d->value, 47);
    ck_assert_int_eq(d->outcome, VL_LEVER_OUTCOME_FAILED);
    d = g_ptr_array_index(vl_levers_get_decisions(lv, DOM), 1);
    ck_assert_int_eq(d->lever, VL_LEVER_DOWNTIME);
    ck_assert_int_eq(d->outcome, VL_LEVER_OUTCOME_FAILED);
    d = g_ptr_array_index(vl_levers_get_decisions(lv, DOM), 2);
    ck_assert_int_eq(d->lever, VL_LEVER_ABORT);
    ck_assert_int_eq(d->outcome, VL_LEVER_OUTCOME_FAILED);
    ck_assert_msg(strstr(d->error, "Cannot abort the migration of 'test': ") &&
                  strstr(d->error, "not supported"), "%s", d->error);
    ck_assert_uint_eq(log.warnings, 3);
    ck_assert_uint_eq(log.messages, 0);
    ck_assert_msg(g_str_has_prefix(log.last, "Outgoing migration of 'test': abort failed: "),
                  "%s", log.last);
    g_free(log.last);
}
END_TEST

static Suite *
levers_libvirt_suite(void)
{
    Suite *s = suite_create("levers-libvirt");
    TCase *tc = tcase_create("test-driver");

    tcase_add_test(tc, test_ops_refused_by_test_driver);
    tcase_add_test(tc, test_ops_unknown_domain);
    tcase_add_test(tc, test_levers_on_refusing_driver);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    vl_virt_test_init();
    virSetErrorFunc(NULL, quiet_errors);
    return vl_test_run_suite(levers_libvirt_suite());
}
