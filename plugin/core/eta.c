/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * eta.c: online re-estimation of a running migration (see eta.h and
 * docs/estimator.md)
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "estimate.h"
#include "eta.h"

#define HEADER_BYTES 8.0
#define DEFAULT_DOWNTIME_MS 300
#define MAX_DOWNTIME_MS 2000000     /* QEMU's limit, 2000 s */
/* Below this share of the first pass done, the zero-page share guessed
 * from processed/done is mostly noise. */
#define MIN_ZERO_GUESS_SHARE 0.01
/* Shorter sample intervals say more about timer jitter than bandwidth. */
#define MIN_BANDWIDTH_INTERVAL_S 0.05

struct _VlEta {
    VlEtaConfig cfg;
    gboolean have_sample;
    VlEtaSample last;
    double bandwidth;       /* EWMA, NAN until measured */
    double dirty;           /* EWMA at boundaries, NAN until reported */
    double ram_start_s;     /* estimated start of RAM transfer, NAN */
    double sync_s;          /* estimated time of the last bitmap sync */
    double zero_fraction;   /* guessed during the first pass */
    guint64 iteration;
    guint boundaries;
    guint no_progress;
    double best_remaining;  /* NAN until the first boundary after pass 1 */
    double best_s;
    double prev_boundary;   /* remaining at the previous boundary, NAN */
    gboolean fell;          /* ... and whether the last one was lower */
    VlEtaResult result;
};

void
vl_eta_config_init(VlEtaConfig *config)
{
    g_return_if_fail(config != NULL);

    memset(config, 0, sizeof(*config));
    config->bandwidth_alpha = 0.3;
    config->dirty_alpha = 0.5;
    config->stall_iterations = 3;
    config->stall_min_progress = 0.02;
    config->stall_window_s = 5;
    config->saturation_ratio = 0.9;
}

const char *
vl_eta_verdict_to_string(VlEtaVerdict verdict)
{
    switch (verdict) {
    case VL_ETA_VERDICT_UNKNOWN:
        return "unknown";
    case VL_ETA_VERDICT_CONVERGING:
        return "converging";
    case VL_ETA_VERDICT_AT_RISK:
        return "at risk";
    case VL_ETA_VERDICT_NOT_CONVERGING:
        return "not converging";
    }
    return "invalid";
}

static void
result_reset(VlEtaResult *r)
{
    memset(r, 0, sizeof(*r));
    r->verdict = VL_ETA_VERDICT_UNKNOWN;
    r->reason = "no sample yet";
    r->eta_s = NAN;
    r->predicted_total_s = NAN;
    r->bandwidth_bps = NAN;
    r->dirty_rate_bps = NAN;
    r->rho = NAN;
    r->best_remaining_bytes = NAN;
}

VlEta *
vl_eta_new(const VlEtaConfig *config)
{
    VlEta *eta = g_new0(VlEta, 1);

    if (config)
        eta->cfg = *config;
    else
        vl_eta_config_init(&eta->cfg);

    /* Out-of-range settings fall back to the defaults rather than
     * producing a detector that never or always fires. */
    if (!(eta->cfg.bandwidth_alpha > 0 && eta->cfg.bandwidth_alpha <= 1))
        eta->cfg.bandwidth_alpha = 0.3;
    if (!(eta->cfg.dirty_alpha > 0 && eta->cfg.dirty_alpha <= 1))
        eta->cfg.dirty_alpha = 0.5;
    if (eta->cfg.stall_iterations == 0)
        eta->cfg.stall_iterations = 3;
    if (!(eta->cfg.stall_min_progress >= 0 && eta->cfg.stall_min_progress < 1))
        eta->cfg.stall_min_progress = 0.02;
    if (!(eta->cfg.stall_window_s >= 0 && isfinite(eta->cfg.stall_window_s)))
        eta->cfg.stall_window_s = 5;
    if (!(eta->cfg.time_cap_s >= 0 && isfinite(eta->cfg.time_cap_s)))
        eta->cfg.time_cap_s = 0;
    if (!(eta->cfg.saturation_ratio > 0 && isfinite(eta->cfg.saturation_ratio)))
        eta->cfg.saturation_ratio = 0.9;
    if (!(eta->cfg.prior_dirty_rate_bps >= 0 &&
          isfinite(eta->cfg.prior_dirty_rate_bps)))
        eta->cfg.prior_dirty_rate_bps = 0;

    eta->bandwidth = NAN;
    eta->dirty = NAN;
    eta->ram_start_s = NAN;
    eta->sync_s = NAN;
    eta->best_remaining = NAN;
    eta->best_s = NAN;
    eta->prev_boundary = NAN;
    eta->fell = TRUE;
    result_reset(&eta->result);
    return eta;
}

void
vl_eta_free(VlEta *eta)
{
    g_free(eta);
}

static gboolean
check_sample(const VlEta *eta, const VlEtaSample *s, GError **error)
{
    if (s->time_elapsed_ms < 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Job sample 'time_elapsed' is negative ('%" G_GINT64_FORMAT "')",
                    s->time_elapsed_ms);
        return FALSE;
    }
    if (s->page_size < 512 || s->page_size > (1u << 30)) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Job sample 'memory_page_size' must be from 512 to 1073741824, not '%" G_GUINT64_FORMAT "'",
                    s->page_size);
        return FALSE;
    }
    if (s->memory_total > VL_ESTIMATE_MAX_MEMORY_BYTES) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Job sample 'memory_total' is absurd ('%" G_GUINT64_FORMAT "')",
                    s->memory_total);
        return FALSE;
    }
    if (s->memory_remaining > s->memory_total) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Job sample 'memory_remaining' ('%" G_GUINT64_FORMAT "') is above 'memory_total' ('%" G_GUINT64_FORMAT "')",
                    s->memory_remaining, s->memory_total);
        return FALSE;
    }
    if (s->downtime_limit_ms > MAX_DOWNTIME_MS) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Job sample 'downtime_limit' is absurd ('%" G_GUINT64_FORMAT "' ms)",
                    s->downtime_limit_ms);
        return FALSE;
    }
    if (!eta->have_sample)
        return TRUE;
    if (s->time_elapsed_ms < eta->last.time_elapsed_ms) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Job sample 'time_elapsed' went backwards ('%" G_GINT64_FORMAT "' after '%" G_GINT64_FORMAT "')",
                    s->time_elapsed_ms, eta->last.time_elapsed_ms);
        return FALSE;
    }
    if (s->memory_processed < eta->last.memory_processed) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Job sample 'memory_processed' went backwards ('%" G_GUINT64_FORMAT "' after '%" G_GUINT64_FORMAT "')",
                    s->memory_processed, eta->last.memory_processed);
        return FALSE;
    }
    if (s->memory_iteration < eta->last.memory_iteration) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Job sample 'memory_iteration' went backwards ('%" G_GUINT64_FORMAT "' after '%" G_GUINT64_FORMAT "')",
                    s->memory_iteration, eta->last.memory_iteration);
        return FALSE;
    }
    return TRUE;
}

static double
ewma(double old, double sample, double alpha)
{
    return isnan(old) ? sample : alpha * sample + (1 - alpha) * old;
}

static void
update_bandwidth(VlEta *eta, const VlEtaSample *s, double t)
{
    double sample = NAN;

    if (s->memory_processed == 0)
        return;     /* RAM is not flowing yet: setup, not a slow link */

    if (eta->have_sample && eta->last.memory_processed > 0) {
        double dt = t - eta->last.time_elapsed_ms / 1000.0;

        if (dt >= MIN_BANDWIDTH_INTERVAL_S)
            sample = (double)(s->memory_processed -
                              eta->last.memory_processed) / dt;
    } else if (s->memory_bps > 0) {
        /* The first interval with data started somewhere in the middle;
         * QEMU's own figure is better there. */
        sample = s->memory_bps;
    }
    if (!isnan(sample))
        eta->bandwidth = ewma(eta->bandwidth, sample,
                              eta->cfg.bandwidth_alpha);
}

/*
 * During the first pass "remaining" falls by a page per page visited, but
 * "processed" grows by a header only for a zero page: the ratio tells the
 * share of zero pages, which the model needs for the rest of the pass.
 */
static void
update_zero_fraction(VlEta *eta, const VlEtaSample *s)
{
    double done = (double)s->memory_total - s->memory_remaining;
    double P = s->page_size;
    double data_cost = (P + HEADER_BYTES) / P;
    double zero_cost = (HEADER_BYTES + 1) / P;
    double z;

    if (s->memory_iteration > 1 || s->memory_total == 0 ||
        done < MIN_ZERO_GUESS_SHARE * s->memory_total)
        return;
    z = (data_cost - s->memory_processed / done) / (data_cost - zero_cost);
    eta->zero_fraction = CLAMP(z, 0, 1);
}

static void
on_boundary(VlEta *eta, const VlEtaSample *s, double t)
{
    double prev_t = eta->last.time_elapsed_ms / 1000.0;
    double reported = (double)s->memory_dirty_rate * s->page_size;
    double at_sync;

    /* The sync happened somewhere between the two samples. */
    eta->sync_s = (prev_t + t) / 2;
    eta->boundaries++;

    if (reported > 0)
        eta->dirty = ewma(eta->dirty, reported, eta->cfg.dirty_alpha);

    /* What the bitmap held right after the sync: add back what was sent
     * since.  The first pass starts with all of RAM, so it is no
     * yardstick for progress. */
    if (s->memory_iteration < 2)
        return;
    at_sync = s->memory_remaining;
    if (!isnan(eta->bandwidth))
        at_sync += eta->bandwidth * (t - eta->sync_s);

    eta->fell = isnan(eta->prev_boundary) ||
        at_sync < eta->prev_boundary * (1 - eta->cfg.stall_min_progress);
    eta->prev_boundary = at_sync;

    if (isnan(eta->best_remaining) ||
        at_sync < eta->best_remaining * (1 - eta->cfg.stall_min_progress)) {
        eta->best_remaining = at_sync;
        eta->best_s = t;
        eta->no_progress = 0;
    } else {
        eta->no_progress++;
    }
}

static void
run_model(VlEta *eta, const VlEtaSample *s, double t, VlEtaResult *r)
{
    VlEstimateInput in;
    VlEstimateState state;
    VlEstimate est;
    double lane = eta->bandwidth;
    double dirty = !isnan(eta->dirty) ? eta->dirty
                                      : eta->cfg.prior_dirty_rate_bps;
    gboolean first_pass = s->memory_iteration <= 1;

    vl_estimate_input_init(&in);
    in.memory_bytes = s->memory_total;
    in.zero_fraction = eta->zero_fraction;
    in.page_size = s->page_size;
    in.dirty_rate_bps = dirty;
    in.lane_bps = &lane;
    in.n_lanes = 1;
    in.efficiency = 1;
    in.max_downtime_s = (s->downtime_limit_ms ? s->downtime_limit_ms
                                              : DEFAULT_DOWNTIME_MS) / 1000.0;
    in.time_cap_s = eta->cfg.time_cap_s;

    memset(&state, 0, sizeof(state));
    state.remaining_bytes = s->memory_remaining;
    state.zero_fraction = first_pass ? eta->zero_fraction : 0;
    state.since_sync_s = isnan(eta->sync_s) ? 0 : MAX(0, t - eta->sync_s);
    state.iteration = MAX(1, s->memory_iteration);
    state.elapsed_s = t;

    /* Input that the model refuses (e.g. a total below one page before
     * RAM is sized) leaves the ETA unknown; it is not the caller's error. */
    if (!vl_estimate_run_from(&in, &state, &est, NULL))
        return;

    r->eta_s = est.converges ? MAX(0, est.total_time_s - t) : INFINITY;
    r->predicted_total_s = t + r->eta_s;
    r->rho = dirty / lane;
    if (!est.converges) {
        r->verdict = VL_ETA_VERDICT_AT_RISK;
        r->reason = vl_estimate_verdict_to_string(est.verdict);
    } else if (eta->cfg.time_cap_s > 0 &&
               r->predicted_total_s > eta->cfg.time_cap_s) {
        r->verdict = VL_ETA_VERDICT_AT_RISK;
        r->reason = "exceeds time cap";
    } else if (r->dirty_rate_saturated) {
        r->verdict = VL_ETA_VERDICT_AT_RISK;
        r->reason = "reported dirty rate is saturated near the link rate";
    } else if (!eta->fell) {
        /* QEMU's rate can read low while the working set saturates; what
         * the bitmap held after the sync does not lie */
        r->verdict = VL_ETA_VERDICT_AT_RISK;
        r->reason = "remaining did not fall at the last iteration boundary";
    } else if (first_pass && isnan(eta->dirty) &&
               eta->cfg.prior_dirty_rate_bps == 0) {
        r->verdict = VL_ETA_VERDICT_UNKNOWN;
        r->reason = "first pass: dirty rate not known yet";
    } else {
        r->verdict = VL_ETA_VERDICT_CONVERGING;
        r->reason = "model predicts completion";
    }
}

gboolean
vl_eta_update(VlEta *eta, const VlEtaSample *s, GError **error)
{
    VlEtaResult *r = &eta->result;
    double t;

    g_return_val_if_fail(eta != NULL, FALSE);
    g_return_val_if_fail(s != NULL, FALSE);

    if (!check_sample(eta, s, error))
        return FALSE;

    t = s->time_elapsed_ms / 1000.0;
    update_bandwidth(eta, s, t);
    update_zero_fraction(eta, s);

    if (s->memory_processed > 0 && isnan(eta->ram_start_s)) {
        /* RAM started flowing since the previous sample: that is also
         * when ram_save_setup synced the bitmap. */
        eta->ram_start_s = isnan(eta->bandwidth) || eta->bandwidth <= 0 ? t
            : MAX(0, t - s->memory_processed / eta->bandwidth);
        eta->sync_s = eta->ram_start_s;
    }
    if (eta->have_sample && s->memory_iteration > eta->iteration)
        on_boundary(eta, s, t);
    eta->iteration = s->memory_iteration;
    eta->last = *s;
    eta->have_sample = TRUE;

    result_reset(r);
    r->iteration = s->memory_iteration;
    r->boundaries = eta->boundaries;
    r->boundaries_without_progress = eta->no_progress;
    r->best_remaining_bytes = eta->best_remaining;
    r->bandwidth_bps = eta->bandwidth;
    r->dirty_rate_bps = eta->dirty;
    /* QEMU cannot see more new dirty pages per second than it sends, so a
     * report near the link rate is a floor, not a measurement. */
    r->dirty_rate_saturated = !isnan(eta->dirty) && !isnan(eta->bandwidth) &&
        eta->dirty >= eta->cfg.saturation_ratio * eta->bandwidth;

    if (isnan(eta->bandwidth) || eta->bandwidth <= 0) {
        r->reason = "no bandwidth measured yet";
    } else {
        run_model(eta, s, t, r);
    }

    /* The detector overrides the model: it looks at what QEMU achieved. */
    if (eta->no_progress >= eta->cfg.stall_iterations &&
        t - eta->best_s >= eta->cfg.stall_window_s) {
        r->verdict = VL_ETA_VERDICT_NOT_CONVERGING;
        r->reason = "remaining bytes at iteration boundaries stopped falling";
        r->eta_s = INFINITY;
        r->predicted_total_s = INFINITY;
    }
    return TRUE;
}

void
vl_eta_get_result(const VlEta *eta, VlEtaResult *result)
{
    g_return_if_fail(eta != NULL);
    g_return_if_fail(result != NULL);

    *result = eta->result;
}
