/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sampler.h: one statistics sample per cycle, off the main loop
 *
 * VlSampler runs its VlStatsSource in a GTask worker thread and turns the
 * batch into indicator values there too, with its VlIndicatorTracker
 * (the previous sample of every domain), so that the main loop only gets
 * the finished VlSample.  At most one collection runs at a time: the
 * tracker moves into the worker for the run and comes back with the
 * result.  Not thread-safe otherwise; call from the main loop.
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "stats-source.h"

G_BEGIN_DECLS

typedef struct {
    const char *name;       /* borrowed from the sample */
    int state;              /* virDomainState, -1 when not reported */
    double values[VL_INDICATOR_LAST]; /* NaN = unknown */
} VlSampleEntry;

typedef struct {
    GArray *entries;        /* VlSampleEntry, sorted by name */
    GHashTable *by_name;    /* name -> VlSampleEntry* (into @entries) */
    GStringChunk *names;
    gint64 finished_us;     /* monotonic time the sample was complete */
    gint64 wall_us;         /* the same as wall-clock time */
    gint64 duration_us;     /* elapsed, collection and computation */
    gint64 cpu_us;          /* the worker thread's CPU time for both */
    VlHostStats host;       /* the host's counters in this sample */
    /* The host's load (host-load.h), NaN = unknown: CPU from this and
     * the previous sample of the same source, memory from this one. */
    double host_values[VL_HOST_INDICATOR_LAST];
} VlSample;

void vl_sample_free(VlSample *sample);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlSample, vl_sample_free)

/* The entry of @name (borrowed), or NULL. */
const VlSampleEntry *vl_sample_lookup(const VlSample *sample, const char *name);

typedef struct _VlSampler VlSampler;

/**
 * VlSamplerDone:
 * @sample: (transfer full) (nullable): the sample, NULL on failure
 * @error: (nullable): why there is none
 *
 * Called on the main loop, unless the sampler was freed first.
 */
typedef void (*VlSamplerDone)(VlSampler *sampler, VlSample *sample,
                              const GError *error, gpointer user_data);

/* @source: (transfer none): a reference is taken. */
VlSampler *vl_sampler_new(VlStatsSource *source);
/* A collection still running finishes in its thread, unobserved. */
void vl_sampler_free(VlSampler *sampler);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlSampler, vl_sampler_free)

/* Switches to @source (a reference is taken) and forgets every previous
 * sample; a collection already running finishes with the old source. */
void vl_sampler_set_source(VlSampler *sampler, VlStatsSource *source);
VlStatsSource *vl_sampler_get_source(VlSampler *sampler);   /* borrowed */

gboolean vl_sampler_is_running(VlSampler *sampler);

/**
 * vl_sampler_run:
 * @conn: (transfer none) (nullable): a reference is held for the run
 * @done: called once with the result
 *
 * Starts a collection.  Returns FALSE (and @done is not called) when one
 * is already running.
 */
gboolean vl_sampler_run(VlSampler *sampler, virConnectPtr conn,
                        VlSamplerDone done, gpointer user_data);

G_END_DECLS
