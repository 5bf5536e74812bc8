/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mover.c: the daemon's own migrations of container members, over lanes
 * (see mover.h).  Everything here runs in the executor's worker thread
 * except vl_mover_new(), vl_mover_configure() and the log lines, which
 * go back to the main context.
 */
#include <config.h>

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "mover.h"
#include "virt-error.h"
#include "vl-autoptr.h"
#include "vl-virt-autoptr.h"

#define MIB (1048576.0)

struct _VlMover {
    gint refs;
    VlMoverConfig config;
    GMainContext *context;      /* where log lines go */

    GMutex lock;                /* guards what follows */
    VlMigrationPolicy *migration;
    char *home_uri;
    char *history_path;
    GCancellable *cancellable;  /* cancelled and replaced by cancel() */
};

/* One move, in the worker thread. */
typedef struct {
    VlMover *mover;
    virDomainPtr dom;           /* borrowed */
    const char *dest_uri;       /* borrowed */
    char *name;
    VlMigrationPolicy *migration;   /* the mover's, copied; nullable */
    char *home_uri;
    char *history_path;
    GCancellable *cancellable;
    const VlPeerConfig *peer;   /* in @migration; NULL = plain */
    char *plan_id;
    char *host_label;
    char *migration_uri;        /* tcp://..., nullable */
    char *xml;                  /* the migratable XML, with a peer */
    unsigned char uuid[VIR_UUID_BUFLEN];
    gboolean daemon_up;
    double dirty_bps;

    /* one attempt at a time, on @context */
    GMainContext *context;
    gboolean attempt_done;
    VlMigrateOutcome outcome;
    GError *attempt_error;
    VlMigrateJob *job;
} Move;

/* ---- the mover ---------------------------------------------------------- */

void
vl_mover_config_init(VlMoverConfig *config)
{
    memset(config, 0, sizeof(*config));
    config->dirty_sample_s = VL_MOVER_DIRTY_SAMPLE_S;
}

VlMover *
vl_mover_new(const VlMoverConfig *config)
{
    VlMover *mover = g_new0(VlMover, 1);

    mover->refs = 1;
    mover->config = *config;
    mover->context = g_main_context_ref_thread_default();
    g_mutex_init(&mover->lock);
    mover->cancellable = g_cancellable_new();
    return mover;
}

VlMover *
vl_mover_ref(VlMover *mover)
{
    g_return_val_if_fail(mover != NULL, NULL);
    g_atomic_int_inc(&mover->refs);
    return mover;
}

void
vl_mover_unref(VlMover *mover)
{
    if (!mover || !g_atomic_int_dec_and_test(&mover->refs))
        return;
    if (mover->config.call_data_free)
        mover->config.call_data_free(mover->config.call_data);
    g_clear_pointer(&mover->migration, vl_migration_policy_free);
    g_free(mover->home_uri);
    g_free(mover->history_path);
    g_clear_object(&mover->cancellable);
    g_mutex_clear(&mover->lock);
    g_main_context_unref(mover->context);
    g_free(mover);
}

void
vl_mover_configure(VlMover *mover, const VlMigrationPolicy *migration,
                   const char *home_uri, const char *history_path)
{
    g_return_if_fail(mover != NULL);

    g_mutex_lock(&mover->lock);
    g_clear_pointer(&mover->migration, vl_migration_policy_free);
    mover->migration = migration ? vl_migration_policy_copy(migration) : NULL;
    g_free(mover->home_uri);
    mover->home_uri = g_strdup(home_uri);
    g_free(mover->history_path);
    mover->history_path = g_strdup(history_path);
    g_mutex_unlock(&mover->lock);
}

void
vl_mover_cancel(VlMover *mover)
{
    g_autoptr(GCancellable) old = NULL;

    g_return_if_fail(mover != NULL);

    g_mutex_lock(&mover->lock);
    old = g_steal_pointer(&mover->cancellable);
    mover->cancellable = g_cancellable_new();
    g_mutex_unlock(&mover->lock);
    g_cancellable_cancel(old);
}

/* ---- log lines, handed to the main context --------------------------------- */

typedef struct {
    VlMover *mover;             /* one ref */
    GLogLevelFlags level;
    char *message;
} LogLine;

static gboolean
log_line_deliver(gpointer data)
{
    LogLine *line = data;

    line->mover->config.log_func(line->level, line->message,
                                 line->mover->config.log_data);
    return G_SOURCE_REMOVE;
}

static void
log_line_free(gpointer data)
{
    LogLine *line = data;

    vl_mover_unref(line->mover);
    g_free(line->message);
    g_free(line);
}

static void move_log(Move *mv, GLogLevelFlags level, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void
move_log(Move *mv, GLogLevelFlags level, const char *fmt, ...)
{
    g_autoptr(GSource) source = NULL;
    LogLine *line = NULL;
    va_list args;

    line = g_new0(LogLine, 1);
    va_start(args, fmt);
    line->message = g_strdup_vprintf(fmt, args);
    va_end(args);
    if (!mv->mover->config.log_func) {
        g_debug("%s", line->message);
        g_free(line->message);
        g_free(line);
        return;
    }
    line->mover = vl_mover_ref(mv->mover);
    line->level = level;
    /* Always through a source: never from this thread, even when it
     * could acquire the context for a moment. */
    source = g_idle_source_new();
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, log_line_deliver, line, log_line_free);
    g_source_attach(source, mv->mover->context);
}

/* ---- one move ------------------------------------------------------------ */

static void
move_free(Move *mv)
{
    if (!mv)
        return;
    g_free(mv->name);
    g_clear_pointer(&mv->migration, vl_migration_policy_free);
    g_free(mv->home_uri);
    g_free(mv->history_path);
    g_clear_object(&mv->cancellable);
    g_free(mv->plan_id);
    g_free(mv->host_label);
    g_free(mv->migration_uri);
    g_free(mv->xml);
    g_clear_error(&mv->attempt_error);
    if (mv->context)
        g_main_context_unref(mv->context);
    g_free(mv);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Move, move_free)

static Move *
move_new(VlMover *mover, virDomainPtr dom, const char *dest_uri)
{
    Move *mv = g_new0(Move, 1);

    mv->mover = mover;
    mv->dom = dom;
    mv->dest_uri = dest_uri;
    mv->name = g_strdup(virDomainGetName(dom));
    g_mutex_lock(&mover->lock);
    if (mover->migration)
        mv->migration = vl_migration_policy_copy(mover->migration);
    mv->home_uri = g_strdup(mover->home_uri);
    mv->history_path = g_strdup(mover->history_path);
    mv->cancellable = g_object_ref(mover->cancellable);
    g_mutex_unlock(&mover->lock);
    mv->context = g_main_context_new();
    mv->plan_id = vl_migrate_plan_id_new(mv->name, g_get_real_time() / G_USEC_PER_SEC,
                                         (guint)getpid());
    mv->host_label = vl_migrate_host_label(g_get_host_name());
    mv->dirty_bps = 0;
    return mv;
}

static json_object *
daemon_call(Move *mv, json_object *request, guint timeout_ms, GError **error)
{
    const VlMoverConfig *c = &mv->mover->config;

    if (!c->call) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC, "No daemon to ask");
        return NULL;
    }
    return c->call(c->call_data, request, timeout_ms, error);
}

/* ---- the estimate --------------------------------------------------------- */

/* The dirty rate and zero RAM: the sampler's when fresh, else one
 * measurement by the daemon, else 0. */
static void
read_rates(Move *mv, double *zero_bytes)
{
    g_autoptr(json_object) request = vl_ipc_message_new("estimate");
    g_autoptr(json_object) reply = NULL;
    g_autoptr(json_object) measure = NULL;
    g_autoptr(json_object) measured = NULL;
    g_autoptr(GError) error = NULL;
    guint period = mv->mover->config.dirty_sample_s;
    json_object *sample = NULL;
    json_object *bps = NULL;

    json_object_object_add(request, "domain", json_object_new_string(mv->name));
    reply = daemon_call(mv, request, VL_MOVER_QUERY_TIMEOUT_MS, NULL);
    if (vl_migrate_estimate_inputs(reply, &mv->dirty_bps, zero_bytes) &
        VL_MIGRATE_INPUT_DIRTY)
        return;
    if (period == 0 || !mv->mover->config.call)
        return;

    measure = vl_ipc_message_new("measure");
    json_object_object_add(measure, "domain", json_object_new_string(mv->name));
    json_object_object_add(measure, "period_s", json_object_new_int((int)period));
    measured = daemon_call(mv, measure, (period + 10) * 1000, &error);
    if (measured && json_object_object_get_ex(measured, "sample", &sample) &&
        json_object_object_get_ex(sample, "bytes_per_second", &bps) &&
        (json_object_is_type(bps, json_type_double) ||
         json_object_is_type(bps, json_type_int)) &&
        json_object_get_double(bps) >= 0) {
        mv->dirty_bps = json_object_get_double(bps);
        return;
    }
    if (!error && measured && json_object_object_get_ex(measured, "error", &bps))
        g_set_error(&error, VL_ERROR, VL_ERROR_IPC, "%s", json_object_get_string(bps));
    move_log(mv, G_LOG_LEVEL_WARNING,
             "Moving '%s': could not measure its dirty rate (%s); assuming 0",
             mv->name, error ? error->message : "no sample in the reply");
}

/* Which of the peer's lanes could come up at all; also tells whether the
 * daemon answers. */
static GHashTable *
read_unavailable(Move *mv)
{
    g_autoptr(json_object) request = vl_ipc_message_new("lanes");
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) error = NULL;

    reply = daemon_call(mv, request, VL_MOVER_QUERY_TIMEOUT_MS, &error);
    mv->daemon_up = reply != NULL;
    if (!reply)
        g_debug("No answer to 'lanes': %s", error->message);
    return vl_migrate_unavailable_lanes(reply, mv->peer);
}

/* The plan, or NULL when no rate is known for the base path. */
static VlMigrateLanePlan *
plan_move(Move *mv, GHashTable *unavailable, GError **error)
{
    const VlMigrationPolicy *m = mv->migration;
    g_autoptr(VlHistory) history = NULL;
    g_autoptr(VlMigratePeerLinks) links = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *base_only = NULL;
    VlMigratePlanInput in;
    virDomainInfo info;
    double memory_bytes;
    double zero_bytes;
    guint max_links = vl_migrate_max_links(m, mv->peer, -1, &base_only);

    if (base_only)
        move_log(mv, G_LOG_LEVEL_WARNING, "Moving '%s': %s", mv->name, base_only);
    if (virDomainGetInfo(mv->dom, &info) < 0) {
        vl_error_set_from_virt(error, "Failed to read the state of '%s'", mv->name);
        return NULL;
    }
    if (mv->history_path && !(history = vl_history_load(mv->history_path, &local)))
        g_debug("No history: %s", local->message);
    links = vl_migrate_peer_links_new(mv->peer, unavailable, history);
    if (links->base_source == VL_MIGRATE_BASE_UNKNOWN) {
        move_log(mv, G_LOG_LEVEL_MESSAGE,
                 "Moving '%s': no rate known for the base path to '%s' (no base_bandwidth_mbit, no history, no lanes): not estimating",
                 mv->name, mv->peer->name);
        return NULL;
    }
    memory_bytes = info.memory * 1024.0;
    zero_bytes = vl_migrate_guess_zero_bytes(mv->dom, memory_bytes);
    read_rates(mv, &zero_bytes);
    vl_migrate_plan_input_from_policy(&in, m, links, max_links);
    in.memory_bytes = memory_bytes;
    in.zero_bytes = MIN(zero_bytes, memory_bytes);
    in.dirty_rate_bps = mv->dirty_bps;
    return vl_migrate_lane_plan_compute(&in, error);
}

/* ---- lanes ------------------------------------------------------------------ */

static guint
lanes_timeout_ms(const Move *mv)
{
    return vl_migrate_lanes_timeout_ms(mv->migration->lane_up_max_s);
}

/* What came up, or NULL (the base path only); never fails the move. */
static VlMigrateLanes *
lanes_up(Move *mv, guint want, GHashTable *unavailable, gboolean *requested)
{
    g_autoptr(VlMigrateLanes) lanes = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GString) failed = g_string_new(NULL);
    guint i;

    if (!mv->daemon_up) {
        move_log(mv, G_LOG_LEVEL_WARNING,
                 "Moving '%s': the plan wants %u lane(s) but the daemon does not answer: the base path only",
                 mv->name, want);
        return NULL;
    }
    *requested = TRUE;
    lanes = vl_migrate_lanes_up(mv->mover->config.call, mv->mover->config.call_data,
                                mv->plan_id, mv->peer, want, unavailable,
                                lanes_timeout_ms(mv), &error);
    if (!lanes) {
        move_log(mv, G_LOG_LEVEL_WARNING,
                 "Moving '%s': lanes did not come up (%s): the base path only",
                 mv->name, error->message);
        return NULL;
    }
    for (i = 0; i < lanes->outcomes->len; i++) {
        const VlMigrateLaneOutcome *o = g_ptr_array_index(lanes->outcomes, i);

        if (o->error)
            g_string_append_printf(failed, "%s'%s' (%s)", failed->len ? ", " : "",
                                   o->interface, o->error);
    }
    if (failed->len > 0)
        move_log(mv, G_LOG_LEVEL_WARNING, "Moving '%s': lane(s) did not come up: %s",
                 mv->name, failed->str);
    if (lanes->steering_error)
        move_log(mv, G_LOG_LEVEL_WARNING,
                 "Moving '%s': lanes are up but connections cannot be steered over them (%s): the base path only",
                 mv->name, lanes->steering_error);
    return g_steal_pointer(&lanes);
}

static void
lanes_down(Move *mv, gboolean *requested)
{
    g_autoptr(GError) error = NULL;
    guint n_down = 0;

    if (!*requested)
        return;
    *requested = FALSE;
    if (!vl_migrate_lanes_down(mv->mover->config.call, mv->mover->config.call_data,
                               mv->plan_id, lanes_timeout_ms(mv), &n_down, &error))
        move_log(mv, G_LOG_LEVEL_WARNING,
                 "Moving '%s': taking the lanes of plan '%s' down failed: %s",
                 mv->name, mv->plan_id, error->message);
    else
        move_log(mv, G_LOG_LEVEL_MESSAGE, "Moving '%s': lanes down: %u",
                 mv->name, n_down);
}

/* ---- the job ------------------------------------------------------------------ */

static void
on_attempt_done(VlMigrateJob *job G_GNUC_UNUSED, const VlMigrateResult *result,
                gpointer user_data)
{
    Move *mv = user_data;

    mv->attempt_done = TRUE;
    mv->outcome = result->outcome;
    g_clear_error(&mv->attempt_error);
    if (result->error)
        mv->attempt_error = g_error_copy(result->error);
    if (result->outcome == VL_MIGRATE_OUTCOME_COMPLETED &&
        isfinite(result->progress.dirty_rate_bps))
        mv->dirty_bps = result->progress.dirty_rate_bps;
}

/* In the thread that cancels: the attempt's loop looks (below). */
static void
on_cancelled(GCancellable *cancellable G_GNUC_UNUSED, gpointer user_data)
{
    Move *mv = user_data;

    g_main_context_wakeup(mv->context);
}

/*
 * One attempt over @links links (@lanes up, NULL for the base path) with
 * @channels multifd channels (0: one stream); its outcome is in
 * mv->outcome and mv->attempt_error.  FALSE only when it could not start.
 */
static gboolean
run_attempt(Move *mv, const VlMigrateLanes *lanes, guint links, guint channels,
            gboolean *with_plan, GError **error)
{
    const VlMoverConfig *c = &mv->mover->config;
    const VlMigrateJobOps *ops = c->job_ops ? c->job_ops : vl_migrate_libvirt_ops();
    VlMigrateSettings settings;
    VlMigrateJobConfig job_config;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned int flags = 0;
    gpointer data;
    gulong cancel_id;
    gboolean cancel_sent = FALSE;

    vl_migrate_settings_init(&settings);
    if (!vl_migrate_build_attempt(&settings, mv->xml, mv->plan_id, mv->host_label,
                                  mv->migration ? mv->migration->migration_address : NULL,
                                  lanes, links, channels, mv->migration_uri, with_plan,
                                  &params, &nparams, &flags, error))
        return FALSE;
    if (c->job_ops && c->job_data_new)
        data = c->job_data_new(c->job_user_data, mv->dom, mv->dest_uri, params,
                               nparams, flags);
    else
        data = vl_migrate_libvirt_new(mv->dom, mv->dest_uri, params, nparams, flags);

    vl_migrate_job_config_init(&job_config);
    if (c->poll_ms)
        job_config.poll_ms = c->poll_ms;
    job_config.prior_dirty_rate_bps = mv->dirty_bps;
    if (mv->peer) {
        job_config.max_downtime_ms = mv->migration->max_downtime_ms;
        job_config.stall_abort_s = links > 1 ?
            VL_MIGRATE_STALL_ABORT_S + 2 * mv->migration->lane_up_max_s : 0;
    }

    /* The job's thread reports to the thread-default context: this
     * thread's own, turned here until the job is over. */
    g_main_context_push_thread_default(mv->context);
    mv->attempt_done = FALSE;
    mv->job = vl_migrate_job_new(ops, data, &job_config);
    vl_migrate_job_start(mv->job, NULL, on_attempt_done, mv);
    cancel_id = g_cancellable_connect(mv->cancellable, G_CALLBACK(on_cancelled), mv, NULL);
    while (!mv->attempt_done) {
        if (!cancel_sent && g_cancellable_is_cancelled(mv->cancellable)) {
            cancel_sent = TRUE;
            vl_migrate_job_cancel(mv->job, NULL);
        }
        g_main_context_iteration(mv->context, TRUE);
    }
    g_cancellable_disconnect(mv->cancellable, cancel_id);
    g_clear_pointer(&mv->job, vl_migrate_job_free);
    g_main_context_pop_thread_default(mv->context);

    if (c->job_ops && c->job_data_new)
        c->job_data_free(data);
    else
        vl_migrate_libvirt_free(data);
    return TRUE;
}

/* The outcome of the last attempt as the move's result. */
static gboolean
attempt_result(Move *mv, GError **error)
{
    if (mv->outcome == VL_MIGRATE_OUTCOME_COMPLETED)
        return TRUE;
    if (mv->attempt_error)
        g_propagate_prefixed_error(error, g_steal_pointer(&mv->attempt_error),
                                   "Cannot migrate domain '%s' to '%s'%s: ", mv->name,
                                   mv->dest_uri,
                                   mv->outcome == VL_MIGRATE_OUTCOME_CANCELLED ?
                                   " (cancelled)" : "");
    else
        g_set_error(error, VL_ERROR, VL_ERROR_FAILED,
                    "Cannot migrate domain '%s' to '%s'", mv->name, mv->dest_uri);
    return FALSE;
}

/* Whether the mover was cancelled (the daemon stopping) before the job. */
static gboolean
move_cancelled(Move *mv, GError **error)
{
    if (!g_cancellable_is_cancelled(mv->cancellable))
        return FALSE;
    g_set_error(error, VL_ERROR, VL_ERROR_FAILED,
                "The migration of '%s' to '%s' was cancelled before it started",
                mv->name, mv->dest_uri);
    return TRUE;
}

/* No peer in the policy for the destination: as the executor always did. */
static gboolean
move_plain(Move *mv, GError **error)
{
    const VlMigrationPolicy *m = mv->migration;

    if (m && mv->home_uri && m->migration_address &&
        vl_migrate_uri_equal(mv->dest_uri, mv->home_uri))
        mv->migration_uri = vl_migrate_uri_for_address(m->migration_address);
    g_debug("Moving '%s' to '%s' without lanes: no peer in the policy has that uri",
            mv->name, mv->dest_uri);
    if (!run_attempt(mv, NULL, 1, 0, NULL, error))
        return FALSE;
    return attempt_result(mv, error);
}

static gboolean
move_over_lanes(Move *mv, GError **error)
{
    const VlMigrationPolicy *m = mv->migration;
    g_autoptr(GHashTable) unavailable = NULL;
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    g_autoptr(VlMigrateLanes) lanes = NULL;
    g_autoptr(GError) local = NULL;
    const VlMigrateLaneStep *chosen = NULL;
    gboolean requested = FALSE;
    gboolean with_plan = FALSE;
    gboolean ok;
    double predicted_s = NAN;
    guint links;
    guint channels;
    char *raw = NULL;

    if (mv->peer->migration_address)
        mv->migration_uri = vl_migrate_uri_for_address(mv->peer->migration_address);
    if (virDomainGetUUID(mv->dom, mv->uuid) < 0 ||
        !(raw = virDomainGetXMLDesc(mv->dom, VIR_DOMAIN_XML_MIGRATABLE |
                                             VIR_DOMAIN_XML_SECURE))) {
        vl_error_set_from_virt(error, "Failed to read the XML of '%s'", mv->name);
        return FALSE;
    }
    mv->xml = g_strdup(raw);
    free(raw);

    unavailable = read_unavailable(mv);
    if (!(plan = plan_move(mv, unavailable, &local)) && local) {
        /* A move the admin's policy asked for still happens. */
        move_log(mv, G_LOG_LEVEL_WARNING,
                 "Moving '%s': cannot estimate the migration (%s): the base path only",
                 mv->name, local->message);
        g_clear_error(&local);
    }
    if (plan) {
        chosen = vl_migrate_lane_plan_get_chosen(plan);
        move_log(mv, G_LOG_LEVEL_MESSAGE,
                 "Moving '%s' to '%s': dirty rate %.1f MiB/s, threshold %g s: plan %u link(s), %u channels, predicted %.1f s (%s)",
                 mv->name, mv->peer->name, mv->dirty_bps / MIB, m->threshold_s,
                 chosen->links, chosen->channels, chosen->predicted_s,
                 vl_migrate_stop_reason_to_string(plan->stop_reason));
    }
    if (move_cancelled(mv, error))
        return FALSE;

    if (chosen && chosen->links > 1)
        lanes = lanes_up(mv, chosen->links - 1, unavailable, &requested);
    if (move_cancelled(mv, error)) {
        lanes_down(mv, &requested);
        return FALSE;
    }
    links = vl_migrate_lanes_get_links(lanes);
    channels = vl_migrate_channels_for(links, MAX(1, m->channels_per_lane), 0);
    if (plan && links <= plan->steps->len) {
        const VlMigrateLaneStep *s = g_ptr_array_index(plan->steps, links - 1);

        predicted_s = s->estimate.total_time_s;
    }
    if (lanes)
        move_log(mv, G_LOG_LEVEL_MESSAGE,
                 "Moving '%s': lanes up for plan '%s': %u of %u; %u link(s), %u channels",
                 mv->name, mv->plan_id, lanes->up->len, lanes->outcomes->len, links,
                 channels);
    if (mv->daemon_up &&
        !vl_migrate_announce(mv->mover->config.call, mv->mover->config.call_data,
                             mv->name, links, channels, predicted_s, &local)) {
        move_log(mv, G_LOG_LEVEL_WARNING,
                 "Moving '%s': the monitor was not told how the migration is carried (%s): its history line may guess",
                 mv->name, local->message);
        g_clear_error(&local);
    }

    ok = run_attempt(mv, lanes, links, channels, &with_plan, error);
    if (ok && mv->outcome == VL_MIGRATE_OUTCOME_FAILED && links > 1 &&
        !g_cancellable_is_cancelled(mv->cancellable)) {
        /* What failed may be a lane, the destination's side above all,
         * which this host cannot see: once more without any. */
        move_log(mv, G_LOG_LEVEL_WARNING,
                 "Moving '%s': the migration over %u links failed (%s); retrying over the base path only",
                 mv->name, links, mv->attempt_error ? mv->attempt_error->message : "?");
        lanes_down(mv, &requested);
        links = 1;
        channels = vl_migrate_channels_for(1, MAX(1, m->channels_per_lane), 0);
        if (mv->daemon_up &&
            !vl_migrate_announce(mv->mover->config.call, mv->mover->config.call_data,
                                 mv->name, links, channels, NAN, &local))
            g_clear_error(&local);
        ok = run_attempt(mv, NULL, links, channels, &with_plan, error);
    }
    lanes_down(mv, &requested);
    if (!ok)
        return FALSE;
    if (!attempt_result(mv, error))
        return FALSE;

    /* A later migration from the destination that does not go through
     * virt-lanes would otherwise carry this plan along. */
    if (with_plan && !vl_migrate_clear_dest_plan(mv->dest_uri, mv->uuid, &local))
        move_log(mv, G_LOG_LEVEL_WARNING, "Moving '%s': %s", mv->name, local->message);
    move_log(mv, G_LOG_LEVEL_MESSAGE,
             "Moved '%s' to '%s' over %u link(s) with %u channels", mv->name,
             mv->peer->name, links, channels);
    return TRUE;
}

gboolean
vl_mover_migrate(virDomainPtr dom, const char *dest_uri, gpointer user_data,
                 GError **error)
{
    VlMover *mover = user_data;
    g_autoptr(Move) mv = NULL;

    g_return_val_if_fail(mover != NULL && dom != NULL && dest_uri != NULL, FALSE);
    g_return_val_if_fail(!g_main_context_is_owner(mover->context), FALSE);

    mv = move_new(mover, dom, dest_uri);
    if (mv->migration)
        mv->peer = vl_migrate_find_peer(mv->migration, dest_uri, NULL, NULL);
    if (move_cancelled(mv, error))
        return FALSE;
    if (!mv->peer)
        return move_plain(mv, error);
    return move_over_lanes(mv, error);
}
