/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * estimate.h: how long a pre-copy live migration will take, and whether
 * it will converge at all
 *
 * Pure arithmetic: no libvirt call, no I/O, no allocation that outlives a
 * call.  The model follows what QEMU 7.2 does (see docs/estimator.md):
 * the first pass sends all RAM (zero pages cost a header), the dirty
 * bitmap is synced when the pages still to send fall below
 * bandwidth x max-downtime, later passes send what was dirtied meanwhile,
 * and QEMU switches over when, right after a sync, the remaining bytes
 * fit in bandwidth x max-downtime.
 *
 * All sizes are bytes and all rates bytes per second, as doubles, so that
 * negative, NaN and overflow-sized input can be refused with an error
 * naming the field instead of wrapping around.
 */
#pragma once

#include <glib.h>

#include "vl-error.h"

G_BEGIN_DECLS

/* No guest is this large; anything above it is a unit mix-up (1 PiB). */
#define VL_ESTIMATE_MAX_MEMORY_BYTES (1125899906842624.0)
/* The model gives up after this many live rounds and says so. */
#define VL_ESTIMATE_MAX_ROUNDS 10000
#define VL_ESTIMATE_MAX_LANES 64
#define VL_ESTIMATE_MAX_CHANNELS 255        /* libvirt's parallel.connections */
#define VL_ESTIMATE_MAX_DIRTY_SAMPLES 64
#define VL_ESTIMATE_MAX_DOWNTIME_STEPS 32
/* Completion budget for "what would converge it" when no time cap is set:
 * KubeVirt's default of 150 s per GiB of guest memory. */
#define VL_ESTIMATE_DEFAULT_BUDGET_S_PER_GIB 150.0
/* How much more dirtying the model also tries: page sampling read the lab
 * guests' rates 1-9 % low (docs/estimator.md), and near a link's capacity
 * that is the difference between done in 216 s and done in 374 s. */
#define VL_ESTIMATE_DIRTY_MARGIN 0.10

/* One point of the dirty function f(t). */
typedef struct {
    double seconds;     /* time since a clean dirty bitmap, > 0 */
    double bytes;       /* distinct bytes dirtied by then */
} VlEstimateDirtySample;

/*
 * One step of a downtime ladder (oVirt raises the allowed downtime as
 * QEMU's iterations pass; Nova as time passes).  A step applies once
 * QEMU's memory_iteration counter has reached @after_iteration and the
 * job has run @after_s seconds; the last applicable step wins.
 */
typedef struct {
    guint after_iteration;
    double after_s;
    double downtime_s;
} VlEstimateDowntimeStep;

typedef enum {
    /* QEMU 7.2: sync when remaining < threshold, checked every ~50 ms
     * slice; the leftover below the threshold rides into the next pass */
    VL_ESTIMATE_SYNC_QEMU,
    /* textbook pre-copy: each pass sends the whole bitmap, then syncs */
    VL_ESTIMATE_SYNC_FULL_PASS,
} VlEstimateSyncModel;

typedef struct {
    /* the guest */
    double memory_bytes;        /* guest RAM, > 0 */
    double zero_bytes;          /* zero or never-touched RAM ... */
    double zero_fraction;       /* ... or the same as a fraction; set one */
    double page_size;           /* 4096 */
    double header_bytes;        /* per-page header on the wire, 8 */
    double working_set_bytes;   /* writable working set; 0 = all non-zero RAM */

    /* how the guest dirties memory: a linear rate, or f(t) samples */
    double dirty_rate_bps;
    const VlEstimateDirtySample *dirty_samples;     /* borrowed */
    gsize n_dirty_samples;

    /* the path */
    const double *lane_bps;     /* raw link rate of each lane; borrowed */
    gsize n_lanes;
    guint channels;             /* multifd channels; 0 or 1 = one stream */
    double channel_cap_bps;     /* per-channel (CPU) limit; 0 = none */
    double efficiency;          /* usable share of a link, (0, 1] */

    /* QEMU and manager settings */
    double max_downtime_s;      /* QEMU downtime-limit, 0.3 */
    const VlEstimateDowntimeStep *downtime_steps;   /* borrowed, optional */
    gsize n_downtime_steps;
    guint iteration_cap;        /* live rounds a manager allows; 0 = none */
    double time_cap_s;          /* job time a manager allows; 0 = none */
    double setup_s;             /* job start until RAM flows */
    double resume_s;            /* added to downtime after the last byte */
    double slice_s;             /* QEMU's ram_save_iterate budget, 0.05 */
    VlEstimateSyncModel sync_model;
} VlEstimateInput;

typedef enum {
    VL_ESTIMATE_CONVERGES,
    VL_ESTIMATE_DIRTY_RATE_ABOVE_BANDWIDTH,
    VL_ESTIMATE_EXCEEDS_TIME_CAP,
    VL_ESTIMATE_EXCEEDS_ITERATION_CAP,
    VL_ESTIMATE_ROUND_LIMIT,
} VlEstimateVerdict;

typedef struct {
    gboolean converges;
    VlEstimateVerdict verdict;

    double total_time_s;        /* job time incl. setup and downtime;
                                 * INFINITY when it does not converge */
    double downtime_s;          /* NAN when it does not converge */
    guint live_rounds;          /* passes while the guest runs */
    guint iterations;           /* QEMU's memory_iteration at the end */
    double bytes_sent;          /* wire bytes, up to completion or stop */
    double simulated_s;         /* job time the model covered */
    double bandwidth_bps;       /* usable aggregate bandwidth */
    double initial_rho;         /* initial dirty rate / bandwidth */
    double final_remaining_bytes;   /* in the bitmap at switch-over/stop */
    /* total_time_s with the dirtying VL_ESTIMATE_DIRTY_MARGIN higher
     * (INFINITY when that does not converge; = total_time_s for a guest
     * that dirties nothing): an answer that holds only at the measured
     * rate, not a little above it, is "at risk". */
    double total_time_high_s;

    /* what would converge it, within target_s */
    double target_s;            /* time cap, or the default budget */
    double min_bandwidth_bps;   /* INFINITY if no bandwidth suffices */
    guint lanes_needed;         /* lanes like the input's; 0 = none suffice */
    gboolean auto_converge_helps;
    double auto_converge_throttle;  /* vCPU throttle needed, 0..0.99 */
    gboolean postcopy_helps;
    double postcopy_time_s;     /* one pass, switch, fetch the rest */
} VlEstimate;

/* Fills @input with QEMU 7.2 defaults; the caller sets memory and lanes. */
void vl_estimate_input_init(VlEstimateInput *input);

/* Whether @estimate finishes within @limit_s at the measured dirtying but
 * not with VL_ESTIMATE_DIRTY_MARGIN more. */
gboolean vl_estimate_at_risk(const VlEstimate *estimate, double limit_s);

/* "dirty rate above bandwidth", ... (static strings) */
const char *vl_estimate_verdict_to_string(VlEstimateVerdict verdict);

/**
 * vl_estimate_check:
 * Validates @input; on failure sets VL_ERROR_ESTIMATE naming the field.
 */
gboolean vl_estimate_check(const VlEstimateInput *input, GError **error);

/**
 * vl_estimate_aggregate_bandwidth:
 * @bps: (out): sum over used lanes of min(efficiency x link, channels x cap)
 *
 * Channels go to lanes round-robin, fastest lane first; without multifd
 * (0 or 1 channel) only the fastest lane carries the stream.
 */
gboolean vl_estimate_aggregate_bandwidth(const VlEstimateInput *input,
                                         double *bps, GError **error);

/**
 * vl_estimate_run:
 * @input: the migration to model (not modified)
 * @result: (out): filled only on success
 *
 * Returns FALSE with VL_ERROR_ESTIMATE for absurd input.  A migration that
 * does not converge is a successful estimate with converges == FALSE.
 */
gboolean vl_estimate_run(const VlEstimateInput *input, VlEstimate *result,
                         GError **error);

/* Where a running migration stands, for re-estimating it (eta.c). */
typedef struct {
    double remaining_bytes;     /* still in QEMU's dirty bitmap */
    double zero_fraction;       /* share of zero pages among those */
    double since_sync_s;        /* seconds since the last bitmap sync */
    guint iteration;            /* QEMU's memory_iteration so far (>= 1) */
    double elapsed_s;           /* job time so far */
} VlEstimateState;

/**
 * vl_estimate_run_from:
 * As vl_estimate_run(), but starting from @state instead of the start of
 * the job; @input's setup_s is ignored and total_time_s counts from the
 * start of the job (so the ETA is total_time_s - elapsed_s).  The "what
 * would converge it" fields are left at their neutral values.
 */
gboolean vl_estimate_run_from(const VlEstimateInput *input,
                              const VlEstimateState *state,
                              VlEstimate *result, GError **error);

/**
 * vl_estimate_min_bandwidth_for:
 * @bps: (out): smallest usable aggregate bandwidth with which the
 *   migration converges within @threshold_s of job time; INFINITY when
 *   none does (e.g. setup alone exceeds it)
 *
 * Bisection over bandwidth, to 0.1 %.
 */
gboolean vl_estimate_min_bandwidth_for(const VlEstimateInput *input,
                                       double threshold_s, double *bps,
                                       GError **error);

/**
 * vl_estimate_lanes_needed:
 * @lane_bps: raw link rate of each added lane
 * @lanes: (out): smallest count k <= @max_lanes of such lanes that
 *   completes within @threshold_s, or 0 if none does
 *
 * Replaces @input's lanes by k lanes of @lane_bps and gives every lane at
 * least one channel (channels = MAX(channels, k)): several lanes only
 * help with multifd, which is what virt-lanes turns on for them.
 */
gboolean vl_estimate_lanes_needed(const VlEstimateInput *input,
                                  double lane_bps, guint max_lanes,
                                  double threshold_s, guint *lanes,
                                  GError **error);

G_END_DECLS
