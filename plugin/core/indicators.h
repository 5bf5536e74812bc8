/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * indicators.h: per-domain statistics samples turned into indicator values
 *
 * The daemon calls virConnectGetAllDomainStats() with
 * VIR_DOMAIN_STATS_STATE | CPU_TOTAL | VCPU | INTERFACE | BLOCK | BALLOON
 * once per cycle.  Every record's typed parameters go through
 * vl_indicators_from_params() into a VlDomainStats; two consecutive
 * samples of one domain give the indicator values of VlIndicator
 * (policy.h).  Everything here is pure: no libvirt call, no clock, no I/O.
 * libvirt/libvirt.h is included for the virTypedParameter type only.
 *
 * Unknown is not zero: a value that cannot be computed (a field missing
 * from either sample, a counter that went backwards, the first sample of
 * a domain, a domain not running) is VL_INDICATOR_UNKNOWN (NaN), and the
 * decision engine never acts on it.
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>
#include <math.h>

#include "policy.h"

G_BEGIN_DECLS

/* An indicator value that could not be computed this tick. */
#define VL_INDICATOR_UNKNOWN (NAN)
#define vl_indicator_is_known(v) (!isnan(v))

/* Which fields of a VlDomainStats were present in the record. */
typedef enum {
    VL_DOMAIN_STATS_HAVE_STATE = 1 << 0,
    VL_DOMAIN_STATS_HAVE_CPU_TIME = 1 << 1,
    VL_DOMAIN_STATS_HAVE_VCPUS = 1 << 2,
    VL_DOMAIN_STATS_HAVE_NET_RX = 1 << 3,
    VL_DOMAIN_STATS_HAVE_NET_TX = 1 << 4,
    VL_DOMAIN_STATS_HAVE_BLOCK_RD = 1 << 5,
    VL_DOMAIN_STATS_HAVE_BLOCK_WR = 1 << 6,
    VL_DOMAIN_STATS_HAVE_BALLOON_CURRENT = 1 << 7,
    VL_DOMAIN_STATS_HAVE_BALLOON_AVAILABLE = 1 << 8,
    VL_DOMAIN_STATS_HAVE_BALLOON_UNUSED = 1 << 9,
    VL_DOMAIN_STATS_HAVE_BALLOON_USABLE = 1 << 10,
    VL_DOMAIN_STATS_HAVE_BALLOON_RSS = 1 << 11,
} VlDomainStatsField;

/*
 * One sample of one domain.  Byte and time counters are cumulative since
 * the domain started; net and block counters are summed over the devices
 * that reported them (net_devices/block_devices say how many, so that a
 * hot-plug or unplug between two samples is seen as a reset, not a rate).
 */
typedef struct {
    const char *name;        /* borrowed: valid while the caller says so */
    int id;                  /* libvirt domain id, -1 = unknown; a change
                              * between samples means the domain restarted */
    guint32 have;            /* VlDomainStatsField bits */
    gint64 timestamp_ns;     /* monotonic time the sample was taken */
    int state;               /* virDomainState ("state.state") */
    guint64 cpu_time_ns;     /* "cpu.time" */
    guint vcpus;             /* "vcpu.current" */
    guint net_devices;       /* interfaces summed into net_rx/tx_bytes */
    guint64 net_rx_bytes;    /* sum of "net.N.rx.bytes" */
    guint64 net_tx_bytes;    /* sum of "net.N.tx.bytes" */
    guint block_devices;     /* disks summed into block_rd/wr_bytes */
    guint64 block_rd_bytes;  /* sum of "block.N.rd.bytes" */
    guint64 block_wr_bytes;  /* sum of "block.N.wr.bytes" */
    guint64 balloon_current_kib;   /* "balloon.current" */
    guint64 balloon_available_kib; /* "balloon.available" (guest total) */
    guint64 balloon_unused_kib;    /* "balloon.unused" (guest MemFree) */
    guint64 balloon_usable_kib;    /* "balloon.usable" (guest MemAvailable) */
    guint64 balloon_rss_kib;       /* "balloon.rss" (QEMU process RSS) */
} VlDomainStats;

/**
 * vl_indicators_from_params:
 * @name: (transfer none): the domain's name, stored as a borrowed pointer
 * @id: the domain's id (virDomainGetID), -1 when unknown
 * @params: (transfer none) (nullable): the record's typed parameters
 * @nparams: their number
 * @timestamp_ns: monotonic time the record was taken
 * @stats: (out): filled completely
 *
 * Parses one virDomainStatsRecord's parameters.  Never fails: a field of
 * the wrong type, a device index out of range or a device that reported
 * only part of its counters leaves the affected fields out of
 * @stats->have, and the indicators depending on them unknown.
 */
void vl_indicators_from_params(const char *name, int id,
                               const virTypedParameter *params, int nparams,
                               gint64 timestamp_ns, VlDomainStats *stats);

/**
 * vl_indicators_compute:
 * @prev: (nullable): the domain's previous sample, NULL for the first one
 * @cur: the current sample
 * @values: (out caller-allocates): VL_INDICATOR_LAST values, unknown = NaN
 *
 * CPU is the share of the domain's vCPUs in use over the interval
 * (cpu.time includes QEMU's own threads, so it is clamped to 0..100);
 * net_rx/net_tx are Mbit/s (10^6 bit/s); block_io is MiB/s read plus
 * written; memory is the guest's share of its memory in use, from
 * balloon.usable (MemAvailable) or, without it, balloon.unused (MemFree).
 * Memory needs @cur only; the rates need both samples.
 */
void vl_indicators_compute(const VlDomainStats *prev, const VlDomainStats *cur,
                           double *values);

/*
 * VlIndicatorTracker: the previous sample of every domain, so that the
 * daemon feeds one sample per domain per cycle and gets the values.
 */
typedef struct _VlIndicatorTracker VlIndicatorTracker;

VlIndicatorTracker *vl_indicator_tracker_new(void);
void vl_indicator_tracker_free(VlIndicatorTracker *tracker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlIndicatorTracker, vl_indicator_tracker_free)

/**
 * vl_indicator_tracker_update:
 * @tracker: the tracker
 * @cur: (transfer none): this cycle's sample; @cur->name is copied
 * @values: (out caller-allocates): VL_INDICATOR_LAST values
 *
 * Computes the values against the domain's previous sample and keeps
 * @cur as the new previous sample.
 */
void vl_indicator_tracker_update(VlIndicatorTracker *tracker,
                                 const VlDomainStats *cur, double *values);

/**
 * vl_indicator_tracker_expire:
 *
 * Forgets every domain not updated since the previous call (undefined or
 * stopped domains that no longer appear in the stats).  Returns how many
 * were forgotten.
 */
guint vl_indicator_tracker_expire(VlIndicatorTracker *tracker);

/* The number of domains tracked. */
guint vl_indicator_tracker_size(VlIndicatorTracker *tracker);

G_END_DECLS
