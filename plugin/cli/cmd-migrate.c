/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt-lanes migrate: estimate, bring lanes up, migrate over them with
 * multifd channels, show progress, take the lanes down, record the run.
 * The logic lives in plugin/core/migrate.c; this file parses arguments,
 * gathers the inputs from libvirt, the policy and the history, and
 * prints.  docs/lanes.md describes the command.
 */
#include <config.h>

#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "cli-output.h"
#include "commands.h"
#include "dirtyrate.h"
#include "ipc.h"
#include "migrate.h"
#include "policy.h"
#include "virt-error.h"
#include "vl-autoptr.h"
#include "vl-virt-autoptr.h"

#define MIB (1048576.0)
/* The "lanes" query is answered at once; only a wedged daemon waits. */
#define LANES_QUERY_TIMEOUT_MS 3000
/* Default dirty-rate measurement: page sampling is noisy at 1 s. */
#define DIRTY_SAMPLE_DEFAULT_S 3
/* How long to look for a daemon's own history record of the run. */
#define HISTORY_WAIT_MS 1000
#define PROGRESS_BAR_WIDTH 24
/* With lanes, a job whose sent bytes do not grow for this long plus two
 * lane_up_max_s is aborted (and retried without lanes). */
#define STALL_ABORT_S 10
/* How often the daemon is asked whether it still holds the lanes, and
 * how often they are asked for again at most. */
#define LANE_WATCH_S 2
#define LANE_REACQUIRE_MAX 3

typedef struct {
    /* options */
    gboolean live;
    gboolean persistent;
    gboolean auto_converge;
    gboolean postcopy;
    gboolean dry_run;
    gboolean json;
    gboolean require_lanes;
    gboolean no_history;
    guint parallel_connections;
    guint64 bandwidth_mib;
    guint max_downtime_ms;
    double threshold_s;         /* 0 = policy */
    gint max_lanes;             /* lanes besides the base path; -1 = policy */
    double dirty_rate_mib;      /* < 0 = measure */
    guint dirty_sample_s;
    gboolean dirty_sample_given;
    char *peer_name;            /* owned, nullable */
    char *policy_path;          /* owned */
    char *history_path;         /* owned */
    const char *domain;
    const char *dest_uri;

    /* run state */
    const VlCliOptions *opts;
    GMainLoop *loop;
    VlMigrateJob *job;
    gboolean interrupted;
    gboolean tty;
    gboolean progress_shown;
    VlMigrateResult result;     /* copied from the done callback */
    GError *result_error;
    guint links;

    /* the lanes watched while the migration runs (borrowed) */
    const VlPeerConfig *peer;
    const VlMigrateLanes *watch_lanes;
    const char *plan_id;
    double lane_up_max_s;
    guint reacquires;
} MigrateRun;

/* ---- arguments ------------------------------------------------------------ */

static gboolean
parse_double(const char *option, const char *text, double min, double max,
             gboolean min_exclusive, double *out, GError **error)
{
    g_autofree char *shown = g_strescape(text, NULL);
    char *end = NULL;
    double v = g_ascii_strtod(text, &end);

    if (!*text || *end || !(min_exclusive ? v > min : v >= min) || !(v <= max)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Option '%s' takes a number %s %g and at most %g, not '%s'",
                    option, min_exclusive ? "above" : "from", min, max, shown);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

/* Returns -1 when parsed, else the exit code. */
static int
parse_args(MigrateRun *run, int argc, char **argv)
{
    g_autoptr(GOptionContext) octx = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *s_parallel = NULL;
    g_autofree char *s_bandwidth = NULL;
    g_autofree char *s_downtime = NULL;
    g_autofree char *s_threshold = NULL;
    g_autofree char *s_max_lanes = NULL;
    g_autofree char *s_dirty = NULL;
    g_autofree char *s_sample = NULL;
    gboolean live = TRUE;
    guint64 n = 0;
    GOptionEntry entries[] = {
        { "live", 0, 0, G_OPTION_ARG_NONE, &live,
          "Live migration (the default)", NULL },
        { "parallel-connections", 0, 0, G_OPTION_ARG_STRING, &s_parallel,
          "multifd channels (rounded up to a multiple of the links; default: the policy's channels_per_lane per link)", "N" },
        { "bandwidth", 0, 0, G_OPTION_ARG_STRING, &s_bandwidth,
          "Cap the migration at this rate", "MiB/s" },
        { "max-downtime", 0, 0, G_OPTION_ARG_STRING, &s_downtime,
          "Downtime limit (default: the policy's max_downtime_ms)", "ms" },
        { "auto-converge", 0, 0, G_OPTION_ARG_NONE, &run->auto_converge,
          "Let QEMU throttle the vCPUs if the migration does not converge", NULL },
        { "postcopy", 0, 0, G_OPTION_ARG_NONE, &run->postcopy,
          "Switch to post-copy after the first pass if the ETA exceeds the threshold", NULL },
        { "persistent", 0, 0, G_OPTION_ARG_NONE, &run->persistent,
          "Define the domain on the destination too", NULL },
        { "threshold", 0, 0, G_OPTION_ARG_STRING, &s_threshold,
          "Wanted upper bound on the migration time (default: the policy's threshold_s)", "S" },
        { "max-lanes", 0, 0, G_OPTION_ARG_STRING, &s_max_lanes,
          "Most lanes to bring up besides the base path, 0-16 (default: the policy's max_lanes)", "N" },
        { "peer", 0, 0, G_OPTION_ARG_STRING, &run->peer_name,
          "The policy's peer to use (default: the one whose uri is DESTURI)", "NAME" },
        { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &run->dry_run,
          "Estimate and print the plan; change nothing", NULL },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &run->json,
          "JSON lines on standard output", NULL },
        { "require-lanes", 0, 0, G_OPTION_ARG_NONE, &run->require_lanes,
          "Refuse to migrate when the plan wants lanes and none comes up", NULL },
        { "dirty-rate", 0, 0, G_OPTION_ARG_STRING, &s_dirty,
          "The guest's dirty rate, instead of measuring it", "MiB/s" },
        { "dirty-sample", 0, 0, G_OPTION_ARG_STRING, &s_sample,
          "Measure the dirty rate over this long (1-60; 0: assume 0; default: the daemon's fresh sample, else 3)", "S" },
        { "policy", 0, 0, G_OPTION_ARG_FILENAME, &run->policy_path,
          "Policy directory or file (default: " VL_POLICYDIR ")", "PATH" },
        { "history", 0, 0, G_OPTION_ARG_FILENAME, &run->history_path,
          "History file (default: " VL_STATEDIR "/history.jsonl)", "FILE" },
        { "no-history", 0, 0, G_OPTION_ARG_NONE, &run->no_history,
          "Neither read nor write the history file", NULL },
        { NULL }
    };

    octx = g_option_context_new("DOMAIN DESTURI - migrate a domain over lanes");
    g_option_context_set_summary(octx,
        "Estimates the migration, brings lanes up while it would exceed the\n"
        "threshold, migrates with multifd channels spread over them, and takes\n"
        "the lanes down again.  Exit status: 0 migrated, 1 failed or cancelled\n"
        "(the guest keeps running here), 2 usage.");
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error))
        return vl_cli_usage(octx, "migrate", error->message);
    run->live = live;
    if (!run->policy_path)
        run->policy_path = g_strdup(VL_POLICYDIR);
    if (!run->history_path)
        run->history_path = g_strdup(VL_STATEDIR "/history.jsonl");
    run->json = run->json || run->opts->json;

    if (argc != 3) {
        g_autofree char *problem = NULL;

        if (argc < 3)
            problem = g_strdup("Expected DOMAIN and DESTURI");
        else {
            g_autofree char *shown = g_strescape(argv[3], NULL);

            problem = g_strdup_printf("Unexpected argument '%s'", shown);
        }
        return vl_cli_usage(octx, "migrate", problem);
    }
    run->domain = argv[1];
    run->dest_uri = argv[2];
    if (!*run->domain || !*run->dest_uri)
        return vl_cli_usage(octx, "migrate", "DOMAIN and DESTURI must not be empty");

    run->dirty_rate_mib = -1;
    run->dirty_sample_s = DIRTY_SAMPLE_DEFAULT_S;
    if (s_parallel) {
        if (!vl_cli_parse_uint("--parallel-connections", s_parallel, 1,
                        VL_MIGRATE_CHANNELS_MAX, &n, &error))
            return vl_cli_usage(octx, "migrate", error->message);
        run->parallel_connections = (guint)n;
    }
    if (s_bandwidth) {
        if (!vl_cli_parse_uint("--bandwidth", s_bandwidth, 1, 1000000, &n, &error))
            return vl_cli_usage(octx, "migrate", error->message);
        run->bandwidth_mib = n;
    }
    if (s_downtime) {
        if (!vl_cli_parse_uint("--max-downtime", s_downtime, 1, 60000, &n, &error))
            return vl_cli_usage(octx, "migrate", error->message);
        run->max_downtime_ms = (guint)n;
    }
    if (s_threshold &&
        !parse_double("--threshold", s_threshold, 0, 86400, TRUE,
                      &run->threshold_s, &error))
        return vl_cli_usage(octx, "migrate", error->message);
    run->max_lanes = -1;
    if (s_max_lanes) {
        if (!vl_cli_parse_uint("--max-lanes", s_max_lanes, 0, VL_PLAN_LANES_MAX,
                        &n, &error))
            return vl_cli_usage(octx, "migrate", error->message);
        run->max_lanes = (gint)n;
    }
    if (s_dirty &&
        !parse_double("--dirty-rate", s_dirty, 0, 1000000, FALSE,
                      &run->dirty_rate_mib, &error))
        return vl_cli_usage(octx, "migrate", error->message);
    if (s_sample) {
        if (!vl_cli_parse_uint("--dirty-sample", s_sample, 0, VL_DIRTYRATE_MAX_PERIOD,
                        &n, &error))
            return vl_cli_usage(octx, "migrate", error->message);
        run->dirty_sample_s = (guint)n;
        run->dirty_sample_given = TRUE;
    }
    if (!run->live && run->postcopy)
        return vl_cli_usage(octx, "migrate", "--postcopy needs a live migration");
    return -1;
}

/* ---- output helpers ---------------------------------------------------------- */

static char *
format_seconds(double s)
{
    return vl_cli_format_seconds(s, "?", "never");
}

/* The message and a warning on stderr (kept off stdout for --json). */
static void
warn(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
warn(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list args;

    va_start(args, fmt);
    msg = g_strdup_vprintf(fmt, args);
    va_end(args);
    fprintf(stderr, "virt-lanes migrate: warning: %s\n", msg);
}

static void
fail_msg(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
fail_msg(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list args;

    va_start(args, fmt);
    msg = g_strdup_vprintf(fmt, args);
    va_end(args);
    fprintf(stderr, "virt-lanes migrate: %s\n", msg);
}

/* libvirt prints every error to stderr by default; ours say more. */
static void
quiet_virt_errors(void *data G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}

/* ---- signals --------------------------------------------------------------------- */

static gboolean
on_signal(gpointer user_data)
{
    MigrateRun *run = user_data;
    g_autoptr(GError) error = NULL;

    run->interrupted = TRUE;
    if (run->job && vl_migrate_job_is_running(run->job)) {
        if (run->tty && run->progress_shown)
            fputc('\n', stderr);
        fprintf(stderr, "virt-lanes migrate: interrupted: aborting the migration job\n");
        if (!vl_migrate_job_cancel(run->job, &error))
            fprintf(stderr, "virt-lanes migrate: %s (trying again)\n", error->message);
    }
    return G_SOURCE_CONTINUE;
}

/* Lets a pending signal be seen between blocking steps. */
static gboolean
check_interrupted(MigrateRun *run)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
    return run->interrupted;
}

/* ---- inputs ------------------------------------------------------------------------ */

static VlPolicy *
load_policy(const char *path, GError **error)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR))
        return vl_policy_load_dir(path, error);
    return vl_policy_load_file(path, error);
}

/* RAM the guest has never written is zero; QEMU's resident size bounds
 * what is not.  0 when unknown. */
static double
guess_zero_bytes(virDomainPtr dom, double memory_bytes)
{
    virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];
    int n = virDomainMemoryStats(dom, stats, VIR_DOMAIN_MEMORY_STAT_NR, 0);
    int i;

    for (i = 0; i < n; i++) {
        if (stats[i].tag == VIR_DOMAIN_MEMORY_STAT_RSS) {
            double rss = stats[i].val * 1024.0;

            return rss < memory_bytes ? memory_bytes - rss : 0;
        }
    }
    return 0;
}

/* A page-sampling measurement over @period seconds, waiting with the
 * main context turning so that Ctrl-C stops it. */
static gboolean
measure_dirty_rate(MigrateRun *run, virDomainPtr dom, guint period,
                   double *bps, GError **error)
{
    gint64 deadline;
    VlDirtyRateSample sample;

    if (!vl_dirtyrate_start(dom, (int)period, error))
        return FALSE;
    deadline = g_get_monotonic_time() + (period + 10) * G_USEC_PER_SEC;
    g_usleep(period * G_USEC_PER_SEC / 2);
    while (g_get_monotonic_time() < deadline) {
        if (check_interrupted(run)) {
            g_set_error(error, VL_ERROR, VL_ERROR_FAILED, "Interrupted");
            return FALSE;
        }
        if (!vl_dirtyrate_query(dom, &sample, error))
            return FALSE;
        if (sample.status == VL_DIRTYRATE_MEASURED && sample.has_rate &&
            sample.period_s == (int)period) {
            *bps = sample.bytes_per_second;
            return TRUE;
        }
        g_usleep(200 * 1000);
    }
    g_set_error(error, VL_ERROR, VL_ERROR_TIMEOUT,
                "The dirty-rate measurement did not finish within %u s",
                period + 10);
    return FALSE;
}

/* ---- printing the plan ----------------------------------------------------------- */

static void
print_plan_text(const VlMigrateLanePlan *plan, double memory_bytes,
                double dirty_bps, double threshold_s, const char *domain)
{
    g_autofree char *name = vl_cli_shown(domain);
    const VlMigrateLaneStep *pick = vl_migrate_lane_plan_get_chosen(plan);
    guint i;

    printf("Estimate for '%s': %.0f MiB, dirty rate %.1f MiB/s, threshold %.0f s\n",
           name, memory_bytes / MIB, dirty_bps / MIB, threshold_s);
    for (i = 0; i < plan->steps->len; i++) {
        const VlMigrateLaneStep *s = g_ptr_array_index(plan->steps, i);
        g_autofree char *what = s->added_lane ?
            g_strdup_printf("+%s", s->added_lane) : g_strdup("base path");
        g_autofree char *added = vl_cli_shown(what);
        g_autofree char *predicted = format_seconds(s->predicted_s);
        g_autofree char *downtime = s->estimate.converges ?
            g_strdup_printf("%.0f ms", s->estimate.downtime_s * 1000) :
            g_strdup("-");

        printf("  %s %2u link%s %-12s %3u channels  %6.1f MiB/s%s  %9s  downtime %7s  %s%s\n",
               i == plan->chosen ? "*" : " ", s->links,
               s->links == 1 ? " " : "s", added, s->channels,
               s->bandwidth_bps / MIB, s->learned ? " (learned)" : "",
               predicted, downtime,
               vl_estimate_verdict_to_string(s->estimate.verdict),
               s->within_threshold ? ", within the threshold" : "");
    }
    printf("Plan: %u link%s, %u channels (%s)\n", pick->links,
           pick->links == 1 ? "" : "s", pick->channels,
           vl_migrate_stop_reason_to_string(plan->stop_reason));
}

/* ---- progress ------------------------------------------------------------------- */

static void
on_progress(VlMigrateJob *job G_GNUC_UNUSED, const VlMigrateProgress *p,
            gpointer user_data)
{
    MigrateRun *run = user_data;

    if (run->tty && !run->json) {
        char bar[PROGRESS_BAR_WIDTH + 1];
        int filled = (int)(p->percent / 100.0 * PROGRESS_BAR_WIDTH);
        g_autofree char *eta = format_seconds(p->eta_s);
        int i;

        filled = CLAMP(filled, 0, PROGRESS_BAR_WIDTH);
        for (i = 0; i < PROGRESS_BAR_WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[PROGRESS_BAR_WIDTH] = '\0';
        fprintf(stderr, "\r[%s] %3.0f%%  %6.1f MiB/s  ETA %-8s  pass %" G_GUINT64_FORMAT
                "  %u link%s%s   ",
                bar, p->percent,
                isnan(p->bandwidth_bps) ? 0.0 : p->bandwidth_bps / MIB, eta,
                p->iteration, run->links, run->links == 1 ? "" : "s",
                p->postcopy ? "  post-copy" : "");
        fflush(stderr);
        run->progress_shown = TRUE;
    } else {
        g_autoptr(json_object) obj = vl_cli_json_event("progress");

        json_object_object_add(obj, "elapsed_s", vl_cli_json_num(p->elapsed_s));
        json_object_object_add(obj, "percent", vl_cli_json_num(p->percent));
        json_object_object_add(obj, "processed_bytes",
                               json_object_new_int64((gint64)MIN(p->processed_bytes, G_MAXINT64)));
        json_object_object_add(obj, "remaining_bytes",
                               json_object_new_int64((gint64)MIN(p->remaining_bytes, G_MAXINT64)));
        json_object_object_add(obj, "bandwidth_bps", vl_cli_json_num(p->bandwidth_bps));
        json_object_object_add(obj, "eta_s", vl_cli_json_num(p->eta_s));
        json_object_object_add(obj, "dirty_rate_bps", vl_cli_json_num(p->dirty_rate_bps));
        json_object_object_add(obj, "iteration",
                               json_object_new_int64((gint64)MIN(p->iteration, G_MAXINT64)));
        json_object_object_add(obj, "verdict",
                               json_object_new_string(vl_eta_verdict_to_string(p->verdict)));
        json_object_object_add(obj, "links", json_object_new_int(run->links));
        json_object_object_add(obj, "postcopy", json_object_new_boolean(p->postcopy));
        vl_cli_print_json(obj);
    }
}

static void
on_done(VlMigrateJob *job G_GNUC_UNUSED, const VlMigrateResult *result,
        gpointer user_data)
{
    MigrateRun *run = user_data;

    run->result = *result;
    run->result.error = NULL;
    run->result_error = result->error ? g_error_copy(result->error) : NULL;
    if (run->tty && run->progress_shown)
        fputc('\n', stderr);
    g_main_loop_quit(run->loop);
}

/* ---- lane counters --------------------------------------------------------------- */

static gboolean
read_tx_bytes(const char *interface, guint64 *bytes)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;

    if (strchr(interface, '/') || g_str_equal(interface, ".") ||
        g_str_equal(interface, ".."))
        return FALSE;
    path = g_build_filename("/sys/class/net", interface, "statistics",
                            "tx_bytes", NULL);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return FALSE;
    return g_ascii_string_to_unsigned(g_strstrip(text), 10, 0, G_MAXUINT64,
                                      bytes, NULL);
}

/* ---- the command -------------------------------------------------------------------- */

static void
lanes_down(MigrateRun *run, const char *plan_id, double lane_up_max_s,
           gboolean quiet)
{
    g_autoptr(GError) error = NULL;
    guint n_down = 0;

    if (vl_migrate_lanes_down(vl_migrate_daemon_call_socket,
                              (gpointer)run->opts->socket_path, plan_id,
                              vl_migrate_lanes_timeout_ms(lane_up_max_s),
                              &n_down, &error)) {
        if (!run->json && n_down > 0)
            printf("Lanes down: %u\n", n_down);
    } else if (!quiet) {
        warn("Taking the lanes of plan '%s' down failed: %s", plan_id,
             error->message);
    }
}

static void
print_summary(MigrateRun *run, const VlMigrateLanes *lanes, guint channels,
              double predicted_s, const guint64 *tx_before)
{
    const VlMigrateResult *r = &run->result;
    const VlMigrateJobStats *st = r->has_completed ? &r->completed :
                                  r->has_last ? &r->last : NULL;
    double job_s = st ? st->sample.time_elapsed_ms / 1000.0 : NAN;
    double mib = st ? st->sample.memory_processed / MIB : NAN;
    double bps = st && st->sample.memory_bps > 0 ? st->sample.memory_bps :
                 (st && job_s > 0 ? st->sample.memory_processed / job_s : NAN);
    double downtime = st ? st->downtime_ms : NAN;
    double error_pct = isfinite(predicted_s) && job_s > 0 ?
                       100.0 * (predicted_s - job_s) / job_s : NAN;
    g_autoptr(json_object) obj = vl_cli_json_event("summary");
    json_object *per_lane = json_object_new_array();
    g_autofree char *name = vl_cli_shown(run->domain);
    GString *lane_text = g_string_new(NULL);
    guint i;

    for (i = 0; lanes && i < lanes->up->len; i++) {
        const VlLaneConfig *lane = g_ptr_array_index(lanes->up, i);
        json_object *o = json_object_new_object();
        guint64 now = 0;

        json_object_object_add(o, "interface", json_object_new_string(lane->interface));
        if (read_tx_bytes(lane->interface, &now) && now >= tx_before[i]) {
            json_object_object_add(o, "tx_bytes",
                                   json_object_new_int64((gint64)MIN(now - tx_before[i],
                                                                     G_MAXINT64)));
            g_string_append_printf(lane_text, "%s%s %.0f MB", lane_text->len ? ", " : "",
                                   lane->interface, (now - tx_before[i]) / 1e6);
        } else {
            json_object_object_add(o, "tx_bytes", NULL);
        }
        json_object_array_add(per_lane, o);
    }

    json_object_object_add(obj, "domain", json_object_new_string(run->domain));
    json_object_object_add(obj, "outcome",
                           json_object_new_string(vl_migrate_outcome_to_string(r->outcome)));
    json_object_object_add(obj, "error", run->result_error ?
                           json_object_new_string(run->result_error->message) : NULL);
    json_object_object_add(obj, "wall_s", vl_cli_json_num(r->wall_s));
    json_object_object_add(obj, "job_s", vl_cli_json_num(job_s));
    json_object_object_add(obj, "processed_mib", vl_cli_json_num(mib));
    json_object_object_add(obj, "mib_per_s", vl_cli_json_num(bps / MIB));
    json_object_object_add(obj, "downtime_ms", vl_cli_json_num(downtime));
    json_object_object_add(obj, "iterations", st ?
                           json_object_new_int64((gint64)MIN(st->sample.memory_iteration,
                                                             G_MAXINT64)) : NULL);
    json_object_object_add(obj, "links", json_object_new_int(run->links));
    json_object_object_add(obj, "channels", json_object_new_int(channels));
    json_object_object_add(obj, "lanes", per_lane);
    json_object_object_add(obj, "predicted_s", vl_cli_json_num(predicted_s));
    json_object_object_add(obj, "prediction_error_pct", vl_cli_json_num(error_pct));

    if (run->json) {
        vl_cli_print_json(obj);
    } else if (r->outcome == VL_MIGRATE_OUTCOME_COMPLETED) {
        g_autofree char *wall = format_seconds(r->wall_s);
        g_autofree char *job = format_seconds(job_s);
        g_autofree char *pred = format_seconds(predicted_s);

        printf("Migrated '%s' in %s (job %s): %.0f MiB at %.1f MiB/s, downtime %.0f ms, %" G_GUINT64_FORMAT " passes\n",
               name, wall, job, mib, bps / MIB, downtime,
               st ? st->sample.memory_iteration : 0);
        printf("  links: %u, channels: %u%s%s\n", run->links, channels,
               lane_text->len ? "; sent on lanes: " : "", lane_text->str);
        if (isfinite(error_pct))
            printf("  predicted %s, actual %s (%+.0f %%)\n", pred, job, error_pct);
        else
            printf("  predicted %s, actual %s\n", pred, job);
    }
    g_string_free(lane_text, TRUE);
}

static void
record_history(MigrateRun *run, gint64 started, double dirty_bps,
               guint channels, double predicted_s)
{
    g_autoptr(VlHistoryRecord) record = NULL;
    g_autoptr(GError) error = NULL;
    gint64 deadline = g_get_monotonic_time() + HISTORY_WAIT_MS * 1000;
    const VlMigrateResult *r = &run->result;

    if (run->no_history || r->outcome != VL_MIGRATE_OUTCOME_COMPLETED ||
        !r->has_completed)
        return;

    /* A daemon that records completed migrations itself (on the
     * job-completed event) must not get a second line for this run. */
    for (;;) {
        g_autoptr(VlHistory) history = vl_history_load(run->history_path, NULL);

        if (history && vl_migrate_history_has_record(history, run->domain, started)) {
            g_debug("The daemon recorded the migration in '%s'", run->history_path);
            return;
        }
        if (g_get_monotonic_time() >= deadline)
            break;
        g_usleep(200 * 1000);
    }

    if (isfinite(r->progress.dirty_rate_bps) && r->progress.dirty_rate_bps > 0)
        dirty_bps = r->progress.dirty_rate_bps;
    record = vl_migrate_history_record_new(run->domain, g_get_real_time() / G_USEC_PER_SEC,
                                           &r->completed, dirty_bps, run->links,
                                           channels, predicted_s);
    if (!vl_history_append(run->history_path, record, 0, &error))
        warn("Not recorded in the history: %s", error->message);
}

/* While the migration runs: a daemon that was killed and started again
 * has torn down the lanes of its journal under it, and the connections
 * steered onto them stall (even an abort does not end such a QEMU 7.2
 * migration).  Asking for the same lanes again brings the paths back. */
static gboolean
lane_watch(gpointer user_data)
{
    MigrateRun *run = user_data;
    g_autoptr(json_object) request = vl_ipc_message_new("lanes");
    g_autoptr(json_object) reply = NULL;
    g_autoptr(VlMigrateLanes) again = NULL;
    g_autoptr(GHashTable) others = NULL;
    g_autoptr(GError) error = NULL;
    guint i;

    reply = vl_ipc_call(run->opts->socket_path, request, LANES_QUERY_TIMEOUT_MS, NULL);
    if (vl_migrate_lanes_check(reply, run->watch_lanes) != VL_MIGRATE_LANES_LOST ||
        run->reacquires >= LANE_REACQUIRE_MAX)
        return G_SOURCE_CONTINUE;

    run->reacquires++;
    if (run->tty && run->progress_shown)
        fputc('\n', stderr);
    warn("virt-lanesd no longer holds the lanes of plan '%s' (restarted?): asking for them again",
         run->plan_id);
    others = g_hash_table_new(g_str_hash, g_str_equal);
    for (i = 0; i < run->peer->lanes->len; i++) {
        VlLaneConfig *lane = g_ptr_array_index(run->peer->lanes, i);

        if (!g_ptr_array_find(run->watch_lanes->up, lane, NULL))
            g_hash_table_add(others, lane->interface);
    }
    again = vl_migrate_lanes_up(vl_migrate_daemon_call_socket,
                                (gpointer)run->opts->socket_path, run->plan_id,
                                run->peer, run->watch_lanes->up->len, others,
                                vl_migrate_lanes_timeout_ms(run->lane_up_max_s),
                                &error);
    if (!again)
        warn("The lanes did not come back: %s", error->message);
    else if (again->up->len < run->watch_lanes->up->len || again->steering_error)
        warn("Only %u of %u lanes came back", again->up->len, run->watch_lanes->up->len);
    else
        warn("The lanes are back");
    return G_SOURCE_CONTINUE;
}

/* One migration attempt: parameters, the job, the main loop until it
 * ends.  The outcome is in run->result and run->result_error; FALSE only
 * when the attempt could not start. */
static gboolean
run_job(MigrateRun *run, virDomainPtr dom, const VlMigrateSettings *settings,
        const VlMigrateJobConfig *job_config, const char *mig_uri,
        const char *dest_xml, const char *xml, guint channels,
        const char *peer_name, GError **error)
{
    g_autofree char *name = vl_cli_shown(run->domain);
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned int flags = 0;
    guint watch_id = 0;
    gpointer lv;

    if (!vl_migrate_build_params(settings, mig_uri, dest_xml, xml, channels,
                                 &params, &nparams, &flags, error))
        return FALSE;
    if (check_interrupted(run)) {
        g_set_error(error, VL_ERROR, VL_ERROR_FAILED,
                    "Interrupted before the migration started; '%s' still runs here", name);
        virTypedParamsFree(params, nparams);
        return FALSE;
    }

    lv = vl_migrate_libvirt_new(dom, run->dest_uri, params, nparams, flags);
    run->job = vl_migrate_job_new(vl_migrate_libvirt_ops(), lv, job_config);
    run->loop = g_main_loop_new(NULL, FALSE);
    run->progress_shown = FALSE;
    if (!run->json)
        printf("Migrating '%s' to '%s' over %u link%s with %u channels\n", name,
               peer_name, run->links, run->links == 1 ? "" : "s", channels);
    fflush(stdout);
    vl_migrate_job_start(run->job, on_progress, on_done, run);
    if (run->interrupted)
        vl_migrate_job_cancel(run->job, NULL);
    if (dest_xml && run->watch_lanes && run->links > 1)
        watch_id = g_timeout_add_seconds(LANE_WATCH_S, lane_watch, run);
    g_main_loop_run(run->loop);
    g_clear_handle_id(&watch_id, g_source_remove);
    g_clear_pointer(&run->job, vl_migrate_job_free);
    g_clear_pointer(&run->loop, g_main_loop_unref);
    vl_migrate_libvirt_free(lv);
    return TRUE;
}

/* Everything after parsing.  Returns the exit code. */
static int
migrate_main(MigrateRun *run)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = NULL;
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(VlHistory) history = NULL;
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    g_autoptr(GHashTable) unavailable = NULL;
    g_autoptr(VlMigrateLanes) lanes = NULL;
    g_autoptr(VlMigrationPlan) dest_plan = NULL;
    g_autoptr(json_object) lanes_reply = NULL;
    g_autoptr(json_object) request = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autoptr(GArray) lane_bps = g_array_new(FALSE, FALSE, sizeof(double));
    g_autofree char *plan_id = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *dest_xml = NULL;
    g_autofree char *mig_uri = NULL;
    g_autofree char *host = NULL;
    g_autofree char *name = vl_cli_shown(run->domain);
    g_autofree guint64 *tx_before = NULL;
    double learned[VL_PLAN_LANES_MAX + 1];
    VlMigrationPolicy *m;
    VlPeerConfig *peer;
    VlMigratePlanInput in;
    VlMigrateSettings settings;
    VlMigrateJobConfig job_config;
    virDomainInfo info;
    unsigned char uuid[VIR_UUID_BUFLEN];
    double memory_bytes;
    double zero_bytes;
    double dirty_bps = 0;
    double base_bps = 0;
    double predicted_s = NAN;
    double overhead_s = NAN;    /* learned from the history, NAN unknown */
    gboolean daemon_up = TRUE;
    gboolean from_daemon = FALSE;
    gboolean lanes_requested = FALSE;
    guint max_links;
    guint channels;
    guint i;
    gint64 started;
    int ret = 1;

    /* The policy: which peer, which lanes, what bounds. */
    if (!(policy = load_policy(run->policy_path, &error))) {
        fail_msg("%s", error->message);
        return 1;
    }
    m = policy->migration;
    /* The policy is the admin's standing word on what a migration may
     * do to a guest; a flag on one command line does not override it. */
    if (run->postcopy && !m->allow_postcopy) {
        fail_msg("--postcopy: the policy in '%s' does not allow post-copy (set \"allow_postcopy\": true under \"migration\")",
                 run->policy_path);
        return 1;
    }
    if (run->auto_converge && !m->allow_auto_converge) {
        fail_msg("--auto-converge: the policy in '%s' does not allow auto-converge (set \"allow_auto_converge\": true under \"migration\")",
                 run->policy_path);
        return 1;
    }
    if (!(peer = vl_migrate_find_peer(m, run->dest_uri, run->peer_name, &error))) {
        fail_msg("%s", error->message);
        return 1;
    }
    /* The policy's max_lanes counts lanes besides the base path, as the
     * daemon's "lanes-up" does; the plan counts links. */
    max_links = 1 + (run->max_lanes >= 0 ? (guint)run->max_lanes : m->max_lanes);
    max_links = MIN(max_links, peer->lanes->len + 1);
    if (!peer->migration_address) {
        warn("Peer '%s' has no migration_address in the policy: no lanes, libvirt picks the migration address",
             peer->name);
        max_links = 1;
    } else if (!m->migration_address) {
        warn("The policy sets no migration_address for this host: the destination cannot route lanes back, so no lanes");
        max_links = 1;
    }

    /* The guest. */
    if (!(conn = virConnectOpen(run->opts->uri))) {
        vl_error_set_from_virt(&error, "Failed to connect to '%s'", run->opts->uri);
        fail_msg("%s", error->message);
        return 1;
    }
    if (!(dom = virDomainLookupByName(conn, run->domain))) {
        vl_error_set_from_virt(&error, "Failed to find domain '%s' on '%s'", name,
                               run->opts->uri);
        fail_msg("%s", error->message);
        return 1;
    }
    if (virDomainGetInfo(dom, &info) < 0 || virDomainGetUUID(dom, uuid) < 0) {
        vl_error_set_from_virt(&error, "Failed to read the state of '%s'", name);
        fail_msg("%s", error->message);
        return 1;
    }
    if (info.state != VIR_DOMAIN_RUNNING && info.state != VIR_DOMAIN_PAUSED) {
        fail_msg("Domain '%s' is not running", name);
        return 1;
    }
    memory_bytes = info.memory * 1024.0;
    zero_bytes = guess_zero_bytes(dom, memory_bytes);

    /* A daemon that samples dirty rates in the background knows them
     * already (and the guest's zero RAM better than RSS tells). */
    if (run->dirty_rate_mib < 0 && !run->dirty_sample_given) {
        g_autoptr(json_object) est_request = vl_ipc_message_new("estimate");
        g_autoptr(json_object) est_reply = NULL;
        guint got;

        json_object_object_add(est_request, "domain", json_object_new_string(run->domain));
        est_reply = vl_ipc_call(run->opts->socket_path, est_request,
                                LANES_QUERY_TIMEOUT_MS, NULL);
        got = vl_migrate_estimate_inputs(est_reply, &dirty_bps, &zero_bytes);
        if (got & VL_MIGRATE_INPUT_DIRTY)
            from_daemon = TRUE;
        g_debug("virt-lanesd's estimate inputs: %s", got ? "used" : "none");
    }

    if (run->dirty_rate_mib >= 0) {
        dirty_bps = run->dirty_rate_mib * MIB;
    } else if (from_daemon) {
        if (!run->json)
            printf("Dirty rate from virt-lanesd's sampling: %.1f MiB/s\n", dirty_bps / MIB);
    } else if (run->dirty_sample_s > 0) {
        if (!measure_dirty_rate(run, dom, run->dirty_sample_s, &dirty_bps, &error)) {
            if (run->interrupted) {
                fail_msg("Interrupted; nothing was changed");
                return 1;
            }
            warn("Could not measure the dirty rate of '%s' (%s); assuming 0",
                 name, error->message);
            g_clear_error(&error);
            dirty_bps = 0;
        }
    }

    /* What earlier migrations learned. */
    for (i = 0; i < G_N_ELEMENTS(learned); i++)
        learned[i] = NAN;
    if (!run->no_history) {
        if (!(history = vl_history_load(run->history_path, &error))) {
            warn("%s", error->message);
            g_clear_error(&error);
        } else {
            /* learned[i]: over i lanes besides the base path, i + 1 links. */
            for (i = 0; i < G_N_ELEMENTS(learned); i++)
                vl_history_learned_bps(history, i, 0, &learned[i]);
            /* The setup the daemon's estimate learns too. */
            vl_history_learned_job_overhead(history, 0, &overhead_s);
        }
    }

    /* Which lanes could come up at all. */
    request = vl_ipc_message_new("lanes");
    lanes_reply = vl_ipc_call(run->opts->socket_path, request, LANES_QUERY_TIMEOUT_MS,
                              &error);
    if (!lanes_reply) {
        daemon_up = FALSE;
        g_debug("No answer to 'lanes': %s", error->message);
        g_clear_error(&error);
    }
    unavailable = vl_migrate_unavailable_lanes(lanes_reply, peer);
    for (i = 0; i < peer->lanes->len; i++) {
        const VlLaneConfig *lane = g_ptr_array_index(peer->lanes, i);
        const char *why = g_hash_table_lookup(unavailable, lane->interface);
        double bps = lane->bandwidth_mbit * 1e6 / 8;

        if (why) {
            if (!run->json)
                printf("Lane '%s' cannot come up: %s\n", lane->interface, why);
            continue;
        }
        g_ptr_array_add(names, lane->interface);
        g_array_append_val(lane_bps, bps);
    }

    /* The base path's rate. */
    if (peer->base_bandwidth_mbit > 0) {
        base_bps = peer->base_bandwidth_mbit * 1e6 / 8;
    } else if (isfinite(learned[0])) {
        base_bps = learned[0] / VL_MIGRATE_EFFICIENCY;
    } else if (peer->lanes->len > 0) {
        const VlLaneConfig *first = g_ptr_array_index(peer->lanes, 0);

        base_bps = first->bandwidth_mbit * 1e6 / 8;
        if (!run->json)
            printf("Peer '%s' declares no base_bandwidth_mbit: assuming the base path is as fast as '%s' (%g Mbit/s)\n",
                   peer->name, first->interface, first->bandwidth_mbit);
    }

    vl_migrate_plan_input_init(&in);
    in.memory_bytes = memory_bytes;
    in.zero_bytes = zero_bytes;
    in.dirty_rate_bps = dirty_bps;
    in.base_bps = base_bps;
    in.lane_names = (const char *const *)names->pdata;
    in.lane_bps = (const double *)lane_bps->data;
    in.n_lanes = names->len;
    in.learned_bps = learned;
    in.n_learned = G_N_ELEMENTS(learned);
    in.max_links = max_links;
    in.channels_per_link = m->channels_per_lane;
    in.requested_channels = run->parallel_connections;
    in.threshold_s = run->threshold_s > 0 ? run->threshold_s : m->threshold_s;
    in.lane_up_s = m->lane_up_max_s;
    in.max_downtime_s = (run->max_downtime_ms ? run->max_downtime_ms :
                         m->max_downtime_ms) / 1000.0;
    in.bandwidth_cap_bps = run->bandwidth_mib * MIB;
    in.overhead_s = overhead_s;

    if (base_bps > 0) {
        if (!(plan = vl_migrate_lane_plan_compute(&in, &error))) {
            fail_msg("Cannot estimate the migration of '%s': %s", name, error->message);
            return 1;
        }
        if (run->json) {
            g_autoptr(json_object) obj = vl_cli_json_event("plan");

            json_object_object_add(obj, "domain", json_object_new_string(run->domain));
            json_object_object_add(obj, "peer", json_object_new_string(peer->name));
            json_object_object_add(obj, "memory_bytes", vl_cli_json_num(memory_bytes));
            json_object_object_add(obj, "zero_bytes", vl_cli_json_num(zero_bytes));
            json_object_object_add(obj, "dirty_rate_bps", vl_cli_json_num(dirty_bps));
            json_object_object_add(obj, "threshold_s", vl_cli_json_num(in.threshold_s));
            json_object_object_add(obj, "daemon", json_object_new_boolean(daemon_up));
            json_object_object_add(obj, "plan", vl_migrate_lane_plan_to_json(plan));
            vl_cli_print_json(obj);
        } else {
            print_plan_text(plan, memory_bytes, dirty_bps, in.threshold_s, run->domain);
        }
        predicted_s = vl_migrate_lane_plan_get_chosen(plan)->estimate.total_time_s;
    } else if (!run->json) {
        printf("No rate known for the base path to '%s' (no base_bandwidth_mbit, no history, no lanes): not estimating\n",
               peer->name);
    }

    if (run->dry_run)
        return 0;
    if (check_interrupted(run)) {
        fail_msg("Interrupted; nothing was changed");
        return 1;
    }

    /* Lanes. */
    plan_id = vl_migrate_plan_id_new(run->domain, g_get_real_time() / G_USEC_PER_SEC,
                                     (guint)getpid());
    if (plan && vl_migrate_lane_plan_get_chosen(plan)->links > 1) {
        guint want = vl_migrate_lane_plan_get_chosen(plan)->links - 1;

        if (!daemon_up) {
            if (run->require_lanes) {
                fail_msg("The plan wants %u lane%s but virt-lanesd does not answer at '%s' (--require-lanes): not migrating",
                         want, want == 1 ? "" : "s", run->opts->socket_path);
                return 1;
            }
            warn("virt-lanesd does not answer at '%s': migrating over the base path only",
                 run->opts->socket_path);
        } else {
            lanes_requested = TRUE;
            lanes = vl_migrate_lanes_up(vl_migrate_daemon_call_socket,
                                        (gpointer)run->opts->socket_path, plan_id,
                                        peer, want, unavailable,
                                        vl_migrate_lanes_timeout_ms(m->lane_up_max_s),
                                        &error);
            if (!lanes) {
                if (run->require_lanes) {
                    fail_msg("Lanes did not come up (%s) and --require-lanes is set: not migrating",
                             error->message);
                    lanes_down(run, plan_id, m->lane_up_max_s, TRUE);
                    return 1;
                }
                warn("Lanes did not come up (%s): migrating over the base path only",
                     error->message);
                g_clear_error(&error);
            } else {
                for (i = 0; i < lanes->outcomes->len; i++) {
                    VlMigrateLaneOutcome *o = g_ptr_array_index(lanes->outcomes, i);

                    if (o->error)
                        warn("Lane '%s' did not come up: %s", o->interface, o->error);
                }
                if (lanes->steering_error)
                    warn("Lanes are up but connections cannot be steered over them (%s): migrating over the base path only",
                         lanes->steering_error);
                if (lanes->up->len == 0 && run->require_lanes) {
                    fail_msg("No lane came up and --require-lanes is set: not migrating");
                    lanes_down(run, plan_id, m->lane_up_max_s, TRUE);
                    return 1;
                }
            }
        }
    }
    run->links = vl_migrate_lanes_get_links(lanes);
    channels = vl_migrate_channels_for(run->links, m->channels_per_lane,
                                       run->parallel_connections);
    if (lanes && !run->json) {
        GString *up = g_string_new(NULL);

        for (i = 0; i < lanes->up->len; i++) {
            const VlLaneConfig *lane = g_ptr_array_index(lanes->up, i);

            g_string_append_printf(up, "%s%s", i ? ", " : "", lane->interface);
        }
        printf("Lanes up: %s (%u link%s, %u channels)\n", up->len ? up->str : "none",
               run->links, run->links == 1 ? "" : "s", channels);
        g_string_free(up, TRUE);
    } else if (lanes) {
        g_autoptr(json_object) obj = vl_cli_json_event("lanes");
        json_object *up = json_object_new_array();
        json_object *failed = json_object_new_array();

        for (i = 0; i < lanes->outcomes->len; i++) {
            VlMigrateLaneOutcome *o = g_ptr_array_index(lanes->outcomes, i);
            json_object *f;

            if (!o->error) {
                json_object_array_add(up, json_object_new_string(o->interface));
                continue;
            }
            f = json_object_new_object();
            json_object_object_add(f, "interface", json_object_new_string(o->interface));
            json_object_object_add(f, "error", json_object_new_string(o->error));
            json_object_array_add(failed, f);
        }
        json_object_object_add(obj, "plan_id", json_object_new_string(plan_id));
        json_object_object_add(obj, "up", up);
        json_object_object_add(obj, "failed", failed);
        json_object_object_add(obj, "steering_error", lanes->steering_error ?
                               json_object_new_string(lanes->steering_error) : NULL);
        json_object_object_add(obj, "links", json_object_new_int(run->links));
        json_object_object_add(obj, "channels", json_object_new_int(channels));
        vl_cli_print_json(obj);
    }
    if (plan) {
        /* The prediction for what we actually got. */
        const VlMigrateLaneStep *s = run->links <= plan->steps->len ?
            g_ptr_array_index(plan->steps, run->links - 1) : NULL;

        predicted_s = s ? s->estimate.total_time_s : NAN;
    }

    /* The destination XML and the parameters. */
    if (!(xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE |
                                         VIR_DOMAIN_XML_SECURE))) {
        vl_error_set_from_virt(&error, "Failed to read the XML of '%s'", name);
        goto out;
    }
    if (lanes && run->links > 1) {
        host = vl_migrate_host_label(g_get_host_name());
        dest_plan = vl_migrate_build_plan(plan_id, host, m->migration_address, lanes,
                                          channels);
        if (!(dest_xml = vl_migrate_build_dest_xml(xml, dest_plan, &error)))
            goto out;
    }
    if (peer->migration_address)
        mig_uri = vl_migrate_uri_for_address(peer->migration_address);
    vl_migrate_settings_init(&settings);
    settings.live = run->live;
    settings.persistent = run->persistent;
    settings.auto_converge = run->auto_converge;
    settings.postcopy = run->postcopy;
    settings.bandwidth_mib = run->bandwidth_mib;
    vl_migrate_job_config_init(&job_config);
    job_config.prior_dirty_rate_bps = dirty_bps;
    job_config.max_downtime_ms = run->max_downtime_ms ? run->max_downtime_ms :
                                 m->max_downtime_ms;
    job_config.postcopy_after_s = run->postcopy ? in.threshold_s : 0;
    /* Setup, the destination's lanes (at most 2.5 s) and TCP's first SYN
     * retries fit in this; a channel on a lane the destination did not
     * bring up never moves. */
    job_config.stall_abort_s = run->links > 1 ? STALL_ABORT_S + 2 * m->lane_up_max_s : 0;

    tx_before = g_new0(guint64, lanes ? lanes->up->len + 1 : 1);
    for (i = 0; lanes && i < lanes->up->len; i++) {
        const VlLaneConfig *lane = g_ptr_array_index(lanes->up, i);

        read_tx_bytes(lane->interface, &tx_before[i]);
    }
    if (daemon_up) {
        g_autoptr(GError) announce_error = NULL;

        if (!vl_migrate_announce(vl_migrate_daemon_call_socket,
                                 (gpointer)run->opts->socket_path, run->domain,
                                 run->links, channels, predicted_s, &announce_error))
            warn("virt-lanesd was not told how the migration is carried (%s): its history line may guess",
                 announce_error->message);
    }
    started = g_get_real_time() / G_USEC_PER_SEC;
    run->peer = peer;
    run->watch_lanes = lanes;
    run->plan_id = plan_id;
    run->lane_up_max_s = m->lane_up_max_s;
    if (!run_job(run, dom, &settings, &job_config, mig_uri, dest_xml, xml, channels,
                 peer->name, &error))
        goto out;

    if (run->result.outcome == VL_MIGRATE_OUTCOME_FAILED && run->links > 1 &&
        !run->require_lanes && !run->interrupted) {
        /* The guest still runs here: what failed may be a lane (the
         * destination's side of it above all, which the source cannot
         * see), so try once more without any. */
        warn("The migration over %u links failed (%s); retrying over the base path only",
             run->links, run->result_error->message);
        lanes_down(run, plan_id, m->lane_up_max_s, FALSE);
        lanes_requested = FALSE;
        g_clear_pointer(&dest_plan, vl_migration_plan_free);
        run->watch_lanes = NULL;
        g_clear_pointer(&lanes, vl_migrate_lanes_free);
        g_clear_error(&run->result_error);
        run->links = 1;
        channels = vl_migrate_channels_for(1, m->channels_per_lane,
                                           run->parallel_connections);
        job_config.stall_abort_s = 0;
        if (plan) {
            const VlMigrateLaneStep *base = g_ptr_array_index(plan->steps, 0);

            predicted_s = base->estimate.total_time_s;
        }
        if (!run_job(run, dom, &settings, &job_config, mig_uri, NULL, xml, channels,
                     peer->name, &error))
            goto out;
    }

    switch (run->result.outcome) {
    case VL_MIGRATE_OUTCOME_COMPLETED:
        ret = 0;
        if (run->result.cancel_requested)
            warn("The cancel came too late: '%s' had already switched over", name);
        break;
    case VL_MIGRATE_OUTCOME_CANCELLED:
        fail_msg("Migration of '%s' cancelled; it keeps running on this host (%s)", name,
                 run->result_error->message);
        break;
    case VL_MIGRATE_OUTCOME_FAILED:
        fail_msg("%s", run->result_error->message);
        break;
    }
    if (lanes_requested) {
        lanes_down(run, plan_id, m->lane_up_max_s, FALSE);
        lanes_requested = FALSE;
    }
    if (ret == 0 && dest_plan &&
        !vl_migrate_clear_dest_plan(run->dest_uri, uuid, &error)) {
        warn("%s", error->message);
        g_clear_error(&error);
    }
    print_summary(run, lanes, channels, predicted_s, tx_before);
    record_history(run, started, dirty_bps, channels, predicted_s);

 out:
    if (error) {
        fail_msg("%s", error->message);
        ret = 1;
    }
    if (lanes_requested)
        lanes_down(run, plan_id, m->lane_up_max_s, FALSE);
    g_clear_error(&run->result_error);
    return ret;
}

int
vl_cmd_migrate(const VlCliOptions *opts, int argc, char **argv)
{
    MigrateRun run = { 0 };
    guint sigint_id;
    guint sigterm_id;
    int ret;

    run.opts = opts;
    g_set_prgname("virt-lanes migrate");
    if ((ret = parse_args(&run, argc, argv)) < 0) {
        virSetErrorFunc(NULL, quiet_virt_errors);
        run.tty = isatty(STDERR_FILENO) && isatty(STDOUT_FILENO);
        sigint_id = g_unix_signal_add(SIGINT, on_signal, &run);
        sigterm_id = g_unix_signal_add(SIGTERM, on_signal, &run);
        ret = migrate_main(&run);
        g_source_remove(sigint_id);
        g_source_remove(sigterm_id);
    }
    g_free(run.peer_name);
    g_free(run.policy_path);
    g_free(run.history_path);
    return ret;
}
