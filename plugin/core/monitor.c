/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitor.c: running migrations, their ETA and the history (see monitor.h)
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "history.h"
#include "monitor.h"
#include "virt-error.h"
#include "vl-autoptr.h"
#include "vl-virt-autoptr.h"

typedef struct {
    char *domain;
    VlMonitorDirection direction;
    gboolean active;
    char *outcome;
    VlEta *eta;
    VlEtaResult result;
    VlMonitorJobStats last;
    guint samples;
    guint errors;
    VlMonitorPlan plan;
    gboolean polling;           /* a poll is in flight or scheduled */
    guint poll_id;
    gboolean recorded;          /* its history line is written */
    gboolean postcopy;          /* QEMU said "postcopy-..." */
    guint downtime_limit_ms;    /* 0 = QEMU's default */
} Entry;

/* What the driver of a migration announced before starting it. */
typedef struct {
    guint lanes;                /* besides the base path */
    guint channels;
    double predicted_total_s;
    gint64 until_us;            /* monotonic; ignored after that */
} Expected;

/* An announcement the migration never followed is forgotten after this. */
#define EXPECTED_FOR_US (10 * 60 * G_USEC_PER_SEC)

typedef struct {
    guint id;
    VlMonitorEtaFunc func;
    gpointer data;
} Listener;

enum {
    EV_LIFECYCLE,
    EV_ITERATION,
    EV_JOB_COMPLETED,
    EV_COUNT,
};

struct _VlMonitor {
    const VlMonitorOps *ops;
    gpointer ops_data;
    VlConn *conn;
    char *history_path;
    guint poll_ms;
    VlMonitorBeginFunc begin;
    gpointer begin_data;
    GArray *listeners;          /* Listener */
    guint next_listener;
    GHashTable *entries;        /* name -> Entry* */
    GHashTable *expected;       /* name -> Expected*: announced, not begun */
    GCancellable *cancellable;

    virConnectPtr vconn;
    int ids[EV_COUNT];
    int qemu_id;
};

typedef struct {
    const VlMonitorOps *ops;
    gpointer ops_data;
    virConnectPtr vconn;
    char *name;
    gboolean completed;
} Job;

static void poll_now(VlMonitor *monitor, Entry *e);

/* --- small things ---------------------------------------------------- */

const char *
vl_monitor_direction_to_string(VlMonitorDirection direction)
{
    switch (direction) {
    case VL_MONITOR_DIRECTION_UNKNOWN:
        return "unknown";
    case VL_MONITOR_DIRECTION_OUT:
        return "out";
    case VL_MONITOR_DIRECTION_IN:
        return "in";
    }
    return "invalid";
}

void
vl_monitor_migration_free(VlMonitorMigration *migration)
{
    if (!migration)
        return;
    g_free(migration->domain);
    g_free(migration->outcome);
    g_free(migration);
}

static json_object *
number_or_null(double v)
{
    return isfinite(v) ? json_object_new_double(v) : NULL;
}

json_object *
vl_monitor_migration_to_json(const VlMonitorMigration *m)
{
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "direction",
                           json_object_new_string(vl_monitor_direction_to_string(m->direction)));
    json_object_object_add(obj, "elapsed_s", number_or_null(m->elapsed_s));
    json_object_object_add(obj, "eta_s", number_or_null(m->eta.eta_s));
    json_object_object_add(obj, "verdict",
                           json_object_new_string(vl_eta_verdict_to_string(m->eta.verdict)));
    json_object_object_add(obj, "bandwidth_bps",
                           number_or_null(m->eta.bandwidth_bps));
    json_object_object_add(obj, "dirty_rate_bps",
                           number_or_null(m->eta.dirty_rate_bps));
    json_object_object_add(obj, "iteration",
                           json_object_new_int64((gint64)m->iteration));
    json_object_object_add(obj, "remaining_bytes",
                           number_or_null(m->remaining_bytes));
    json_object_object_add(obj, "active", json_object_new_boolean(m->active));
    json_object_object_add(obj, "outcome", m->outcome ?
                           json_object_new_string(m->outcome) : NULL);
    json_object_object_add(obj, "reason", m->eta.reason ?
                           json_object_new_string(m->eta.reason) : NULL);
    json_object_object_add(obj, "predicted_total_s",
                           number_or_null(m->plan.predicted_total_s));
    json_object_object_add(obj, "lanes",
                           json_object_new_int64(m->plan.lanes));
    json_object_object_add(obj, "links",
                           json_object_new_int64((gint64)m->plan.lanes + 1));
    json_object_object_add(obj, "postcopy", json_object_new_boolean(m->postcopy));
    return obj;
}

static void
entry_free(Entry *e)
{
    if (!e)
        return;
    g_clear_handle_id(&e->poll_id, g_source_remove);
    g_free(e->domain);
    g_free(e->outcome);
    vl_eta_free(e->eta);
    g_free(e);
}

static void
job_free(Job *job)
{
    if (!job)
        return;
    if (job->vconn)
        virConnectClose(job->vconn);
    g_free(job->name);
    g_free(job);
}

static VlMonitorMigration *
snapshot(const Entry *e)
{
    VlMonitorMigration *m = g_new0(VlMonitorMigration, 1);

    m->domain = g_strdup(e->domain);
    m->direction = e->direction;
    m->active = e->active;
    m->outcome = g_strdup(e->outcome);
    m->elapsed_s = e->samples ? e->last.sample.time_elapsed_ms / 1000.0 : NAN;
    m->remaining_bytes = e->samples ? (double)e->last.sample.memory_remaining
                                    : NAN;
    m->iteration = e->samples ? e->last.sample.memory_iteration : 0;
    m->samples = e->samples;
    m->eta = e->result;
    m->plan = e->plan;
    m->postcopy = e->postcopy;
    m->downtime_limit_ms = e->downtime_limit_ms;
    return m;
}

static void
notify(VlMonitor *monitor, Entry *e)
{
    g_autoptr(VlMonitorMigration) m = NULL;
    guint i;

    if (monitor->listeners->len == 0)
        return;
    m = snapshot(e);
    /* A copy: a listener may remove itself. */
    for (i = 0; i < monitor->listeners->len; i++) {
        Listener l = g_array_index(monitor->listeners, Listener, i);

        l.func(monitor, m, l.data);
    }
}

/* --- job stats ------------------------------------------------------- */

static gboolean
param_u64(const virTypedParameter *p, guint64 *out)
{
    switch (p->type) {
    case VIR_TYPED_PARAM_INT:
        if (p->value.i < 0)
            return FALSE;
        *out = p->value.i;
        return TRUE;
    case VIR_TYPED_PARAM_UINT:
        *out = p->value.ui;
        return TRUE;
    case VIR_TYPED_PARAM_LLONG:
        if (p->value.l < 0)
            return FALSE;
        *out = p->value.l;
        return TRUE;
    case VIR_TYPED_PARAM_ULLONG:
        *out = p->value.ul;
        return TRUE;
    default:
        break;
    }
    return FALSE;
}

gboolean
vl_monitor_parse_job_stats(int type, const virTypedParameter *params,
                           int nparams, VlMonitorJobStats *stats,
                           GError **error)
{
    VlMonitorJobStats s;
    int i;

    g_return_val_if_fail(stats != NULL, FALSE);
    g_return_val_if_fail(params != NULL || nparams == 0, FALSE);

    memset(&s, 0, sizeof(s));
    s.type = type;
    s.downtime_ms = NAN;
    s.sample.page_size = 4096;

    for (i = 0; i < nparams; i++) {
        const virTypedParameter *p = &params[i];
        guint64 v = 0;

        if (!memchr(p->field, '\0', sizeof(p->field))) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Job stats field %d has an unterminated name", i);
            return FALSE;
        }
        if (!g_str_equal(p->field, VIR_DOMAIN_JOB_OPERATION) &&
            !g_str_equal(p->field, VIR_DOMAIN_JOB_TIME_ELAPSED) &&
            !g_str_has_prefix(p->field, "memory_") &&
            !g_str_equal(p->field, VIR_DOMAIN_JOB_DOWNTIME))
            continue;
        if (!param_u64(p, &v) || v > G_MAXINT64) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Job stats field '%s' is not a non-negative integer",
                        p->field);
            return FALSE;
        }
        if (g_str_equal(p->field, VIR_DOMAIN_JOB_OPERATION))
            s.operation = (int)MIN(v, G_MAXINT);
        else if (g_str_equal(p->field, VIR_DOMAIN_JOB_TIME_ELAPSED))
            s.sample.time_elapsed_ms = (gint64)v;
        else if (g_str_equal(p->field, VIR_DOMAIN_JOB_MEMORY_TOTAL)) {
            s.sample.memory_total = v;
            s.has_memory = TRUE;
        } else if (g_str_equal(p->field, VIR_DOMAIN_JOB_MEMORY_PROCESSED))
            s.sample.memory_processed = v;
        else if (g_str_equal(p->field, VIR_DOMAIN_JOB_MEMORY_REMAINING))
            s.sample.memory_remaining = v;
        else if (g_str_equal(p->field, VIR_DOMAIN_JOB_MEMORY_BPS))
            s.sample.memory_bps = v;
        else if (g_str_equal(p->field, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE))
            s.sample.memory_dirty_rate = v;
        else if (g_str_equal(p->field, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE))
            s.sample.page_size = v;
        else if (g_str_equal(p->field, VIR_DOMAIN_JOB_MEMORY_ITERATION))
            s.sample.memory_iteration = v;
        else if (g_str_equal(p->field, VIR_DOMAIN_JOB_DOWNTIME))
            s.downtime_ms = (double)v;
    }
    *stats = s;
    return TRUE;
}

gboolean
vl_monitor_error_is_incoming(int code, const char *message)
{
    return (code == VIR_ERR_OPERATION_UNSUPPORTED ||
            code == VIR_ERR_OPERATION_INVALID) &&
        message && strstr(message, "only on the source host");
}

static gboolean
libvirt_job_stats(gpointer ops_data G_GNUC_UNUSED, virConnectPtr vconn,
                  const char *name, gboolean completed,
                  VlMonitorJobStats *stats, GError **error)
{
    g_autoptr(virDomain) dom = NULL;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int type = VIR_DOMAIN_JOB_NONE;
    unsigned int flags = 0;
    gboolean ok;

    if (!vconn || !(dom = virDomainLookupByName(vconn, name))) {
        vl_error_set_from_virt(error, "Cannot find domain '%s'", name);
        return FALSE;
    }
    if (completed)
        flags = VIR_DOMAIN_JOB_STATS_COMPLETED |
            VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED;
    if (virDomainGetJobStats(dom, &type, &params, &nparams, flags) < 0) {
        virErrorPtr err = virGetLastError();

        /* libvirt keeps migration statistics on the source only and says
         * so on the destination: that is the answer "incoming". */
        if (err && vl_monitor_error_is_incoming(err->code, err->message)) {
            memset(stats, 0, sizeof(*stats));
            stats->type = VIR_DOMAIN_JOB_UNBOUNDED;
            stats->operation = VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN;
            stats->downtime_ms = NAN;
            return TRUE;
        }
        vl_error_set_from_virt(error, "Cannot read the job statistics of '%s'",
                               name);
        return FALSE;
    }
    ok = vl_monitor_parse_job_stats(type, params, nparams, stats, error);
    virTypedParamsFree(params, nparams);
    return ok;
}

static const VlMonitorOps libvirt_ops = {
    .job_stats = libvirt_job_stats,
};

const VlMonitorOps *
vl_monitor_ops_libvirt(void)
{
    return &libvirt_ops;
}

/* --- polling ------------------------------------------------------------ */

static void
poll_thread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
            GCancellable *cancellable G_GNUC_UNUSED)
{
    Job *job = task_data;
    GError *error = NULL;
    VlMonitorJobStats *stats = g_new0(VlMonitorJobStats, 1);

    if (!job->ops->job_stats(job->ops_data, job->vconn, job->name,
                             job->completed, stats, &error)) {
        g_free(stats);
        g_task_return_error(task, error);
        return;
    }
    g_task_return_pointer(task, stats, g_free);
}

static GTask *
job_task_new(VlMonitor *monitor, const char *name, gboolean completed,
             GAsyncReadyCallback done)
{
    GTask *task = g_task_new(NULL, monitor->cancellable, done, monitor);
    Job *job = g_new0(Job, 1);
    virConnectPtr vconn = monitor->conn ? vl_conn_get_virt(monitor->conn)
                                        : NULL;

    job->ops = monitor->ops;
    job->ops_data = monitor->ops_data;
    if (vconn) {
        virConnectRef(vconn);
        job->vconn = vconn;
    }
    job->name = g_strdup(name);
    job->completed = completed;
    g_task_set_task_data(task, job, (GDestroyNotify)job_free);
    return task;
}

static void
finish(VlMonitor *monitor, Entry *e, const char *outcome)
{
    if (!e->active)
        return;
    e->active = FALSE;
    g_free(e->outcome);
    e->outcome = g_strdup(outcome);
    g_clear_handle_id(&e->poll_id, g_source_remove);
    notify(monitor, e);
}

typedef struct {
    VlMonitor *monitor;
    char *name;
} PollRef;

static void
poll_ref_free(PollRef *ref)
{
    g_free(ref->name);
    g_free(ref);
}

static gboolean
on_poll_due(gpointer data)
{
    PollRef *ref = data;
    Entry *e = g_hash_table_lookup(ref->monitor->entries, ref->name);

    if (e) {
        e->poll_id = 0;
        poll_now(ref->monitor, e);
    }
    return G_SOURCE_REMOVE;
}

static void
schedule_poll(VlMonitor *monitor, Entry *e)
{
    PollRef *ref = g_new0(PollRef, 1);

    ref->monitor = monitor;
    ref->name = g_strdup(e->domain);
    g_clear_handle_id(&e->poll_id, g_source_remove);
    e->poll_id = g_timeout_add_full(G_PRIORITY_DEFAULT, monitor->poll_ms,
                                    on_poll_due, ref,
                                    (GDestroyNotify)poll_ref_free);
}

static void
apply_stats(VlMonitor *monitor, Entry *e, const VlMonitorJobStats *stats)
{
    g_autoptr(GError) error = NULL;

    if (stats->type == VIR_DOMAIN_JOB_NONE) {
        /* The job is over; job-completed (success) may still come. */
        finish(monitor, e, "ended");
        return;
    }
    if (stats->operation == VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN) {
        /* Nothing to poll on this side; lifecycle events end it. */
        e->direction = VL_MONITOR_DIRECTION_IN;
        e->result.reason = "incoming: statistics are kept on the source";
        notify(monitor, e);
        return;
    }
    if (stats->operation != 0 &&
        stats->operation != VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT) {
        /* Some other job (a dump, a save): not a migration. */
        finish(monitor, e, "ended");
        return;
    }
    e->direction = VL_MONITOR_DIRECTION_OUT;
    if (stats->has_memory) {
        VlEtaSample sample = stats->sample;

        if (sample.downtime_limit_ms == 0)
            sample.downtime_limit_ms = e->downtime_limit_ms;
        if (vl_eta_update(e->eta, &sample, &error)) {
            vl_eta_get_result(e->eta, &e->result);
            e->last = *stats;
            e->samples++;
        } else {
            g_debug("Job sample of '%s' ignored: %s", e->domain,
                    error->message);
        }
    }
    notify(monitor, e);
    schedule_poll(monitor, e);
}

static void
poll_done(GObject *source G_GNUC_UNUSED, GAsyncResult *res, gpointer data)
{
    GTask *task = G_TASK(res);
    VlMonitor *monitor = data;
    g_autoptr(GError) error = NULL;
    g_autofree VlMonitorJobStats *stats = NULL;
    Job *job = g_task_get_task_data(task);
    Entry *e;

    if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        return;
    stats = g_task_propagate_pointer(task, &error);
    e = g_hash_table_lookup(monitor->entries, job->name);
    if (!e)
        return;
    e->polling = FALSE;
    if (!e->active)
        return;
    if (!stats) {
        g_debug("Polling '%s' failed: %s", e->domain, error->message);
        if (++e->errors >= VL_MONITOR_MAX_POLL_ERRORS) {
            finish(monitor, e, "ended");
            return;
        }
        schedule_poll(monitor, e);
        return;
    }
    e->errors = 0;
    apply_stats(monitor, e, stats);
}

static void
poll_now(VlMonitor *monitor, Entry *e)
{
    g_autoptr(GTask) task = NULL;

    if (e->polling || !e->active)
        return;
    e->polling = TRUE;
    task = job_task_new(monitor, e->domain, FALSE, poll_done);
    g_task_run_in_thread(task, poll_thread);
}

/* --- migrations begin and end ---------------------------------------- */

/* The driver knows how its migration is carried; the begin function
 * only guesses (from the links that are up and the model). */
static void
apply_expected(VlMonitor *monitor, Entry *e)
{
    Expected *x = g_hash_table_lookup(monitor->expected, e->domain);

    if (!x)
        return;
    if (g_get_monotonic_time() <= x->until_us) {
        e->plan.lanes = x->lanes;
        e->plan.channels = x->channels;
        if (isfinite(x->predicted_total_s))
            e->plan.predicted_total_s = x->predicted_total_s;
    }
    g_hash_table_remove(monitor->expected, e->domain);
}

static Entry *
begin(VlMonitor *monitor, const char *domain)
{
    Entry *e = g_hash_table_lookup(monitor->entries, domain);
    VlEtaConfig cfg;

    if (e && e->active)
        return e;
    if (e)
        g_hash_table_remove(monitor->entries, domain);

    e = g_new0(Entry, 1);
    e->domain = g_strdup(domain);
    e->active = TRUE;
    e->plan.predicted_total_s = NAN;
    if (monitor->begin)
        monitor->begin(monitor, domain, &e->plan, monitor->begin_data);
    apply_expected(monitor, e);
    vl_eta_config_init(&cfg);
    cfg.prior_dirty_rate_bps = e->plan.prior_dirty_rate_bps;
    cfg.time_cap_s = e->plan.time_cap_s;
    e->eta = vl_eta_new(&cfg);
    vl_eta_get_result(e->eta, &e->result);
    g_hash_table_insert(monitor->entries, e->domain, e);
    notify(monitor, e);
    poll_now(monitor, e);
    return e;
}

void
vl_monitor_handle_qemu_migration(VlMonitor *monitor, const char *domain,
                                 const char *status)
{
    Entry *e;

    g_return_if_fail(monitor != NULL && domain != NULL);
    if (!status)
        return;
    if (g_str_equal(status, "completed") || g_str_equal(status, "failed") ||
        g_str_equal(status, "cancelled")) {
        e = g_hash_table_lookup(monitor->entries, domain);
        if (!e || !e->active)
            return;
        /* The source learns the outcome from the job itself (the poll
         * sees it end, job-completed brings the stats); the destination
         * from QEMU. */
        if (e->direction == VL_MONITOR_DIRECTION_IN)
            finish(monitor, e, g_str_equal(status, "completed") ?
                   "completed" : "failed");
        else
            poll_now(monitor, e);
        return;
    }
    if (g_str_equal(status, "none") || g_str_equal(status, "cancelling"))
        return;
    e = begin(monitor, domain);
    /* "postcopy-active", "-paused", "-recover": RAM now follows the guest,
     * which runs on the destination; there is no way back. */
    if (g_str_has_prefix(status, "postcopy") && !e->postcopy) {
        e->postcopy = TRUE;
        notify(monitor, e);
    }
}

void
vl_monitor_handle_iteration(VlMonitor *monitor, const char *domain)
{
    g_return_if_fail(monitor != NULL && domain != NULL);
    /* Source only: a migration the QEMU event did not show us. */
    begin(monitor, domain);
}

static void
append_history(VlMonitor *monitor, Entry *e, const VlMonitorJobStats *stats)
{
    g_autoptr(VlHistoryRecord) r = vl_history_record_new();
    g_autoptr(GError) error = NULL;
    const VlEtaSample *s = &stats->sample;
    double dirty = e->result.dirty_rate_bps;

    if (!monitor->history_path || e->recorded || !stats->has_memory)
        return;
    if (!isfinite(dirty))
        dirty = e->plan.prior_dirty_rate_bps;
    r->time = g_get_real_time() / G_USEC_PER_SEC;
    r->domain = g_utf8_make_valid(e->domain, -1);
    r->memory_bytes = s->memory_total;
    r->processed_bytes = s->memory_processed;
    r->total_time_s = s->time_elapsed_ms / 1000.0;
    r->memory_bps = s->memory_bps;
    r->iterations = (guint)MIN(s->memory_iteration, G_MAXUINT);
    r->downtime_ms = isfinite(stats->downtime_ms) ? stats->downtime_ms : 0;
    r->dirty_rate_bps = isfinite(dirty) && dirty >= 0 ? dirty : 0;
    r->lanes = MIN(e->plan.lanes, VL_HISTORY_MAX_LANES);
    r->channels = MIN(e->plan.channels, VL_HISTORY_MAX_CHANNELS);
    r->predicted_time_s = e->plan.predicted_total_s;
    r->load1 = vl_history_load_average();
    if (!vl_history_append(monitor->history_path, r, 0, &error)) {
        g_debug("History of '%s' not written: %s", e->domain, error->message);
        return;
    }
    e->recorded = TRUE;
}

static void
completed_stats_done(GObject *source G_GNUC_UNUSED, GAsyncResult *res,
                     gpointer data)
{
    GTask *task = G_TASK(res);
    VlMonitor *monitor = data;
    g_autoptr(GError) error = NULL;
    g_autofree VlMonitorJobStats *stats = NULL;
    Job *job = g_task_get_task_data(task);
    Entry *e;

    if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        return;
    stats = g_task_propagate_pointer(task, &error);
    e = g_hash_table_lookup(monitor->entries, job->name);
    if (!e)
        return;
    if (stats)
        append_history(monitor, e, stats);
    else
        g_debug("No completed job statistics for '%s': %s", e->domain,
                error->message);
}

void
vl_monitor_handle_job_completed(VlMonitor *monitor, const char *domain,
                                const VlMonitorJobStats *stats)
{
    Entry *e;

    g_return_if_fail(monitor != NULL && domain != NULL);

    e = g_hash_table_lookup(monitor->entries, domain);
    if (stats && stats->operation != 0 &&
        stats->operation != VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT)
        return;     /* a completed save or dump */
    if (!e) {
        /* Missed the start (e.g. the daemon was restarted): still learn. */
        e = begin(monitor, domain);
    }
    e->direction = VL_MONITOR_DIRECTION_OUT;
    if (stats && stats->has_memory) {
        e->last = *stats;
        if (e->samples == 0)
            e->samples = 1;
        append_history(monitor, e, stats);
    } else {
        g_autoptr(GTask) task = job_task_new(monitor, domain, TRUE,
                                             completed_stats_done);

        g_task_run_in_thread(task, poll_thread);
    }
    finish(monitor, e, "completed");
    if (g_strcmp0(e->outcome, "completed") != 0) {
        /* The poll saw the job end first; this is the real outcome. */
        g_free(e->outcome);
        e->outcome = g_strdup("completed");
        notify(monitor, e);
    }
}

void
vl_monitor_handle_lifecycle(VlMonitor *monitor, const char *domain,
                            int event, int detail)
{
    Entry *e;

    g_return_if_fail(monitor != NULL && domain != NULL);
    e = g_hash_table_lookup(monitor->entries, domain);
    if (!e || !e->active)
        return;

    if (event == VIR_DOMAIN_EVENT_RESUMED &&
        detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED) {
        /* The destination runs it now; a source resumes after failure. */
        finish(monitor, e, e->direction == VL_MONITOR_DIRECTION_IN ?
               "completed" : "failed");
    } else if (event == VIR_DOMAIN_EVENT_STOPPED) {
        if (e->direction == VL_MONITOR_DIRECTION_IN)
            finish(monitor, e, "failed");
        else if (detail != VIR_DOMAIN_EVENT_STOPPED_MIGRATED)
            finish(monitor, e, "failed");
        /* stopped/migrated on the source: job-completed follows */
    }
}

/* --- libvirt events ------------------------------------------------------- */

static int
on_lifecycle(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom, int event,
             int detail, void *opaque)
{
    const char *name = virDomainGetName(dom);

    if (name)
        vl_monitor_handle_lifecycle(opaque, name, event, detail);
    return 0;
}

static void
on_iteration(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom,
             int iteration G_GNUC_UNUSED, void *opaque)
{
    const char *name = virDomainGetName(dom);

    if (name)
        vl_monitor_handle_iteration(opaque, name);
}

static void
on_job_completed(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom,
                 virTypedParameterPtr params, int nparams, void *opaque)
{
    const char *name = virDomainGetName(dom);
    VlMonitorJobStats stats;
    g_autoptr(GError) error = NULL;

    if (!name)
        return;
    if (vl_monitor_parse_job_stats(VIR_DOMAIN_JOB_COMPLETED, params, nparams,
                                   &stats, &error)) {
        vl_monitor_handle_job_completed(opaque, name, &stats);
    } else {
        g_debug("Job-completed statistics of '%s' unreadable: %s", name,
                error->message);
        vl_monitor_handle_job_completed(opaque, name, NULL);
    }
}

static void
on_qemu_event(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom,
              const char *event G_GNUC_UNUSED, long long seconds G_GNUC_UNUSED,
              unsigned int micros G_GNUC_UNUSED, const char *details,
              void *opaque)
{
    g_autoptr(json_object) data = NULL;
    json_object *status = NULL;
    const char *name = virDomainGetName(dom);

    if (!name || !details)
        return;
    data = json_tokener_parse(details);
    if (data && json_object_is_type(data, json_type_object) &&
        json_object_object_get_ex(data, "status", &status) &&
        json_object_is_type(status, json_type_string))
        vl_monitor_handle_qemu_migration(opaque, name,
                                         json_object_get_string(status));
}

gboolean
vl_monitor_attach(VlMonitor *monitor, virConnectPtr vconn, GError **error)
{
    static const struct {
        int id;
        virConnectDomainEventGenericCallback cb;
        const char *what;
    } specs[EV_COUNT] = {
        [EV_LIFECYCLE] = { VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), "lifecycle" },
        [EV_ITERATION] = { VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
                           VIR_DOMAIN_EVENT_CALLBACK(on_iteration),
                           "migration iteration" },
        [EV_JOB_COMPLETED] = { VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                               VIR_DOMAIN_EVENT_CALLBACK(on_job_completed),
                               "job completed" },
    };
    int i;

    g_return_val_if_fail(monitor->vconn == NULL, FALSE);

    virConnectRef(vconn);
    monitor->vconn = vconn;
    for (i = 0; i < EV_COUNT; i++) {
        monitor->ids[i] = virConnectDomainEventRegisterAny(vconn, NULL,
                                                           specs[i].id,
                                                           specs[i].cb,
                                                           monitor, NULL);
        if (monitor->ids[i] < 0) {
            vl_error_set_from_virt(error, "Cannot register for %s events",
                                   specs[i].what);
            return FALSE;
        }
    }
    monitor->qemu_id = virConnectDomainQemuMonitorEventRegister(vconn, NULL,
                                                                "MIGRATION",
                                                                on_qemu_event,
                                                                monitor, NULL,
                                                                0);
    if (monitor->qemu_id < 0)
        g_debug("No QEMU monitor events for the migration monitor: %s",
                virGetLastErrorMessage());
    return TRUE;
}

void
vl_monitor_detach(VlMonitor *monitor)
{
    int i;

    if (!monitor->vconn)
        return;
    for (i = 0; i < EV_COUNT; i++) {
        if (monitor->ids[i] >= 0)
            virConnectDomainEventDeregisterAny(monitor->vconn,
                                               monitor->ids[i]);
        monitor->ids[i] = -1;
    }
    if (monitor->qemu_id >= 0)
        virConnectDomainQemuMonitorEventDeregister(monitor->vconn,
                                                   monitor->qemu_id);
    monitor->qemu_id = -1;
    virConnectClose(monitor->vconn);
    monitor->vconn = NULL;
}

/* --- the rest ----------------------------------------------------------- */

VlMonitor *
vl_monitor_new(const VlMonitorOps *ops, gpointer ops_data, VlConn *conn)
{
    VlMonitor *monitor = g_new0(VlMonitor, 1);
    int i;

    monitor->ops = ops ? ops : &libvirt_ops;
    monitor->ops_data = ops_data;
    monitor->conn = conn;
    monitor->poll_ms = VL_MONITOR_POLL_MS;
    monitor->listeners = g_array_new(FALSE, FALSE, sizeof(Listener));
    monitor->entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify)entry_free);
    monitor->expected = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                              g_free);
    monitor->cancellable = g_cancellable_new();
    for (i = 0; i < EV_COUNT; i++)
        monitor->ids[i] = -1;
    monitor->qemu_id = -1;
    return monitor;
}

void
vl_monitor_free(VlMonitor *monitor)
{
    if (!monitor)
        return;
    vl_monitor_detach(monitor);
    g_cancellable_cancel(monitor->cancellable);
    g_clear_object(&monitor->cancellable);
    g_clear_pointer(&monitor->entries, g_hash_table_unref);
    g_clear_pointer(&monitor->expected, g_hash_table_unref);
    g_clear_pointer(&monitor->listeners, g_array_unref);
    g_free(monitor->history_path);
    g_free(monitor);
}

void
vl_monitor_set_history(VlMonitor *monitor, const char *path)
{
    g_free(monitor->history_path);
    monitor->history_path = g_strdup(path);
}

void
vl_monitor_set_poll_interval(VlMonitor *monitor, guint ms)
{
    monitor->poll_ms = ms;
}

void
vl_monitor_set_begin_func(VlMonitor *monitor, VlMonitorBeginFunc func,
                          gpointer user_data)
{
    monitor->begin = func;
    monitor->begin_data = user_data;
}

guint
vl_monitor_add_eta_listener(VlMonitor *monitor, VlMonitorEtaFunc func,
                            gpointer user_data)
{
    Listener l = { ++monitor->next_listener, func, user_data };

    g_array_append_val(monitor->listeners, l);
    return l.id;
}

void
vl_monitor_remove_eta_listener(VlMonitor *monitor, guint id)
{
    guint i;

    for (i = 0; i < monitor->listeners->len; i++) {
        if (g_array_index(monitor->listeners, Listener, i).id == id) {
            g_array_remove_index(monitor->listeners, i);
            return;
        }
    }
}

gboolean
vl_monitor_is_migrating(VlMonitor *monitor, const char *domain)
{
    Entry *e = g_hash_table_lookup(monitor->entries, domain);

    return e && e->active;
}

void
vl_monitor_set_downtime_limit(VlMonitor *monitor, const char *domain,
                              guint ms)
{
    Entry *e = g_hash_table_lookup(monitor->entries, domain);

    if (e && e->active)
        e->downtime_limit_ms = ms;
}

void
vl_monitor_set_lanes(VlMonitor *monitor, const char *domain, guint lanes,
                     guint channels)
{
    Entry *e = g_hash_table_lookup(monitor->entries, domain);

    if (!e)
        return;
    e->plan.lanes = lanes;
    e->plan.channels = channels;
}

void
vl_monitor_expect(VlMonitor *monitor, const char *domain, guint links,
                  guint channels, double predicted_total_s)
{
    Entry *e;
    Expected *x;

    g_return_if_fail(monitor != NULL && domain != NULL);

    x = g_new0(Expected, 1);
    /* The driver counts links; the monitor and the history count lanes
     * besides the base path. */
    x->lanes = links > 0 ? links - 1 : 0;
    x->channels = channels;
    x->predicted_total_s = predicted_total_s;
    x->until_us = g_get_monotonic_time() + EXPECTED_FOR_US;
    g_hash_table_replace(monitor->expected, g_strdup(domain), x);
    /* The QEMU event may have come first. */
    e = g_hash_table_lookup(monitor->entries, domain);
    if (e && e->active && e->direction != VL_MONITOR_DIRECTION_IN)
        apply_expected(monitor, e);
}

VlMonitorMigration *
vl_monitor_get(VlMonitor *monitor, const char *domain)
{
    Entry *e = g_hash_table_lookup(monitor->entries, domain);

    return e ? snapshot(e) : NULL;
}
