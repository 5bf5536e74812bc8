/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dirty-sampler.c: background dirty-rate sampling (see dirty-sampler.h)
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "dirty-sampler.h"
#include "virt-error.h"
#include "vl-virt-autoptr.h"

/* After the measurement's length, QEMU needs a moment to publish it. */
#define SETTLE_S 0.5
#define QUERY_TRIES 40
#define QUERY_GAP_S 0.25
/* A domain that started while the daemon ran is first measured this long
 * after it was first listed: what a guest dirties while it boots (kernel,
 * page cache, an application filling its memory) says little about what
 * it dirties later, and a driver that asks meanwhile measures by itself.
 * Domains of the first listing (a daemon start) are measured at once. */
#define BOOT_SETTLE_S 60
/* After a measurement, look for the next due domain this soon. */
#define NEXT_STEP_S 1
#define MAX_SMAPS_BYTES (64 * 1024 * 1024)

typedef struct {
    char *name;
    int id;
    VlDirtyRateSampler *rates;
    double memory_bytes;
    double nonzero_bytes;
    guint measurements;
    guint next_index;           /* into the configured periods */
    gint64 last_us;             /* end of the last measurement, 0 = none */
    gint64 next_due_us;
    int last_period;
    double last_rate;
    char *last_error;
    gboolean seen;              /* in the last listing */
    gboolean job_active;        /* ... with a job running */
    guint serial;               /* changes when the record starts afresh */
} Record;

struct _VlDirtySampler {
    const VlDirtySamplerOps *ops;
    gpointer ops_data;
    VlConn *conn;

    guint period_s;
    guint periods[VL_DIRTY_SAMPLER_MAX_PERIODS];
    gsize n_periods;

    VlDirtySamplerBusyFunc busy;
    gpointer busy_data;
    VlDirtySamplerArrivedFunc arrived;
    gpointer arrived_data;

    GHashTable *records;        /* name -> Record* */
    gboolean listed;            /* a listing was applied */
    GCancellable *cancellable;  /* everything in flight */
    gboolean in_flight;
    GQueue pending;             /* GTask* of on-demand measurements */
    guint timer_id;
    guint next_serial;
};

/* What a worker thread gets: copies only, never the sampler. */
typedef struct {
    const VlDirtySamplerOps *ops;
    gpointer ops_data;
    virConnectPtr vconn;        /* a reference, or NULL */
    char *name;                 /* measure this one (NULL: list only) */
    int period_s;
    guint serial;               /* of its record; 0 = any */
} Job;

typedef struct {
    GPtrArray *targets;         /* VlDirtySamplerTarget* */
    VlDirtySamplerTarget *target;    /* the measured one (in targets) */
    VlDirtyRateSample sample;
} JobResult;

static void step_done(GObject *source, GAsyncResult *res, gpointer data);
static void measure_done(GObject *source, GAsyncResult *res, gpointer data);
static void run_next(VlDirtySampler *sampler);

/* --- small types ---------------------------------------------------- */

VlDirtySamplerTarget *
vl_dirty_sampler_target_new(void)
{
    VlDirtySamplerTarget *t = g_new0(VlDirtySamplerTarget, 1);

    t->id = -1;
    t->nonzero_bytes = NAN;
    return t;
}

void
vl_dirty_sampler_target_free(VlDirtySamplerTarget *target)
{
    if (!target)
        return;
    g_free(target->name);
    g_free(target);
}

void
vl_dirty_sampler_stats_free(VlDirtySamplerStats *stats)
{
    if (!stats)
        return;
    g_free(stats->name);
    g_free(stats->last_error);
    g_free(stats);
}

double
vl_dirty_sampler_stats_rate_bps(const VlDirtySamplerStats *stats)
{
    double bytes = 0;
    double seconds = 0;
    gsize i;

    g_return_val_if_fail(stats != NULL, NAN);
    if (stats->n_curve == 0)
        return NAN;
    for (i = 0; i < stats->n_curve; i++) {
        bytes += stats->curve[i].bytes;
        seconds += stats->curve[i].seconds;
    }
    return bytes / seconds;
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

static void
job_result_free(JobResult *r)
{
    if (!r)
        return;
    g_clear_pointer(&r->targets, g_ptr_array_unref);
    g_free(r);
}

static void
record_free(Record *r)
{
    if (!r)
        return;
    g_free(r->name);
    vl_dirtyrate_sampler_free(r->rates);
    g_free(r->last_error);
    g_free(r);
}

static void
record_reset(VlDirtySampler *sampler, Record *r)
{
    int periods[VL_DIRTY_SAMPLER_MAX_PERIODS];
    gsize i;

    for (i = 0; i < sampler->n_periods; i++)
        periods[i] = sampler->periods[i];
    vl_dirtyrate_sampler_free(r->rates);
    /* The periods were checked by vl_dirty_sampler_configure(). */
    r->rates = vl_dirtyrate_sampler_new(periods, sampler->n_periods, NULL);
    r->measurements = 0;
    r->next_index = 0;
    r->last_us = 0;
    r->next_due_us = 0;
    r->last_period = 0;
    r->last_rate = NAN;
    g_clear_pointer(&r->last_error, g_free);
    /* A measurement still running for the old record must not land in
     * this one (it may have seen the guest boot). */
    r->serial = ++sampler->next_serial;
}

static Record *
record_ensure(VlDirtySampler *sampler, const char *name)
{
    Record *r = g_hash_table_lookup(sampler->records, name);

    if (!r) {
        r = g_new0(Record, 1);
        r->name = g_strdup(name);
        r->id = -1;
        r->nonzero_bytes = NAN;
        record_reset(sampler, r);
        g_hash_table_insert(sampler->records, r->name, r);
    }
    return r;
}

/* --- the real ops ----------------------------------------------------- */

/* QEMU's -name guest=NAME escapes ',' as ",,". */
static char *
qemu_guest_arg(const char *name)
{
    GString *s = g_string_new("guest=");

    for (; *name; name++) {
        g_string_append_c(s, *name);
        if (*name == ',')
            g_string_append_c(s, ',');
    }
    return g_string_free(s, FALSE);
}

/* The pid of @name's QEMU on a local qemu:///system, or -1. */
static int
local_qemu_pid(const char *name)
{
    g_autofree char *pidfile = NULL;
    g_autofree char *escaped = NULL;
    g_autofree char *text = NULL;
    g_autofree char *cmdline_path = NULL;
    g_autofree char *cmdline = NULL;
    g_autofree char *want = NULL;
    gsize len = 0;
    gsize off;
    guint64 pid = 0;

    if (strchr(name, '/'))
        return -1;
    pidfile = g_strdup_printf("/run/libvirt/qemu/%s.pid", name);
    if (!g_file_test(pidfile, G_FILE_TEST_EXISTS)) {
        /* libvirt 9.0 names the file after the XML-escaped name. */
        escaped = g_markup_escape_text(name, -1);
        g_free(pidfile);
        pidfile = g_strdup_printf("/run/libvirt/qemu/%s.pid", escaped);
    }
    if (!g_file_get_contents(pidfile, &text, NULL, NULL) ||
        !g_ascii_string_to_unsigned(g_strstrip(text), 10, 1, G_MAXINT, &pid,
                                    NULL)) {
        g_debug("No QEMU pid for '%s' in '%s'", name, pidfile);
        return -1;
    }
    /* The file may be stale: the process must be that guest's QEMU. */
    cmdline_path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
    if (!g_file_get_contents(cmdline_path, &cmdline, &len, NULL))
        return -1;
    want = qemu_guest_arg(name);
    for (off = 0; off < len; off += strlen(cmdline + off) + 1) {
        const char *arg = cmdline + off;

        if (g_str_has_prefix(arg, want) &&
            (arg[strlen(want)] == '\0' || arg[strlen(want)] == ','))
            return (int)pid;
    }
    g_debug("Process %d is not the QEMU of '%s'", (int)pid, name);
    return -1;
}

gboolean
vl_dirty_sampler_read_guest_rss(int pid, const char *smaps_path,
                          double memory_bytes, double *rss_bytes,
                          GError **error)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) lines = NULL;
    double best_diff = INFINITY;
    double best_rss = NAN;
    double size = 0;
    gsize len = 0;
    guint i;

    path = smaps_path ? g_strdup(smaps_path)
                      : g_strdup_printf("/proc/%d/smaps", pid);
    if (!g_file_get_contents(path, &text, &len, &local)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IO, "Cannot read '%s': %s",
                    path, local->message);
        return FALSE;
    }
    if (len > MAX_SMAPS_BYTES) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "File '%s' is larger than %d bytes", path,
                    MAX_SMAPS_BYTES);
        return FALSE;
    }

    lines = g_strsplit(text, "\n", -1);
    for (i = 0; lines[i]; i++) {
        const char *l = lines[i];
        guint64 start = 0;
        guint64 end = 0;
        guint64 kib = 0;
        char *dash;
        char *rest;

        if (g_ascii_isxdigit(l[0]) && (dash = strchr(l, '-')) &&
            strchr(l, ' ')) {
            start = g_ascii_strtoull(l, NULL, 16);
            end = g_ascii_strtoull(dash + 1, &rest, 16);
            size = end > start && *rest == ' ' ? (double)(end - start) : 0;
            continue;
        }
        if (!g_str_has_prefix(l, "Rss:") || size < memory_bytes ||
            size > memory_bytes * 1.01 + 4194304.0)
            continue;
        kib = g_ascii_strtoull(l + 4, NULL, 10);
        if (size - memory_bytes < best_diff) {
            best_diff = size - memory_bytes;
            best_rss = kib * 1024.0;
        }
    }
    if (isnan(best_rss)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "No mapping of about %.0f bytes (the guest RAM) in '%s'",
                    memory_bytes, path);
        return FALSE;
    }
    *rss_bytes = MIN(best_rss, memory_bytes);
    return TRUE;
}

static gboolean
libvirt_list(gpointer ops_data G_GNUC_UNUSED, virConnectPtr vconn,
             GPtrArray *out, GError **error)
{
    virDomainPtr *doms = NULL;
    int n;
    int i;

    if (!vconn) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_LIBVIRT,
                            "Not connected to libvirt");
        return FALSE;
    }
    n = virConnectListAllDomains(vconn, &doms,
                                 VIR_CONNECT_LIST_DOMAINS_RUNNING);
    if (n < 0) {
        vl_error_set_from_virt(error, "Cannot list running domains");
        return FALSE;
    }
    for (i = 0; i < n; i++) {
        g_autoptr(virDomain) dom = doms[i];
        g_autoptr(VlDirtySamplerTarget) t = NULL;
        virDomainInfo info;
        virDomainJobInfo job;
        const char *name = virDomainGetName(dom);
        int pid;

        /* Domains may stop between the list and these calls: skip them. */
        if (!name || virDomainGetInfo(dom, &info) < 0)
            continue;
        t = vl_dirty_sampler_target_new();
        t->name = g_strdup(name);
        t->id = virDomainGetID(dom);
        t->memory_bytes = info.memory * 1024.0;
        /* A query job: answered even while a migration runs. */
        t->job_active = virDomainGetJobInfo(dom, &job) < 0 ||
            job.type != VIR_DOMAIN_JOB_NONE;
        pid = local_qemu_pid(name);
        if (pid > 0) {
            g_autoptr(GError) rss_error = NULL;

            if (!vl_dirty_sampler_read_guest_rss(pid, NULL, t->memory_bytes,
                                           &t->nonzero_bytes, &rss_error)) {
                g_debug("Untouched RAM of '%s' unknown: %s", name,
                        rss_error->message);
                t->nonzero_bytes = NAN;
            }
        }
        g_ptr_array_add(out, g_steal_pointer(&t));
    }
    free(doms);
    return TRUE;
}

static gboolean
libvirt_start(gpointer ops_data G_GNUC_UNUSED, virConnectPtr vconn,
              const char *name, int period_s, GError **error)
{
    g_autoptr(virDomain) dom = NULL;

    if (!vconn || !(dom = virDomainLookupByName(vconn, name))) {
        vl_error_set_from_virt(error, "Cannot find domain '%s'", name);
        return FALSE;
    }
    return vl_dirtyrate_start(dom, period_s, error);
}

static gboolean
libvirt_query(gpointer ops_data G_GNUC_UNUSED, virConnectPtr vconn,
              const char *name, VlDirtyRateSample *sample, GError **error)
{
    g_autoptr(virDomain) dom = NULL;

    if (!vconn || !(dom = virDomainLookupByName(vconn, name))) {
        vl_error_set_from_virt(error, "Cannot find domain '%s'", name);
        return FALSE;
    }
    return vl_dirtyrate_query(dom, sample, error);
}

/* What real_wait() sleeps on: a cancel wakes it at once. */
typedef struct {
    GMutex lock;
    GCond cond;
    gboolean cancelled;
} Waiter;

static void
waiter_cancelled(GCancellable *cancellable G_GNUC_UNUSED, gpointer user_data)
{
    Waiter *waiter = user_data;

    g_mutex_lock(&waiter->lock);
    waiter->cancelled = TRUE;
    g_cond_signal(&waiter->cond);
    g_mutex_unlock(&waiter->lock);
}

static gboolean
real_wait(gpointer ops_data G_GNUC_UNUSED, double seconds,
          GCancellable *cancellable)
{
    Waiter waiter = { .cancelled = FALSE };
    gint64 end = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);
    gulong handler = 0;

    /* A cancellable wait: freeing the sampler must not wait a minute.
     * Connected before the lock is taken: an already cancelled
     * cancellable runs the callback right here. */
    g_mutex_init(&waiter.lock);
    g_cond_init(&waiter.cond);
    if (cancellable)
        handler = g_cancellable_connect(cancellable, G_CALLBACK(waiter_cancelled),
                                        &waiter, NULL);
    g_mutex_lock(&waiter.lock);
    while (!waiter.cancelled &&
           g_cond_wait_until(&waiter.cond, &waiter.lock, end))
        ;
    g_mutex_unlock(&waiter.lock);
    /* Waits for a callback running in another thread to return. */
    g_cancellable_disconnect(cancellable, handler);
    g_cond_clear(&waiter.cond);
    g_mutex_clear(&waiter.lock);
    return !g_cancellable_is_cancelled(cancellable);
}

static gint64
real_now(gpointer ops_data G_GNUC_UNUSED)
{
    return g_get_monotonic_time();
}

static gboolean
libvirt_nonzero_now(gpointer ops_data G_GNUC_UNUSED, const char *name,
                    double memory_bytes, double *nonzero_bytes)
{
    g_autoptr(GError) error = NULL;
    int pid = local_qemu_pid(name);

    if (pid <= 0)
        return FALSE;
    if (!vl_dirty_sampler_read_guest_rss(pid, NULL, memory_bytes,
                                         nonzero_bytes, &error)) {
        g_debug("Untouched RAM of '%s' unknown: %s", name, error->message);
        return FALSE;
    }
    return TRUE;
}

static const VlDirtySamplerOps libvirt_ops = {
    .list = libvirt_list,
    .start = libvirt_start,
    .query = libvirt_query,
    .wait = real_wait,
    .now_us = real_now,
    .nonzero_now = libvirt_nonzero_now,
};

const VlDirtySamplerOps *
vl_dirty_sampler_ops_libvirt(void)
{
    return &libvirt_ops;
}

/* --- the worker ------------------------------------------------------- */

static VlDirtySamplerTarget *
find_target(GPtrArray *targets, const char *name)
{
    guint i;

    for (i = 0; i < targets->len; i++) {
        VlDirtySamplerTarget *t = g_ptr_array_index(targets, i);

        if (g_str_equal(t->name, name))
            return t;
    }
    return NULL;
}

static void
worker(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
       GCancellable *cancellable)
{
    Job *job = task_data;
    g_autoptr(GError) error = NULL;
    JobResult *r = g_new0(JobResult, 1);
    VlDirtyRateSample before = { 0 };
    gboolean have_before;
    guint i;

    r->targets = g_ptr_array_new_with_free_func(
        (GDestroyNotify)vl_dirty_sampler_target_free);
    if (!job->ops->list(job->ops_data, job->vconn, r->targets, &error))
        goto fail;
    if (!job->name) {
        g_task_return_pointer(task, r, (GDestroyNotify)job_result_free);
        return;
    }

    /* Checked again here, just before the call that would block. */
    r->target = find_target(r->targets, job->name);
    if (!r->target) {
        g_set_error(&error, VL_ERROR, VL_ERROR_INVALID,
                    "Domain '%s' is not running", job->name);
        goto fail;
    }
    if (r->target->job_active) {
        g_set_error(&error, VL_ERROR, VL_ERROR_INVALID,
                    "Domain '%s' has a job running (a migration?); not measuring it now",
                    job->name);
        goto fail;
    }

    /* The stats show the previous result until the new one is done. */
    have_before = job->ops->query(job->ops_data, job->vconn, job->name,
                                  &before, NULL);
    if (!job->ops->start(job->ops_data, job->vconn, job->name,
                         job->period_s, &error))
        goto fail;
    if (!job->ops->wait(job->ops_data, job->period_s + SETTLE_S, cancellable))
        goto cancelled;
    for (i = 0; i < QUERY_TRIES; i++) {
        if (!job->ops->query(job->ops_data, job->vconn, job->name, &r->sample,
                             &error))
            goto fail;
        if (r->sample.status == VL_DIRTYRATE_MEASURED &&
            (!have_before || before.status != VL_DIRTYRATE_MEASURED ||
             before.start_time != r->sample.start_time)) {
            g_task_return_pointer(task, r, (GDestroyNotify)job_result_free);
            return;
        }
        if (!job->ops->wait(job->ops_data, QUERY_GAP_S, cancellable))
            goto cancelled;
    }
    g_set_error(&error, VL_ERROR, VL_ERROR_TIMEOUT,
                "Dirty-rate measurement of '%s' did not finish within %.0f s of its %d s",
                job->name, SETTLE_S + QUERY_TRIES * QUERY_GAP_S, job->period_s);
    goto fail;

cancelled:
    g_set_error_literal(&error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "Measurement cancelled");
fail:
    job_result_free(r);
    g_task_return_error(task, g_steal_pointer(&error));
}

static GTask *
job_task_new(VlDirtySampler *sampler, const char *name, int period_s,
             GAsyncReadyCallback done, gpointer data)
{
    GTask *task = g_task_new(NULL, sampler->cancellable, done, data);
    Job *job = g_new0(Job, 1);
    virConnectPtr vconn = sampler->conn ? vl_conn_get_virt(sampler->conn)
                                        : NULL;

    job->ops = sampler->ops;
    job->ops_data = sampler->ops_data;
    if (vconn) {
        virConnectRef(vconn);
        job->vconn = vconn;
    }
    job->name = g_strdup(name);
    job->period_s = period_s;
    g_task_set_task_data(task, job, (GDestroyNotify)job_free);
    return task;
}

/* --- the main-loop side ------------------------------------------------- */

static gboolean
on_timer(gpointer data)
{
    VlDirtySampler *sampler = data;

    sampler->timer_id = 0;
    vl_dirty_sampler_step(sampler);
    return G_SOURCE_REMOVE;
}

static void
schedule(VlDirtySampler *sampler, guint seconds)
{
    g_clear_handle_id(&sampler->timer_id, g_source_remove);
    if (sampler->period_s == 0)
        return;
    if (sampler->ops->timeout_add)
        sampler->timer_id = sampler->ops->timeout_add(sampler->ops_data,
                                                      seconds, on_timer,
                                                      sampler);
    else
        sampler->timer_id = g_timeout_add_seconds(seconds, on_timer, sampler);
}

/* Brings the records in line with a listing: new boots start afresh,
 * domains that are gone are forgotten. */
static void
apply_targets(VlDirtySampler *sampler, GPtrArray *targets)
{
    GHashTableIter iter;
    gpointer value;
    guint i;

    g_hash_table_iter_init(&iter, sampler->records);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        ((Record *)value)->seen = FALSE;

    for (i = 0; i < targets->len; i++) {
        VlDirtySamplerTarget *t = g_ptr_array_index(targets, i);
        Record *r = record_ensure(sampler, t->name);

        if (r->id != t->id) {
            if (r->id != -1)
                record_reset(sampler, r);
            r->id = t->id;
            if (sampler->listed &&
                !(sampler->arrived && sampler->arrived(t->name, sampler->arrived_data)))
                r->next_due_us = sampler->ops->now_us(sampler->ops_data) +
                    (gint64)BOOT_SETTLE_S * G_USEC_PER_SEC;
        }
        r->memory_bytes = t->memory_bytes;
        r->nonzero_bytes = t->nonzero_bytes;
        r->job_active = t->job_active;
        r->seen = TRUE;
    }

    g_hash_table_iter_init(&iter, sampler->records);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        if (!((Record *)value)->seen)
            g_hash_table_iter_remove(&iter);
    }
    sampler->listed = TRUE;
}

static void
record_result(VlDirtySampler *sampler, Record *r, const VlDirtyRateSample *sample,
              const GError *error)
{
    gint64 now = sampler->ops->now_us(sampler->ops_data);
    g_autoptr(GError) local = NULL;

    g_clear_pointer(&r->last_error, g_free);
    if (!error && !vl_dirtyrate_sampler_add(r->rates, sample, &local))
        error = local;
    if (error) {
        r->last_error = g_strdup(error->message);
        r->next_due_us = now + (gint64)sampler->period_s * G_USEC_PER_SEC;
        return;
    }
    r->measurements++;
    r->last_us = now;
    r->last_period = sample->period_s;
    r->last_rate = sample->bytes_per_second;
    if (sampler->n_periods > 0 && sample->period_s ==
        (int)sampler->periods[r->next_index % sampler->n_periods])
        r->next_index++;
    /* Until every length was measured once, the next one is due now. */
    r->next_due_us = r->next_index < sampler->n_periods ? now :
        now + (gint64)sampler->period_s * G_USEC_PER_SEC;
}

static Record *
most_due(VlDirtySampler *sampler)
{
    gint64 now = sampler->ops->now_us(sampler->ops_data);
    Record *best = NULL;
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, sampler->records);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        Record *r = value;

        if (r->next_due_us > now || r->job_active)
            continue;
        if (sampler->busy && sampler->busy(r->name, sampler->busy_data))
            continue;
        /* Ties (several new domains) go by name, for a stable order. */
        if (!best || r->next_due_us < best->next_due_us ||
            (r->next_due_us == best->next_due_us &&
             strcmp(r->name, best->name) < 0))
            best = r;
    }
    return best;
}

static void
step_done(GObject *source G_GNUC_UNUSED, GAsyncResult *res, gpointer data)
{
    GTask *task = G_TASK(res);
    VlDirtySampler *sampler = data;
    g_autoptr(GError) error = NULL;
    JobResult *r;
    Job *job;
    Record *rec;

    /* Cancelled: the sampler is gone; do not touch it. */
    if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        return;
    sampler->in_flight = FALSE;
    job = g_task_get_task_data(task);
    r = g_task_propagate_pointer(task, &error);

    if (!job->name) {
        /* The listing: pick the most overdue domain and measure it. */
        if (r) {
            apply_targets(sampler, r->targets);
            rec = most_due(sampler);
            job_result_free(r);
            if (rec && sampler->n_periods > 0) {
                g_autoptr(GTask) next = NULL;
                int period = sampler->periods[rec->next_index %
                                              sampler->n_periods];

                next = job_task_new(sampler, rec->name, period, step_done,
                                    sampler);
                ((Job *)g_task_get_task_data(next))->serial = rec->serial;
                sampler->in_flight = TRUE;
                g_task_run_in_thread(next, worker);
                return;
            }
        }
        run_next(sampler);
        if (!sampler->in_flight)
            schedule(sampler, MIN(sampler->period_s, VL_DIRTY_SAMPLER_IDLE_CHECK_S));
        return;
    }

    rec = g_hash_table_lookup(sampler->records, job->name);
    if (r)
        apply_targets(sampler, r->targets);
    rec = rec ? g_hash_table_lookup(sampler->records, job->name) : NULL;
    if (rec && rec->serial == job->serial)
        record_result(sampler, rec, r ? &r->sample : NULL, error);
    job_result_free(r);
    run_next(sampler);
    if (!sampler->in_flight)
        schedule(sampler, NEXT_STEP_S);
}

gboolean
vl_dirty_sampler_step(VlDirtySampler *sampler)
{
    g_autoptr(GTask) task = NULL;

    g_return_val_if_fail(sampler != NULL, FALSE);

    if (sampler->in_flight || sampler->n_periods == 0)
        return FALSE;
    g_clear_handle_id(&sampler->timer_id, g_source_remove);
    task = job_task_new(sampler, NULL, 0, step_done, sampler);
    sampler->in_flight = TRUE;
    g_task_run_in_thread(task, worker);
    return TRUE;
}

/* Starts the oldest waiting on-demand measurement, if the slot is free. */
static void
run_next(VlDirtySampler *sampler)
{
    GTask *outer;
    g_autoptr(GTask) inner = NULL;
    const char *name;
    int period;

    if (sampler->in_flight || g_queue_is_empty(&sampler->pending))
        return;
    outer = g_queue_pop_head(&sampler->pending);
    name = g_object_get_data(G_OBJECT(outer), "vl-name");
    period = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(outer), "vl-period"));
    /* Period 0: a refresh, the listing alone. */
    inner = job_task_new(sampler, period ? name : NULL, period, measure_done,
                         outer);
    sampler->in_flight = TRUE;
    g_task_run_in_thread(inner, worker);
}

static void
measure_done(GObject *source G_GNUC_UNUSED, GAsyncResult *res, gpointer data)
{
    GTask *inner = G_TASK(res);
    g_autoptr(GTask) outer = data;
    VlDirtySampler *sampler = g_task_get_task_data(outer);
    g_autoptr(GError) error = NULL;
    JobResult *r;
    Job *job = g_task_get_task_data(inner);
    Record *rec;

    if (g_cancellable_is_cancelled(g_task_get_cancellable(inner))) {
        g_task_return_new_error(outer, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                "The sampler was stopped");
        return;
    }
    sampler->in_flight = FALSE;
    r = g_task_propagate_pointer(inner, &error);
    if (r)
        apply_targets(sampler, r->targets);
    rec = job->name ? g_hash_table_lookup(sampler->records, job->name)
                    : NULL;
    if (rec)
        record_result(sampler, rec, r ? &r->sample : NULL, error);
    if (r) {
        VlDirtyRateSample *copy = g_memdup2(&r->sample, sizeof(r->sample));

        g_task_return_pointer(outer, copy, g_free);
    } else {
        g_task_return_error(outer, g_steal_pointer(&error));
    }
    job_result_free(r);
    run_next(sampler);
    if (!sampler->in_flight)
        schedule(sampler, NEXT_STEP_S);
}

void
vl_dirty_sampler_measure_async(VlDirtySampler *sampler, const char *name, int period_s,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = NULL;

    g_return_if_fail(sampler != NULL);
    g_return_if_fail(name != NULL);

    task = g_task_new(NULL, cancellable, callback, user_data);
    g_task_set_source_tag(task, vl_dirty_sampler_measure_async);
    g_task_set_task_data(task, sampler, NULL);
    if (period_s < VL_DIRTYRATE_MIN_PERIOD ||
        period_s > VL_DIRTYRATE_MAX_PERIOD) {
        g_task_return_new_error(task, VL_ERROR, VL_ERROR_INVALID,
                                "Dirty-rate period must be from %d to %d seconds, not '%d'",
                                VL_DIRTYRATE_MIN_PERIOD,
                                VL_DIRTYRATE_MAX_PERIOD, period_s);
        return;
    }
    if (sampler->busy && sampler->busy(name, sampler->busy_data)) {
        g_task_return_new_error(task, VL_ERROR, VL_ERROR_INVALID,
                                "Domain '%s' is migrating; its dirty rate cannot be measured now",
                                name);
        return;
    }
    g_object_set_data_full(G_OBJECT(task), "vl-name", g_strdup(name), g_free);
    g_object_set_data(G_OBJECT(task), "vl-period", GINT_TO_POINTER(period_s));
    g_queue_push_tail(&sampler->pending, g_steal_pointer(&task));
    run_next(sampler);
}

void
vl_dirty_sampler_refresh_async(VlDirtySampler *sampler, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task;

    g_return_if_fail(sampler != NULL);

    task = g_task_new(NULL, cancellable, callback, user_data);
    g_task_set_source_tag(task, vl_dirty_sampler_refresh_async);
    g_task_set_task_data(task, sampler, NULL);
    g_object_set_data(G_OBJECT(task), "vl-period", GINT_TO_POINTER(0));
    g_queue_push_tail(&sampler->pending, task);
    run_next(sampler);
}

gboolean
vl_dirty_sampler_refresh_finish(VlDirtySampler *sampler G_GNUC_UNUSED,
                          GAsyncResult *result, GError **error)
{
    g_autofree VlDirtyRateSample *s = NULL;

    s = g_task_propagate_pointer(G_TASK(result), error);
    return s != NULL;
}

gboolean
vl_dirty_sampler_measure_finish(VlDirtySampler *sampler G_GNUC_UNUSED,
                          GAsyncResult *result, VlDirtyRateSample *sample,
                          GError **error)
{
    g_autofree VlDirtyRateSample *s = NULL;

    s = g_task_propagate_pointer(G_TASK(result), error);
    if (!s)
        return FALSE;
    if (sample)
        *sample = *s;
    return TRUE;
}

/* --- life cycle and queries --------------------------------------------- */

VlDirtySampler *
vl_dirty_sampler_new(const VlDirtySamplerOps *ops, gpointer ops_data, VlConn *conn)
{
    VlDirtySampler *sampler = g_new0(VlDirtySampler, 1);

    sampler->ops = ops ? ops : &libvirt_ops;
    sampler->ops_data = ops_data;
    sampler->conn = conn;
    sampler->records = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify)record_free);
    sampler->cancellable = g_cancellable_new();
    g_queue_init(&sampler->pending);
    return sampler;
}

void
vl_dirty_sampler_free(VlDirtySampler *sampler)
{
    GTask *task;

    if (!sampler)
        return;
    g_clear_handle_id(&sampler->timer_id, g_source_remove);
    /* Callbacks of tasks in flight see the cancellation and leave the
     * freed sampler alone. */
    g_cancellable_cancel(sampler->cancellable);
    g_clear_object(&sampler->cancellable);
    while ((task = g_queue_pop_head(&sampler->pending))) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                "The sampler was stopped");
        g_object_unref(task);
    }
    g_clear_pointer(&sampler->records, g_hash_table_unref);
    g_free(sampler);
}

gboolean
vl_dirty_sampler_configure(VlDirtySampler *sampler, guint period_s, const guint *periods,
                     gsize n_periods, GError **error)
{
    gboolean changed;
    gsize i;
    gsize j;

    g_return_val_if_fail(sampler != NULL, FALSE);

    if (n_periods < 1 || n_periods > VL_DIRTY_SAMPLER_MAX_PERIODS) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Dirty-rate sampling needs 1 to %d periods, not '%" G_GSIZE_FORMAT "'",
                    VL_DIRTY_SAMPLER_MAX_PERIODS, n_periods);
        return FALSE;
    }
    for (i = 0; i < n_periods; i++) {
        if (periods[i] < VL_DIRTYRATE_MIN_PERIOD ||
            periods[i] > VL_DIRTYRATE_MAX_PERIOD) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Dirty-rate period must be from %d to %d seconds, not '%u'",
                        VL_DIRTYRATE_MIN_PERIOD, VL_DIRTYRATE_MAX_PERIOD,
                        periods[i]);
            return FALSE;
        }
        for (j = 0; j < i; j++) {
            if (periods[j] == periods[i]) {
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "Dirty-rate period '%u' is listed twice",
                            periods[i]);
                return FALSE;
            }
        }
    }

    changed = n_periods != sampler->n_periods ||
        memcmp(periods, sampler->periods, n_periods * sizeof(guint)) != 0;
    memcpy(sampler->periods, periods, n_periods * sizeof(guint));
    sampler->n_periods = n_periods;
    sampler->period_s = period_s;
    if (changed) {
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, sampler->records);
        while (g_hash_table_iter_next(&iter, NULL, &value))
            record_reset(sampler, value);
    }
    if (period_s == 0)
        g_clear_handle_id(&sampler->timer_id, g_source_remove);
    else if (!sampler->in_flight)
        schedule(sampler, NEXT_STEP_S);
    return TRUE;
}

void
vl_dirty_sampler_set_arrived_func(VlDirtySampler *sampler,
                                  VlDirtySamplerArrivedFunc func,
                                  gpointer user_data)
{
    g_return_if_fail(sampler != NULL);
    sampler->arrived = func;
    sampler->arrived_data = user_data;
}

void
vl_dirty_sampler_set_busy_func(VlDirtySampler *sampler, VlDirtySamplerBusyFunc func,
                         gpointer user_data)
{
    sampler->busy = func;
    sampler->busy_data = user_data;
}

gboolean
vl_dirty_sampler_is_busy(VlDirtySampler *sampler)
{
    return sampler->in_flight || !g_queue_is_empty(&sampler->pending);
}

void
vl_dirty_sampler_forget(VlDirtySampler *sampler, const char *name)
{
    g_hash_table_remove(sampler->records, name);
}

VlDirtySamplerStats *
vl_dirty_sampler_get_stats(VlDirtySampler *sampler, const char *name)
{
    Record *r;
    VlDirtySamplerStats *s;

    g_return_val_if_fail(sampler != NULL, NULL);
    r = g_hash_table_lookup(sampler->records, name);
    if (!r)
        return NULL;
    s = g_new0(VlDirtySamplerStats, 1);
    s->name = g_strdup(r->name);
    s->memory_bytes = r->memory_bytes;
    s->nonzero_bytes = r->nonzero_bytes;
    if (sampler->ops->nonzero_now && r->memory_bytes > 0) {
        double now = NAN;

        if (sampler->ops->nonzero_now(sampler->ops_data, r->name,
                                      r->memory_bytes, &now) && isfinite(now))
            s->nonzero_bytes = now;
    }
    s->n_curve = vl_dirtyrate_sampler_get_curve(r->rates, s->curve,
                                                VL_DIRTY_SAMPLER_MAX_PERIODS);
    s->measurements = r->measurements;
    s->age_s = r->last_us ? (sampler->ops->now_us(sampler->ops_data) -
                             r->last_us) / 1e6 : NAN;
    s->last_period_s = r->last_period;
    s->last_rate_bps = r->last_rate;
    s->last_error = g_strdup(r->last_error);
    return s;
}

static json_object *
number_or_null(double v)
{
    return isfinite(v) ? json_object_new_double(v) : NULL;
}

json_object *
vl_dirty_sampler_stats_to_json(const VlDirtySamplerStats *stats)
{
    json_object *obj = json_object_new_object();
    json_object *curve = json_object_new_array();
    gsize i;

    json_object_object_add(obj, "memory_bytes",
                           number_or_null(stats->memory_bytes));
    json_object_object_add(obj, "nonzero_bytes",
                           number_or_null(stats->nonzero_bytes));
    json_object_object_add(obj, "measurements",
                           json_object_new_int64(stats->measurements));
    json_object_object_add(obj, "age_s", number_or_null(stats->age_s));
    for (i = 0; i < stats->n_curve; i++) {
        json_object *p = json_object_new_object();

        json_object_object_add(p, "seconds",
                               json_object_new_double(stats->curve[i].seconds));
        json_object_object_add(p, "bytes",
                               json_object_new_double(stats->curve[i].bytes));
        json_object_array_add(curve, p);
    }
    json_object_object_add(obj, "curve", curve);
    json_object_object_add(obj, "last_error", stats->last_error ?
                           json_object_new_string(stats->last_error) : NULL);
    return obj;
}
