/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * levers.c: the daemon's levers on outgoing migrations (see levers.h)
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "levers.h"
#include "virt-error.h"
#include "vl-virt-autoptr.h"

#define MIB 1048576.0

/* One outgoing migration of one domain. */
typedef struct {
    char *domain;
    guint generation;           /* tells a later migration of it apart */
    gboolean ended;
    gboolean busy;              /* a call is under way */
    guint samples;              /* the monitor's count at the last update */
    guint streak;               /* hopeless samples in a row */
    gboolean cap_done;
    guint ladder_next;          /* the first step not applied or passed */
    gboolean postcopy_done;     /* tried */
    gboolean postcopy_ok;
    gboolean abort_done;
    gboolean hopeless_told;     /* when_hopeless = continue, said once */
    GPtrArray *decisions;       /* VlLeverDecision* */
} Migration;

struct _VlLevers {
    const VlLeversOps *ops;
    gpointer ops_data;
    VlConn *conn;
    VlLeversLogFunc log_func;
    gpointer log_data;
    const VlMigrationPolicy *policy;
    VlMonitor *monitor;
    guint listener;
    GHashTable *migrations;     /* name -> Migration* */
    guint next_generation;
    guint in_flight;
    GCancellable *cancellable;
};

/* A call to a worker thread and its result. */
typedef struct {
    const VlLeversOps *ops;
    gpointer ops_data;
    virConnectPtr vconn;
    char *domain;
    guint generation;
    guint index;                /* of its decision */
    VlLever lever;
    guint64 value;
    /* written by the thread */
    gboolean ok;
    gboolean kept;
    guint64 previous;
    char *error;
} Call;

/* --- small things ------------------------------------------------------- */

const char *
vl_lever_to_string(VlLever lever)
{
    switch (lever) {
    case VL_LEVER_BANDWIDTH:
        return "bandwidth";
    case VL_LEVER_DOWNTIME:
        return "downtime";
    case VL_LEVER_POSTCOPY:
        return "postcopy";
    case VL_LEVER_ABORT:
        return "abort";
    }
    return "invalid";
}

const char *
vl_lever_outcome_to_string(VlLeverOutcome outcome)
{
    switch (outcome) {
    case VL_LEVER_OUTCOME_PENDING:
        return "pending";
    case VL_LEVER_OUTCOME_APPLIED:
        return "applied";
    case VL_LEVER_OUTCOME_KEPT:
        return "kept";
    case VL_LEVER_OUTCOME_FAILED:
        return "failed";
    }
    return "invalid";
}

static void
decision_free(VlLeverDecision *d)
{
    if (!d)
        return;
    g_free(d->error);
    g_free(d->why);
    g_free(d);
}

static void
migration_free(Migration *mig)
{
    if (!mig)
        return;
    g_free(mig->domain);
    g_clear_pointer(&mig->decisions, g_ptr_array_unref);
    g_free(mig);
}

static void
call_free(Call *call)
{
    if (!call)
        return;
    if (call->vconn)
        virConnectClose(call->vconn);
    g_free(call->domain);
    g_free(call->error);
    g_free(call);
}

static json_object *
number_or_null(double v)
{
    return isfinite(v) ? json_object_new_double(v) : NULL;
}

json_object *
vl_lever_decision_to_json(const VlLeverDecision *d)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "lever",
                           json_object_new_string(vl_lever_to_string(d->lever)));
    json_object_object_add(o, "value", d->value ?
                           json_object_new_int64((gint64)MIN(d->value, G_MAXINT64)) : NULL);
    json_object_object_add(o, "previous", d->previous ?
                           json_object_new_int64((gint64)MIN(d->previous, G_MAXINT64)) : NULL);
    json_object_object_add(o, "outcome",
                           json_object_new_string(vl_lever_outcome_to_string(d->outcome)));
    json_object_object_add(o, "error", d->error ?
                           json_object_new_string(d->error) : NULL);
    json_object_object_add(o, "why", d->why ? json_object_new_string(d->why) : NULL);
    json_object_object_add(o, "iteration",
                           json_object_new_int64((gint64)MIN(d->iteration, G_MAXINT64)));
    json_object_object_add(o, "elapsed_s", number_or_null(d->elapsed_s));
    json_object_object_add(o, "eta_s", number_or_null(d->eta_s));
    json_object_object_add(o, "threshold_s", number_or_null(d->threshold_s));
    json_object_object_add(o, "bandwidth_bps", number_or_null(d->bandwidth_bps));
    json_object_object_add(o, "dirty_rate_bps", number_or_null(d->dirty_rate_bps));
    json_object_object_add(o, "remaining_bytes",
                           number_or_null(d->remaining_bytes));
    json_object_object_add(o, "verdict", d->verdict ?
                           json_object_new_string(d->verdict) : NULL);
    json_object_object_add(o, "streak", json_object_new_int64(d->streak));
    return o;
}

static void
append_seconds(GString *s, const char *label, double v)
{
    if (isinf(v))
        g_string_append_printf(s, "%s never", label);
    else if (isfinite(v))
        g_string_append_printf(s, "%s %.1f s", label, v);
    else
        g_string_append_printf(s, "%s unknown", label);
}

static void
append_rate(GString *s, const char *label, double bps)
{
    if (isfinite(bps))
        g_string_append_printf(s, ", %s %.1f MiB/s", label, bps / MIB);
    else
        g_string_append_printf(s, ", %s unknown", label);
}

char *
vl_lever_decision_describe(const VlLeverDecision *d, const char *domain)
{
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "Outgoing migration of '%s': ", domain);
    switch (d->lever) {
    case VL_LEVER_BANDWIDTH:
        g_string_append_printf(s, "bandwidth cap %" G_GUINT64_FORMAT " MiB/s",
                               d->value);
        break;
    case VL_LEVER_DOWNTIME:
        g_string_append_printf(s, "downtime limit %" G_GUINT64_FORMAT " ms",
                               d->value);
        break;
    case VL_LEVER_POSTCOPY:
        g_string_append(s, "switch to post-copy");
        break;
    case VL_LEVER_ABORT:
        g_string_append(s, "abort");
        break;
    }
    if (d->lever == VL_LEVER_ABORT && d->outcome == VL_LEVER_OUTCOME_KEPT)
        g_string_append(s, " not done");   /* when_hopeless = continue */
    else
        g_string_append_printf(s, " %s",
                               vl_lever_outcome_to_string(d->outcome));
    if (d->previous && d->lever == VL_LEVER_DOWNTIME)
        g_string_append_printf(s, " (was %" G_GUINT64_FORMAT " ms)", d->previous);
    else if (d->previous && d->lever == VL_LEVER_BANDWIDTH)
        g_string_append_printf(s, " (was %" G_GUINT64_FORMAT " MiB/s)", d->previous);
    if (d->error)
        g_string_append_printf(s, ": %s", d->error);
    g_string_append_printf(s, "; %s; ", d->why ? d->why : "");
    append_seconds(s, "ETA", d->eta_s);
    g_string_append_printf(s, " (threshold %.0f s, verdict %s), iteration %"
                           G_GUINT64_FORMAT ", ", d->threshold_s,
                           d->verdict ? d->verdict : "unknown", d->iteration);
    append_seconds(s, "elapsed", d->elapsed_s);
    append_rate(s, "bandwidth", d->bandwidth_bps);
    append_rate(s, "dirty rate", d->dirty_rate_bps);
    if (isfinite(d->remaining_bytes))
        g_string_append_printf(s, ", remaining %.1f MiB",
                               d->remaining_bytes / MIB);
    g_string_append_printf(s, ", %u hopeless sample(s) in a row", d->streak);
    return g_string_free(s, FALSE);
}

/* --- the libvirt calls ----------------------------------------------------- */

static virDomainPtr
lookup(virConnectPtr vconn, const char *domain, GError **error)
{
    virDomainPtr dom = vconn ? virDomainLookupByName(vconn, domain) : NULL;

    if (!dom)
        vl_error_set_from_virt(error, "Cannot find domain '%s'", domain);
    return dom;
}

static gboolean
libvirt_get_max_downtime(gpointer ops_data G_GNUC_UNUSED, virConnectPtr vconn,
                         const char *domain, guint64 *ms, GError **error)
{
    g_autoptr(virDomain) dom = lookup(vconn, domain, error);
    unsigned long long v = 0;

    if (!dom)
        return FALSE;
    if (virDomainMigrateGetMaxDowntime(dom, &v, 0) < 0) {
        vl_error_set_from_virt(error, "Cannot read the downtime limit of '%s'",
                               domain);
        return FALSE;
    }
    *ms = v;
    return TRUE;
}

static gboolean
libvirt_set_max_downtime(gpointer ops_data G_GNUC_UNUSED, virConnectPtr vconn,
                         const char *domain, guint64 ms, GError **error)
{
    g_autoptr(virDomain) dom = lookup(vconn, domain, error);

    if (!dom)
        return FALSE;
    if (virDomainMigrateSetMaxDowntime(dom, ms, 0) < 0) {
        vl_error_set_from_virt(error, "Cannot set the downtime limit of '%s' to '%" G_GUINT64_FORMAT "' ms",
                               domain, ms);
        return FALSE;
    }
    return TRUE;
}

static gboolean
libvirt_get_max_speed(gpointer ops_data G_GNUC_UNUSED, virConnectPtr vconn,
                      const char *domain, guint64 *mib_s, GError **error)
{
    g_autoptr(virDomain) dom = lookup(vconn, domain, error);
    unsigned long v = 0;

    if (!dom)
        return FALSE;
    if (virDomainMigrateGetMaxSpeed(dom, &v, 0) < 0) {
        vl_error_set_from_virt(error, "Cannot read the migration speed limit of '%s'",
                               domain);
        return FALSE;
    }
    *mib_s = v;
    return TRUE;
}

static gboolean
libvirt_set_max_speed(gpointer ops_data G_GNUC_UNUSED, virConnectPtr vconn,
                      const char *domain, guint64 mib_s, GError **error)
{
    g_autoptr(virDomain) dom = lookup(vconn, domain, error);

    if (!dom)
        return FALSE;
    if (mib_s > G_MAXULONG ||
        virDomainMigrateSetMaxSpeed(dom, (unsigned long)mib_s, 0) < 0) {
        vl_error_set_from_virt(error, "Cannot cap the migration of '%s' at '%" G_GUINT64_FORMAT "' MiB/s",
                               domain, mib_s);
        return FALSE;
    }
    return TRUE;
}

static gboolean
libvirt_start_postcopy(gpointer ops_data G_GNUC_UNUSED, virConnectPtr vconn,
                       const char *domain, GError **error)
{
    g_autoptr(virDomain) dom = lookup(vconn, domain, error);

    if (!dom)
        return FALSE;
    if (virDomainMigrateStartPostCopy(dom, 0) < 0) {
        vl_error_set_from_virt(error, "Cannot switch the migration of '%s' to post-copy",
                               domain);
        return FALSE;
    }
    return TRUE;
}

static gboolean
libvirt_abort_job(gpointer ops_data G_GNUC_UNUSED, virConnectPtr vconn,
                  const char *domain, GError **error)
{
    g_autoptr(virDomain) dom = lookup(vconn, domain, error);

    if (!dom)
        return FALSE;
    if (virDomainAbortJob(dom) < 0) {
        vl_error_set_from_virt(error, "Cannot abort the migration of '%s'",
                               domain);
        return FALSE;
    }
    return TRUE;
}

static const VlLeversOps libvirt_ops = {
    .get_max_downtime = libvirt_get_max_downtime,
    .set_max_downtime = libvirt_set_max_downtime,
    .get_max_speed = libvirt_get_max_speed,
    .set_max_speed = libvirt_set_max_speed,
    .start_postcopy = libvirt_start_postcopy,
    .abort_job = libvirt_abort_job,
};

const VlLeversOps *
vl_levers_ops_libvirt(void)
{
    return &libvirt_ops;
}

/*
 * In the worker: a downtime limit is only raised and a cap only lowered,
 * against what runs now (the admin's or virt-lanes migrate's setting).
 */
static void
call_thread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
            GCancellable *cancellable G_GNUC_UNUSED)
{
    Call *c = task_data;
    g_autoptr(GError) error = NULL;
    guint64 now = 0;

    switch (c->lever) {
    case VL_LEVER_DOWNTIME:
        if (c->ops->get_max_downtime &&
            c->ops->get_max_downtime(c->ops_data, c->vconn, c->domain, &now,
                                     &error)) {
            c->previous = now;
            if (now >= c->value) {
                c->kept = TRUE;
                c->ok = TRUE;
                break;
            }
        }
        g_clear_error(&error);
        c->ok = c->ops->set_max_downtime(c->ops_data, c->vconn, c->domain,
                                         c->value, &error);
        break;
    case VL_LEVER_BANDWIDTH:
        if (c->ops->get_max_speed &&
            c->ops->get_max_speed(c->ops_data, c->vconn, c->domain, &now,
                                  &error)) {
            c->previous = now;
            if (now > 0 && now <= c->value) {
                c->kept = TRUE;
                c->ok = TRUE;
                break;
            }
        }
        g_clear_error(&error);
        c->ok = c->ops->set_max_speed(c->ops_data, c->vconn, c->domain,
                                      c->value, &error);
        break;
    case VL_LEVER_POSTCOPY:
        c->ok = c->ops->start_postcopy(c->ops_data, c->vconn, c->domain,
                                       &error);
        break;
    case VL_LEVER_ABORT:
        c->ok = c->ops->abort_job(c->ops_data, c->vconn, c->domain, &error);
        break;
    }
    if (!c->ok)
        c->error = g_strdup(error ? error->message : "Unknown error");
    g_task_return_boolean(task, TRUE);
}

/* --- decisions ------------------------------------------------------------ */

static void
tell(VlLevers *lv, const Migration *mig, const VlLeverDecision *d)
{
    g_autofree char *line = vl_lever_decision_describe(d, mig->domain);

    if (lv->log_func)
        lv->log_func(d->outcome == VL_LEVER_OUTCOME_FAILED ?
                     G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE,
                     line, lv->log_data);
    else
        g_debug("%s", line);
}

static void
call_done(GObject *source G_GNUC_UNUSED, GAsyncResult *res, gpointer data)
{
    GTask *task = G_TASK(res);
    VlLevers *lv = data;
    Call *c = g_task_get_task_data(task);
    Migration *mig;
    VlLeverDecision *d;

    if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        return;
    lv->in_flight--;
    mig = g_hash_table_lookup(lv->migrations, c->domain);
    if (!mig || mig->generation != c->generation)
        return;
    mig->busy = FALSE;
    d = g_ptr_array_index(mig->decisions, c->index);
    d->previous = c->previous;
    if (!c->ok) {
        d->outcome = VL_LEVER_OUTCOME_FAILED;
        d->error = g_strdup(c->error);
    } else {
        d->outcome = c->kept ? VL_LEVER_OUTCOME_KEPT : VL_LEVER_OUTCOME_APPLIED;
    }
    switch (c->lever) {
    case VL_LEVER_DOWNTIME:
        if (lv->monitor && c->ok)
            vl_monitor_set_downtime_limit(lv->monitor, mig->domain,
                                          (guint)MIN(c->kept ? c->previous : c->value,
                                                     G_MAXUINT));
        /* fall through */
    case VL_LEVER_BANDWIDTH:
        /* Something changed: it gets its own samples to show an effect. */
        if (d->outcome == VL_LEVER_OUTCOME_APPLIED)
            mig->streak = 0;
        break;
    case VL_LEVER_POSTCOPY:
        mig->postcopy_ok = c->ok;
        break;
    case VL_LEVER_ABORT:
        break;
    }
    tell(lv, mig, d);
}

static void
start_call(VlLevers *lv, Migration *mig, const VlMonitorMigration *m,
           VlLever lever, guint64 value, char *why)
{
    g_autoptr(GTask) task = NULL;
    VlLeverDecision *d = g_new0(VlLeverDecision, 1);
    Call *c = g_new0(Call, 1);
    virConnectPtr vconn = lv->conn ? vl_conn_get_virt(lv->conn) : NULL;

    d->lever = lever;
    d->value = value;
    d->outcome = VL_LEVER_OUTCOME_PENDING;
    d->why = why;
    d->iteration = m->iteration;
    d->elapsed_s = m->elapsed_s;
    d->eta_s = m->eta.eta_s;
    d->threshold_s = lv->policy->threshold_s;
    d->bandwidth_bps = m->eta.bandwidth_bps;
    d->dirty_rate_bps = m->eta.dirty_rate_bps;
    d->remaining_bytes = m->remaining_bytes;
    d->verdict = vl_eta_verdict_to_string(m->eta.verdict);
    d->streak = mig->streak;
    g_ptr_array_add(mig->decisions, d);

    c->ops = lv->ops;
    c->ops_data = lv->ops_data;
    if (vconn) {
        virConnectRef(vconn);
        c->vconn = vconn;
    }
    c->domain = g_strdup(mig->domain);
    c->generation = mig->generation;
    c->index = mig->decisions->len - 1;
    c->lever = lever;
    c->value = value;

    mig->busy = TRUE;
    lv->in_flight++;
    task = g_task_new(NULL, lv->cancellable, call_done, lv);
    g_task_set_task_data(task, c, (GDestroyNotify)call_free);
    g_task_run_in_thread(task, call_thread);
}

/* See levers.h: the first pass is over and the estimator says it will
 * not converge, or not within VL_LEVERS_HOPELESS_FACTOR x threshold_s. */
static gboolean
is_hopeless_sample(const VlMigrationPolicy *p, const VlMonitorMigration *m)
{
    double limit = p ? VL_LEVERS_HOPELESS_FACTOR * p->threshold_s : INFINITY;

    if (m->iteration < 2)
        return FALSE;
    switch (m->eta.verdict) {
    case VL_ETA_VERDICT_NOT_CONVERGING:
        return TRUE;
    case VL_ETA_VERDICT_AT_RISK:
        return isinf(m->eta.eta_s) ||
            (isfinite(m->eta.predicted_total_s) && m->eta.predicted_total_s > limit);
    case VL_ETA_VERDICT_CONVERGING:
        /* Past the first pass only what the guest dirtied is left: when
         * that alone still takes more than the limit, the dirtying keeps
         * pace with the link.  Counting the ETA, not the total, keeps a
         * big idle guest's long first pass out of it.  (A verdict that
         * flips between at risk and converging near the saturation
         * ratio would otherwise restart the count at every flip.) */
        return isfinite(m->eta.eta_s) && m->eta.eta_s > limit;
    case VL_ETA_VERDICT_UNKNOWN:
    default:
        return FALSE;
    }
}

static gboolean
is_late(const VlMigrationPolicy *p, const VlMonitorMigration *m)
{
    if (m->eta.verdict == VL_ETA_VERDICT_AT_RISK ||
        m->eta.verdict == VL_ETA_VERDICT_NOT_CONVERGING)
        return TRUE;
    return isfinite(m->eta.predicted_total_s) &&
        m->eta.predicted_total_s > p->threshold_s;
}

/* libvirt caps in whole MiB/s: round down, but at least 1. */
static guint64
mbit_to_mib_s(double mbit)
{
    double mib = floor(mbit * 1e6 / 8 / MIB);

    return mib < 1 ? 1 : (guint64)mib;
}

static void
decide(VlLevers *lv, Migration *mig, const VlMonitorMigration *m)
{
    const VlMigrationPolicy *p = lv->policy;
    GArray *ladder;
    gboolean postcopy_possible;
    guint i;
    gint found = -1;

    if (m->samples != mig->samples) {
        mig->samples = m->samples;
        if (is_hopeless_sample(p, m))
            mig->streak++;
        else
            mig->streak = 0;
    }
    /* Once RAM follows the guest to the destination nothing is left to
     * pull: an abort would lose the guest. */
    if (!p || mig->busy || m->postcopy)
        return;

    if (!mig->cap_done && p->max_bandwidth_mbit > 0) {
        mig->cap_done = TRUE;
        start_call(lv, mig, m, VL_LEVER_BANDWIDTH,
                   mbit_to_mib_s(p->max_bandwidth_mbit),
                   g_strdup_printf("policy max_bandwidth_mbit %g", p->max_bandwidth_mbit));
        return;
    }
    if (m->samples == 0)
        return;

    ladder = p->downtime_ladder;
    if (ladder && is_late(p, m)) {
        for (i = mig->ladder_next; i < ladder->len; i++) {
            if (g_array_index(ladder, VlDowntimeStep, i).after_iteration > m->iteration)
                break;
            found = i;
        }
        if (found >= 0) {
            const VlDowntimeStep *step = &g_array_index(ladder, VlDowntimeStep, found);

            mig->ladder_next = found + 1;
            start_call(lv, mig, m, VL_LEVER_DOWNTIME, step->downtime_ms,
                       g_strdup_printf("ladder step after_iteration %u, the migration is late",
                                       step->after_iteration));
            return;
        }
    }

    if (p->allow_postcopy && !mig->postcopy_done &&
        mig->streak >= VL_LEVERS_POSTCOPY_SAMPLES) {
        mig->postcopy_done = TRUE;
        start_call(lv, mig, m, VL_LEVER_POSTCOPY, 0,
                   g_strdup_printf("allow_postcopy, hopeless for %u samples",
                                   mig->streak));
        return;
    }

    postcopy_possible = p->allow_postcopy &&
        (!mig->postcopy_done || mig->postcopy_ok);
    if (mig->abort_done || postcopy_possible ||
        mig->streak < VL_LEVERS_HOPELESS_SAMPLES)
        return;
    if (p->when_hopeless == VL_HOPELESS_ABORT) {
        mig->abort_done = TRUE;
        start_call(lv, mig, m, VL_LEVER_ABORT, 0,
                   g_strdup_printf("when_hopeless abort, hopeless for %u samples",
                                   mig->streak));
    } else if (!mig->hopeless_told && lv->log_func) {
        g_autofree char *line = NULL;
        VlLeverDecision d = {
            .lever = VL_LEVER_ABORT, .outcome = VL_LEVER_OUTCOME_KEPT,
            .why = (char *)"hopeless, but the policy's when_hopeless is continue",
            .iteration = m->iteration, .elapsed_s = m->elapsed_s,
            .eta_s = m->eta.eta_s, .threshold_s = p->threshold_s,
            .bandwidth_bps = m->eta.bandwidth_bps,
            .dirty_rate_bps = m->eta.dirty_rate_bps,
            .remaining_bytes = m->remaining_bytes,
            .verdict = vl_eta_verdict_to_string(m->eta.verdict),
            .streak = mig->streak,
        };

        mig->hopeless_told = TRUE;
        line = vl_lever_decision_describe(&d, mig->domain);
        lv->log_func(G_LOG_LEVEL_MESSAGE, line, lv->log_data);
    }
}

void
vl_levers_handle_migration(VlLevers *lv, const VlMonitorMigration *m)
{
    Migration *mig;

    g_return_if_fail(lv != NULL && m != NULL && m->domain != NULL);

    mig = g_hash_table_lookup(lv->migrations, m->domain);
    if (!m->active) {
        if (mig)
            mig->ended = TRUE;
        return;
    }
    if (m->direction != VL_MONITOR_DIRECTION_OUT)
        return;
    if (!mig || mig->ended) {
        mig = g_new0(Migration, 1);
        mig->domain = g_strdup(m->domain);
        mig->generation = ++lv->next_generation;
        mig->decisions = g_ptr_array_new_with_free_func((GDestroyNotify)decision_free);
        /* Replaces (and frees) the previous migration's record. */
        g_hash_table_replace(lv->migrations, mig->domain, mig);
    }
    decide(lv, mig, m);
}

/* --- the rest -------------------------------------------------------------- */

static void
on_eta(VlMonitor *monitor G_GNUC_UNUSED, const VlMonitorMigration *m,
       gpointer data)
{
    vl_levers_handle_migration(data, m);
}

VlLevers *
vl_levers_new(const VlLeversOps *ops, gpointer ops_data, VlConn *conn,
              VlLeversLogFunc log_func, gpointer log_data)
{
    VlLevers *lv = g_new0(VlLevers, 1);

    lv->ops = ops ? ops : &libvirt_ops;
    lv->ops_data = ops_data;
    lv->conn = conn;
    lv->log_func = log_func;
    lv->log_data = log_data;
    lv->migrations = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                           (GDestroyNotify)migration_free);
    lv->cancellable = g_cancellable_new();
    return lv;
}

void
vl_levers_free(VlLevers *lv)
{
    if (!lv)
        return;
    vl_levers_detach(lv);
    g_cancellable_cancel(lv->cancellable);
    g_clear_object(&lv->cancellable);
    g_clear_pointer(&lv->migrations, g_hash_table_unref);
    g_free(lv);
}

void
vl_levers_set_policy(VlLevers *lv, const VlMigrationPolicy *policy)
{
    lv->policy = policy;
}

void
vl_levers_attach(VlLevers *lv, VlMonitor *monitor)
{
    vl_levers_detach(lv);
    lv->monitor = monitor;
    lv->listener = vl_monitor_add_eta_listener(monitor, on_eta, lv);
}

void
vl_levers_detach(VlLevers *lv)
{
    if (lv->monitor && lv->listener)
        vl_monitor_remove_eta_listener(lv->monitor, lv->listener);
    lv->listener = 0;
    lv->monitor = NULL;
}

gboolean
vl_levers_is_idle(VlLevers *lv)
{
    return lv->in_flight == 0;
}

GPtrArray *
vl_levers_get_decisions(VlLevers *lv, const char *domain)
{
    Migration *mig = g_hash_table_lookup(lv->migrations, domain);

    return mig ? mig->decisions : NULL;
}

void
vl_levers_add_status(VlLevers *lv, json_object *domains)
{
    size_t n = json_object_array_length(domains);
    size_t i;

    for (i = 0; i < n; i++) {
        json_object *dom = json_object_array_get_idx(domains, i);
        json_object *name = NULL;
        json_object *mig = NULL;
        json_object *dir = NULL;
        json_object *array;
        GPtrArray *decisions;
        guint j;

        if (!json_object_object_get_ex(dom, "name", &name) ||
            !json_object_object_get_ex(dom, "migration", &mig) ||
            !json_object_is_type(mig, json_type_object))
            continue;
        /* The decisions belong to an outgoing migration only. */
        if (json_object_object_get_ex(mig, "direction", &dir) &&
            g_strcmp0(json_object_get_string(dir), "out") != 0)
            continue;
        decisions = vl_levers_get_decisions(lv, json_object_get_string(name));
        array = json_object_new_array();
        for (j = 0; decisions && j < decisions->len; j++)
            json_object_array_add(array,
                                  vl_lever_decision_to_json(g_ptr_array_index(decisions, j)));
        json_object_object_add(mig, "levers", array);
    }
}
