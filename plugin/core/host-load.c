/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-load.c: this host's own load, for bursting members to peers
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "host-load.h"
#include "indicators.h"

/* Copies the value of @name from the first field that has it. */
static gboolean
cpu_field(const virNodeCPUStats *cpu, int n, const char *name, guint64 *value)
{
    int i;

    for (i = 0; cpu && i < n; i++) {
        /* A field not NUL-terminated within its 80 bytes matches nothing. */
        if (memchr(cpu[i].field, '\0', sizeof(cpu[i].field)) &&
            strcmp(cpu[i].field, name) == 0) {
            *value = cpu[i].value;
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean
memory_field(const virNodeMemoryStats *memory, int n, const char *name,
             guint64 *value)
{
    int i;

    for (i = 0; memory && i < n; i++) {
        if (memchr(memory[i].field, '\0', sizeof(memory[i].field)) &&
            strcmp(memory[i].field, name) == 0) {
            *value = memory[i].value;
            return TRUE;
        }
    }
    return FALSE;
}

void
vl_host_stats_from_node(const virNodeCPUStats *cpu, int ncpu,
                        const virNodeMemoryStats *memory, int nmemory,
                        gint64 timestamp_ns, VlHostStats *stats)
{
    guint64 kernel = 0, user = 0, idle = 0, iowait = 0;
    guint64 total = 0, free_kib = 0, buffers = 0, cached = 0;

    g_return_if_fail(stats != NULL);

    memset(stats, 0, sizeof(*stats));
    stats->timestamp_ns = timestamp_ns;

    if (cpu_field(cpu, ncpu, VIR_NODE_CPU_STATS_KERNEL, &kernel) &&
        cpu_field(cpu, ncpu, VIR_NODE_CPU_STATS_USER, &user) &&
        cpu_field(cpu, ncpu, VIR_NODE_CPU_STATS_IDLE, &idle)) {
        /* iowait is idle time waiting for I/O: not busy, but counted. */
        cpu_field(cpu, ncpu, VIR_NODE_CPU_STATS_IOWAIT, &iowait);
        if (kernel <= G_MAXUINT64 - user &&
            kernel + user <= G_MAXUINT64 - idle &&
            kernel + user + idle <= G_MAXUINT64 - iowait) {
            stats->cpu_known = TRUE;
            stats->cpu_busy_ns = kernel + user;
            stats->cpu_total_ns = kernel + user + idle + iowait;
        }
    }

    if (memory_field(memory, nmemory, VIR_NODE_MEMORY_STATS_TOTAL, &total) &&
        memory_field(memory, nmemory, VIR_NODE_MEMORY_STATS_FREE, &free_kib) &&
        total > 0) {
        guint64 reclaimable;

        /* Buffers and page cache are given back on demand: not in use. */
        memory_field(memory, nmemory, VIR_NODE_MEMORY_STATS_BUFFERS, &buffers);
        memory_field(memory, nmemory, VIR_NODE_MEMORY_STATS_CACHED, &cached);
        reclaimable = free_kib;
        reclaimable = reclaimable > G_MAXUINT64 - buffers ?
            G_MAXUINT64 : reclaimable + buffers;
        reclaimable = reclaimable > G_MAXUINT64 - cached ?
            G_MAXUINT64 : reclaimable + cached;
        stats->memory_known = TRUE;
        stats->memory_total_kib = total;
        stats->memory_used_kib = reclaimable >= total ? 0 : total - reclaimable;
    }
}

void
vl_host_load_compute(const VlHostStats *previous, const VlHostStats *current,
                     double values[VL_HOST_INDICATOR_LAST])
{
    guint i;

    for (i = 0; i < VL_HOST_INDICATOR_LAST; i++)
        values[i] = VL_INDICATOR_UNKNOWN;
    g_return_if_fail(current != NULL);

    /* A counter that went backwards (a host reboot between two daemon
     * runs cannot happen, but a replay can) or did not move at all
     * gives no rate. */
    if (previous && previous->cpu_known && current->cpu_known &&
        current->cpu_total_ns > previous->cpu_total_ns &&
        current->cpu_busy_ns >= previous->cpu_busy_ns) {
        double busy = (double)(current->cpu_busy_ns - previous->cpu_busy_ns);
        double total = (double)(current->cpu_total_ns - previous->cpu_total_ns);

        values[VL_HOST_INDICATOR_CPU] = CLAMP(100.0 * busy / total, 0.0, 100.0);
    }
    if (current->memory_known && current->memory_total_kib > 0)
        values[VL_HOST_INDICATOR_MEMORY] =
            CLAMP(100.0 * (double)current->memory_used_kib /
                  (double)current->memory_total_kib, 0.0, 100.0);
}

VlContainerHostLoad
vl_host_load_classify(const VlHostLoadPolicy *policy,
                      const double values[VL_HOST_INDICATOR_LAST])
{
    gboolean all_under = TRUE;
    gboolean over = FALSE;
    guint i;

    if (!policy || !policy->enabled || !values)
        return VL_CONTAINER_HOST_UNKNOWN;
    for (i = 0; i < VL_HOST_INDICATOR_LAST; i++) {
        const VlHostThresholds *t = &policy->indicators[i];

        if (!t->enabled)
            continue;
        if (isnan(values[i]))
            return VL_CONTAINER_HOST_UNKNOWN;
        if (values[i] > t->overloaded)
            over = TRUE;
        if (!(values[i] < t->under_loaded))
            all_under = FALSE;
    }
    if (over)
        return VL_CONTAINER_HOST_OVER;
    return all_under ? VL_CONTAINER_HOST_UNDER : VL_CONTAINER_HOST_IN_BAND;
}
