/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sampler.c: one statistics sample per cycle, off the main loop
 */
#include <config.h>

#include <string.h>
#include <time.h>

#include <gio/gio.h>

#include "sampler.h"

struct _VlSampler {
    VlStatsSource *source;
    VlIndicatorTracker *tracker;    /* NULL while a run holds it */
    GCancellable *running;          /* the run in flight, or NULL */
    guint generation;               /* bumped when the source changes */
    VlHostStats host_prev;          /* the host in the last sample */
    gboolean have_host_prev;
};

typedef struct {
    VlSampler *sampler;             /* touched on the main loop only, and
                                     * only when the run was not cancelled */
    VlStatsSource *source;
    virConnectPtr conn;
    VlIndicatorTracker *tracker;
    VlHostStats host_prev;
    gboolean have_host_prev;
    guint generation;
    VlSamplerDone done;
    gpointer user_data;
} Run;

void
vl_sample_free(VlSample *sample)
{
    if (!sample)
        return;
    if (sample->by_name)
        g_hash_table_unref(sample->by_name);
    if (sample->entries)
        g_array_unref(sample->entries);
    if (sample->names)
        g_string_chunk_free(sample->names);
    g_free(sample);
}

const VlSampleEntry *
vl_sample_lookup(const VlSample *sample, const char *name)
{
    g_return_val_if_fail(sample != NULL && name != NULL, NULL);
    return g_hash_table_lookup(sample->by_name, name);
}

static void
run_free(Run *run)
{
    vl_stats_source_unref(run->source);
    if (run->conn)
        virConnectClose(run->conn);
    vl_indicator_tracker_free(run->tracker);
    g_free(run);
}

static gint64
thread_cpu_us(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
        return 0;
    return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gint
compare_entries(gconstpointer a, gconstpointer b)
{
    return strcmp(((const VlSampleEntry *)a)->name,
                  ((const VlSampleEntry *)b)->name);
}

/* Batch -> values, with the run's tracker; in the worker thread. */
static VlSample *
sample_from_batch(VlIndicatorTracker *tracker, VlStatsBatch *batch)
{
    VlSample *sample = g_new0(VlSample, 1);
    guint i;

    sample->names = g_string_chunk_new(1024);
    sample->entries = g_array_sized_new(FALSE, TRUE, sizeof(VlSampleEntry),
                                        batch->stats->len);
    for (i = 0; i < batch->stats->len; i++) {
        const VlDomainStats *stats = &g_array_index(batch->stats,
                                                    VlDomainStats, i);
        VlSampleEntry entry;

        /* A source may repeat a domain: the first record counts. */
        entry.name = g_string_chunk_insert_const(sample->names, stats->name);
        entry.state = (stats->have & VL_DOMAIN_STATS_HAVE_STATE) ?
            stats->state : -1;
        vl_indicator_tracker_update(tracker, stats, entry.values);
        g_array_append_val(sample->entries, entry);
    }
    vl_indicator_tracker_expire(tracker);
    g_array_sort(sample->entries, compare_entries);

    sample->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    for (i = 0; i < sample->entries->len; i++) {
        VlSampleEntry *entry = &g_array_index(sample->entries, VlSampleEntry, i);

        if (!g_hash_table_contains(sample->by_name, entry->name))
            g_hash_table_insert(sample->by_name, (gpointer)entry->name, entry);
    }
    return sample;
}

static void
run_thread(GTask *task, gpointer source_object G_GNUC_UNUSED,
           gpointer task_data, GCancellable *cancellable G_GNUC_UNUSED)
{
    Run *run = task_data;
    g_autoptr(VlStatsBatch) batch = NULL;
    GError *error = NULL;
    gint64 cpu0 = thread_cpu_us();
    gint64 t0 = g_get_monotonic_time();
    VlSample *sample;

    batch = vl_stats_source_collect(run->source, run->conn, &error);
    if (!batch) {
        g_task_return_error(task, error);
        return;
    }
    sample = sample_from_batch(run->tracker, batch);
    sample->host = batch->host;
    vl_host_load_compute(run->have_host_prev ? &run->host_prev : NULL,
                         &batch->host, sample->host_values);
    sample->finished_us = g_get_monotonic_time();
    sample->wall_us = g_get_real_time();
    sample->duration_us = sample->finished_us - t0;
    sample->cpu_us = thread_cpu_us() - cpu0;
    g_task_return_pointer(task, sample, (GDestroyNotify)vl_sample_free);
}

static void
run_done(GObject *source_object G_GNUC_UNUSED, GAsyncResult *result,
         gpointer user_data G_GNUC_UNUSED)
{
    GTask *task = G_TASK(result);
    Run *run = g_task_get_task_data(task);
    VlSampler *sampler = run->sampler;
    g_autoptr(GError) error = NULL;
    VlSample *sample;

    /* Cancelled: the sampler is gone; the task frees what the run held. */
    if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        return;

    g_clear_object(&sampler->running);
    /* The tracker comes home, unless the source changed meanwhile (its
     * samples would be compared with another source's). */
    if (run->generation == sampler->generation && !sampler->tracker)
        sampler->tracker = g_steal_pointer(&run->tracker);
    if (!sampler->tracker)
        sampler->tracker = vl_indicator_tracker_new();

    sample = g_task_propagate_pointer(task, &error);
    if (sample && run->generation == sampler->generation) {
        sampler->host_prev = sample->host;
        sampler->have_host_prev = TRUE;
    }
    run->done(sampler, sample, error, run->user_data);
}

VlSampler *
vl_sampler_new(VlStatsSource *source)
{
    VlSampler *sampler = g_new0(VlSampler, 1);

    g_return_val_if_fail(source != NULL, NULL);
    sampler->source = vl_stats_source_ref(source);
    sampler->tracker = vl_indicator_tracker_new();
    return sampler;
}

void
vl_sampler_free(VlSampler *sampler)
{
    if (!sampler)
        return;
    if (sampler->running) {
        g_cancellable_cancel(sampler->running);
        g_clear_object(&sampler->running);
    }
    vl_indicator_tracker_free(sampler->tracker);
    vl_stats_source_unref(sampler->source);
    g_free(sampler);
}

void
vl_sampler_set_source(VlSampler *sampler, VlStatsSource *source)
{
    g_return_if_fail(sampler != NULL && source != NULL);

    vl_stats_source_ref(source);
    vl_stats_source_unref(sampler->source);
    sampler->source = source;
    sampler->generation++;
    sampler->have_host_prev = FALSE;
    if (sampler->tracker) {
        vl_indicator_tracker_free(sampler->tracker);
        sampler->tracker = vl_indicator_tracker_new();
    }
}

VlStatsSource *
vl_sampler_get_source(VlSampler *sampler)
{
    return sampler->source;
}

gboolean
vl_sampler_is_running(VlSampler *sampler)
{
    return sampler->running != NULL;
}

gboolean
vl_sampler_run(VlSampler *sampler, virConnectPtr conn, VlSamplerDone done,
               gpointer user_data)
{
    g_autoptr(GTask) task = NULL;
    Run *run;

    g_return_val_if_fail(sampler != NULL && done != NULL, FALSE);
    if (sampler->running)
        return FALSE;

    run = g_new0(Run, 1);
    run->sampler = sampler;
    run->source = vl_stats_source_ref(sampler->source);
    if (conn) {
        virConnectRef(conn);
        run->conn = conn;
    }
    run->tracker = g_steal_pointer(&sampler->tracker);
    if (!run->tracker)
        run->tracker = vl_indicator_tracker_new();
    run->generation = sampler->generation;
    run->host_prev = sampler->host_prev;
    run->have_host_prev = sampler->have_host_prev;
    run->done = done;
    run->user_data = user_data;

    sampler->running = g_cancellable_new();
    task = g_task_new(NULL, sampler->running, run_done, NULL);
    g_task_set_source_tag(task, vl_sampler_run);
    g_task_set_task_data(task, run, (GDestroyNotify)run_free);
    g_task_run_in_thread(task, run_thread);
    return TRUE;
}
