/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * estimate-model: prints the model's predictions for the lab's recorded
 * migrations (tests/data/estimate/lab-runs.txt) with the bandwidth input
 * taken four ways, then how many estimates per second the model does.
 * A benchmark: it prints tables and asserts nothing.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate.h"
#include "history.h"

#define MIB (1048576.0)
#define GIB (1024 * MIB)
#define MAX_RUNS 64
#define LANE_BPS 25e6           /* 200 Mbit/s */
#define SETUP_S 1.4
#define RESUME_S 0.1

typedef struct {
    double dirty;
    guint lanes;
    guint conns;
    gboolean ok;
    double job_s;
    double mib;
    double mib_s;
    guint iter;
    double down_ms;
    double cap_s;
} Run;

typedef enum {
    BW_MEASURED,    /* the run's own memory_bps */
    BW_LINK,        /* 200 Mbit/s x 0.95 per lane */
    BW_LEARNED,     /* median of the other runs with as many lanes */
} BwSource;

static guint
load_runs(const char *path, Run *runs)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GError) error = NULL;
    guint n = 0;
    guint i;

    if (!g_file_get_contents(path, &text, NULL, &error)) {
        fprintf(stderr, "%s\n", error->message);
        exit(1);
    }
    lines = g_strsplit(text, "\n", -1);
    for (i = 0; lines[i] && n < MAX_RUNS; i++) {
        Run *r = &runs[n];
        char result[8] = "";

        if (lines[i][0] == '#' || lines[i][0] == '\0')
            continue;
        if (sscanf(lines[i], "%lf %u %u %7s %lf %lf %lf %u %lf %lf",
                   &r->dirty, &r->lanes, &r->conns, result, &r->job_s,
                   &r->mib, &r->mib_s, &r->iter, &r->down_ms,
                   &r->cap_s) != 10 || r->lanes < 1 || r->lanes > 8) {
            fprintf(stderr, "%s: bad line '%s'\n", path, lines[i]);
            exit(1);
        }
        r->ok = g_str_equal(result, "ok");
        n++;
    }
    return n;
}

/* What vl_history_learned_bps() would say with all the other runs in the
 * history: leave-one-out, so a run never predicts itself. */
static gboolean
learned_bps(const Run *runs, guint n, guint skip, double *bps)
{
    g_autoptr(VlHistory) h = vl_history_new();
    guint i;

    for (i = 0; i < n; i++) {
        VlHistoryRecord *r;

        if (i == skip || !runs[i].ok)
            continue;
        r = vl_history_record_new();
        r->domain = g_strdup("lab");
        r->lanes = runs[i].lanes;
        r->memory_bps = runs[i].mib_s * MIB;
        g_ptr_array_add(h->records, r);
    }
    return vl_history_learned_bps(h, runs[skip].lanes, 0, bps);
}

static gboolean
predict(const Run *runs, guint n, guint i, BwSource src, double zero_mib,
        VlEstimate *r)
{
    const Run *run = &runs[i];
    double lanes[8];
    double per_lane = run->mib_s * MIB / run->lanes;
    double efficiency = 1;
    VlEstimateInput in;
    guint k;

    if (src == BW_LINK) {
        per_lane = LANE_BPS;
        efficiency = 0.95;
    } else if (src == BW_LEARNED) {
        double bps;

        if (!learned_bps(runs, n, i, &bps))
            return FALSE;
        per_lane = bps / run->lanes;
    }

    vl_estimate_input_init(&in);
    in.memory_bytes = GIB;
    in.zero_bytes = zero_mib * MIB;
    in.working_set_bytes = 768 * MIB;
    in.dirty_rate_bps = run->dirty * MIB;
    for (k = 0; k < run->lanes; k++)
        lanes[k] = per_lane;
    in.lane_bps = lanes;
    in.n_lanes = run->lanes;
    in.channels = run->conns;
    in.efficiency = efficiency;
    in.setup_s = SETUP_S;
    in.resume_s = RESUME_S;
    in.time_cap_s = run->cap_s;
    return vl_estimate_run(&in, r, NULL);
}

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static void
table(const Run *runs, guint n, BwSource src, double zero_mib,
      const char *title)
{
    double errors[MAX_RUNS];
    guint n_err = 0;
    guint wrong = 0;
    double sum = 0;
    guint i;

    printf("\n%s\n", title);
    printf("| dirty MiB/s | lanes x conns | measured job s | model s | error | measured MiB | model MiB | measured it | model it | measured down ms | model down ms | model verdict |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (i = 0; i < n; i++) {
        const Run *run = &runs[i];
        VlEstimate r;
        char err[32] = "–";
        char down[32] = "–";
        char measured_down[32] = "–";

        if (!predict(runs, n, i, src, zero_mib, &r)) {
            printf("| %g | %u x %u | no prediction |\n", run->dirty,
                   run->lanes, run->conns);
            continue;
        }
        if (r.converges != run->ok)
            wrong++;
        if (run->ok && r.converges) {
            double e = (r.total_time_s - run->job_s) / run->job_s;

            errors[n_err++] = fabs(e);
            sum += fabs(e);
            g_snprintf(err, sizeof(err), "%+.1f %%", 100 * e);
            g_snprintf(down, sizeof(down), "%.0f", r.downtime_s * 1000);
        }
        if (run->ok)
            g_snprintf(measured_down, sizeof(measured_down), "%.0f",
                       run->down_ms);
        printf("| %g | %u x %u | %s %.1f | %s %.1f | %s | %.0f | %.0f | %u | %u | %s | %s | %s |\n",
               run->dirty, run->lanes, run->conns,
               run->ok ? "" : "no conv. at", run->ok ? run->job_s : run->cap_s,
               r.converges ? "" : "stop at", r.converges ? r.total_time_s : r.simulated_s,
               err, run->mib, r.bytes_sent / MIB, run->iter, r.iterations,
               measured_down, down,
               vl_estimate_verdict_to_string(r.verdict));
    }
    qsort(errors, n_err, sizeof(double), compare_double);
    if (n_err > 0)
        printf("MAPE %.1f %%, P90 %.1f %% over %u completed runs; %u wrong convergence verdicts\n",
               100 * sum / n_err, 100 * errors[(guint)ceil(0.9 * n_err) - 1],
               n_err, wrong);
}

static void
timing(const Run *runs, guint n)
{
    guint i;

    printf("\nSpeed (one vl_estimate_run, incl. the bisections for what would converge it)\n");
    for (i = 0; i < n; i++) {
        VlEstimate r;
        gint64 start = g_get_monotonic_time();
        guint count = 0;
        double us;

        if (runs[i].dirty != 10 && runs[i].dirty != 30)
            continue;
        do {
            predict(runs, n, i, BW_MEASURED, 173, &r);
            count++;
        } while (g_get_monotonic_time() - start < 300000);
        us = (double)(g_get_monotonic_time() - start) / count;
        printf("  %g MiB/s, %u lanes: %.1f us per estimate (%u rounds simulated)\n",
               runs[i].dirty, runs[i].lanes, us, r.live_rounds);
    }
}

int
main(int argc, char **argv)
{
    Run runs[MAX_RUNS];
    guint n = load_runs(argc > 1 ? argv[1] : VL_LAB_RUNS, runs);

    printf("Model vs. the lab's recorded migrations (1 GiB guest, 768 MiB working set,\n"
           "851 MiB non-zero, 200 Mbit/s lanes, setup %.1f s + resume %.1f s)\n",
           SETUP_S, RESUME_S);
    table(runs, n, BW_MEASURED, 173,
          "A. bandwidth = the run's own memory_bps (aborted runs: MiB / transfer time)");
    table(runs, n, BW_LEARNED, 173,
          "B. bandwidth = median memory_bps of the other completed runs with as many lanes (history, leave-one-out)");
    table(runs, n, BW_LINK, 173,
          "C. bandwidth = 200 Mbit/s x 0.95 per lane, a priori");
    table(runs, n, BW_MEASURED, 256,
          "D. as A, but only the 256 MiB above the working set counted as zero pages");
    timing(runs, n);
    return 0;
}
