/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * estimate.c: the pre-copy migration model (see docs/estimator.md)
 */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimate.h"
#include "estimate-priv.h"

#define GIB (1073741824.0)
/* Upper bounds that only catch unit mix-ups and garbage. */
#define MAX_RATE_BPS 1e13               /* 10 TB/s */
#define MAX_DOWNTIME_S 2000.0           /* QEMU's own limit */
#define MAX_SECONDS 1e9
#define MIN_BUDGET_S 60.0
/* A pass shorter than 1e-4 of the previous one counts as no progress. */
#define STALL_EPSILON 1e-4
#define STALL_ROUNDS 3
/* Bisection stops when the bracket is this narrow (ratio). */
#define BISECT_RATIO 1.001
#define BISECT_MAX_STEPS 200
#define MAX_THROTTLE 0.99               /* QEMU's max-cpu-throttle */

/* The input, normalised: what the simulation actually runs on. */
typedef struct {
    double M;           /* memory */
    double Z;           /* zero bytes */
    double W;           /* writable working set */
    double P;           /* page size */
    double h;           /* header bytes per page */
    double B;           /* usable aggregate bandwidth */
    double D;           /* linear dirty rate, when there are no samples */
    const VlEstimateDirtySample *samples;
    gsize n_samples;
    double time_scale;  /* 1 - vCPU throttle: the guest runs this fast */
    double T_d;
    const VlEstimateDowntimeStep *steps;
    gsize n_steps;
    guint iteration_cap;
    double time_cap;    /* job seconds; 0 = none */
    double setup;
    double resume;
    double slice;
    VlEstimateSyncModel sync;
} VlModel;

typedef struct {
    double R;           /* bytes in the dirty bitmap */
    double Rz;          /* ... of which zero pages */
    double Rw;          /* ... of which inside the working set */
    double since_sync;
    double t;           /* job time */
    guint iteration;    /* QEMU's dirty-sync count */
    guint rounds;       /* live passes done */
    double bytes;       /* wire bytes */
} VlSimState;

typedef enum {
    SIM_CONVERGED,
    SIM_TIME_CAP,
    SIM_ITERATION_CAP,
    SIM_ROUND_LIMIT,
    SIM_STALLED,
} VlSimEnd;

void
vl_estimate_input_init(VlEstimateInput *input)
{
    g_return_if_fail(input != NULL);

    memset(input, 0, sizeof(*input));
    input->page_size = 4096;
    input->header_bytes = 8;
    input->efficiency = 0.95;
    input->max_downtime_s = 0.3;
    input->slice_s = 0.05;
    input->sync_model = VL_ESTIMATE_SYNC_QEMU;
}

const char *
vl_estimate_verdict_to_string(VlEstimateVerdict verdict)
{
    switch (verdict) {
    case VL_ESTIMATE_CONVERGES:
        return "converges";
    case VL_ESTIMATE_DIRTY_RATE_ABOVE_BANDWIDTH:
        return "dirty rate above bandwidth";
    case VL_ESTIMATE_EXCEEDS_TIME_CAP:
        return "exceeds time cap";
    case VL_ESTIMATE_EXCEEDS_ITERATION_CAP:
        return "exceeds iteration cap";
    case VL_ESTIMATE_ROUND_LIMIT:
        return "more than 10000 rounds";
    }
    return "unknown";
}

/* --- validation ---------------------------------------------------- */

static gboolean
check_number(double value, double min, gboolean min_open, double max,
             const char *field, GError **error)
{
    if (isfinite(value) && (min_open ? value > min : value >= min) &&
        value <= max)
        return TRUE;

    g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                "Estimate input '%s' must be a number %s %g and at most %g, not '%g'",
                field, min_open ? "above" : "from", min, max, value);
    return FALSE;
}

static gboolean
check_indexed(double value, double min, gboolean min_open, double max,
              const char *array, gsize index, const char *member,
              GError **error)
{
    g_autofree char *field = NULL;

    if (isfinite(value) && (min_open ? value > min : value >= min) &&
        value <= max)
        return TRUE;

    field = g_strdup_printf("%s[%" G_GSIZE_FORMAT "]%s%s", array, index,
                            member ? "." : "", member ? member : "");
    return check_number(value, min, min_open, max, field, error);
}

static gboolean
check_dirty_samples(const VlEstimateInput *in, GError **error)
{
    gsize i;

    if (in->n_dirty_samples == 0)
        return TRUE;

    if (in->n_dirty_samples > VL_ESTIMATE_MAX_DIRTY_SAMPLES) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Estimate input 'n_dirty_samples' must be at most %d, not '%" G_GSIZE_FORMAT "'",
                    VL_ESTIMATE_MAX_DIRTY_SAMPLES, in->n_dirty_samples);
        return FALSE;
    }
    if (!in->dirty_samples) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Estimate input 'dirty_samples' is missing but 'n_dirty_samples' is '%" G_GSIZE_FORMAT "'",
                    in->n_dirty_samples);
        return FALSE;
    }
    if (in->dirty_rate_bps != 0) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_ESTIMATE,
                            "Estimate input sets both 'dirty_rate_bps' and 'dirty_samples'; set one");
        return FALSE;
    }

    for (i = 0; i < in->n_dirty_samples; i++) {
        const VlEstimateDirtySample *s = &in->dirty_samples[i];

        if (!check_indexed(s->seconds, 0, TRUE, MAX_SECONDS,
                           "dirty_samples", i, "seconds", error) ||
            !check_indexed(s->bytes, 0, FALSE, in->memory_bytes,
                           "dirty_samples", i, "bytes", error))
            return FALSE;
        if (i == 0)
            continue;
        if (s->seconds <= in->dirty_samples[i - 1].seconds) {
            g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                        "Estimate input 'dirty_samples[%" G_GSIZE_FORMAT "].seconds' must be above the previous sample's '%g', not '%g'",
                        i, in->dirty_samples[i - 1].seconds, s->seconds);
            return FALSE;
        }
        if (s->bytes < in->dirty_samples[i - 1].bytes) {
            g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                        "Estimate input 'dirty_samples[%" G_GSIZE_FORMAT "].bytes' is '%g', below the previous sample's '%g': f(t) must not decrease",
                        i, s->bytes, in->dirty_samples[i - 1].bytes);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
check_lanes(const VlEstimateInput *in, GError **error)
{
    gsize i;

    if (in->n_lanes < 1 || in->n_lanes > VL_ESTIMATE_MAX_LANES) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Estimate input 'n_lanes' must be from 1 to %d, not '%" G_GSIZE_FORMAT "'",
                    VL_ESTIMATE_MAX_LANES, in->n_lanes);
        return FALSE;
    }
    if (!in->lane_bps) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_ESTIMATE,
                            "Estimate input 'lane_bps' is missing");
        return FALSE;
    }
    for (i = 0; i < in->n_lanes; i++) {
        if (!check_indexed(in->lane_bps[i], 0, TRUE, MAX_RATE_BPS,
                           "lane_bps", i, NULL, error))
            return FALSE;
    }
    if (in->channels > VL_ESTIMATE_MAX_CHANNELS) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Estimate input 'channels' must be at most %d, not '%u'",
                    VL_ESTIMATE_MAX_CHANNELS, in->channels);
        return FALSE;
    }
    return check_number(in->channel_cap_bps, 0, FALSE, MAX_RATE_BPS,
                        "channel_cap_bps", error) &&
           check_number(in->efficiency, 0, TRUE, 1, "efficiency", error);
}

static gboolean
check_downtime(const VlEstimateInput *in, GError **error)
{
    gsize i;

    if (!check_number(in->max_downtime_s, 0, TRUE, MAX_DOWNTIME_S,
                      "max_downtime_s", error))
        return FALSE;
    if (in->n_downtime_steps == 0)
        return TRUE;
    if (in->n_downtime_steps > VL_ESTIMATE_MAX_DOWNTIME_STEPS) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Estimate input 'n_downtime_steps' must be at most %d, not '%" G_GSIZE_FORMAT "'",
                    VL_ESTIMATE_MAX_DOWNTIME_STEPS, in->n_downtime_steps);
        return FALSE;
    }
    if (!in->downtime_steps) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Estimate input 'downtime_steps' is missing but 'n_downtime_steps' is '%" G_GSIZE_FORMAT "'",
                    in->n_downtime_steps);
        return FALSE;
    }
    for (i = 0; i < in->n_downtime_steps; i++) {
        const VlEstimateDowntimeStep *s = &in->downtime_steps[i];

        if (!check_indexed(s->downtime_s, 0, TRUE, MAX_DOWNTIME_S,
                           "downtime_steps", i, "downtime_s", error) ||
            !check_indexed(s->after_s, 0, FALSE, MAX_SECONDS,
                           "downtime_steps", i, "after_s", error))
            return FALSE;
    }
    return TRUE;
}

gboolean
vl_estimate_check(const VlEstimateInput *in, GError **error)
{
    g_return_val_if_fail(in != NULL, FALSE);

    if (!check_number(in->memory_bytes, 0, TRUE, VL_ESTIMATE_MAX_MEMORY_BYTES,
                      "memory_bytes", error) ||
        !check_number(in->zero_bytes, 0, FALSE, in->memory_bytes,
                      "zero_bytes", error) ||
        !check_number(in->zero_fraction, 0, FALSE, 1,
                      "zero_fraction", error))
        return FALSE;
    if (in->zero_bytes > 0 && in->zero_fraction > 0) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_ESTIMATE,
                            "Estimate input sets both 'zero_bytes' and 'zero_fraction'; set one");
        return FALSE;
    }
    if (!check_number(in->page_size, 512, FALSE, MIN(GIB, in->memory_bytes),
                      "page_size", error) ||
        !check_number(in->header_bytes, 0, FALSE, in->page_size,
                      "header_bytes", error) ||
        !check_number(in->working_set_bytes, 0, FALSE, in->memory_bytes,
                      "working_set_bytes", error) ||
        !check_number(in->dirty_rate_bps, 0, FALSE, MAX_RATE_BPS,
                      "dirty_rate_bps", error) ||
        !check_dirty_samples(in, error) ||
        !check_lanes(in, error) ||
        !check_downtime(in, error) ||
        !check_number(in->time_cap_s, 0, FALSE, MAX_SECONDS,
                      "time_cap_s", error) ||
        !check_number(in->setup_s, 0, FALSE, 86400, "setup_s", error) ||
        !check_number(in->resume_s, 0, FALSE, 86400, "resume_s", error))
        return FALSE;

    switch (in->sync_model) {
    case VL_ESTIMATE_SYNC_QEMU:
        return check_number(in->slice_s, 0, TRUE, 10, "slice_s", error);
    case VL_ESTIMATE_SYNC_FULL_PASS:
        return TRUE;
    }
    g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                "Estimate input 'sync_model' has unknown value '%d'",
                (int)in->sync_model);
    return FALSE;
}

/* --- bandwidth ------------------------------------------------------ */

static int
compare_desc(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x < y) - (x > y);
}

/* Expects validated input. */
static double
aggregate_bandwidth(const VlEstimateInput *in)
{
    double lanes[VL_ESTIMATE_MAX_LANES];
    guint per_lane[VL_ESTIMATE_MAX_LANES] = { 0 };
    guint streams = MAX(in->channels, 1);
    double total = 0;
    gsize i;

    memcpy(lanes, in->lane_bps, in->n_lanes * sizeof(double));
    qsort(lanes, in->n_lanes, sizeof(double), compare_desc);

    /* Each TCP stream stays on one lane; a lane with none is idle. */
    for (i = 0; i < streams; i++)
        per_lane[i % in->n_lanes]++;

    for (i = 0; i < in->n_lanes; i++) {
        double lane = in->efficiency * lanes[i];

        if (per_lane[i] == 0)
            continue;
        if (in->channel_cap_bps > 0)
            lane = MIN(lane, per_lane[i] * in->channel_cap_bps);
        total += lane;
    }
    return total;
}

gboolean
vl_estimate_aggregate_bandwidth(const VlEstimateInput *input, double *bps,
                                GError **error)
{
    g_return_val_if_fail(bps != NULL, FALSE);

    if (!vl_estimate_check(input, error))
        return FALSE;
    *bps = aggregate_bandwidth(input);
    return TRUE;
}

/* --- the model ------------------------------------------------------ */

static void
model_init(VlModel *m, const VlEstimateInput *in)
{
    memset(m, 0, sizeof(*m));
    m->M = in->memory_bytes;
    m->Z = in->zero_fraction > 0 ? in->zero_fraction * in->memory_bytes
                                 : in->zero_bytes;
    m->W = in->working_set_bytes > 0 ? in->working_set_bytes : m->M - m->Z;
    /* Samples that level off tell the working set better than a guess:
     * it also sets how many of the pages dirtied in a pass are still
     * waiting in the bitmap (see model_simulate). */
    if (in->n_dirty_samples > 0) {
        const VlEstimateDirtySample *last =
            &in->dirty_samples[in->n_dirty_samples - 1];
        double prev = in->n_dirty_samples >= 2 ? last[-1].bytes : 0;

        if (last->bytes <= prev)
            m->W = MIN(m->W, last->bytes);
    }
    m->P = in->page_size;
    m->h = in->header_bytes;
    m->B = aggregate_bandwidth(in);
    m->D = in->dirty_rate_bps;
    m->samples = in->dirty_samples;
    m->n_samples = in->n_dirty_samples;
    m->time_scale = 1;
    m->T_d = in->max_downtime_s;
    m->steps = in->downtime_steps;
    m->n_steps = in->n_downtime_steps;
    m->iteration_cap = in->iteration_cap;
    m->time_cap = in->time_cap_s;
    m->setup = in->setup_s;
    m->resume = in->resume_s;
    m->slice = in->slice_s;
    m->sync = in->sync_model;
}

static double
model_dirty(const VlModel *m, double t)
{
    const VlEstimateDirtySample *s = m->samples;
    gsize n = m->n_samples;
    double t0 = 0;
    double b0 = 0;
    double v;
    gsize i;

    t *= m->time_scale;
    if (t <= 0)
        return 0;
    if (n == 0)
        return MIN(m->D * t, m->W);

    for (i = 0; i < n; i++) {
        if (t <= s[i].seconds) {
            v = b0 + (s[i].bytes - b0) * (t - t0) / (s[i].seconds - t0);
            return MIN(v, m->W);
        }
        t0 = s[i].seconds;
        b0 = s[i].bytes;
    }

    /* Past the last sample the last segment's slope continues, until the
     * writable working set is all dirty. */
    if (n >= 2) {
        t0 = s[n - 2].seconds;
        b0 = s[n - 2].bytes;
    } else {
        t0 = 0;
        b0 = 0;
    }
    v = s[n - 1].bytes +
        (s[n - 1].bytes - b0) / (s[n - 1].seconds - t0) * (t - s[n - 1].seconds);
    return MIN(v, m->W);
}

/* f'(0): the rate at which a freshly synced guest dirties memory. */
static double
model_initial_rate(const VlModel *m)
{
    if (m->n_samples == 0)
        return m->W > 0 ? m->D * m->time_scale : 0;
    return MIN(m->samples[0].bytes, m->W) / m->samples[0].seconds *
           m->time_scale;
}

/* Data pages carry the page and a header; zero pages a header and a
 * flag byte (QEMU 7.2 save_zero_page). */
static double
wire_bytes(const VlModel *m, double bitmap, double zero)
{
    return (bitmap - zero) * (m->P + m->h) / m->P + zero * (m->h + 1) / m->P;
}

static double
model_downtime(const VlModel *m, guint iteration, double job_s)
{
    double d = m->T_d;
    gsize i;

    for (i = 0; i < m->n_steps; i++) {
        if (iteration >= m->steps[i].after_iteration &&
            job_s >= m->steps[i].after_s)
            d = m->steps[i].downtime_s;
    }
    return d;
}

static double
model_max_downtime(const VlModel *m)
{
    double d = m->T_d;
    gsize i;

    for (i = 0; i < m->n_steps; i++)
        d = MAX(d, m->steps[i].downtime_s);
    return d;
}

static void
add_candidate(double *c, gsize *n, gsize max, double t)
{
    if (*n < max && isfinite(t) && t > 0)
        c[(*n)++] = t;
}

/*
 * g(t) = f(t) - B t is piecewise linear, with corners at the sample
 * times and where f reaches the working set, so its maximum over an
 * interval is at a corner or an end: checking those is exact.
 */
static gboolean
model_has_fixed_point(const VlModel *m, double t_lo, double t_hi)
{
    double cand[2 * VL_ESTIMATE_MAX_DIRTY_SAMPLES + 8];
    gsize n = 0;
    gsize i;
    double t0 = 0;
    double b0 = 0;

    if (!(t_hi > t_lo))
        return FALSE;

    add_candidate(cand, &n, G_N_ELEMENTS(cand), t_hi);
    if (m->n_samples == 0) {
        if (m->D > 0)
            add_candidate(cand, &n, G_N_ELEMENTS(cand),
                          m->W / (m->D * m->time_scale));
    } else {
        for (i = 0; i < m->n_samples; i++) {
            const VlEstimateDirtySample *s = &m->samples[i];
            double slope = (s->bytes - b0) / (s->seconds - t0);

            add_candidate(cand, &n, G_N_ELEMENTS(cand),
                          s->seconds / m->time_scale);
            if (slope > 0 && b0 < m->W)
                add_candidate(cand, &n, G_N_ELEMENTS(cand),
                              (t0 + (m->W - b0) / slope) / m->time_scale);
            t0 = s->seconds;
            b0 = s->bytes;
        }
    }

    if (model_dirty(m, t_lo) > m->B * t_lo)
        return TRUE;
    for (i = 0; i < n; i++) {
        if (cand[i] > t_lo && cand[i] <= t_hi &&
            model_dirty(m, cand[i]) >= m->B * cand[i])
            return TRUE;
    }
    return FALSE;
}

/*
 * One run of the pre-copy loop.  Each turn is one live pass: send until
 * the bitmap drops below the threshold (QEMU 7.2 checks between ~50 ms
 * slices of ram_save_iterate) or empties (full pass), then sync the
 * bitmap and switch over if what is left fits in bandwidth x downtime.
 */
static VlSimEnd
model_simulate(const VlModel *m, VlSimState *s, gboolean fixed_point,
               double *downtime)
{
    guint flat = 0;
    double prev_R = s->R;

    for (;;) {
        double th;
        double cost;
        double sent;
        double wire;
        double dt;
        double fresh;
        double keep;

        if (s->rounds >= VL_ESTIMATE_MAX_ROUNDS)
            return SIM_ROUND_LIMIT;
        if (m->iteration_cap > 0 && s->rounds >= m->iteration_cap)
            return SIM_ITERATION_CAP;

        th = m->B * model_downtime(m, s->iteration, s->t);
        cost = s->R > 0 ? wire_bytes(m, s->R, s->Rz) / s->R : 1;
        if (m->sync == VL_ESTIMATE_SYNC_FULL_PASS) {
            sent = s->R;
        } else {
            double per_slice = m->B * m->slice / cost;
            double slices = s->R > th ? floor((s->R - th) / per_slice) + 1 : 1;

            sent = MIN(s->R, slices * per_slice);
        }
        wire = sent * cost;
        dt = wire / m->B;

        if (m->time_cap > 0 && s->t + dt > m->time_cap) {
            double part = MAX(0, m->time_cap - s->t);

            s->bytes += part * m->B;
            s->R -= part * m->B / cost;
            s->t = m->time_cap;
            return SIM_TIME_CAP;
        }

        keep = s->R > 0 ? (s->R - sent) / s->R : 0;
        s->Rz *= keep;
        s->Rw *= keep;
        s->R -= sent;
        s->t += dt;
        s->since_sync += dt;
        s->bytes += wire;

        /* The sync: pages dirtied since the last one join the bitmap,
         * except those still waiting in it from before. */
        fresh = model_dirty(m, s->since_sync);
        if (m->W > 0)
            fresh *= 1 - MIN(1, s->Rw / m->W);
        s->R += fresh;
        s->Rw += fresh;
        s->since_sync = 0;
        s->iteration++;
        s->rounds++;

        th = m->B * model_downtime(m, s->iteration, s->t);
        if (s->R <= th) {
            double last = wire_bytes(m, s->R, s->Rz);
            double down = last / m->B + m->resume;

            if (m->time_cap > 0 && s->t + down > m->time_cap) {
                s->bytes += MAX(0, m->time_cap - s->t) * m->B;
                s->t = m->time_cap;
                return SIM_TIME_CAP;
            }
            /* ram_save_complete syncs once more with the guest stopped */
            s->bytes += last;
            s->t += down;
            s->iteration++;
            *downtime = down;
            return SIM_CONVERGED;
        }

        if (fixed_point && m->time_cap == 0) {
            flat = s->R >= prev_R * (1 - STALL_EPSILON) ? flat + 1 : 0;
            if (flat >= STALL_ROUNDS)
                return SIM_STALLED;
        }
        prev_R = s->R;
    }
}

static void
sim_start(const VlModel *m, VlSimState *s)
{
    memset(s, 0, sizeof(*s));
    s->R = m->M;
    s->Rz = m->Z;
    s->Rw = m->W;
    s->t = m->setup;
    s->iteration = 1;   /* the sync in ram_save_setup */
}

static double
first_pass_seconds(const VlModel *m)
{
    return wire_bytes(m, m->M, m->Z) / m->B;
}

static void
fill_result(const VlModel *m, const VlSimState *s, VlSimEnd end,
            gboolean fixed_point, double downtime, VlEstimate *r)
{
    memset(r, 0, sizeof(*r));
    r->converges = end == SIM_CONVERGED;
    if (r->converges)
        r->verdict = VL_ESTIMATE_CONVERGES;
    else if (fixed_point)
        r->verdict = VL_ESTIMATE_DIRTY_RATE_ABOVE_BANDWIDTH;
    else if (end == SIM_TIME_CAP)
        r->verdict = VL_ESTIMATE_EXCEEDS_TIME_CAP;
    else if (end == SIM_ITERATION_CAP)
        r->verdict = VL_ESTIMATE_EXCEEDS_ITERATION_CAP;
    else
        r->verdict = VL_ESTIMATE_ROUND_LIMIT;

    r->total_time_s = r->converges ? s->t : INFINITY;
    r->total_time_high_s = r->total_time_s;
    r->downtime_s = r->converges ? downtime : NAN;
    r->live_rounds = s->rounds;
    r->iterations = s->iteration;
    r->bytes_sent = s->bytes;
    r->simulated_s = s->t;
    r->bandwidth_bps = m->B;
    r->initial_rho = model_initial_rate(m) / m->B;
    r->final_remaining_bytes = MAX(0, s->R);
    r->target_s = 0;
    r->min_bandwidth_bps = NAN;
    r->auto_converge_throttle = 0;
    r->postcopy_time_s = NAN;
}

static VlSimEnd
model_run(const VlModel *m, VlSimState *s, gboolean *fixed_point,
          double *downtime)
{
    double t1 = first_pass_seconds(m);

    sim_start(m, s);
    *fixed_point = model_has_fixed_point(m, model_max_downtime(m), t1);
    *downtime = NAN;
    return model_simulate(m, s, *fixed_point, downtime);
}

/* The model of @in, run from the start of the job into @r. */
static void
simulate(const VlEstimateInput *in, VlModel *m, VlEstimate *r)
{
    VlSimState s;
    VlSimEnd end;
    gboolean fixed;
    double down;

    model_init(m, in);
    end = model_run(m, &s, &fixed, &down);
    fill_result(m, &s, end, fixed, down, r);
}

/* Does the job finish within @target (job seconds)? */
static gboolean
model_within(const VlModel *base, double bandwidth, double time_scale,
             double target)
{
    VlModel m = *base;
    VlSimState s;
    gboolean fixed;
    double down;

    m.B = bandwidth;
    m.time_scale = time_scale;
    m.time_cap = base->time_cap > 0 ? MIN(base->time_cap, target) : target;
    return model_run(&m, &s, &fixed, &down) == SIM_CONVERGED &&
           s.t <= target;
}

static double
model_min_bandwidth(const VlModel *m, double target)
{
    double lo = 1;
    double hi = MAX_RATE_BPS;
    guint steps;

    if (!model_within(m, hi, m->time_scale, target))
        return INFINITY;
    if (model_within(m, lo, m->time_scale, target))
        return lo;
    /* Geometric bisection: bandwidths span many orders of magnitude. */
    for (steps = 0; hi / lo > BISECT_RATIO && steps < BISECT_MAX_STEPS; steps++) {
        double mid = sqrt(lo * hi);

        if (model_within(m, mid, m->time_scale, target))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static double
model_throttle_needed(const VlModel *m, double target)
{
    double lo = 0;
    double hi = MAX_THROTTLE;
    guint steps;

    if (!model_within(m, m->B, 1 - hi, target))
        return NAN;
    for (steps = 0; hi - lo > 0.001 && steps < BISECT_MAX_STEPS; steps++) {
        double mid = (lo + hi) / 2;

        if (model_within(m, m->B, 1 - mid, target))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static double
usable_lane_bps(const VlEstimateInput *in)
{
    double sum = 0;
    double lane;
    gsize i;

    for (i = 0; i < in->n_lanes; i++)
        sum += in->lane_bps[i];
    lane = in->efficiency * sum / in->n_lanes;
    if (in->channel_cap_bps > 0)
        lane = MIN(lane, in->channel_cap_bps *
                         MAX(1, in->channels / in->n_lanes));
    return lane;
}

/* The job time with VL_ESTIMATE_DIRTY_MARGIN more dirtying. */
static double
time_with_more_dirtying(const VlEstimateInput *input, double nominal_s)
{
    g_autofree VlEstimateDirtySample *samples = NULL;
    VlEstimateInput hi = *input;
    VlModel m;
    VlEstimate r;
    gsize i;

    if (!(input->dirty_rate_bps > 0) && input->n_dirty_samples == 0)
        return nominal_s;
    hi.dirty_rate_bps *= 1 + VL_ESTIMATE_DIRTY_MARGIN;
    if (input->n_dirty_samples > 0) {
        samples = g_new(VlEstimateDirtySample, input->n_dirty_samples);
        for (i = 0; i < input->n_dirty_samples; i++) {
            samples[i] = input->dirty_samples[i];
            samples[i].bytes *= 1 + VL_ESTIMATE_DIRTY_MARGIN;
        }
        hi.dirty_samples = samples;
    }
    simulate(&hi, &m, &r);
    return r.total_time_s;
}

gboolean
vl_estimate_at_risk(const VlEstimate *estimate, double limit_s)
{
    g_return_val_if_fail(estimate != NULL, FALSE);

    return estimate->converges && estimate->total_time_s <= limit_s &&
        !(estimate->total_time_high_s <= limit_s);
}

gboolean
vl_estimate_run(const VlEstimateInput *input, VlEstimate *result,
                GError **error)
{
    VlModel m;
    VlEstimate r;
    double t1;

    g_return_val_if_fail(result != NULL, FALSE);

    if (!vl_estimate_check(input, error))
        return FALSE;

    simulate(input, &m, &r);
    r.total_time_high_s = time_with_more_dirtying(input, r.total_time_s);

    /* What would make it fit the time cap, or a per-GiB budget. */
    r.target_s = m.time_cap > 0 ? m.time_cap
        : MAX(MIN_BUDGET_S, VL_ESTIMATE_DEFAULT_BUDGET_S_PER_GIB * m.M / GIB);
    r.min_bandwidth_bps = model_min_bandwidth(&m, r.target_s);
    if (isfinite(r.min_bandwidth_bps)) {
        double lanes = ceil(r.min_bandwidth_bps / usable_lane_bps(input));

        r.lanes_needed = lanes > G_MAXUINT ? G_MAXUINT : (guint)MAX(1, lanes);
    }

    if (!r.converges || r.total_time_s > r.target_s) {
        double throttle = model_throttle_needed(&m, r.target_s);

        r.auto_converge_helps = !isnan(throttle);
        r.auto_converge_throttle = r.auto_converge_helps ? throttle : 0;
    }

    /* Post-copy: one full pass, switch, then the pages dirtied during
     * that pass are pulled (at most the working set). */
    t1 = first_pass_seconds(&m);
    r.postcopy_time_s = m.setup + t1 + m.resume +
                        model_dirty(&m, t1) * (m.P + m.h) / m.P / m.B;
    r.postcopy_helps = (!r.converges || r.total_time_s > r.target_s) &&
                       r.postcopy_time_s <= r.target_s;

    *result = r;
    return TRUE;
}

gboolean
vl_estimate_run_from(const VlEstimateInput *input,
                     const VlEstimateState *state, VlEstimate *result,
                     GError **error)
{
    VlModel m;
    VlSimState s;
    VlSimEnd end;
    gboolean fixed;
    double down = NAN;
    double t_hi;

    g_return_val_if_fail(state != NULL, FALSE);
    g_return_val_if_fail(result != NULL, FALSE);

    if (!vl_estimate_check(input, error) ||
        !check_number(state->remaining_bytes, 0, FALSE, input->memory_bytes,
                      "state.remaining_bytes", error) ||
        !check_number(state->zero_fraction, 0, FALSE, 1,
                      "state.zero_fraction", error) ||
        !check_number(state->since_sync_s, 0, FALSE, MAX_SECONDS,
                      "state.since_sync_s", error) ||
        !check_number(state->elapsed_s, 0, FALSE, MAX_SECONDS,
                      "state.elapsed_s", error))
        return FALSE;
    if (state->iteration < 1) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_ESTIMATE,
                            "Estimate input 'state.iteration' must be at least 1, not '0'");
        return FALSE;
    }

    model_init(&m, input);
    m.setup = 0;

    memset(&s, 0, sizeof(s));
    s.R = state->remaining_bytes;
    s.Rz = state->zero_fraction * s.R;
    /* In the first pass the bitmap still holds all of RAM, spread evenly;
     * later it holds mostly pages the guest dirtied, i.e. working set. */
    s.Rw = state->iteration <= 1 ? s.R * (m.W / m.M) : MIN(s.R, m.W);
    s.since_sync = state->since_sync_s;
    s.t = state->elapsed_s;
    s.iteration = state->iteration;
    s.rounds = state->iteration - 1;

    t_hi = state->since_sync_s + wire_bytes(&m, s.R, s.Rz) / m.B;
    fixed = model_has_fixed_point(&m, model_max_downtime(&m),
                                  MAX(t_hi, first_pass_seconds(&m)));
    end = model_simulate(&m, &s, fixed, &down);
    fill_result(&m, &s, end, fixed, down, result);
    return TRUE;
}

static gboolean
check_threshold(double threshold_s, GError **error)
{
    return check_number(threshold_s, 0, TRUE, MAX_SECONDS, "threshold_s",
                        error);
}

gboolean
vl_estimate_min_bandwidth_for(const VlEstimateInput *input,
                              double threshold_s, double *bps,
                              GError **error)
{
    VlModel m;

    g_return_val_if_fail(bps != NULL, FALSE);

    if (!vl_estimate_check(input, error) ||
        !check_threshold(threshold_s, error))
        return FALSE;

    model_init(&m, input);
    *bps = model_min_bandwidth(&m, threshold_s);
    return TRUE;
}

gboolean
vl_estimate_lanes_needed(const VlEstimateInput *input, double lane_bps,
                         guint max_lanes, double threshold_s, guint *lanes,
                         GError **error)
{
    double bw[VL_ESTIMATE_MAX_LANES];
    guint k;

    g_return_val_if_fail(lanes != NULL, FALSE);

    if (!vl_estimate_check(input, error) ||
        !check_threshold(threshold_s, error) ||
        !check_number(lane_bps, 0, TRUE, MAX_RATE_BPS, "lane_bps", error))
        return FALSE;
    if (max_lanes < 1 || max_lanes > VL_ESTIMATE_MAX_LANES) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE,
                    "Estimate input 'max_lanes' must be from 1 to %d, not '%u'",
                    VL_ESTIMATE_MAX_LANES, max_lanes);
        return FALSE;
    }

    for (k = 1; k <= max_lanes; k++) {
        VlEstimateInput in = *input;
        VlModel m;

        bw[k - 1] = lane_bps;
        in.lane_bps = bw;
        in.n_lanes = k;
        if (k > 1)
            in.channels = MAX(in.channels, k);
        model_init(&m, &in);
        if (model_within(&m, m.B, 1, threshold_s)) {
            *lanes = k;
            return TRUE;
        }
    }
    *lanes = 0;
    return TRUE;
}

/* --- for the tests -------------------------------------------------- */

double
vl_estimate_dirtied_bytes(const VlEstimateInput *input, double seconds)
{
    VlModel m;

    model_init(&m, input);
    return model_dirty(&m, seconds);
}

double
vl_estimate_first_pass_wire_bytes(const VlEstimateInput *input)
{
    VlModel m;

    model_init(&m, input);
    return wire_bytes(&m, m.M, m.Z);
}

gboolean
vl_estimate_has_fixed_point(const VlEstimateInput *input, double bps,
                            double t_lo, double t_hi)
{
    VlModel m;

    model_init(&m, input);
    m.B = bps;
    return model_has_fixed_point(&m, t_lo, t_hi);
}
