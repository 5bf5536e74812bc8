/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dirtyrate.h: measuring how fast a guest dirties its memory
 *
 * vl_dirtyrate_start() asks QEMU (through libvirt) for a page-sampling
 * measurement over a period; vl_dirtyrate_query() reads the result back
 * from the domain's "dirtyrate.*" stats; vl_dirtyrate_parse() is the pure
 * part of that.  A VlDirtyRateSampler keeps measurements at several
 * periods and turns them into the f(t) points the migration model takes:
 * QEMU's rate over a period p is (distinct pages dirtied in p) / p, so
 * f(p) = rate x p.
 *
 * The lab found the 1 s measurement noisy and 5-10 s usable under TCG,
 * and QEMU 7.2's dirty-bitmap mode crashing under TCG: page sampling is
 * the one this module starts.
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "estimate.h"
#include "vl-error.h"

G_BEGIN_DECLS

#define VL_DIRTYRATE_MIN_PERIOD 1   /* virDomainStartDirtyRateCalc's range */
#define VL_DIRTYRATE_MAX_PERIOD 60
#define VL_DIRTYRATE_KEEP 8         /* measurements kept per period */

typedef enum {
    VL_DIRTYRATE_UNSTARTED = 0,     /* = VIR_DOMAIN_DIRTYRATE_UNSTARTED */
    VL_DIRTYRATE_MEASURING = 1,
    VL_DIRTYRATE_MEASURED = 2,
} VlDirtyRateStatus;

typedef enum {
    VL_DIRTYRATE_MODE_PAGE_SAMPLING,
    VL_DIRTYRATE_MODE_DIRTY_BITMAP,
    VL_DIRTYRATE_MODE_DIRTY_RING,
} VlDirtyRateMode;

typedef struct {
    VlDirtyRateStatus status;
    VlDirtyRateMode mode;
    gint64 start_time;          /* "dirtyrate.calc_start_time", as given */
    int period_s;               /* "dirtyrate.calc_period" */
    gboolean has_rate;          /* only once measured */
    double bytes_per_second;    /* "dirtyrate.megabytes_per_second" x MiB */
} VlDirtyRateSample;

/**
 * vl_dirtyrate_parse:
 * @params: (array length=nparams): one domain's stats record; fields of
 *   other groups are ignored
 * @sample: (out): filled only on success
 *
 * Fails with VL_ERROR_INVALID naming the field when a dirtyrate field is
 * missing, of the wrong type or out of range.
 */
gboolean vl_dirtyrate_parse(const virTypedParameter *params, int nparams,
                            VlDirtyRateSample *sample, GError **error);

/* Starts a page-sampling measurement over @seconds (1..60). */
gboolean vl_dirtyrate_start(virDomainPtr dom, int seconds, GError **error);

/* Reads the domain's last measurement (VIR_DOMAIN_STATS_DIRTYRATE). */
gboolean vl_dirtyrate_query(virDomainPtr dom, VlDirtyRateSample *sample,
                            GError **error);

typedef struct _VlDirtyRateSampler VlDirtyRateSampler;

/* @periods: (nullable) (array length=n_periods): NULL = {1, 5, 10} */
VlDirtyRateSampler *vl_dirtyrate_sampler_new(const int *periods,
                                             gsize n_periods,
                                             GError **error);
void vl_dirtyrate_sampler_free(VlDirtyRateSampler *sampler);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlDirtyRateSampler, vl_dirtyrate_sampler_free)

/* The period to measure next: the configured ones in turn. */
int vl_dirtyrate_sampler_next_period(VlDirtyRateSampler *sampler);

/**
 * vl_dirtyrate_sampler_add:
 * Records a finished measurement; the same measurement read twice (same
 * start time and period) counts once.  Unfinished ones are refused with
 * VL_ERROR_INVALID.
 */
gboolean vl_dirtyrate_sampler_add(VlDirtyRateSampler *sampler,
                                  const VlDirtyRateSample *sample,
                                  GError **error);

/**
 * vl_dirtyrate_sampler_get_curve:
 * @out: (array length=max): receives f(t) points, by increasing period
 *
 * One point per measured period: the median rate times the period, made
 * non-decreasing (pool-adjacent-violators, weighted by count) because a
 * noisy short measurement must not make f(t) fall.  Returns the number
 * of points written (0 before any measurement).
 */
gsize vl_dirtyrate_sampler_get_curve(const VlDirtyRateSampler *sampler,
                                     VlEstimateDirtySample *out, gsize max);

G_END_DECLS
