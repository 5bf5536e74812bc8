/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-load.h: this host's own load, for bursting members to peers
 *
 * The daemon reads the host's CPU and memory counters in the same
 * worker-thread collection as the domains' statistics (stats-source.h:
 * virNodeGetCPUStats(ALL_CPUS) and virNodeGetMemoryStats(ALL_CELLS) for
 * libvirt, a "Host:" record for a replay), turns two samples into
 * percentages and judges them against a container's host_load policy
 * (docs/containers.md, "Host load").  Everything here is pure: no
 * libvirt call, no clock, no I/O.
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "container.h"
#include "policy.h"

G_BEGIN_DECLS

/* One reading of the host's counters. */
typedef struct {
    gboolean cpu_known;         /* kernel, user and idle were reported */
    guint64 cpu_busy_ns;        /* kernel + user, all CPUs, since boot */
    guint64 cpu_total_ns;       /* busy + idle + iowait */
    gboolean memory_known;      /* total and free were reported, total > 0 */
    guint64 memory_total_kib;
    guint64 memory_used_kib;    /* total - free - buffers - cached, >= 0 */
    gint64 timestamp_ns;        /* monotonic, when it was read */
} VlHostStats;

/**
 * vl_host_stats_from_node:
 * @cpu: (nullable): what virNodeGetCPUStats(VIR_NODE_CPU_STATS_ALL_CPUS)
 *     returned (fields "kernel", "user", "idle", optional "iowait";
 *     others are ignored)
 * @memory: (nullable): what virNodeGetMemoryStats(ALL_CELLS) returned
 *     ("total", "free", optional "buffers" and "cached", KiB)
 * @stats: (out): the reading; what is missing is marked unknown
 */
void vl_host_stats_from_node(const virNodeCPUStats *cpu, int ncpu,
                             const virNodeMemoryStats *memory, int nmemory,
                             gint64 timestamp_ns, VlHostStats *stats);

/**
 * vl_host_load_compute:
 * @previous: (nullable): the reading before, NULL for the first
 * @current: this cycle's reading
 * @values: (out): per VlHostIndicator, a percentage or
 *     VL_INDICATOR_UNKNOWN: CPU needs two readings whose counters grew
 *     (100 x delta busy / delta total); memory only @current
 *     (100 x used / total)
 */
void vl_host_load_compute(const VlHostStats *previous,
                          const VlHostStats *current,
                          double values[VL_HOST_INDICATOR_LAST]);

/**
 * vl_host_load_classify:
 * @policy: (nullable): a container's host_load; NULL or not enabled
 *     gives VL_CONTAINER_HOST_UNKNOWN
 * @values: this cycle's host values
 *
 * UNKNOWN when a listed indicator is unknown; else OVER when one is
 * above its overloaded; else UNDER when every one is below its
 * under_loaded; else IN_BAND.  Comparisons are strict.
 */
VlContainerHostLoad
vl_host_load_classify(const VlHostLoadPolicy *policy,
                      const double values[VL_HOST_INDICATOR_LAST]);

G_END_DECLS
