/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * estimator.c: live inputs for the migration model (see estimator.h)
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "estimate.h"
#include "estimator.h"
#include "history.h"
#include "migrate.h"
#include "vl-autoptr.h"

#define MAX_NAME_BYTES 1024
/* Policy bound on max_lanes (docs/policy.md). */
#define MAX_REQUEST_LANES 16

struct _VlEstimator {
    VlConn *conn;
    VlDomainTable *domains;
    VlDirtySampler *sampler;
    VlMonitor *monitor;
    const VlPolicy *policy;
    char *history_path;
    guint period_s;
    guint periods[VL_DIRTY_SAMPLER_MAX_PERIODS];
    gsize n_periods;
    GCancellable *cancellable;
};

typedef struct {
    char *domain;
    char *to;
    gint lanes;                 /* most lanes besides the base path;
                                 * -1 = the policy's max_lanes */
    double time_cap_s;          /* 0 = none */
} Args;

static void
args_clear(Args *a)
{
    g_clear_pointer(&a->domain, g_free);
    g_clear_pointer(&a->to, g_free);
}

/* --- request parsing ---------------------------------------------------- */

static gboolean
get_name(json_object *msg, const char *key, gboolean required, char **out,
         GError **error)
{
    json_object *v = NULL;
    const char *s;
    int len;

    if (!json_object_object_get_ex(msg, key, &v)) {
        if (!required)
            return TRUE;
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Request lacks '%s'", key);
        return FALSE;
    }
    if (!json_object_is_type(v, json_type_string)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Request field '%s' must be a string", key);
        return FALSE;
    }
    s = json_object_get_string(v);
    len = json_object_get_string_len(v);
    if (len == 0 || len > MAX_NAME_BYTES || (size_t)len != strlen(s) ||
        !g_utf8_validate(s, len, NULL)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Request field '%s' must be 1 to %d bytes of UTF-8 text",
                    key, MAX_NAME_BYTES);
        return FALSE;
    }
    *out = g_strdup(s);
    return TRUE;
}

static gboolean
check_keys(json_object *msg, const char *const *allowed, GError **error)
{
    json_object_object_foreach(msg, key, value) {
        gsize i;
        gboolean ok = FALSE;

        (void)value;
        for (i = 0; allowed[i]; i++)
            ok = ok || g_str_equal(key, allowed[i]);
        if (!ok) {
            g_autofree char *shown = g_strescape(key, NULL);

            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Unknown request field '%s'", shown);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
parse_args(json_object *msg, Args *a, GError **error)
{
    static const char *const allowed[] = {
        "version", "type", "domain", "to", "lanes", "time_cap_s", NULL
    };
    json_object *v = NULL;

    a->lanes = -1;
    if (!check_keys(msg, allowed, error) ||
        !get_name(msg, "domain", TRUE, &a->domain, error) ||
        !get_name(msg, "to", FALSE, &a->to, error))
        return FALSE;
    if (json_object_object_get_ex(msg, "lanes", &v)) {
        gint64 n = json_object_get_int64(v);

        if (!json_object_is_type(v, json_type_int) || n < 0 ||
            n > MAX_REQUEST_LANES) {
            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Request field 'lanes' must be an integer from 0 to %d",
                        MAX_REQUEST_LANES);
            return FALSE;
        }
        a->lanes = (gint)n;
    }
    if (json_object_object_get_ex(msg, "time_cap_s", &v)) {
        double d = json_object_get_double(v);

        if (!(json_object_is_type(v, json_type_int) ||
              json_object_is_type(v, json_type_double)) ||
            !isfinite(d) || d < 0 || d > VL_ESTIMATOR_MAX_TIME_CAP_S) {
            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Request field 'time_cap_s' must be a number from 0 to %d",
                        VL_ESTIMATOR_MAX_TIME_CAP_S);
            return FALSE;
        }
        a->time_cap_s = d;
    }
    return TRUE;
}

/* --- inputs ---------------------------------------------------------- */

static const VlMigrationPolicy *
migration_policy(VlEstimator *est)
{
    return est->policy ? est->policy->migration : NULL;
}

static const VlPeerConfig *
find_peer(VlEstimator *est, const char *name, GError **error)
{
    const VlMigrationPolicy *mp = migration_policy(est);
    g_autoptr(GString) names = g_string_new(NULL);
    guint i;

    for (i = 0; mp && i < mp->peers->len; i++) {
        const VlPeerConfig *p = g_ptr_array_index(mp->peers, i);

        if (name && g_str_equal(p->name, name))
            return p;
        g_string_append_printf(names, "%s'%s'", i ? ", " : "", p->name);
    }
    if (!name) {
        /* No --to: the one peer there is, if there is exactly one. */
        if (mp && mp->peers->len == 1)
            return g_ptr_array_index(mp->peers, 0);
        return NULL;
    }
    {
        g_autofree char *shown = g_strescape(name, NULL);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Unknown peer '%s' (the policy's peers: %s)", shown,
                    names->len ? names->str : "none");
    }
    return NULL;
}

static gboolean
domain_is_here(VlEstimator *est, const char *name)
{
    VlDomainInfo *info = vl_domain_table_lookup(est->domains, name);
    const char *state = info ? vl_domain_info_get_state(info) : NULL;

    return state && (g_str_equal(state, "running") ||
                     g_str_equal(state, "paused") ||
                     g_str_equal(state, "blocked"));
}

static double
fresh_limit_s(VlEstimator *est)
{
    return est->period_s ? 2.0 * est->period_s + 60 : 600;
}

typedef struct {
    double memory;
    double zero;
    gboolean zero_measured;
    double dirty;
    gboolean dirty_sampled;
    gboolean fresh;
    double overhead;
    gboolean overhead_learned;
    double max_downtime_s;
    VlEstimateDowntimeStep steps[VL_ESTIMATE_MAX_DOWNTIME_STEPS];
    gsize n_steps;
    guint channels_per_lane;
} Inputs;

static void
inputs_from(VlEstimator *est, const VlDirtySamplerStats *stats,
            const VlHistory *history, Inputs *in)
{
    const VlMigrationPolicy *mp = migration_policy(est);
    double rate = vl_dirty_sampler_stats_rate_bps(stats);
    guint i;

    memset(in, 0, sizeof(*in));
    in->memory = stats->memory_bytes;
    in->zero_measured = isfinite(stats->nonzero_bytes) &&
        stats->nonzero_bytes <= stats->memory_bytes;
    in->zero = in->zero_measured ? stats->memory_bytes - stats->nonzero_bytes
                                 : 0;
    in->dirty_sampled = isfinite(rate);
    in->dirty = in->dirty_sampled ? rate : 0;
    in->fresh = in->dirty_sampled && isfinite(stats->age_s) &&
        stats->age_s <= fresh_limit_s(est);
    in->overhead_learned = vl_history_learned_job_overhead(history, 0, &in->overhead);
    if (!in->overhead_learned)
        in->overhead = VL_ESTIMATOR_DEFAULT_OVERHEAD_S;
    in->max_downtime_s = (mp ? mp->max_downtime_ms : 300) / 1000.0;
    in->channels_per_lane = mp ? mp->channels_per_lane : 2;
    for (i = 0; mp && mp->downtime_ladder && i < mp->downtime_ladder->len &&
         i < VL_ESTIMATE_MAX_DOWNTIME_STEPS; i++) {
        const VlDowntimeStep *s = &g_array_index(mp->downtime_ladder,
                                                 VlDowntimeStep, i);

        in->steps[i].after_iteration = s->after_iteration;
        in->steps[i].downtime_s = s->downtime_ms / 1000.0;
        in->n_steps++;
    }
}

/* One way to the peer: the base path and @lanes lanes besides it. */
typedef struct {
    guint lanes;                /* besides the base path */
    guint links;                /* lanes + 1 */
    guint channels;
    guint n_rates;              /* entries of link_bps used */
    double link_bps[VL_ESTIMATE_MAX_LANES];
    double efficiency;
    const char *source;         /* NULL: no bandwidth known */
} Path;

/* The raw rate of the base path towards @peer, as 'virt-lanes migrate'
 * takes it: base_bandwidth_mbit, else what migrations over the base path
 * alone carried (undoing the efficiency applied to raw rates), else the
 * first lane's rate. */
static double
base_declared_bps(const VlPeerConfig *peer, const VlHistory *history)
{
    double learned = 0;

    if (!peer)
        return 0;
    if (peer->base_bandwidth_mbit > 0)
        return peer->base_bandwidth_mbit * 1e6 / 8;
    if (vl_history_learned_bps(history, 0, 0, &learned))
        return learned / VL_ESTIMATOR_LINK_EFFICIENCY;
    if (peer->lanes->len > 0) {
        const VlLaneConfig *l = g_ptr_array_index(peer->lanes, 0);

        return l->bandwidth_mbit * 1e6 / 8;
    }
    return 0;
}

static void
path_for(VlEstimator *est, const char *domain, const VlPeerConfig *peer,
         const VlHistory *history, const Inputs *in, guint lanes, Path *p)
{
    g_autoptr(VlMonitorMigration) m = vl_monitor_get(est->monitor, domain);
    double bps = 0;
    guint i;

    memset(p, 0, sizeof(*p));
    p->lanes = lanes;
    p->links = lanes + 1;
    /* As 'virt-lanes migrate' opens them: channels_per_lane per link. */
    p->channels = vl_migrate_channels_for(p->links, in->channels_per_lane, 0);
    p->efficiency = 1;

    if (m && m->active && m->direction == VL_MONITOR_DIRECTION_OUT &&
        m->plan.lanes == lanes && isfinite(m->eta.bandwidth_bps) &&
        m->eta.bandwidth_bps > 0) {
        bps = m->eta.bandwidth_bps;
        p->source = "measured";
    } else if (vl_history_learned_bps(history, lanes, 0, &bps)) {
        p->source = "history";
    }
    if (p->source) {
        /* What the whole path carried, as one pipe. */
        p->link_bps[0] = bps;
        p->n_rates = 1;
        return;
    }
    if (peer && base_declared_bps(peer, history) > 0 &&
        peer->lanes->len >= lanes && p->links <= VL_ESTIMATE_MAX_LANES) {
        p->link_bps[0] = base_declared_bps(peer, history);
        for (i = 0; i < lanes; i++) {
            const VlLaneConfig *l = g_ptr_array_index(peer->lanes, i);

            p->link_bps[i + 1] = l->bandwidth_mbit * 1e6 / 8;
        }
        p->n_rates = p->links;
        p->efficiency = VL_ESTIMATOR_LINK_EFFICIENCY;
        p->source = "declared";
    }
}

static gboolean
run_model(const Inputs *in, const Path *p, double time_cap_s,
          VlEstimate *result, GError **error)
{
    VlEstimateInput m;

    vl_estimate_input_init(&m);
    m.memory_bytes = in->memory;
    m.zero_bytes = in->zero;
    m.dirty_rate_bps = in->dirty;
    m.lane_bps = p->link_bps;
    m.n_lanes = p->n_rates;
    m.channels = p->channels;
    m.efficiency = p->efficiency;
    m.max_downtime_s = in->max_downtime_s;
    m.downtime_steps = in->n_steps ? in->steps : NULL;
    m.n_downtime_steps = in->n_steps;
    m.time_cap_s = time_cap_s;
    m.resume_s = VL_MIGRATE_RESUME_S;
    m.setup_s = vl_migrate_setup_from_overhead(in->overhead);
    return vl_estimate_run(&m, result, error);
}

static json_object *
number_or_null(double v)
{
    return isfinite(v) ? json_object_new_double(v) : NULL;
}

static json_object *
row_json(const Path *p, const VlEstimate *r, const GError *error)
{
    json_object *row = json_object_new_object();
    double agg = 0;
    guint i;

    for (i = 0; i < p->n_rates; i++)
        agg += p->link_bps[i] * p->efficiency;
    json_object_object_add(row, "lanes", json_object_new_int64(p->lanes));
    json_object_object_add(row, "links", json_object_new_int64(p->links));
    json_object_object_add(row, "channels", json_object_new_int64(p->channels));
    json_object_object_add(row, "bandwidth_source", p->source ?
                           json_object_new_string(p->source) : NULL);
    json_object_object_add(row, "bandwidth_per_link_bps", p->source ?
                           number_or_null(agg / p->links) : NULL);
    if (!p->source || !r) {
        json_object_object_add(row, "bandwidth_bps", NULL);
        json_object_object_add(row, "total_time_s", NULL);
        json_object_object_add(row, "downtime_s", NULL);
        json_object_object_add(row, "converges", NULL);
        json_object_object_add(row, "total_time_high_s", NULL);
        json_object_object_add(row, "verdict", json_object_new_string(
            error ? error->message : "no bandwidth known for this many lanes"));
        json_object_object_add(row, "iterations", NULL);
        return row;
    }
    json_object_object_add(row, "bandwidth_bps",
                           number_or_null(r->bandwidth_bps));
    json_object_object_add(row, "total_time_s",
                           number_or_null(r->total_time_s));
    json_object_object_add(row, "downtime_s", number_or_null(r->downtime_s));
    json_object_object_add(row, "converges",
                           json_object_new_boolean(r->converges));
    /* With a little more dirtying than measured (the sampling reads low). */
    json_object_object_add(row, "total_time_high_s",
                           number_or_null(r->total_time_high_s));
    json_object_object_add(row, "verdict",
                           json_object_new_string(vl_estimate_verdict_to_string(r->verdict)));
    json_object_object_add(row, "iterations",
                           json_object_new_int64(r->iterations));
    return row;
}

static json_object *
build_reply(VlEstimator *est, const Args *a, GError **error)
{
    const VlMigrationPolicy *mp = migration_policy(est);
    g_autoptr(VlDirtySamplerStats) stats = NULL;
    g_autoptr(VlHistory) history = NULL;
    g_autoptr(GError) hist_error = NULL;
    g_autoptr(json_object) reply = NULL;
    const VlPeerConfig *peer = NULL;
    json_object *inputs;
    json_object *rows;
    json_object *notes;
    json_object *curve;
    Inputs in;
    guint max_lanes;
    guint k;
    gsize i;

    if (a->to && !(peer = find_peer(est, a->to, error)))
        return NULL;
    if (!a->to)
        peer = find_peer(est, NULL, NULL);
    stats = vl_dirty_sampler_get_stats(est->sampler, a->domain);
    if (!stats || !domain_is_here(est, a->domain)) {
        g_autofree char *shown = g_strescape(a->domain, NULL);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Domain '%s' is not running on this host", shown);
        return NULL;
    }
    if (!(stats->memory_bytes > 0)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "The memory size of domain '%s' is not known", a->domain);
        return NULL;
    }

    history = est->history_path ? vl_history_load(est->history_path,
                                                  &hist_error) : NULL;
    if (!history)
        history = vl_history_new();
    inputs_from(est, stats, history, &in);
    max_lanes = a->lanes >= 0 ? (guint)a->lanes : mp ? mp->max_lanes : 0;
    /* A lane the peer does not list cannot come up. */
    if (peer)
        max_lanes = MIN(max_lanes, peer->lanes->len);

    reply = vl_ipc_reply_new_ok();
    json_object_object_add(reply, "domain", json_object_new_string(a->domain));
    json_object_object_add(reply, "peer", peer ?
                           json_object_new_string(peer->name) : NULL);

    inputs = json_object_new_object();
    json_object_object_add(inputs, "memory_bytes",
                           json_object_new_double(in.memory));
    json_object_object_add(inputs, "zero_bytes", json_object_new_double(in.zero));
    json_object_object_add(inputs, "zero_source", json_object_new_string(
        in.zero_measured ? "measured" : "assumed none"));
    json_object_object_add(inputs, "dirty_rate_bps",
                           json_object_new_double(in.dirty));
    json_object_object_add(inputs, "dirty_source", json_object_new_string(
        in.dirty_sampled ? "sampled" : "idle assumed"));
    json_object_object_add(inputs, "dirty_fresh",
                           json_object_new_boolean(in.fresh));
    json_object_object_add(inputs, "dirty_age_s", number_or_null(stats->age_s));
    json_object_object_add(inputs, "fresh_limit_s",
                           json_object_new_double(fresh_limit_s(est)));
    json_object_object_add(inputs, "measurements",
                           json_object_new_int64(stats->measurements));
    curve = json_object_new_array();
    for (i = 0; i < stats->n_curve; i++) {
        json_object *pt = json_object_new_object();

        json_object_object_add(pt, "seconds",
                               json_object_new_double(stats->curve[i].seconds));
        json_object_object_add(pt, "bytes",
                               json_object_new_double(stats->curve[i].bytes));
        json_object_array_add(curve, pt);
    }
    json_object_object_add(inputs, "curve", curve);
    curve = json_object_new_array();
    for (i = 0; i < est->n_periods; i++)
        json_object_array_add(curve, json_object_new_int(est->periods[i]));
    json_object_object_add(inputs, "measure_periods", curve);
    json_object_object_add(inputs, "last_error", stats->last_error ?
                           json_object_new_string(stats->last_error) : NULL);
    json_object_object_add(inputs, "overhead_s", json_object_new_double(in.overhead));
    json_object_object_add(inputs, "overhead_source", json_object_new_string(
        in.overhead_learned ? "history" : "default"));
    json_object_object_add(inputs, "max_downtime_s",
                           json_object_new_double(in.max_downtime_s));
    json_object_object_add(inputs, "time_cap_s", json_object_new_double(a->time_cap_s));
    json_object_object_add(inputs, "history_records",
                           json_object_new_int64(history->records->len));
    json_object_object_add(reply, "inputs", inputs);

    rows = json_object_new_array();
    for (k = 0; k <= max_lanes; k++) {
        g_autoptr(GError) model_error = NULL;
        VlEstimate r;
        Path p;
        gboolean ok;

        path_for(est, a->domain, peer, history, &in, k, &p);
        ok = p.source && run_model(&in, &p, a->time_cap_s, &r, &model_error);
        json_object_array_add(rows, row_json(&p, ok ? &r : NULL, model_error));
    }
    json_object_object_add(reply, "rows", rows);

    notes = json_object_new_array();
    if (!in.dirty_sampled)
        json_object_array_add(notes, json_object_new_string(
            "No dirty-rate measurement: the guest is assumed idle"));
    else if (!in.fresh)
        json_object_array_add(notes, json_object_new_string(
            "The dirty-rate measurement is not fresh"));
    if (!in.zero_measured)
        json_object_array_add(notes, json_object_new_string(
            "Untouched RAM unknown: all of it is assumed to be sent in full"));
    if (hist_error)
        json_object_array_add(notes, json_object_new_string(hist_error->message));
    if (!peer && !a->to)
        json_object_array_add(notes, json_object_new_string(
            "No peer chosen (the policy has none or several): declared lane rates unused"));
    json_object_object_add(reply, "notes", notes);
    return g_steal_pointer(&reply);
}

/* --- IPC handlers -------------------------------------------------------- */

typedef struct {
    VlIpcRequest *request;
    VlEstimator *estimator;
    Args args;
} Pending;

static void
on_refreshed(GObject *source G_GNUC_UNUSED, GAsyncResult *res, gpointer data)
{
    Pending *p = data;
    g_autoptr(GError) error = NULL;
    json_object *reply;

    if (!vl_dirty_sampler_refresh_finish(NULL, res, &error) &&
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        /* The daemon is going away: the estimator is gone. */
        vl_ipc_request_reply(p->request,
                             vl_ipc_reply_new_error("%s", error->message));
    } else {
        g_clear_error(&error);
        reply = build_reply(p->estimator, &p->args, &error);
        vl_ipc_request_reply(p->request, reply ? reply :
                             vl_ipc_reply_new_error("%s", error->message));
    }
    args_clear(&p->args);
    g_free(p);
}

void
vl_estimator_handle_estimate(VlEstimator *est, VlIpcRequest *request,
                             json_object *msg)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlDirtySamplerStats) known = NULL;
    Args a = { 0 };
    json_object *reply;
    Pending *p;

    if (!parse_args(msg, &a, &error) ||
        (a.to && !find_peer(est, a.to, &error))) {
        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("%s", error->message));
        args_clear(&a);
        return;
    }
    if (!domain_is_here(est, a.domain)) {
        g_autofree char *shown = g_strescape(a.domain, NULL);

        vl_ipc_request_reply(request, vl_ipc_reply_new_error(
            "Domain '%s' is not running on this host", shown));
        args_clear(&a);
        return;
    }
    known = vl_dirty_sampler_get_stats(est->sampler, a.domain);
    if (!known) {
        /* Not listed yet: read its size first (in the sampler's thread). */
        p = g_new0(Pending, 1);
        p->request = request;
        p->estimator = est;
        p->args = a;
        vl_dirty_sampler_refresh_async(est->sampler, est->cancellable, on_refreshed,
                                 p);
        return;
    }
    reply = build_reply(est, &a, &error);
    vl_ipc_request_reply(request, reply ? reply :
                         vl_ipc_reply_new_error("%s", error->message));
    args_clear(&a);
}

static void
on_measured(GObject *source G_GNUC_UNUSED, GAsyncResult *res, gpointer data)
{
    VlIpcRequest *request = data;
    g_autoptr(GError) error = NULL;
    VlDirtyRateSample s;
    json_object *reply;
    json_object *sample;

    if (!vl_dirty_sampler_measure_finish(NULL, res, &s, &error)) {
        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("%s", error->message));
        return;
    }
    reply = vl_ipc_reply_new_ok();
    sample = json_object_new_object();
    json_object_object_add(sample, "period_s", json_object_new_int(s.period_s));
    json_object_object_add(sample, "bytes_per_second",
                           json_object_new_double(s.bytes_per_second));
    json_object_object_add(reply, "sample", sample);
    vl_ipc_request_reply(request, reply);
}

void
vl_estimator_handle_measure(VlEstimator *est, VlIpcRequest *request,
                            json_object *msg)
{
    static const char *const allowed[] = {
        "version", "type", "domain", "period_s", "reset", NULL
    };
    g_autoptr(GError) error = NULL;
    g_autofree char *domain = NULL;
    json_object *v = NULL;
    gint64 period;

    if (!check_keys(msg, allowed, &error) ||
        !get_name(msg, "domain", TRUE, &domain, &error)) {
        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("%s", error->message));
        return;
    }
    if (!json_object_object_get_ex(msg, "period_s", &v) ||
        !json_object_is_type(v, json_type_int) ||
        (period = json_object_get_int64(v)) < VL_DIRTYRATE_MIN_PERIOD ||
        period > VL_DIRTYRATE_MAX_PERIOD) {
        vl_ipc_request_reply(request, vl_ipc_reply_new_error(
            "Request field 'period_s' must be an integer from %d to %d",
            VL_DIRTYRATE_MIN_PERIOD, VL_DIRTYRATE_MAX_PERIOD));
        return;
    }
    if (!domain_is_here(est, domain)) {
        g_autofree char *shown = g_strescape(domain, NULL);

        vl_ipc_request_reply(request, vl_ipc_reply_new_error(
            "Domain '%s' is not running on this host", shown));
        return;
    }
    if (json_object_object_get_ex(msg, "reset", &v)) {
        if (!json_object_is_type(v, json_type_boolean)) {
            vl_ipc_request_reply(request, vl_ipc_reply_new_error(
                "Request field 'reset' must be true or false"));
            return;
        }
        /* Old measurements (say, taken while the guest booted) go. */
        if (json_object_get_boolean(v))
            vl_dirty_sampler_forget(est->sampler, domain);
    }
    vl_dirty_sampler_measure_async(est->sampler, domain, (int)period,
                             est->cancellable, on_measured, request);
}

/* --- the monitor's plan ---------------------------------------------- */

static gboolean
interface_is_up(const char *ifname)
{
    g_autofree char *path = g_build_filename("/sys/class/net", ifname,
                                             "operstate", NULL);
    g_autofree char *state = NULL;

    if (!g_file_get_contents(path, &state, NULL, NULL))
        return FALSE;
    g_strstrip(state);
    return g_str_equal(state, "up") || g_str_equal(state, "unknown");
}

/* Lanes in use besides the base path: the policy's lane interfaces that
 * are up now (a lab host's spare lanes are down until a migration). */
static guint
lanes_up(VlEstimator *est)
{
    const VlMigrationPolicy *mp = migration_policy(est);
    guint n = 0;
    guint i;
    guint j;

    for (i = 0; mp && i < mp->peers->len; i++) {
        const VlPeerConfig *peer = g_ptr_array_index(mp->peers, i);

        for (j = 0; j < peer->lanes->len; j++) {
            const VlLaneConfig *l = g_ptr_array_index(peer->lanes, j);

            if (interface_is_up(l->interface))
                n++;
        }
    }
    return n;
}

static void
on_migration_begins(VlMonitor *monitor G_GNUC_UNUSED, const char *domain,
                    VlMonitorPlan *plan, gpointer data)
{
    VlEstimator *est = data;
    g_autoptr(VlDirtySamplerStats) stats = vl_dirty_sampler_get_stats(est->sampler,
                                                           domain);
    g_autoptr(VlHistory) history = NULL;
    const VlPeerConfig *peer = find_peer(est, NULL, NULL);
    VlEstimate r;
    Inputs in;
    Path p;

    plan->lanes = lanes_up(est);
    if (!stats || !(stats->memory_bytes > 0))
        return;
    history = est->history_path ? vl_history_load(est->history_path, NULL)
                                : NULL;
    if (!history)
        history = vl_history_new();
    inputs_from(est, stats, history, &in);
    plan->prior_dirty_rate_bps = in.dirty;
    path_for(est, domain, peer, history, &in, plan->lanes, &p);
    plan->channels = p.channels;
    if (p.source && run_model(&in, &p, 0, &r, NULL) && r.converges)
        plan->predicted_total_s = r.total_time_s;
}

static gboolean
is_busy(const char *name, gpointer data)
{
    VlEstimator *est = data;

    return vl_monitor_is_migrating(est->monitor, name);
}

/* The last start of @name was an incoming migration ("lifecycle started
 * migrated" is newer than any other "lifecycle started"). */
static gboolean
has_arrived(const char *name, gpointer data)
{
    VlEstimator *est = data;
    VlDomainInfo *info = est->domains ? vl_domain_table_lookup(est->domains, name)
                                      : NULL;
    guint i;

    for (i = info ? vl_domain_info_get_n_events(info) : 0; i > 0; i--) {
        const VlDomainEvent *ev = vl_domain_info_get_event(info, i - 1);

        if (g_str_has_prefix(ev->event, "lifecycle started "))
            return g_str_equal(ev->event, "lifecycle started migrated");
    }
    return FALSE;
}

/* --- life cycle ---------------------------------------------------------- */

VlEstimator *
vl_estimator_new(const VlConfig *config, VlConn *conn, VlDomainTable *domains,
                 const VlDirtySamplerOps *sampler_ops, gpointer sampler_ops_data,
                 const VlMonitorOps *monitor_ops, gpointer monitor_ops_data)
{
    VlEstimator *est = g_new0(VlEstimator, 1);
    g_autoptr(GError) error = NULL;

    est->conn = conn;
    est->domains = domains;
    est->cancellable = g_cancellable_new();
    est->sampler = vl_dirty_sampler_new(sampler_ops, sampler_ops_data, conn);
    est->monitor = vl_monitor_new(monitor_ops, monitor_ops_data, conn);
    vl_dirty_sampler_set_busy_func(est->sampler, is_busy, est);
    vl_dirty_sampler_set_arrived_func(est->sampler, has_arrived, est);
    vl_monitor_set_begin_func(est->monitor, on_migration_begins, est);
    /* The configuration was checked when it was loaded. */
    if (!vl_estimator_configure(est, config, &error))
        g_debug("Estimator configuration refused: %s", error->message);
    return est;
}

void
vl_estimator_free(VlEstimator *est)
{
    if (!est)
        return;
    g_cancellable_cancel(est->cancellable);
    g_clear_pointer(&est->monitor, vl_monitor_free);
    g_clear_pointer(&est->sampler, vl_dirty_sampler_free);
    g_clear_object(&est->cancellable);
    g_free(est->history_path);
    g_free(est);
}

gboolean
vl_estimator_configure(VlEstimator *est, const VlConfig *config,
                       GError **error)
{
    if (!vl_dirty_sampler_configure(est->sampler, config->sample_period_s,
                              config->sample_periods,
                              config->n_sample_periods, error))
        return FALSE;
    est->period_s = config->sample_period_s;
    est->n_periods = MIN(config->n_sample_periods, VL_DIRTY_SAMPLER_MAX_PERIODS);
    memcpy(est->periods, config->sample_periods, est->n_periods * sizeof(guint));
    g_free(est->history_path);
    est->history_path = g_strdup(config->history_file);
    vl_monitor_set_history(est->monitor, config->history_file);
    return TRUE;
}

void
vl_estimator_set_policy(VlEstimator *est, const VlPolicy *policy)
{
    est->policy = policy;
}

void
vl_estimator_attach(VlEstimator *est, virConnectPtr vconn)
{
    g_autoptr(GError) error = NULL;

    if (!vl_monitor_attach(est->monitor, vconn, &error))
        g_debug("Migration monitor incomplete: %s", error->message);
}

void
vl_estimator_detach(VlEstimator *est)
{
    vl_monitor_detach(est->monitor);
}

VlDirtySampler *
vl_estimator_get_sampler(VlEstimator *est)
{
    return est->sampler;
}

VlMonitor *
vl_estimator_get_monitor(VlEstimator *est)
{
    return est->monitor;
}

void
vl_estimator_add_status(VlEstimator *est, json_object *domains)
{
    size_t n = json_object_array_length(domains);
    size_t i;

    for (i = 0; i < n; i++) {
        json_object *dom = json_object_array_get_idx(domains, i);
        json_object *name = NULL;
        g_autoptr(VlMonitorMigration) m = NULL;

        if (!json_object_object_get_ex(dom, "name", &name))
            continue;
        m = vl_monitor_get(est->monitor, json_object_get_string(name));
        json_object_object_add(dom, "migration",
                               m ? vl_monitor_migration_to_json(m) : NULL);
    }
}
