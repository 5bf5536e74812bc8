/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-monitor.c: the migration monitor fed scripted job-stats sequences
 * (a fake VlMonitorOps; the job time in the samples is the clock): the
 * direction, the ETA and verdict, the "ETA updated" listeners, the end of
 * a migration in each way it can end, the history line, and the parsing
 * of libvirt's typed parameters.  Polls run in the real worker thread,
 * back to back (poll interval 0): nothing sleeps.
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libvirt/virterror.h>

#include "history.h"
#include "monitor.h"
#include "test-util.h"
#include "vl-autoptr.h"

#define MIB (1048576.0)
#define GIB (1024 * MIB)
#define WAIT_MS 10000
#define DOM "web 1; \"x\""

typedef struct {
    GMutex lock;
    GArray *script;             /* VlMonitorJobStats, one per poll */
    guint next;
    guint calls;
    guint completed_calls;
    gboolean fail;
} Fake;

static Fake *fake;
static char *tmpdir;
static char *history_path;

static gboolean
f_job_stats(gpointer data G_GNUC_UNUSED, virConnectPtr vconn G_GNUC_UNUSED,
            const char *name, gboolean completed, VlMonitorJobStats *stats,
            GError **error)
{
    gboolean ok = TRUE;

    g_mutex_lock(&fake->lock);
    fake->calls++;
    if (completed)
        fake->completed_calls++;
    if (fake->fail) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT,
                    "Cannot read the job statistics of '%s'", name);
        ok = FALSE;
    } else if (completed || fake->next >= fake->script->len) {
        /* Past the script: the job is over. */
        memset(stats, 0, sizeof(*stats));
        stats->type = VIR_DOMAIN_JOB_NONE;
        stats->downtime_ms = NAN;
        if (completed && fake->script->len > 0) {
            *stats = g_array_index(fake->script, VlMonitorJobStats,
                                   fake->script->len - 1);
            stats->type = VIR_DOMAIN_JOB_COMPLETED;
        }
    } else {
        *stats = g_array_index(fake->script, VlMonitorJobStats, fake->next++);
    }
    g_mutex_unlock(&fake->lock);
    return ok;
}

static const VlMonitorOps fake_ops = { .job_stats = f_job_stats };

static VlMonitorJobStats
sample(double t, double total, double processed, double remaining,
       double bps, double dirty_bps, guint iteration)
{
    VlMonitorJobStats s;

    memset(&s, 0, sizeof(s));
    s.type = VIR_DOMAIN_JOB_UNBOUNDED;
    s.operation = VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
    s.has_memory = TRUE;
    s.downtime_ms = NAN;
    s.sample.time_elapsed_ms = (gint64)(t * 1000);
    s.sample.memory_total = (guint64)total;
    s.sample.memory_processed = (guint64)processed;
    s.sample.memory_remaining = (guint64)remaining;
    s.sample.memory_bps = (guint64)bps;
    s.sample.memory_dirty_rate = (guint64)(dirty_bps / 4096);
    s.sample.page_size = 4096;
    s.sample.memory_iteration = iteration;
    return s;
}

static void
script_add(VlMonitorJobStats s)
{
    g_mutex_lock(&fake->lock);
    g_array_append_val(fake->script, s);
    g_mutex_unlock(&fake->lock);
}

/* An idle 1 GiB guest over 25 MB/s: one pass, RAM from t = 1.5 s. */
static void
script_idle_pass(guint n)
{
    double bw = 25e6;
    guint i;

    for (i = 0; i < n; i++) {
        double t = 2.0 + i;
        double sent = bw * (t - 1.5);

        script_add(sample(t, GIB, sent, GIB - sent, bw, 0, 1));
    }
}

static void
setup(void)
{
    fake = g_new0(Fake, 1);
    g_mutex_init(&fake->lock);
    fake->script = g_array_new(FALSE, FALSE, sizeof(VlMonitorJobStats));
    tmpdir = g_dir_make_tmp("vl-monitor-XXXXXX", NULL);
    history_path = g_build_filename(tmpdir, "history.jsonl", NULL);
}

static void
teardown(void)
{
    g_unlink(history_path);
    g_rmdir(tmpdir);
    g_clear_pointer(&history_path, g_free);
    g_clear_pointer(&tmpdir, g_free);
    g_array_unref(fake->script);
    g_mutex_clear(&fake->lock);
    g_clear_pointer(&fake, g_free);
}

typedef struct {
    guint calls;
    guint begins;
    VlMonitorMigration last;    /* shallow copy; strings not kept */
    GPtrArray *verdicts;        /* verdict strings seen, in order */
} Seen;

static void
on_eta(VlMonitor *monitor G_GNUC_UNUSED, const VlMonitorMigration *m,
       gpointer data)
{
    Seen *seen = data;

    seen->calls++;
    seen->last = *m;
    seen->last.domain = NULL;
    seen->last.outcome = NULL;
    g_ptr_array_add(seen->verdicts,
                    (gpointer)vl_eta_verdict_to_string(m->eta.verdict));
}

static void
on_begin(VlMonitor *monitor G_GNUC_UNUSED, const char *domain,
         VlMonitorPlan *plan, gpointer data)
{
    Seen *seen = data;

    if (g_str_equal(domain, DOM))
        seen->begins++;
    plan->lanes = 2;
    plan->channels = 4;
    plan->predicted_total_s = 44.5;
    plan->prior_dirty_rate_bps = 1 * MIB;
}

static VlMonitor *
new_monitor(Seen *seen)
{
    VlMonitor *m = vl_monitor_new(&fake_ops, NULL, NULL);

    memset(seen, 0, sizeof(*seen));
    seen->verdicts = g_ptr_array_new();
    vl_monitor_set_poll_interval(m, 0);
    vl_monitor_set_history(m, history_path);
    vl_monitor_set_begin_func(m, on_begin, seen);
    vl_monitor_add_eta_listener(m, on_eta, seen);
    return m;
}

static gboolean
has_ended(gpointer data)
{
    VlMonitor *m = data;

    return !vl_monitor_is_migrating(m, DOM);
}

static guint
history_lines(VlHistoryRecord **last)
{
    g_autoptr(VlHistory) h = vl_history_load(history_path, NULL);

    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->bad_lines, 0);
    if (last && h->records->len > 0) {
        VlHistoryRecord *r = g_ptr_array_index(h->records, h->records->len - 1);

        *last = vl_history_record_new();
        (*last)->domain = g_strdup(r->domain);
        (*last)->lanes = r->lanes;
        (*last)->channels = r->channels;
        (*last)->memory_bps = r->memory_bps;
        (*last)->total_time_s = r->total_time_s;
        (*last)->predicted_time_s = r->predicted_time_s;
        (*last)->processed_bytes = r->processed_bytes;
    }
    return h->records->len;
}

START_TEST(test_outgoing_eta_then_completed_into_history)
{
    Seen seen;
    g_autoptr(VlMonitor) m = new_monitor(&seen);
    g_autoptr(VlMonitorMigration) mig = NULL;
    g_autoptr(VlHistoryRecord) rec = NULL;
    VlMonitorJobStats done;

    script_idle_pass(30);
    vl_monitor_handle_qemu_migration(m, DOM, "setup");
    ck_assert(vl_monitor_is_migrating(m, DOM));
    /* A second sign of the same migration starts nothing new. */
    vl_monitor_handle_iteration(m, DOM);
    ck_assert_uint_eq(seen.begins, 1);

    ck_assert(vl_test_loop_run_until(has_ended, m, WAIT_MS));
    ck_assert_uint_eq(fake->calls, 31);     /* 30 samples, then "none" */

    /* At 20 s into a 1 GiB pass at 25 MB/s: about 18.5 s to go. */
    ck_assert_uint_ge(seen.calls, 30);
    mig = vl_monitor_get(m, DOM);
    ck_assert_int_eq(mig->direction, VL_MONITOR_DIRECTION_OUT);
    ck_assert_str_eq(mig->outcome, "ended");
    ck_assert_uint_eq(mig->samples, 30);
    ck_assert_double_eq_tol(mig->elapsed_s, 31, 1e-9);
    ck_assert_double_eq_tol(mig->eta.bandwidth_bps, 25e6, 25e6 * 0.01);
    /* The rest of the pass, then what the prior 1 MiB/s dirtied
     * meanwhile (about 31 MiB) and the downtime. */
    ck_assert_double_ge(mig->eta.eta_s, (GIB - 25e6 * 29.5) / 25e6 + 1.2);
    ck_assert_double_le(mig->eta.eta_s, (GIB - 25e6 * 29.5) / 25e6 + 2.5);
    ck_assert_str_eq(g_ptr_array_index(seen.verdicts, seen.verdicts->len - 2),
                     "converging");
    ck_assert_uint_eq(history_lines(NULL), 0);

    /* job-completed (the source, success) brings the final stats. */
    done = sample(44.0, GIB, GIB + 1e6, 0, 24.4e6, 0, 3);
    done.type = VIR_DOMAIN_JOB_COMPLETED;
    done.downtime_ms = 312;
    vl_monitor_handle_job_completed(m, DOM, &done);
    g_clear_pointer(&mig, vl_monitor_migration_free);
    mig = vl_monitor_get(m, DOM);
    ck_assert_str_eq(mig->outcome, "completed");
    ck_assert_uint_eq(history_lines(&rec), 1);
    ck_assert_str_eq(rec->domain, DOM);
    ck_assert_uint_eq(rec->lanes, 2);
    ck_assert_uint_eq(rec->channels, 4);
    ck_assert_double_eq_tol(rec->memory_bps, 24.4e6, 1);
    ck_assert_double_eq_tol(rec->total_time_s, 44.0, 1e-9);
    ck_assert_double_eq_tol(rec->predicted_time_s, 44.5, 1e-9);
    /* Only once, however often the event comes. */
    vl_monitor_handle_job_completed(m, DOM, &done);
    ck_assert_uint_eq(history_lines(NULL), 1);
    g_ptr_array_unref(seen.verdicts);
}
END_TEST

START_TEST(test_stall_is_not_converging)
{
    Seen seen;
    g_autoptr(VlMonitor) m = new_monitor(&seen);
    g_autoptr(VlMonitorMigration) mig = NULL;
    g_autoptr(json_object) json = NULL;
    json_object *v = NULL;
    double bw = 25e6;
    guint i;

    /* After the first pass, every pass ends where it began: the guest
     * re-dirties what was sent (QEMU's rate reads at the link rate). */
    script_add(sample(2, GIB, 0.5 * bw, GIB - 0.5 * bw, bw, 0, 1));
    for (i = 1; i <= 12; i++) {
        double t = 2 + 2.0 * i;

        script_add(sample(t, GIB, bw * (t - 1.5), 500 * MIB, bw, bw, 1 + i));
    }
    vl_monitor_handle_iteration(m, DOM);
    ck_assert(vl_test_loop_run_until(has_ended, m, WAIT_MS));
    ck_assert_str_eq(g_ptr_array_index(seen.verdicts, seen.verdicts->len - 2),
                     "not converging");
    mig = vl_monitor_get(m, DOM);
    ck_assert_int_eq(mig->eta.verdict, VL_ETA_VERDICT_NOT_CONVERGING);
    ck_assert(isinf(mig->eta.eta_s));

    json = vl_monitor_migration_to_json(mig);
    ck_assert(json_object_object_get_ex(json, "eta_s", &v));
    ck_assert_ptr_null(v);      /* never: null, not a number */
    ck_assert(json_object_object_get_ex(json, "verdict", &v));
    ck_assert_str_eq(json_object_get_string(v), "not converging");
    ck_assert(json_object_object_get_ex(json, "direction", &v));
    ck_assert_str_eq(json_object_get_string(v), "out");
    ck_assert(json_object_object_get_ex(json, "iteration", &v));
    ck_assert_int_eq(json_object_get_int(v), 13);
    ck_assert(json_object_object_get_ex(json, "remaining_bytes", &v));
    ck_assert_double_eq_tol(json_object_get_double(v), 500 * MIB, 1);
    ck_assert(json_object_object_get_ex(json, "dirty_rate_bps", &v));
    ck_assert_double_eq_tol(json_object_get_double(v), bw, bw * 0.01);
    ck_assert(json_object_object_get_ex(json, "bandwidth_bps", &v));
    ck_assert(json_object_object_get_ex(json, "elapsed_s", &v));
    ck_assert_double_eq_tol(json_object_get_double(v), 26, 1e-9);
    g_ptr_array_unref(seen.verdicts);
}
END_TEST

START_TEST(test_incoming_is_told_apart_and_not_recorded)
{
    Seen seen;
    g_autoptr(VlMonitor) m = new_monitor(&seen);
    g_autoptr(VlMonitorMigration) mig = NULL;
    VlMonitorJobStats in = { 0 };

    in.type = VIR_DOMAIN_JOB_UNBOUNDED;
    in.operation = VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN;
    in.downtime_ms = NAN;
    script_add(in);
    script_add(in);
    vl_monitor_handle_qemu_migration(m, DOM, "active");
    ck_assert(vl_test_loop_run_until(has_ended, m, 200) == FALSE);
    /* One poll told the direction; there is nothing more to poll. */
    ck_assert_uint_eq(fake->calls, 1);
    mig = vl_monitor_get(m, DOM);
    ck_assert_int_eq(mig->direction, VL_MONITOR_DIRECTION_IN);
    ck_assert(mig->active);

    vl_monitor_handle_lifecycle(m, DOM, VIR_DOMAIN_EVENT_RESUMED,
                                VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
    g_clear_pointer(&mig, vl_monitor_migration_free);
    mig = vl_monitor_get(m, DOM);
    ck_assert(!mig->active);
    ck_assert_str_eq(mig->outcome, "completed");
    ck_assert_uint_eq(history_lines(NULL), 0);
    g_ptr_array_unref(seen.verdicts);
}
END_TEST

START_TEST(test_source_resumed_is_a_failure)
{
    Seen seen;
    g_autoptr(VlMonitor) m = new_monitor(&seen);
    g_autoptr(VlMonitorMigration) mig = NULL;
    guint calls;

    script_idle_pass(1000);
    vl_monitor_handle_qemu_migration(m, DOM, "setup");
    while (fake->calls < 3)
        g_main_context_iteration(NULL, TRUE);
    vl_monitor_handle_lifecycle(m, DOM, VIR_DOMAIN_EVENT_RESUMED,
                                VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
    ck_assert(!vl_monitor_is_migrating(m, DOM));
    mig = vl_monitor_get(m, DOM);
    ck_assert_str_eq(mig->outcome, "failed");
    /* Polling stopped (one may still have been in flight). */
    calls = fake->calls;
    while (g_main_context_iteration(NULL, FALSE))
        ;
    ck_assert_uint_le(fake->calls, calls + 1);
    ck_assert_uint_eq(history_lines(NULL), 0);
    g_ptr_array_unref(seen.verdicts);
}
END_TEST

START_TEST(test_poll_errors_give_up)
{
    Seen seen;
    g_autoptr(VlMonitor) m = new_monitor(&seen);
    g_autoptr(VlMonitorMigration) mig = NULL;

    fake->fail = TRUE;
    vl_monitor_handle_qemu_migration(m, DOM, "setup");
    ck_assert(vl_test_loop_run_until(has_ended, m, WAIT_MS));
    ck_assert_uint_eq(fake->calls, VL_MONITOR_MAX_POLL_ERRORS);
    mig = vl_monitor_get(m, DOM);
    ck_assert_str_eq(mig->outcome, "ended");
    ck_assert_int_eq(mig->direction, VL_MONITOR_DIRECTION_UNKNOWN);
    g_ptr_array_unref(seen.verdicts);
}
END_TEST

START_TEST(test_other_jobs_are_not_migrations)
{
    Seen seen;
    g_autoptr(VlMonitor) m = new_monitor(&seen);
    g_autoptr(VlMonitorMigration) mig = NULL;
    VlMonitorJobStats dump = { 0 };

    dump.type = VIR_DOMAIN_JOB_UNBOUNDED;
    dump.operation = VIR_DOMAIN_JOB_OPERATION_DUMP;
    script_add(dump);
    vl_monitor_handle_qemu_migration(m, DOM, "setup");
    ck_assert(vl_test_loop_run_until(has_ended, m, WAIT_MS));
    mig = vl_monitor_get(m, DOM);
    ck_assert_int_eq(mig->direction, VL_MONITOR_DIRECTION_UNKNOWN);
    ck_assert_uint_eq(fake->calls, 1);
    /* QEMU's end states never start one. */
    vl_monitor_handle_qemu_migration(m, "other", "completed");
    vl_monitor_handle_qemu_migration(m, "other", "none");
    ck_assert(!vl_monitor_is_migrating(m, "other"));
    g_ptr_array_unref(seen.verdicts);
}
END_TEST

START_TEST(test_completed_without_start_still_learns)
{
    Seen seen;
    g_autoptr(VlMonitor) m = new_monitor(&seen);
    g_autoptr(VlHistoryRecord) rec = NULL;
    VlMonitorJobStats done = sample(20.5, GIB, 900 * MIB, 0, 45e6, 0, 4);

    done.type = VIR_DOMAIN_JOB_COMPLETED;
    done.downtime_ms = 400;
    vl_monitor_handle_job_completed(m, DOM, &done);
    ck_assert_uint_eq(history_lines(&rec), 1);
    ck_assert_uint_eq(rec->lanes, 2);
    ck_assert_double_eq_tol(rec->processed_bytes, 900 * MIB, 1);
    ck_assert(!vl_monitor_is_migrating(m, DOM));

    /* Without stats in the event, the monitor asks libvirt for them. */
    script_idle_pass(1);
    vl_monitor_handle_job_completed(m, "another", NULL);
    while (fake->completed_calls == 0)
        g_main_context_iteration(NULL, TRUE);
    while (history_lines(NULL) < 2)
        g_main_context_iteration(NULL, TRUE);
    ck_assert_uint_eq(history_lines(NULL), 2);
    g_ptr_array_unref(seen.verdicts);
}
END_TEST

START_TEST(test_listeners_and_lanes)
{
    Seen seen;
    Seen other = { 0 };
    g_autoptr(VlMonitor) m = new_monitor(&seen);
    g_autoptr(VlMonitorMigration) mig = NULL;
    guint id;

    other.verdicts = g_ptr_array_new();
    id = vl_monitor_add_eta_listener(m, on_eta, &other);
    ck_assert_uint_ne(id, 0);
    script_idle_pass(3);
    vl_monitor_handle_qemu_migration(m, DOM, "setup");
    vl_monitor_set_lanes(m, DOM, 3, 6);
    vl_monitor_remove_eta_listener(m, id);
    ck_assert(vl_test_loop_run_until(has_ended, m, WAIT_MS));
    ck_assert_uint_eq(other.calls, 1);  /* the "began" update only */
    ck_assert_uint_ge(seen.calls, 4);
    mig = vl_monitor_get(m, DOM);
    ck_assert_uint_eq(mig->plan.lanes, 3);
    ck_assert_uint_eq(mig->plan.channels, 6);
    g_ptr_array_unref(other.verdicts);
    g_ptr_array_unref(seen.verdicts);
}
END_TEST

/* The driver's announcement beats the begin function's guess, whether it
 * comes before the migration's first event or after it, and the history
 * line says what the driver used. */
START_TEST(test_announced_plan_is_recorded)
{
    Seen seen;
    g_autoptr(VlMonitor) m = new_monitor(&seen);
    g_autoptr(VlMonitorMigration) mig = NULL;
    g_autoptr(VlHistoryRecord) rec = NULL;
    VlMonitorJobStats done;

    /* Before: one link (the base path, 0 lanes) with 2 channels, where
     * the guess is 2 lanes, 4 channels. */
    vl_monitor_expect(m, DOM, 1, 2, 30.5);
    script_idle_pass(3);
    vl_monitor_handle_qemu_migration(m, DOM, "setup");
    mig = vl_monitor_get(m, DOM);
    ck_assert_uint_eq(mig->plan.lanes, 0);
    ck_assert_uint_eq(mig->plan.channels, 2);
    ck_assert_double_eq_tol(mig->plan.predicted_total_s, 30.5, 1e-9);
    ck_assert(vl_test_loop_run_until(has_ended, m, WAIT_MS));
    done = sample(31.0, GIB, GIB + 1e6, 0, 24.4e6, 0, 3);
    done.type = VIR_DOMAIN_JOB_COMPLETED;
    vl_monitor_handle_job_completed(m, DOM, &done);
    ck_assert_uint_eq(history_lines(&rec), 1);
    ck_assert_uint_eq(rec->lanes, 0);
    ck_assert_uint_eq(rec->channels, 2);
    ck_assert_double_eq_tol(rec->predicted_time_s, 30.5, 1e-9);

    /* Used once: the next migration is guessed again. */
    script_idle_pass(3);
    vl_monitor_handle_qemu_migration(m, DOM, "setup");
    g_clear_pointer(&mig, vl_monitor_migration_free);
    mig = vl_monitor_get(m, DOM);
    ck_assert_uint_eq(mig->plan.lanes, 2);
    ck_assert_uint_eq(mig->plan.channels, 4);

    /* After the first event: applied to the running migration; 3 links
     * are the base path and 2 lanes. */
    vl_monitor_expect(m, DOM, 3, 6, NAN);
    g_clear_pointer(&mig, vl_monitor_migration_free);
    mig = vl_monitor_get(m, DOM);
    ck_assert_uint_eq(mig->plan.lanes, 2);
    ck_assert_uint_eq(mig->plan.channels, 6);
    ck_assert_double_eq_tol(mig->plan.predicted_total_s, 44.5, 1e-9);
    ck_assert(vl_test_loop_run_until(has_ended, m, WAIT_MS));
    g_ptr_array_unref(seen.verdicts);
}
END_TEST

/* libvirt 9.0's answer to a job query on a migration's destination, as
 * its libvirtd logs it: "Operation not supported: migration statistics
 * are available only on the source host". */
START_TEST(test_error_is_incoming)
{
    const char *msg = "Operation not supported: migration statistics are available only on the source host";

    ck_assert(vl_monitor_error_is_incoming(VIR_ERR_OPERATION_UNSUPPORTED, msg));
    ck_assert(vl_monitor_error_is_incoming(VIR_ERR_OPERATION_INVALID, msg));
    /* The same code for another reason, or another code: a real error. */
    ck_assert(!vl_monitor_error_is_incoming(VIR_ERR_OPERATION_UNSUPPORTED,
                                            "Operation not supported: this function is not supported by the connection driver"));
    ck_assert(!vl_monitor_error_is_incoming(VIR_ERR_NO_DOMAIN, msg));
    ck_assert(!vl_monitor_error_is_incoming(VIR_ERR_OPERATION_UNSUPPORTED, NULL));
}
END_TEST

START_TEST(test_parse_job_stats)
{
    virTypedParameter p[6];
    VlMonitorJobStats s;
    g_autoptr(GError) error = NULL;

    memset(p, 0, sizeof(p));
    g_strlcpy(p[0].field, VIR_DOMAIN_JOB_OPERATION, VIR_TYPED_PARAM_FIELD_LENGTH);
    p[0].type = VIR_TYPED_PARAM_INT;
    p[0].value.i = VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
    g_strlcpy(p[1].field, VIR_DOMAIN_JOB_TIME_ELAPSED, VIR_TYPED_PARAM_FIELD_LENGTH);
    p[1].type = VIR_TYPED_PARAM_ULLONG;
    p[1].value.ul = 12345;
    g_strlcpy(p[2].field, VIR_DOMAIN_JOB_MEMORY_TOTAL, VIR_TYPED_PARAM_FIELD_LENGTH);
    p[2].type = VIR_TYPED_PARAM_ULLONG;
    p[2].value.ul = 1073741824;
    g_strlcpy(p[3].field, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE, VIR_TYPED_PARAM_FIELD_LENGTH);
    p[3].type = VIR_TYPED_PARAM_ULLONG;
    p[3].value.ul = 2560;
    g_strlcpy(p[4].field, "disk_total", VIR_TYPED_PARAM_FIELD_LENGTH);
    p[4].type = VIR_TYPED_PARAM_STRING;    /* not ours: ignored */
    g_strlcpy(p[5].field, VIR_DOMAIN_JOB_DOWNTIME, VIR_TYPED_PARAM_FIELD_LENGTH);
    p[5].type = VIR_TYPED_PARAM_ULLONG;
    p[5].value.ul = 350;

    ck_assert_msg(vl_monitor_parse_job_stats(VIR_DOMAIN_JOB_UNBOUNDED, p, 6,
                                             &s, &error), "%s",
                  error ? error->message : "");
    ck_assert_int_eq(s.operation, VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT);
    ck_assert_int_eq(s.sample.time_elapsed_ms, 12345);
    ck_assert(s.has_memory);
    ck_assert_uint_eq(s.sample.memory_total, 1073741824);
    ck_assert_uint_eq(s.sample.memory_dirty_rate, 2560);
    ck_assert_uint_eq(s.sample.page_size, 4096);   /* default */
    ck_assert_double_eq_tol(s.downtime_ms, 350, 1e-9);

    /* A known field of the wrong type, or negative: refused, by name. */
    p[1].type = VIR_TYPED_PARAM_STRING;
    p[1].value.s = (char *)"soon";
    memset(&s, 0x5a, sizeof(s));
    ck_assert(!vl_monitor_parse_job_stats(VIR_DOMAIN_JOB_UNBOUNDED, p, 6, &s,
                                          &error));
    ck_assert_ptr_nonnull(strstr(error->message, "'time_elapsed'"));
    ck_assert_int_eq(s.type, 0x5a5a5a5a);  /* untouched */
    g_clear_error(&error);
    p[1].type = VIR_TYPED_PARAM_LLONG;
    p[1].value.l = -5;
    ck_assert(!vl_monitor_parse_job_stats(VIR_DOMAIN_JOB_UNBOUNDED, p, 6, &s,
                                          &error));
    g_clear_error(&error);
    /* A field name without its terminator. */
    p[1].type = VIR_TYPED_PARAM_ULLONG;
    p[1].value.ul = 1;
    memset(p[4].field, 'x', VIR_TYPED_PARAM_FIELD_LENGTH);
    ck_assert(!vl_monitor_parse_job_stats(VIR_DOMAIN_JOB_UNBOUNDED, p, 6, &s,
                                          &error));
    ck_assert_ptr_nonnull(strstr(error->message, "unterminated"));
    ck_assert_str_eq(vl_monitor_direction_to_string(VL_MONITOR_DIRECTION_IN),
                     "in");
}
END_TEST

static Suite *
monitor_suite(void)
{
    Suite *s = suite_create("monitor");
    TCase *tc = tcase_create("migrations");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_outgoing_eta_then_completed_into_history);
    tcase_add_test(tc, test_stall_is_not_converging);
    tcase_add_test(tc, test_incoming_is_told_apart_and_not_recorded);
    tcase_add_test(tc, test_source_resumed_is_a_failure);
    tcase_add_test(tc, test_poll_errors_give_up);
    tcase_add_test(tc, test_other_jobs_are_not_migrations);
    tcase_add_test(tc, test_completed_without_start_still_learns);
    tcase_add_test(tc, test_listeners_and_lanes);
    tcase_add_test(tc, test_announced_plan_is_recorded);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_job_stats);
    tcase_add_test(tc, test_error_is_incoming);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(monitor_suite());
}
