/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * eta.h: re-estimating a running migration from its job statistics
 *
 * Feed every virDomainGetJobStats() sample to vl_eta_update(); read the
 * ETA, the smoothed bandwidth and a convergence verdict back with
 * vl_eta_get_result().  Pure: the caller does the libvirt call.
 *
 * QEMU's "remaining" is a sawtooth: it falls during a pass and jumps up
 * at every dirty-bitmap sync.  So the bandwidth is an EWMA over samples,
 * the dirty rate and the stall detector move only at iteration
 * boundaries, and the ETA comes from the migration model run from the
 * current state (it knows a sync will add what was dirtied meanwhile).
 */
#pragma once

#include <glib.h>

#include "vl-error.h"

G_BEGIN_DECLS

/* The job-stats fields the ETA needs (libvirt's names and units). */
typedef struct {
    gint64 time_elapsed_ms;     /* "time_elapsed" */
    guint64 memory_total;       /* bytes */
    guint64 memory_processed;   /* bytes */
    guint64 memory_remaining;   /* bytes */
    guint64 memory_bps;         /* bytes/s; 0 = not reported */
    guint64 memory_dirty_rate;  /* pages/s */
    guint64 page_size;          /* "memory_page_size" */
    guint64 memory_iteration;
    guint64 downtime_limit_ms;  /* 0 = QEMU's default, 300 ms */
} VlEtaSample;

typedef struct {
    double bandwidth_alpha;     /* EWMA weight of a new sample, 0.3 */
    double dirty_alpha;         /* EWMA weight at a boundary, 0.5 */
    guint stall_iterations;     /* K boundaries without progress, 3 */
    double stall_min_progress;  /* a new low must beat the best by this
                                 * fraction, 0.02 */
    double stall_window_s;      /* ... and this long without one, 5 s */
    double time_cap_s;          /* the job's completion budget; 0 = none */
    double saturation_ratio;    /* reported dirty rate >= this x bandwidth
                                 * is not trusted, 0.9 */
    double prior_dirty_rate_bps;    /* measured before the migration; used
                                     * until QEMU reports one; 0 = none */
} VlEtaConfig;

typedef enum {
    VL_ETA_VERDICT_UNKNOWN,         /* not enough data yet */
    VL_ETA_VERDICT_CONVERGING,
    VL_ETA_VERDICT_AT_RISK,         /* the model says it will not finish
                                     * (in time), but remaining still falls */
    VL_ETA_VERDICT_NOT_CONVERGING,  /* the stall detector fired */
} VlEtaVerdict;

typedef struct {
    VlEtaVerdict verdict;
    const char *reason;         /* static string */
    double eta_s;               /* NAN = unknown, INFINITY = never */
    double predicted_total_s;   /* elapsed + eta */
    double bandwidth_bps;       /* smoothed; NAN until measured */
    double dirty_rate_bps;      /* smoothed; NAN until known */
    double rho;                 /* dirty rate / bandwidth */
    gboolean dirty_rate_saturated;
    guint64 iteration;
    guint boundaries;           /* iteration boundaries seen */
    guint boundaries_without_progress;
    double best_remaining_bytes;    /* lowest remaining at a boundary */
} VlEtaResult;

typedef struct _VlEta VlEta;

void vl_eta_config_init(VlEtaConfig *config);
const char *vl_eta_verdict_to_string(VlEtaVerdict verdict);

/* @config: (nullable): copied; NULL = defaults; a field out of its range
 * (alpha outside (0, 1], NaN...) falls back to its default */
VlEta *vl_eta_new(const VlEtaConfig *config);
void vl_eta_free(VlEta *eta);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlEta, vl_eta_free)

/**
 * vl_eta_update:
 * @sample: (not nullable): the next job-stats sample
 *
 * Rejects an inconsistent sample (time or processed bytes going
 * backwards, remaining above total, absurd page size...) with
 * VL_ERROR_ESTIMATE and leaves @eta as it was.
 */
gboolean vl_eta_update(VlEta *eta, const VlEtaSample *sample,
                       GError **error);

/* The state after the last accepted sample. */
void vl_eta_get_result(const VlEta *eta, VlEtaResult *result);

G_END_DECLS
