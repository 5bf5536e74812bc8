/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt-lanes evacuate: move a container's members, or every running
 * domain, off this host in the order their traffic suggests.  The
 * logic is in plugin/core/evacuate.c and traffic.c; this file parses
 * arguments, gathers the inputs (libvirt, the policy, the connection
 * tracking table) and prints.  docs/evacuate.md describes the command.
 */
#include <config.h>

#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "commands.h"
#include "cli-output.h"
#include "container-manager.h"
#include "dirtyrate.h"
#include "domains.h"
#include "evacuate.h"
#include "ipc.h"
#include "migrate.h"
#include "policy.h"
#include "traffic.h"
#include "virt-error.h"
#include "vl-autoptr.h"
#include "vl-virt-autoptr.h"

#define MIB (1048576.0)
/* Defaults: traffic sampled over 2 s; dirty rate over 3 s (1 s is noisy). */
#define OBSERVE_DEFAULT_S 2
#define OBSERVE_MAX_S 60
#define DIRTY_SAMPLE_DEFAULT_S 3
/* The least time between two progress lines of one move. */
#define PROGRESS_EVERY_US (5 * G_USEC_PER_SEC)
/* The "lanes" query is answered at once; only a wedged daemon waits. */
#define LANES_QUERY_TIMEOUT_MS 3000

typedef struct {
    /* options */
    char *container;
    gboolean host;
    char *dest_uri;
    guint concurrency;
    gboolean dry_run;
    gboolean dynamic;
    gboolean json;
    char *policy_path;
    guint observe_s;
    guint dirty_sample_s;
    gboolean dirty_sample_given;
    char *history_path;
    gboolean no_history;
    const VlCliOptions *opts;

    /* state */
    GMainLoop *loop;
    gboolean interrupted;
    VlEvacuateRun *run;
    GHashTable *last_progress;  /* move index -> gint64 time of last line */
    guint total;

    /* for --dynamic re-observation (read-only once the run starts) */
    VlTrafficHost traffic_host;
    VlTrafficAddresses *addresses;
} Evacuation;

/* ---- arguments ----------------------------------------------------------- */

static gboolean
parse_uint(const char *option, const char *text, guint64 min, guint64 max,
           guint *out, GError **error)
{
    guint64 value = 0;

    if (!vl_cli_parse_uint(option, text, min, max, &value, error))
        return FALSE;
    *out = (guint)value;
    return TRUE;
}

/* Returns -1 when parsed, else the exit code. */
static int
parse_args(Evacuation *ev, int argc, char **argv)
{
    g_autoptr(GOptionContext) octx = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *s_concurrency = NULL;
    g_autofree char *s_observe = NULL;
    g_autofree char *s_dirty = NULL;
    GOptionEntry entries[] = {
        { "container", 0, 0, G_OPTION_ARG_STRING, &ev->container,
          "Move the members of this container that run here", "NAME" },
        { "host", 0, 0, G_OPTION_ARG_NONE, &ev->host,
          "Move every running domain of this host", NULL },
        { "to", 0, 0, G_OPTION_ARG_STRING, &ev->dest_uri,
          "libvirt URI of the destination host", "URI" },
        { "concurrency", 0, 0, G_OPTION_ARG_STRING, &s_concurrency,
          "Moves at once, sharing the links (1-16, default 1)", "N" },
        { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &ev->dry_run,
          "Print the plan; move nothing", NULL },
        { "dynamic", 0, 0, G_OPTION_ARG_NONE, &ev->dynamic,
          "Re-observe the traffic after each move and pick the next by it", NULL },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &ev->json,
          "JSON lines on standard output", NULL },
        { "policy", 0, 0, G_OPTION_ARG_FILENAME, &ev->policy_path,
          "Policy directory or file (default: " VL_POLICYDIR ")", "PATH" },
        { "observe", 0, 0, G_OPTION_ARG_STRING, &s_observe,
          "Sample the connection tracking table over this long (0-60, default 2; 0: declared affinities only)", "S" },
        { "dirty-sample", 0, 0, G_OPTION_ARG_STRING, &s_dirty,
          "Measure each guest's dirty rate over this long (0-60; 0: assume 0). Default: virt-lanesd's sampled rate when fresh, else 3", "S" },
        { "history", 0, 0, G_OPTION_ARG_FILENAME, &ev->history_path,
          "History file: the fixed cost per move is learned from it and each move recorded (default: " VL_STATEDIR "/history.jsonl)", "FILE" },
        { "no-history", 0, 0, G_OPTION_ARG_NONE, &ev->no_history,
          "Neither read nor write the history file", NULL },
        { NULL }
    };

    octx = g_option_context_new("(--container NAME | --host) --to URI - move domains away in traffic order");
    g_option_context_set_summary(octx,
        "Orders the domains by their communication graph (declared affinities\n"
        "and observed traffic), estimates each migration, prints the plan and\n"
        "migrates them in that order, at most N at once.  A failed migration\n"
        "stops new ones; Ctrl-C also aborts the running ones.  Exit status:\n"
        "0 all moved (or --dry-run), 1 something did not move, 2 usage.");
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error))
        return vl_cli_usage(octx, "evacuate", error->message);
    ev->json = ev->json || ev->opts->json;
    if (!ev->policy_path)
        ev->policy_path = g_strdup(VL_POLICYDIR);
    if (!ev->history_path)
        ev->history_path = g_strdup(VL_STATEDIR "/history.jsonl");

    if (argc > 1) {
        g_autofree char *shown = g_strescape(argv[1], NULL);
        g_autofree char *problem = g_strdup_printf("Unexpected argument '%s'", shown);

        return vl_cli_usage(octx, "evacuate", problem);
    }
    if (!!ev->container == !!ev->host)
        return vl_cli_usage(octx, "evacuate", "Give exactly one of --container NAME and --host");
    if (ev->container && !*ev->container)
        return vl_cli_usage(octx, "evacuate", "--container needs a name");
    if (!ev->dest_uri || !*ev->dest_uri)
        return vl_cli_usage(octx, "evacuate", "--to URI is required");

    ev->concurrency = 1;
    ev->observe_s = OBSERVE_DEFAULT_S;
    ev->dirty_sample_s = DIRTY_SAMPLE_DEFAULT_S;
    if (s_concurrency &&
        !parse_uint("--concurrency", s_concurrency, 1, VL_EVACUATE_CONCURRENCY_MAX,
                    &ev->concurrency, &error))
        return vl_cli_usage(octx, "evacuate", error->message);
    if (s_observe &&
        !parse_uint("--observe", s_observe, 0, OBSERVE_MAX_S, &ev->observe_s, &error))
        return vl_cli_usage(octx, "evacuate", error->message);
    if (s_dirty &&
        !parse_uint("--dirty-sample", s_dirty, 0, VL_DIRTYRATE_MAX_PERIOD,
                    &ev->dirty_sample_s, &error))
        return vl_cli_usage(octx, "evacuate", error->message);
    ev->dirty_sample_given = s_dirty != NULL;
    return -1;
}

/* ---- output helpers ------------------------------------------------------ */

static char *
format_seconds(double s)
{
    return vl_cli_format_seconds(s, "unknown", "never (does not converge)");
}

static char *
format_rate(double bps)
{
    if (!isfinite(bps))
        return g_strdup("?");
    if (bps >= MIB)
        return g_strdup_printf("%.1f MiB/s", bps / MIB);
    if (bps >= 1024)
        return g_strdup_printf("%.1f KiB/s", bps / 1024);
    return g_strdup_printf("%.0f B/s", bps);
}

static void
say(Evacuation *ev, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* A line for humans: stdout normally, stderr under --json. */
static void
say(Evacuation *ev, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vfprintf(ev->json ? stderr : stdout, fmt, args);
    va_end(args);
    fputc('\n', ev->json ? stderr : stdout);
    fflush(ev->json ? stderr : stdout);
}

static void
quiet_virt_errors(void *data G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}

/* ---- signals ------------------------------------------------------------- */

static gboolean
on_signal(gpointer user_data)
{
    Evacuation *ev = user_data;

    if (!ev->interrupted)
        fprintf(stderr, "virt-lanes evacuate: interrupted: no new moves, aborting the running ones\n");
    ev->interrupted = TRUE;
    if (ev->run)
        vl_evacuate_run_cancel(ev->run);
    return G_SOURCE_CONTINUE;
}

/* Turns the main context for @ms (signals are seen); FALSE if interrupted. */
static gboolean
wait_ms(Evacuation *ev, guint ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;

    while (!ev->interrupted && g_get_monotonic_time() < deadline) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(20 * 1000);
    }
    return !ev->interrupted;
}

/* ---- inputs -------------------------------------------------------------- */

static VlPolicy *
load_policy(const char *path, GError **error)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR))
        return vl_policy_load_dir(path, error);
    return vl_policy_load_file(path, error);
}

/* The container tag in @dom's metadata, or NULL (docs/containers.md). */
static char *
read_tag(Evacuation *ev, virDomainPtr dom)
{
    g_autoptr(GError) error = NULL;
    char *tag = NULL;

    if (!vl_container_manager_read_tag(dom, 0, &tag, &error)) {
        g_autofree char *s = vl_cli_shown(virDomainGetName(dom));

        say(ev, "Warning: the container tag of '%s' is unknown: %s", s,
            error->message);
        return NULL;
    }
    return tag;
}

static void
domain_unref(gpointer dom)
{
    virDomainFree(dom);
}

static int
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(virDomainGetName(*(virDomainPtr *)a),
                  virDomainGetName(*(virDomainPtr *)b));
}

/*
 * The running domains of @conn (by name order), and among them those to
 * move.  Both arrays hold references (virDomainFree).
 */
static gboolean
list_domains(Evacuation *ev, virConnectPtr conn, const VlPolicy *policy,
             const VlContainerPolicy *container, GPtrArray *running,
             GPtrArray *moving, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    int i;

    if (n < 0) {
        vl_error_set_from_virt(error, "Cannot list the domains of '%s'",
                               ev->opts->uri);
        return FALSE;
    }
    qsort(doms, n, sizeof(*doms), compare_names);
    for (i = 0; i < n; i++) {
        const char *name = virDomainGetName(doms[i]);
        g_autofree char *tag = container ? read_tag(ev, doms[i]) : NULL;
        gboolean member = !container ||
            (name && vl_container_manager_assign(policy, name, tag) == container);
        int state = VIR_DOMAIN_NOSTATE;

        if (!name || virDomainGetState(doms[i], &state, NULL, 0) < 0 ||
            state != VIR_DOMAIN_RUNNING) {
            if (name && member) {
                g_autofree char *s = vl_cli_shown(name);

                say(ev, "Not moving '%s': %s, not running", s,
                    vl_domain_state_to_string(state));
            }
            virDomainFree(doms[i]);
            continue;
        }
        g_ptr_array_add(running, doms[i]);
        if (member) {
            virDomainRef(doms[i]);
            g_ptr_array_add(moving, doms[i]);
        }
    }
    free(doms);
    return TRUE;
}

/*
 * Memory and dirty rate of each domain.  All dirty-rate measurements run
 * at once, so the wait is one period whatever the number of domains.
 */
static GPtrArray *
gather_domains(Evacuation *ev, GPtrArray *moving)
{
    GPtrArray *domains = g_ptr_array_new_with_free_func((GDestroyNotify)vl_evacuate_domain_free);
    g_autofree gboolean *measuring = g_new0(gboolean, moving->len);
    /* A measurement someone else (virt-lanesd's sampler) started: its
     * result is as good as ours, whatever its period. */
    g_autofree gboolean *adopted = g_new0(gboolean, moving->len);
    /* The start time of a measurement already there, to tell a new one
     * from it: QEMU stamps them with its own clock, not the wall clock. */
    g_autofree gint64 *old_start = g_new0(gint64, moving->len);
    g_autofree gboolean *had_old = g_new0(gboolean, moving->len);
    guint n_measuring = 0;
    guint i;

    for (i = 0; i < moving->len; i++) {
        virDomainPtr dom = g_ptr_array_index(moving, i);
        VlEvacuateDomain *d = vl_evacuate_domain_new(virDomainGetName(dom));
        g_autofree char *s = vl_cli_shown(d->name);
        virDomainInfo info;

        g_ptr_array_add(domains, d);
        if (virDomainGetInfo(dom, &info) == 0) {
            d->memory_bytes = info.memory * 1024.0;
            d->zero_bytes = vl_migrate_guess_zero_bytes(dom, d->memory_bytes);
        }

        /* A daemon that samples dirty rates in the background knows them
         * already, and the guest's zero RAM better than RSS tells. */
        if (!ev->dirty_sample_given) {
            g_autoptr(json_object) request = vl_ipc_message_new("estimate");
            g_autoptr(json_object) reply = NULL;
            double dirty = 0, zero = 0;
            guint got;

            json_object_object_add(request, "domain", json_object_new_string(d->name));
            reply = vl_ipc_call(ev->opts->socket_path, request, LANES_QUERY_TIMEOUT_MS,
                                NULL);
            got = vl_migrate_estimate_inputs(reply, &dirty, &zero);
            if (got & VL_MIGRATE_INPUT_ZERO)
                d->zero_bytes = zero;
            if (got & VL_MIGRATE_INPUT_DIRTY) {
                d->dirty_rate_bps = dirty;
                say(ev, "Dirty rate of '%s' from virt-lanesd's sampling: %.1f MiB/s", s,
                    dirty / MIB);
                continue;
            }
        }
        if (ev->dirty_sample_s > 0) {
            g_autoptr(GError) error = NULL;
            VlDirtyRateSample old;

            if (vl_dirtyrate_query(dom, &old, NULL) &&
                old.status != VL_DIRTYRATE_UNSTARTED) {
                had_old[i] = TRUE;
                old_start[i] = old.start_time;
            }
            measuring[i] = vl_dirtyrate_start(dom, (int)ev->dirty_sample_s, &error);
            if (!measuring[i]) {
                /* QEMU measures one at a time: wait for the one running. */
                g_debug("Dirty-rate measurement of '%s' not started: %s", s,
                        error->message);
                measuring[i] = adopted[i] = TRUE;
            }
            n_measuring++;
        }
    }
    if (n_measuring == 0)
        return domains;

    say(ev, "Measuring dirty rates over %u s", ev->dirty_sample_s);
    if (!wait_ms(ev, ev->dirty_sample_s * 1000))
        return domains;
    for (i = 0; i < moving->len; i++) {
        VlEvacuateDomain *d = g_ptr_array_index(domains, i);
        /* A measurement found running may have up to 60 s to go. */
        gint64 deadline = g_get_monotonic_time() +
            (adopted[i] ? VL_DIRTYRATE_MAX_PERIOD + 5 : 10) * G_USEC_PER_SEC;

        while (measuring[i] && g_get_monotonic_time() < deadline) {
            VlDirtyRateSample sample;

            if (!vl_dirtyrate_query(g_ptr_array_index(moving, i), &sample, NULL))
                break;
            if (sample.status == VL_DIRTYRATE_MEASURED && sample.has_rate &&
                (adopted[i] || sample.period_s == (int)ev->dirty_sample_s) &&
                (!had_old[i] || sample.start_time != old_start[i])) {
                d->dirty_rate_bps = sample.bytes_per_second;
                break;
            }
            if (!wait_ms(ev, 200))
                return domains;
        }
        if (measuring[i] && isnan(d->dirty_rate_bps)) {
            g_autofree char *s = vl_cli_shown(d->name);

            say(ev, "Dirty rate of '%s' not measured (0 assumed)", s);
        }
    }
    return domains;
}

/* Addresses of the running domains here and on the destination. */
static VlTrafficAddresses *
gather_addresses(Evacuation *ev, GPtrArray *running)
{
    VlTrafficAddresses *addresses = vl_traffic_addresses_new();
    g_autoptr(virConnect) dest = NULL;
    guint i;

    for (i = 0; i < running->len; i++) {
        g_autoptr(GError) error = NULL;

        if (!vl_traffic_addresses_add_domain(addresses, g_ptr_array_index(running, i),
                                             NULL, &error))
            say(ev, "Warning: %s", error->message);
    }
    /* Domains already on the destination are partners too: their flows
     * with ours cross this host's routing, so they are seen here. */
    dest = virConnectOpenReadOnly(ev->dest_uri);
    if (!dest) {
        say(ev, "Warning: cannot list the destination's domains; their traffic counts as outside");
        return addresses;
    }
    {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(dest, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        int j;

        for (j = 0; j < n; j++) {
            vl_traffic_addresses_add_domain(addresses, doms[j], NULL, NULL);
            virDomainFree(doms[j]);
        }
        free(doms);
    }
    return addresses;
}

typedef struct {
    Evacuation *ev;
    guint interval_ms;
    VlTrafficReport report;
} ObserveData;

static void
observe_thread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
               GCancellable *cancellable)
{
    ObserveData *od = task_data;
    GError *error = NULL;
    VlGraph *graph = vl_traffic_observe(&od->ev->traffic_host, NULL,
                                        od->ev->addresses, od->interval_ms,
                                        cancellable, &od->report, &error);

    if (graph)
        g_task_return_pointer(task, graph, (GDestroyNotify)vl_graph_free);
    else
        g_task_return_error(task, error);
}

static void
on_observed(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
            gpointer user_data)
{
    GTask **out = user_data;

    *out = g_object_ref(G_TASK(result));
}

/* The first observation, with the main context turning for Ctrl-C. */
static VlGraph *
observe_now(Evacuation *ev, VlTrafficReport *report, GError **error)
{
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    g_autoptr(GTask) task = NULL;
    g_autoptr(GTask) finished = NULL;
    ObserveData *od = g_new0(ObserveData, 1);
    VlGraph *graph = NULL;

    od->ev = ev;
    od->interval_ms = ev->observe_s * 1000;
    task = g_task_new(NULL, cancellable, on_observed, &finished);
    g_task_set_task_data(task, od, g_free);
    g_task_run_in_thread(task, observe_thread);
    while (!finished) {
        if (ev->interrupted)
            g_cancellable_cancel(cancellable);
        g_main_context_iteration(NULL, TRUE);
    }
    graph = g_task_propagate_pointer(finished, error);
    if (graph && report)
        *report = od->report;
    return graph;
}

/* The run's re-observation (a worker thread), for --dynamic. */
static VlGraph *
observe_for_run(gpointer data, GCancellable *cancellable, GError **error)
{
    Evacuation *ev = data;

    return vl_traffic_observe(&ev->traffic_host, NULL, ev->addresses,
                              ev->observe_s * 1000, cancellable, NULL, error);
}

/* ---- the plan ------------------------------------------------------------ */

static void
print_traffic_text(Evacuation *ev, const VlTrafficReport *r)
{
    say(ev, "Traffic: %.1f s sampled: %u flows, %u between moving or destination domains, %u with outside addresses, %u unattributed, %u without byte counters, %u ended, %u lines skipped",
        r->interval_s, r->flows, r->flows_between_domains, r->flows_with_outside,
        r->flows_unattributed, r->flows_without_counters, r->flows_ended,
        r->skipped_lines);
}

static void
print_host_caveats(Evacuation *ev)
{
    const VlTrafficHost *h = &ev->traffic_host;

    if (h->accounting == 0)
        say(ev, "Note: conntrack byte counters are off (sysctl net.netfilter.nf_conntrack_acct=1 turns them on): pairs seen talking count %g B/s",
            VL_TRAFFIC_NOMINAL_BPS);
    if (h->bridge_netfilter != 1)
        say(ev, "Note: traffic between two domains of this host on one bridge is invisible (br_netfilter %s)",
            h->bridge_netfilter == 0 ? "loaded but bridge-nf-call-iptables is 0" :
            "not loaded");
}

/* The history the plan learns from; NULL under --no-history or when it
 * cannot be read (said). */
static VlHistory *
load_history(Evacuation *ev)
{
    g_autoptr(GError) error = NULL;
    VlHistory *history;

    if (ev->no_history)
        return NULL;
    history = vl_history_load(ev->history_path, &error);
    if (!history)
        say(ev, "Not reading the history: %s", error->message);
    return history;
}

/* The fixed cost per move learned from @history (how many moves it
 * came from), or 0 and the default left in @overhead_s. */
static guint
learn_overhead(const VlHistory *history, double *overhead_s)
{
    guint count = 0;
    double learned = 0;

    if (!history || !vl_history_learned_overhead(history, 0, &learned, &count))
        return 0;
    *overhead_s = MIN(learned, VL_EVACUATE_FIXED_MAX_S);
    return count;
}

static void
print_plan_text(Evacuation *ev, const VlEvacuatePlan *plan, const char *what,
                guint overhead_runs, const VlEvacuatePath *path,
                gboolean setup_learned)
{
    g_autofree char *dest = vl_cli_shown(ev->dest_uri);
    g_autofree char *total = format_seconds(plan->total_s);
    guint i;

    printf("Plan: %s, %u domain%s to %s, %u at a time\n", what,
           plan->steps->len, plan->steps->len == 1 ? "" : "s", dest,
           plan->concurrency);
    printf("Order: %s%s, %u edge%s, max stretch %u, total stretch %.6g%s\n",
           plan->method == VL_ORDER_METHOD_EXACT ? "exact" :
           plan->method == VL_ORDER_METHOD_RCM ? "reverse Cuthill-McKee" :
           "reverse Cuthill-McKee + local search",
           plan->optimal ? " (optimal)" : "",
           plan->n_edges, plan->n_edges == 1 ? "" : "s",
           plan->bandwidth, plan->cost,
           ev->dynamic ? "; --dynamic may change it as traffic shows up" : "");
    if (plan->sharing > 1)
        printf("Each move's estimate gets 1/%u of the links' bandwidth\n",
               plan->sharing);
    if (overhead_runs > 0)
        printf("Each move also costs %.1f s besides its job (the median of the last %u in the history)\n",
               plan->move_overhead_s, overhead_runs);
    else
        printf("Each move also costs %.1f s besides its job (the default: no history of it)\n",
               plan->move_overhead_s);
    if (path)
        printf("Each job's setup until RAM flows: %.1f s (%s)\n", path->setup_s,
               setup_learned ? "learned from the history" : "the default: no history of it");
    if (plan->lanes_up_s > 0)
        printf("The lanes come up once, for every move: %.1f s at most before the first\n",
               plan->lanes_up_s);
    for (i = 0; i < plan->steps->len; i++) {
        const VlEvacuateStep *step = g_ptr_array_index(plan->steps, i);
        const VlEvacuateMoveEstimate *m = &step->move;
        g_autofree char *name = vl_cli_shown(step->name);

        if (!m->estimated) {
            printf("  %2u. '%s'  no estimate\n", i + 1, name);
            continue;
        }
        {
            g_autofree char *links = g_strjoinv(",", m->links);
            g_autofree char *rate = format_rate(m->bandwidth_bps);
            g_autofree char *dur = format_seconds(step->duration_s);
            g_autofree char *job = format_seconds(step->job_s);
            g_autofree char *start = format_seconds(step->start_s);

            g_autofree char *streams = m->channels ?
                g_strdup_printf("%u multifd channels", m->channels) :
                g_strdup("one stream");

            printf("  %2u. '%s'  links %s (%s), %s: %s (job %s + %.1f s), downtime %.0f ms, starts at %s\n",
                   i + 1, name, links, streams, rate, dur, job, step->overhead_s,
                   m->estimate.converges ? m->estimate.downtime_s * 1000 : NAN,
                   start);
            if (!m->estimate.converges)
                printf("      does not converge: %s\n",
                       vl_estimate_verdict_to_string(m->estimate.verdict));
        }
    }
    printf("Predicted total: %s\n", total);
    fflush(stdout);
}

/* ---- the run ------------------------------------------------------------- */

static void
on_event(VlEvacuateRun *run G_GNUC_UNUSED, const VlEvacuateEvent *e,
         gpointer user_data)
{
    Evacuation *ev = user_data;
    g_autofree char *name = vl_cli_shown(e->domain);

    switch (e->type) {
    case VL_EVACUATE_EVENT_STARTED:
        if (ev->json) {
            g_autoptr(json_object) o = vl_cli_json_event("started");

            json_object_object_add(o, "domain", json_object_new_string(e->domain));
            json_object_object_add(o, "position", json_object_new_int(e->position));
            json_object_object_add(o, "time_us",
                                   json_object_new_int64(g_get_real_time()));
            if (ev->dynamic)
                json_object_object_add(o, "traffic_to_moved_bps",
                                       vl_cli_json_num(e->weight_to_moved));
            vl_cli_print_json(o);
        } else if (ev->dynamic && e->weight_to_moved > 0) {
            g_autofree char *rate = format_rate(e->weight_to_moved);

            printf("[%u/%u] '%s' started (traffic to the moved side %s)\n",
                   e->position, ev->total, name, rate);
        } else {
            printf("[%u/%u] '%s' started\n", e->position, ev->total, name);
        }
        break;
    case VL_EVACUATE_EVENT_PROGRESS: {
        gint64 now = g_get_monotonic_time();
        gpointer key = GUINT_TO_POINTER(e->move + 1);
        gint64 last = GPOINTER_TO_SIZE(g_hash_table_lookup(ev->last_progress, key));

        if (last && now - last < PROGRESS_EVERY_US)
            break;
        g_hash_table_insert(ev->last_progress, key, GSIZE_TO_POINTER(now));
        if (ev->json) {
            g_autoptr(json_object) o = vl_cli_json_event("progress");

            json_object_object_add(o, "domain", json_object_new_string(e->domain));
            json_object_object_add(o, "elapsed_s", vl_cli_json_num(e->progress->elapsed_s));
            json_object_object_add(o, "percent", vl_cli_json_num(e->progress->percent));
            json_object_object_add(o, "bandwidth_bps",
                                   vl_cli_json_num(e->progress->bandwidth_bps));
            json_object_object_add(o, "eta_s", vl_cli_json_num(e->progress->eta_s));
            vl_cli_print_json(o);
        } else {
            g_autofree char *rate = format_rate(e->progress->bandwidth_bps);
            g_autofree char *eta = format_seconds(e->progress->eta_s);

            printf("[%u/%u] '%s' %.0f%% after %.1f s, %s, ETA %s\n",
                   e->position, ev->total, name,
                   isnan(e->progress->percent) ? 0 : e->progress->percent,
                   e->progress->elapsed_s, rate, eta);
        }
        break;
    }
    case VL_EVACUATE_EVENT_FINISHED: {
        double secs = vl_evacuate_run_get_duration(ev->run, e->move);

        if (ev->json) {
            g_autoptr(json_object) o = vl_cli_json_event("finished");

            json_object_object_add(o, "domain", json_object_new_string(e->domain));
            json_object_object_add(o, "position", json_object_new_int(e->position));
            json_object_object_add(o, "state",
                                   json_object_new_string(vl_evacuate_move_state_to_string(e->state)));
            json_object_object_add(o, "duration_s", vl_cli_json_num(secs));
            json_object_object_add(o, "time_us",
                                   json_object_new_int64(g_get_real_time()));
            json_object_object_add(o, "error", e->error ?
                                   json_object_new_string(e->error->message) : NULL);
            vl_cli_print_json(o);
        } else if (e->state == VL_EVACUATE_MOVE_MOVED) {
            printf("[%u/%u] '%s' moved in %.1f s\n", e->position, ev->total, name,
                   secs);
        } else {
            g_autofree char *msg = vl_cli_shown(e->error ? e->error->message : "?");

            printf("[%u/%u] '%s' %s after %.1f s: %s\n", e->position, ev->total,
                   name, e->state == VL_EVACUATE_MOVE_CANCELLED ? "cancelled" : "FAILED",
                   secs, msg);
        }
        break;
    }
    case VL_EVACUATE_EVENT_STOPPING:
        if (ev->json) {
            g_autoptr(json_object) o = vl_cli_json_event("stopping");

            json_object_object_add(o, "reason", json_object_new_string(e->error->message));
            vl_cli_print_json(o);
        } else {
            g_autofree char *msg = vl_cli_shown(e->error->message);

            printf("Stopping: %s\n", msg);
        }
        break;
    case VL_EVACUATE_EVENT_NOTE:
        if (ev->json) {
            g_autoptr(json_object) o = vl_cli_json_event("note");

            json_object_object_add(o, "domain", json_object_new_string(e->domain));
            json_object_object_add(o, "position", json_object_new_int(e->position));
            json_object_object_add(o, "note", json_object_new_string(e->note));
            vl_cli_print_json(o);
        } else {
            g_autofree char *text = vl_cli_shown(e->note);

            printf("[%u/%u] '%s' %s\n", e->position, ev->total, name, text);
        }
        break;
    case VL_EVACUATE_EVENT_OBSERVED:
        if (ev->json) {
            g_autoptr(json_object) o = vl_cli_json_event("observed");

            json_object_object_add(o, "edges", e->observed ?
                                   json_object_new_int(vl_graph_n_edges(e->observed)) :
                                   NULL);
            json_object_object_add(o, "error", e->error ?
                                   json_object_new_string(e->error->message) : NULL);
            vl_cli_print_json(o);
        } else if (e->error) {
            g_autofree char *msg = vl_cli_shown(e->error->message);

            printf("Re-observation failed (keeping what was known): %s\n", msg);
        } else {
            printf("Re-observed: %u pair%s talking\n", vl_graph_n_edges(e->observed),
                   vl_graph_n_edges(e->observed) == 1 ? "" : "s");
        }
        break;
    }
    fflush(stdout);
}

static void
on_done(VlEvacuateRun *run G_GNUC_UNUSED, gpointer user_data)
{
    Evacuation *ev = user_data;

    g_main_loop_quit(ev->loop);
}

static void
print_summary_text(Evacuation *ev)
{
    guint n = vl_evacuate_run_get_n_moves(ev->run);
    guint n_started = 0;
    const guint *started = vl_evacuate_run_get_started(ev->run, &n_started);
    g_autoptr(GString) moved = g_string_new(NULL);
    guint n_moved = 0;
    guint i;

    for (i = 0; i < n_started; i++) {
        if (vl_evacuate_run_get_state(ev->run, started[i]) == VL_EVACUATE_MOVE_MOVED) {
            g_autofree char *s = vl_cli_shown(vl_evacuate_run_get_domain(ev->run, started[i]));

            g_string_append_printf(moved, "%s'%s'", n_moved ? ", " : "", s);
            n_moved++;
        }
    }
    printf("Moved %u of %u%s%s\n", n_moved, n, n_moved ? ": " : "", moved->str);
    if (n_moved == n)
        return;
    printf("Not moved (still on this host):\n");
    for (i = 0; i < n_started; i++) {
        VlEvacuateMoveState st = vl_evacuate_run_get_state(ev->run, started[i]);
        const GError *err = vl_evacuate_run_get_error(ev->run, started[i]);
        g_autofree char *s = vl_cli_shown(vl_evacuate_run_get_domain(ev->run, started[i]));
        g_autofree char *msg = vl_cli_shown(err ? err->message : "");

        if (st != VL_EVACUATE_MOVE_MOVED)
            printf("  '%s': %s: %s\n", s, vl_evacuate_move_state_to_string(st), msg);
    }
    for (i = 0; i < n; i++) {
        if (vl_evacuate_run_get_state(ev->run, i) == VL_EVACUATE_MOVE_PENDING) {
            g_autofree char *s = vl_cli_shown(vl_evacuate_run_get_domain(ev->run, i));

            printf("  '%s': not started\n", s);
        }
    }
}

/* ---- main ---------------------------------------------------------------- */

static int
evacuate_main(Evacuation *ev)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(VlPolicy) policy = NULL;
    g_autoptr(GPtrArray) running = g_ptr_array_new_with_free_func(domain_unref);
    g_autoptr(GPtrArray) moving = g_ptr_array_new_with_free_func(domain_unref);
    g_autoptr(GPtrArray) domains = NULL;
    g_autoptr(GPtrArray) affinities = g_ptr_array_new();
    g_autoptr(GStrvBuilder) names_builder = g_strv_builder_new();
    g_auto(GStrv) names = NULL;
    g_autoptr(VlGraph) observed = NULL;
    g_autoptr(VlGraph) graph = NULL;
    g_autoptr(VlEvacuatePath) path = NULL;
    g_autoptr(VlEvacuatePlan) plan = NULL;
    g_autoptr(VlEvacuateMigrator) mover = NULL;
    g_autoptr(GHashTable) unavailable = NULL;
    VlEvacuateMigratorConfig mconfig;
    gboolean daemon_up = FALSE;
    g_autoptr(json_object) plan_json = NULL;
    g_autofree char *what = NULL;
    const VlContainerPolicy *container = NULL;
    VlPeerConfig *peer = NULL;
    VlTrafficReport report = { 0 };
    gboolean have_report = FALSE;
    VlEvacuatePlanConfig config;
    guint overhead_runs = 0;
    g_autoptr(VlHistory) history = NULL;
    gboolean setup_learned = FALSE;
    double affinity_scale = 1;
    gboolean ok = FALSE;
    guint i;

    policy = load_policy(ev->policy_path, &error);
    if (!policy) {
        fprintf(stderr, "virt-lanes evacuate: %s\n", error->message);
        return 1;
    }
    if (ev->container) {
        container = vl_policy_find_container(policy, ev->container);
        if (!container) {
            g_autofree char *s = vl_cli_shown(ev->container);

            fprintf(stderr, "virt-lanes evacuate: No container '%s' in the policy '%s'\n",
                    s, ev->policy_path);
            return 1;
        }
        g_ptr_array_extend(affinities, container->affinities, NULL, NULL);
        what = g_strdup_printf("container '%s'", container->name);
    } else {
        for (i = 0; i < policy->containers->len; i++) {
            const VlContainerPolicy *c = g_ptr_array_index(policy->containers, i);

            g_ptr_array_extend(affinities, c->affinities, NULL, NULL);
        }
        what = g_strdup("every running domain");
    }

    virSetErrorFunc(NULL, quiet_virt_errors);
    conn = virConnectOpen(ev->opts->uri);
    if (!conn) {
        vl_error_set_from_virt(&error, "Cannot connect to '%s'", ev->opts->uri);
        fprintf(stderr, "virt-lanes evacuate: %s\n", error->message);
        return 1;
    }
    if (!list_domains(ev, conn, policy, container, running, moving, &error)) {
        fprintf(stderr, "virt-lanes evacuate: %s\n", error->message);
        return 1;
    }
    if (moving->len == 0) {
        say(ev, "Nothing to move: no running domain of %s on this host", what);
        if (ev->json) {
            g_autoptr(json_object) o = vl_cli_json_event("summary");

            json_object_object_add(o, "ok", json_object_new_boolean(TRUE));
            json_object_object_add(o, "moved", json_object_new_array());
            json_object_object_add(o, "not_moved", json_object_new_array());
            vl_cli_print_json(o);
        }
        return 0;
    }
    for (i = 0; i < moving->len; i++)
        g_strv_builder_add(names_builder, virDomainGetName(g_ptr_array_index(moving, i)));
    names = g_strv_builder_end(names_builder);

    /* What the host lets us see, then two samples of it. */
    vl_traffic_host_probe(NULL, &ev->traffic_host);
    if (ev->observe_s > 0) {
        ev->addresses = gather_addresses(ev, running);
        observed = observe_now(ev, &report, &error);
        if (ev->interrupted) {
            say(ev, "Interrupted before any move");
            return 1;
        }
        if (!observed) {
            say(ev, "Traffic not observed (declared affinities only): %s",
                error->message);
            g_clear_error(&error);
        } else {
            have_report = TRUE;
            if (!ev->json)
                print_traffic_text(ev, &report);
            print_host_caveats(ev);
        }
    }
    if (ev->dynamic && !observed)
        say(ev, "Note: --dynamic without observed traffic orders by the declared affinities only");

    graph = vl_evacuate_graph_build((const char *const *)names, affinities, observed,
                                    &affinity_scale, &error);
    if (!graph) {
        fprintf(stderr, "virt-lanes evacuate: %s\n", error->message);
        return 1;
    }

    domains = gather_domains(ev, moving);
    if (ev->interrupted) {
        say(ev, "Interrupted before any move");
        return 1;
    }

    vl_evacuate_plan_config_init(&config);
    config.concurrency = ev->concurrency;
    history = load_history(ev);
    overhead_runs = learn_overhead(history, &config.move_overhead_s);
    peer = vl_migrate_find_peer(policy->migration, ev->dest_uri, NULL, &error);
    if (!peer) {
        say(ev, "No estimates and no lanes: %s", error->message);
        g_clear_error(&error);
    } else {
        g_autoptr(json_object) request = vl_ipc_message_new("lanes");
        g_autoptr(json_object) reply = NULL;
        guint want = VL_EVACUATE_LANES_FROM_POLICY;

        /* Which lanes could come up at all: none without a daemon. */
        reply = vl_ipc_call(ev->opts->socket_path, request, LANES_QUERY_TIMEOUT_MS,
                            &error);
        if (!reply) {
            say(ev, "virt-lanesd does not answer at '%s' (%s): the base path only, no lanes",
                ev->opts->socket_path, error->message);
            g_clear_error(&error);
            want = 0;
        } else {
            daemon_up = TRUE;
        }
        unavailable = vl_migrate_unavailable_lanes(reply, peer);
        {
            GHashTableIter it;
            gpointer lane, why;

            g_hash_table_iter_init(&it, unavailable);
            while (g_hash_table_iter_next(&it, &lane, &why))
                say(ev, "Lane '%s' cannot come up: %s", (const char *)lane,
                    (const char *)why);
        }
        path = vl_evacuate_path_from_peer(policy->migration, peer, want, unavailable,
                                          &error);
        if (!path) {
            say(ev, "No estimates: %s", error->message);
            g_clear_error(&error);
        } else {
            setup_learned = vl_evacuate_path_learn_setup(path, history);
            config.estimate = vl_evacuate_estimate_links;
            config.estimate_data = path;
            /* Counted once: the lanes stay up for the whole run.  The
             * bound, as "virt-lanes migrate" counts it. */
            if (path->links->len > 1)
                config.lanes_up_s = policy->migration->lane_up_max_s;
        }
    }
    plan = vl_evacuate_plan_compute(graph, domains, &config, &error);
    if (!plan) {
        fprintf(stderr, "virt-lanes evacuate: %s\n", error->message);
        return 1;
    }
    ev->total = plan->steps->len;

    if (ev->json) {
        g_autoptr(json_object) o = vl_cli_json_event("plan");
        json_object *traffic = json_object_new_object();

        json_object_object_add(o, "what", json_object_new_string(what));
        json_object_object_add(o, "to", json_object_new_string(ev->dest_uri));
        json_object_object_add(o, "dynamic", json_object_new_boolean(ev->dynamic));
        json_object_object_add(o, "dry_run", json_object_new_boolean(ev->dry_run));
        json_object_object_add(o, "affinity_scale", vl_cli_json_num(affinity_scale));
        json_object_object_add(o, "move_overhead_runs", json_object_new_int(overhead_runs));
        json_object_object_add(o, "job_setup_s",
                               path ? vl_cli_json_num(path->setup_s) : NULL);
        json_object_object_add(o, "job_setup_learned", json_object_new_boolean(setup_learned));
        json_object_object_add(traffic, "observed", json_object_new_boolean(have_report));
        json_object_object_add(traffic, "source", json_object_new_string(
            ev->traffic_host.proc_table ? "/proc/net/nf_conntrack" :
            ev->traffic_host.tool ? "conntrack -L" : "none"));
        json_object_object_add(traffic, "accounting",
                               json_object_new_int(ev->traffic_host.accounting));
        json_object_object_add(traffic, "bridge_netfilter",
                               json_object_new_int(ev->traffic_host.bridge_netfilter));
        if (have_report) {
            json_object_object_add(traffic, "interval_s", vl_cli_json_num(report.interval_s));
            json_object_object_add(traffic, "flows", json_object_new_int(report.flows));
            json_object_object_add(traffic, "between_domains",
                                   json_object_new_int(report.flows_between_domains));
            json_object_object_add(traffic, "observed_edges",
                                   json_object_new_int(vl_graph_n_edges(observed)));
        }
        json_object_object_add(o, "traffic", traffic);
        plan_json = vl_evacuate_plan_to_json(plan);
        json_object_object_add(o, "plan", json_object_get(plan_json));
        vl_cli_print_json(o);
    } else {
        print_plan_text(ev, plan, what, overhead_runs, path, setup_learned);
    }
    if (ev->dry_run)
        return 0;

    vl_evacuate_migrator_config_init(&mconfig);
    mconfig.conn = conn;
    mconfig.dest_uri = ev->dest_uri;
    mconfig.migration = policy->migration;
    mconfig.peer = peer;
    /* Every move asks for the lanes the plan estimated with. */
    mconfig.lanes = path ? path->links->len - 1 : 0;
    mconfig.unavailable = unavailable;
    if (!ev->no_history)
        mconfig.history_path = ev->history_path;
    if (daemon_up) {
        mconfig.call = vl_migrate_daemon_call_socket;
        mconfig.call_data = (gpointer)ev->opts->socket_path;
    }
    mover = vl_evacuate_migrator_new(&mconfig);
    ev->run = vl_evacuate_run_new(plan, vl_evacuate_migrator_ops(), mover);
    if (ev->dynamic)
        vl_evacuate_run_set_dynamic(ev->run, graph,
                                    observed ? observe_for_run : NULL, ev);
    ev->loop = g_main_loop_new(NULL, FALSE);
    vl_evacuate_run_start(ev->run, on_event, on_done, ev);
    /* A Ctrl-C that came while planning is seen now. */
    if (ev->interrupted)
        vl_evacuate_run_cancel(ev->run);
    g_main_loop_run(ev->loop);

    if (ev->json) {
        g_autoptr(json_object) o = vl_evacuate_run_to_json(ev->run);

        json_object_object_add(o, "event", json_object_new_string("summary"));
        vl_cli_print_json(o);
    } else {
        print_summary_text(ev);
    }
    ok = vl_evacuate_run_succeeded(ev->run);
    /* The run's handles belong to the mover: free the run first. */
    g_clear_pointer(&ev->run, vl_evacuate_run_free);
    return ok ? 0 : 1;
}

int
vl_cmd_evacuate(const VlCliOptions *opts, int argc, char **argv)
{
    Evacuation ev = { 0 };
    guint sigint = 0;
    guint sigterm = 0;
    int ret;

    ev.opts = opts;
    ret = parse_args(&ev, argc, argv);
    if (ret < 0) {
        ev.last_progress = g_hash_table_new(NULL, NULL);
        sigint = g_unix_signal_add(SIGINT, on_signal, &ev);
        sigterm = g_unix_signal_add(SIGTERM, on_signal, &ev);
        ret = evacuate_main(&ev);
        g_source_remove(sigint);
        g_source_remove(sigterm);
    }

    g_clear_pointer(&ev.run, vl_evacuate_run_free);
    g_clear_pointer(&ev.loop, g_main_loop_unref);
    g_clear_pointer(&ev.last_progress, g_hash_table_unref);
    g_clear_pointer(&ev.addresses, vl_traffic_addresses_free);
    vl_traffic_host_clear(&ev.traffic_host);
    g_free(ev.container);
    g_free(ev.dest_uri);
    g_free(ev.policy_path);
    g_free(ev.history_path);
    return ret;
}
