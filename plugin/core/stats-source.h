/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stats-source.h: where the containers' statistics come from
 *
 * A VlStatsSource hands out one VlStatsBatch per cycle: a VlDomainStats
 * (indicators.h) per domain.  It is an ops table (the seam of
 * docs/containers.md, "Sampling"), with two implementations here:
 *
 * - libvirt: the active domains listed once, then
 *   virDomainListGetStats() on slices of at most
 *   VL_STATS_SLICE_DOMAINS of them, for STATE | CPU_TOTAL | VCPU |
 *   INTERFACE | BLOCK | BALLOON, without waiting for a domain busy with
 *   a job; and the host's CPU and memory counters (host-load.h);
 *
 * - replay (tests only): a recording read from a file, one sample per
 *   batch, extrapolated once it runs out; a "Host:" record gives the
 *   host's counters.  The format is documented in docs/containers.md
 *   ("Replaying recorded statistics").
 *
 * collect() runs in a worker thread.  A source is used by one thread at
 * a time (the sampler never runs two collections at once), so a source
 * may keep state between batches without locking.  Sources are
 * reference-counted, so that a collection still running can finish after
 * its owner let go.
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "host-load.h"
#include "indicators.h"

G_BEGIN_DECLS

/* Largest recording the replay source reads. */
#define VL_STATS_REPLAY_MAX_SIZE (16 * 1024 * 1024)

/*
 * Domains per virDomainListGetStats() call.  One reply carries every
 * record of the slice, and libvirt refuses an RPC message above 32 MiB
 * (VIR_NET_MESSAGE_MAX): a running domain's record is ~5 KB with a few
 * disks and NICs (~56 typed parameters), so 10 000 domains in one
 * virConnectGetAllDomainStats() answer (~50 MB) cannot arrive at all.
 * 256 keeps one reply near 1.3 MB, far from the limit even for domains
 * with dozens of devices, and the records in memory at once small; the
 * extra round trips cost ~40 calls for 10 000 domains per cycle.
 */
#define VL_STATS_SLICE_DOMAINS 256
#define VL_STATS_SLICE_MAX 4096

/* One batch: a sample of every domain the source knows, and the host. */
typedef struct {
    GArray *stats;          /* VlDomainStats; names point into @names */
    GStringChunk *names;
    VlHostStats host;       /* cpu_known/memory_known FALSE: not read */
} VlStatsBatch;

VlStatsBatch *vl_stats_batch_new(void);
void vl_stats_batch_free(VlStatsBatch *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlStatsBatch, vl_stats_batch_free)

/**
 * vl_stats_batch_add:
 * @name: (transfer none): the domain's name (copied)
 * @params: (transfer none) (nullable): the record's typed parameters
 *
 * Parses one record (vl_indicators_from_params()) into the batch.
 */
void vl_stats_batch_add(VlStatsBatch *batch, const char *name, int id,
                        const virTypedParameter *params, int nparams,
                        gint64 timestamp_ns);

typedef struct {
    /* Runs in a worker thread.  @conn is borrowed and NULL when the
     * daemon is not connected; returns a batch or NULL with @error. */
    VlStatsBatch *(*collect)(gpointer data, virConnectPtr conn,
                             GError **error);
    /* Frees @data (nullable member). */
    void (*free)(gpointer data);
    /* Whether collect() needs @conn (the daemon skips a cycle without
     * one). */
    gboolean needs_connection;
} VlStatsSourceOps;

typedef struct _VlStatsSource VlStatsSource;

/**
 * vl_stats_source_new:
 * @description: (transfer none): for status displays, e.g. "libvirt"
 * @ops: (transfer none): copied
 * @data: (transfer full): passed to the ops, freed by ops->free
 */
VlStatsSource *vl_stats_source_new(const char *description,
                                   const VlStatsSourceOps *ops,
                                   gpointer data);
VlStatsSource *vl_stats_source_ref(VlStatsSource *source);
void vl_stats_source_unref(VlStatsSource *source);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlStatsSource, vl_stats_source_unref)

const char *vl_stats_source_get_description(VlStatsSource *source);
gboolean vl_stats_source_needs_connection(VlStatsSource *source);

/* Calls collect(); for the sampler's worker thread. */
VlStatsBatch *vl_stats_source_collect(VlStatsSource *source,
                                      virConnectPtr conn,
                                      GError **error);

/* The production source: slices of VL_STATS_SLICE_DOMAINS. */
VlStatsSource *vl_stats_source_new_libvirt(void);

/* The same with @slice domains per call (1..VL_STATS_SLICE_MAX; tests
 * use small slices to cross slice boundaries with few domains). */
VlStatsSource *vl_stats_source_new_libvirt_sliced(guint slice);

/**
 * vl_stats_source_new_replay:
 * @path: (transfer none): a recording (docs/containers.md)
 *
 * TEST ONLY.  Reads the whole recording now; errors name the file and
 * line.  Returns: (transfer full): the source, or NULL
 */
VlStatsSource *vl_stats_source_new_replay(const char *path, GError **error);

/* Like vl_stats_source_new_replay() on bytes already read; @name only
 * names them in errors. */
VlStatsSource *vl_stats_source_new_replay_data(const char *name,
                                               const char *data, gsize len,
                                               GError **error);

G_END_DECLS
