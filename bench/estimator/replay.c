/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-estimator-replay RESULTS.jsonl HISTORY.jsonl [CAP_S]
 *     [--fixed-setup]: the runs of
 * one bench/estimator sweep predicted again, in order, by this build's
 * planning code (vl_migrate_lane_plan_compute(), as 'virt-lanes migrate'
 * calls it), each from the history lines of the migrations completed
 * before it and from the inputs the driver had for it (dirty rate, zero
 * RAM).  Nothing of a run's own outcome enters its prediction: this is
 * what the model and the learning of this build would have predicted at
 * the time.  Prints a table, MAPE, P90 (nearest rank) and wrong verdicts.
 *
 * The setup is learned from the history lines before each run, as the
 * driver does (vl_history_learned_job_overhead()); --fixed-setup uses
 * the fixed VL_MIGRATE_SETUP_S instead, to compare the two.
 *
 * The history's lines are matched to the sweep's completed runs by order
 * (one line per completed migration, appended by the source's daemon).
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "migrate.h"
#include "vl-autoptr.h"

#define MIB 1048576.0
#define LANE_BPS (200e6 / 8)

static double
num(json_object *o, const char *key, double fallback)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_double) ||
          json_object_is_type(v, json_type_int)))
        return fallback;
    return json_object_get_double(v);
}

static const char *
str(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return "";
    return json_object_get_string(v);
}

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    static const char *const names[] = { "lane1", "lane2" };
    static const double rates[] = { LANE_BPS, LANE_BPS };
    g_autoptr(GError) error = NULL;
    g_autoptr(VlHistory) all = NULL;
    g_autoptr(VlHistory) before = vl_history_new();
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    double errors[64];
    gboolean fixed_setup = argc > 1 && g_str_equal(argv[argc - 1], "--fixed-setup");
    int nargs = fixed_setup ? argc - 1 : argc;
    double cap = nargs > 3 ? g_ascii_strtod(argv[3], NULL) : 240;
    double memory = 1073741824.0;
    guint n_err = 0;
    guint judged = 0;
    guint wrong = 0;
    guint next = 0;
    gsize i;

    if (nargs < 3 || nargs > 4 || !(cap > 0)) {
        fprintf(stderr, "usage: %s RESULTS.jsonl HISTORY.jsonl [CAP_S] [--fixed-setup]\n", argv[0]);
        return 2;
    }
    if (!g_file_get_contents(argv[1], &text, NULL, &error) ||
        !(all = vl_history_load(argv[2], &error))) {
        fprintf(stderr, "%s\n", error->message);
        return 1;
    }
    lines = g_strsplit(text, "\n", -1);
    printf("| label | dirty MiB/s | lanes | learned MiB/s | predicted s (as run) | predicted s (replay) | measured s | error as run | error replay | verdict replay | result |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (i = 0; lines[i]; i++) {
        g_autoptr(json_object) o = NULL;
        g_autoptr(VlMigrateLanePlan) plan = NULL;
        g_autoptr(GError) plan_error = NULL;
        const VlMigrateLaneStep *step;
        double learned[VL_PLAN_LANES_MAX + 1];
        VlMigratePlanInput in;
        const char *result;
        double measured;
        double as_run;
        gboolean ok;
        gboolean within;
        gboolean at_risk;
        guint lanes;
        guint k;

        if (!*lines[i])
            continue;
        if (!(o = json_tokener_parse(lines[i])))
            continue;
        result = str(o, "result");
        ok = g_str_equal(result, "ok");
        lanes = (guint)num(o, "lanes", 0);
        if (ok && next < all->records->len)
            memory = ((VlHistoryRecord *)g_ptr_array_index(all->records, next))->memory_bytes;

        for (k = 0; k < G_N_ELEMENTS(learned); k++) {
            learned[k] = NAN;
            vl_history_learned_bps(before, k, 0, &learned[k]);
        }
        vl_migrate_plan_input_init(&in);
        in.memory_bytes = memory;
        in.zero_bytes = num(o, "zero_mib", 0) * MIB;
        in.dirty_rate_bps = num(o, "dirty_mibs", 0) * MIB;
        in.base_bps = LANE_BPS;
        in.lane_names = names;
        in.lane_bps = rates;
        in.n_lanes = 2;
        in.learned_bps = learned;
        in.n_learned = G_N_ELEMENTS(learned);
        in.max_links = lanes + 1;
        in.channels_per_link = 2;
        in.threshold_s = 1;
        if (!fixed_setup)
            vl_history_learned_job_overhead(before, 0, &in.overhead_s);
        if (!(plan = vl_migrate_lane_plan_compute(&in, &plan_error))) {
            fprintf(stderr, "line %zu: %s\n", i + 1, plan_error->message);
            return 1;
        }
        step = NULL;
        for (k = 0; k < plan->steps->len; k++) {
            const VlMigrateLaneStep *s = g_ptr_array_index(plan->steps, k);

            if (s->links == lanes + 1)
                step = s;
        }
        if (!step) {
            fprintf(stderr, "line %zu: the plan stopped before %u links\n", i + 1,
                    lanes + 1);
            return 1;
        }
        measured = ok ? num(o, "measured_s", NAN) : NAN;
        as_run = num(o, "predicted_s", NAN);
        /* "At risk" (within the cap at the measured dirty rate, not with
         * VL_ESTIMATE_DIRTY_MARGIN more) counts as "may not finish". */
        at_risk = vl_estimate_at_risk(&step->estimate, cap);
        within = step->estimate.converges && step->estimate.total_time_s <= cap &&
            !at_risk;

        if (g_str_equal(str(o, "label"), "run")) {
            if (ok && n_err < G_N_ELEMENTS(errors))
                errors[n_err++] = fabs(step->estimate.total_time_s - measured) / measured;
            if (ok || g_str_equal(result, "not done at the cap")) {
                judged++;
                wrong += within != ok;
            }
        }
        printf("| %s | %g | %u | %.1f%s | %.1f | %.1f | %.1f | %+.1f %% | %+.1f %% | %s | %s |\n",
               str(o, "label"), num(o, "rate", NAN), lanes,
               step->bandwidth_bps / MIB, step->learned ? " (history)" : " (declared)",
               as_run, step->estimate.total_time_s, measured,
               100 * (as_run - measured) / measured,
               100 * (step->estimate.total_time_s - measured) / measured,
               within ? "within cap" : at_risk ? "at risk" : "exceeds cap", result);

        /* This run's line joins the history only after its prediction. */
        if (ok && next < all->records->len) {
            VlHistoryRecord *r = g_ptr_array_index(all->records, next++);
            VlHistoryRecord *copy = vl_history_record_new();

            *copy = *r;
            copy->domain = g_strdup(r->domain);
            g_ptr_array_add(before->records, copy);
        }
    }
    if (next != all->records->len)
        fprintf(stderr, "warning: %u completed runs but %u history lines\n", next,
                all->records->len);
    if (n_err > 0) {
        double sum = 0;

        qsort(errors, n_err, sizeof(double), compare_double);
        for (i = 0; i < n_err; i++)
            sum += errors[i];
        printf("\nReplay: MAPE %.1f %%, P90 %.1f %% over %u completed runs; %u wrong verdicts of %u\n",
               100 * sum / n_err, 100 * errors[(gsize)ceil(0.9 * n_err) - 1], n_err,
               wrong, judged);
    }
    return 0;
}
