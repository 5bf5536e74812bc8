/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "evacuate.h"
#include "virt-error.h"

/* ---- the graph ---------------------------------------------------------- */

VlGraph *
vl_evacuate_graph_build(const char *const *domains, GPtrArray *affinities,
                        const VlGraph *observed, double *affinity_scale,
                        GError **error)
{
    g_autoptr(VlGraph) graph = vl_graph_new();
    double max_observed = 0;
    double max_declared = 0;
    double scale = 1;
    guint i;

    for (i = 0; domains && domains[i]; i++) {
        guint index = 0;

        if (!vl_graph_add_vertex(graph, domains[i], &index, error))
            return NULL;
        if (index != i) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Domain '%s' is listed twice", domains[i]);
            return NULL;
        }
    }

    /* Only pairs inside the group are kept: order.h ignores the rest. */
    if (observed) {
        for (i = 0; i < vl_graph_n_edges(observed); i++) {
            guint u = 0, v = 0;
            double w = vl_graph_edge(observed, i, &u, &v);

            if (vl_graph_lookup(graph, vl_graph_vertex_name(observed, u), NULL) &&
                vl_graph_lookup(graph, vl_graph_vertex_name(observed, v), NULL))
                max_observed = MAX(max_observed, w);
        }
    }
    for (i = 0; affinities && i < affinities->len; i++) {
        const VlAffinity *aff = g_ptr_array_index(affinities, i);

        if (vl_graph_lookup(graph, aff->a, NULL) &&
            vl_graph_lookup(graph, aff->b, NULL))
            max_declared = MAX(max_declared, aff->weight);
    }
    if (max_observed > 0 && max_declared > 0)
        scale = max_observed / max_declared;

    if (observed) {
        for (i = 0; i < vl_graph_n_edges(observed); i++) {
            guint u = 0, v = 0;
            double w = vl_graph_edge(observed, i, &u, &v);
            const char *a = vl_graph_vertex_name(observed, u);
            const char *b = vl_graph_vertex_name(observed, v);

            if (vl_graph_lookup(graph, a, NULL) && vl_graph_lookup(graph, b, NULL) &&
                !vl_graph_add_edge(graph, a, b, w, error))
                return NULL;
        }
    }
    for (i = 0; affinities && i < affinities->len; i++) {
        const VlAffinity *aff = g_ptr_array_index(affinities, i);

        if (vl_graph_lookup(graph, aff->a, NULL) &&
            vl_graph_lookup(graph, aff->b, NULL) &&
            !vl_graph_add_edge(graph, aff->a, aff->b, aff->weight * scale, error))
            return NULL;
    }
    if (affinity_scale)
        *affinity_scale = scale;
    return g_steal_pointer(&graph);
}

/* ---- estimates ---------------------------------------------------------- */

VlEvacuateDomain *
vl_evacuate_domain_new(const char *name)
{
    VlEvacuateDomain *domain = g_new0(VlEvacuateDomain, 1);

    domain->name = g_strdup(name);
    domain->dirty_rate_bps = NAN;
    return domain;
}

void
vl_evacuate_domain_free(VlEvacuateDomain *domain)
{
    if (!domain)
        return;
    g_free(domain->name);
    g_free(domain);
}

void
vl_evacuate_move_estimate_clear(VlEvacuateMoveEstimate *estimate)
{
    g_clear_pointer(&estimate->links, g_strfreev);
    memset(estimate, 0, sizeof(*estimate));
}

static void
link_free(VlEvacuateLink *link)
{
    if (!link)
        return;
    g_free(link->name);
    g_free(link);
}

VlEvacuatePath *
vl_evacuate_path_new(void)
{
    VlEvacuatePath *path = g_new0(VlEvacuatePath, 1);

    path->links = g_ptr_array_new_with_free_func((GDestroyNotify)link_free);
    path->channels_per_link = 2;
    path->max_downtime_s = 0.3;
    path->setup_s = VL_MIGRATE_SETUP_S;
    return path;
}

gboolean
vl_evacuate_path_learn_setup(VlEvacuatePath *path, const VlHistory *history)
{
    double overhead;

    g_return_val_if_fail(path != NULL, FALSE);

    if (!history || !vl_history_learned_job_overhead(history, 0, &overhead))
        return FALSE;
    path->setup_s = vl_migrate_setup_from_overhead(overhead);
    return TRUE;
}

void
vl_evacuate_path_free(VlEvacuatePath *path)
{
    if (!path)
        return;
    g_clear_pointer(&path->links, g_ptr_array_unref);
    g_free(path);
}

gboolean
vl_evacuate_path_add_link(VlEvacuatePath *path, const char *name, double bps,
                          GError **error)
{
    VlEvacuateLink *link = NULL;

    if (!(bps > 0) || !isfinite(bps)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Rate of link '%s' must be positive and finite, not %g",
                    name, bps);
        return FALSE;
    }
    link = g_new0(VlEvacuateLink, 1);
    link->name = g_strdup(name);
    link->bps = bps;
    g_ptr_array_add(path->links, link);
    return TRUE;
}

VlEvacuatePath *
vl_evacuate_path_from_peer(const VlMigrationPolicy *migration,
                           const VlPeerConfig *peer, guint max_lanes,
                           GHashTable *unavailable, GError **error)
{
    g_autoptr(VlEvacuatePath) path = vl_evacuate_path_new();
    double base_bps = 0;
    guint added = 0;
    guint i;

    if (peer->base_bandwidth_mbit > 0) {
        base_bps = peer->base_bandwidth_mbit * 1e6 / 8;
    } else if (peer->lanes && peer->lanes->len > 0) {
        const VlLaneConfig *first = g_ptr_array_index(peer->lanes, 0);

        base_bps = first->bandwidth_mbit * 1e6 / 8;
    } else {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Peer '%s' declares neither base_bandwidth_mbit nor a lane: no link rate is known for an estimate",
                    peer->name);
        return NULL;
    }
    if (max_lanes == VL_EVACUATE_LANES_FROM_POLICY)
        max_lanes = migration->max_lanes;
    path->channels_per_link = MAX(1, migration->channels_per_lane);
    path->max_downtime_s = migration->max_downtime_ms / 1000.0;

    if (!vl_evacuate_path_add_link(path, "base", base_bps, error))
        return NULL;
    for (i = 0; peer->lanes && i < peer->lanes->len && added < max_lanes; i++) {
        const VlLaneConfig *lane = g_ptr_array_index(peer->lanes, i);

        if (unavailable && g_hash_table_contains(unavailable, lane->interface))
            continue;
        if (!vl_evacuate_path_add_link(path, lane->interface,
                                       lane->bandwidth_mbit * 1e6 / 8, error))
            return NULL;
        added++;
    }
    return g_steal_pointer(&path);
}

gboolean
vl_evacuate_estimate_links(gpointer data, const VlEvacuateDomain *domain,
                           guint sharing, VlEvacuateMoveEstimate *out,
                           GError **error)
{
    const VlEvacuatePath *path = data;
    g_autofree double *bps = NULL;
    g_autoptr(GStrvBuilder) names = g_strv_builder_new();
    VlEstimateInput in;
    VlEstimate est;
    double aggregate = 0;
    guint n = path ? path->links->len : 0;
    guint i;

    memset(out, 0, sizeof(*out));
    if (sharing == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Moves sharing the links must be at least 1");
        return FALSE;
    }
    if (n == 0 || !(domain->memory_bytes > 0))
        return TRUE;

    bps = g_new0(double, n);
    for (i = 0; i < n; i++) {
        const VlEvacuateLink *link = g_ptr_array_index(path->links, i);

        /* min(eta L / k, n c / k) = min(eta L, n c) / k: dividing every
         * link divides the aggregate. */
        bps[i] = link->bps / sharing;
        g_strv_builder_add(names, link->name);
    }

    vl_estimate_input_init(&in);
    in.memory_bytes = domain->memory_bytes;
    in.zero_bytes = CLAMP(domain->zero_bytes, 0, domain->memory_bytes);
    in.dirty_rate_bps = isnan(domain->dirty_rate_bps) ? 0 : domain->dirty_rate_bps;
    in.lane_bps = bps;
    in.n_lanes = n;
    in.channels = vl_migrate_channels_for(n, path->channels_per_link, 0);
    in.efficiency = VL_MIGRATE_EFFICIENCY;
    in.max_downtime_s = path->max_downtime_s;
    in.setup_s = path->setup_s;
    in.resume_s = VL_MIGRATE_RESUME_S;

    if (!vl_estimate_aggregate_bandwidth(&in, &aggregate, error) ||
        !vl_estimate_run(&in, &est, error)) {
        g_prefix_error(error, "Cannot estimate the migration of '%s': ",
                       domain->name);
        return FALSE;
    }
    out->estimated = TRUE;
    out->estimate = est;
    out->bandwidth_bps = aggregate;
    out->channels = in.channels;
    out->links = g_strv_builder_end(names);
    return TRUE;
}

/* ---- the plan ----------------------------------------------------------- */

double
vl_evacuate_move_overhead(double wall_s, double job_s, double lanes_wait_s)
{
    if (!(isfinite(wall_s) && wall_s >= 0 && isfinite(job_s) && job_s >= 0 &&
          isfinite(lanes_wait_s) && lanes_wait_s >= 0))
        return NAN;
    return MAX(0, wall_s - job_s - lanes_wait_s);
}

void
vl_evacuate_plan_config_init(VlEvacuatePlanConfig *config)
{
    memset(config, 0, sizeof(*config));
    config->concurrency = 1;
    vl_order_options_init(&config->order);
    config->move_overhead_s = VL_EVACUATE_MOVE_OVERHEAD_S;
}

static void
step_free(VlEvacuateStep *step)
{
    if (!step)
        return;
    g_free(step->name);
    vl_evacuate_move_estimate_clear(&step->move);
    g_free(step);
}

void
vl_evacuate_plan_free(VlEvacuatePlan *plan)
{
    if (!plan)
        return;
    g_clear_pointer(&plan->steps, g_ptr_array_unref);
    g_free(plan);
}

VlEvacuatePlan *
vl_evacuate_plan_compute(const VlGraph *graph, GPtrArray *domains,
                         const VlEvacuatePlanConfig *config, GError **error)
{
    g_autoptr(VlEvacuatePlan) plan = NULL;
    g_autoptr(VlOrder) order = NULL;
    g_autoptr(GHashTable) by_name = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree const char **names = NULL;
    g_autofree double *slots = NULL;
    VlEvacuatePlanConfig defaults;
    gboolean unknown = FALSE;
    guint n = domains ? domains->len : 0;
    guint i;

    if (!config) {
        vl_evacuate_plan_config_init(&defaults);
        config = &defaults;
    }
    if (config->concurrency < 1 || config->concurrency > VL_EVACUATE_CONCURRENCY_MAX) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Concurrency must be between 1 and %d, not %u",
                    VL_EVACUATE_CONCURRENCY_MAX, config->concurrency);
        return NULL;
    }
    if (!(config->move_overhead_s >= 0 && config->move_overhead_s <= VL_EVACUATE_FIXED_MAX_S) ||
        !(config->lanes_up_s >= 0 && config->lanes_up_s <= VL_EVACUATE_FIXED_MAX_S)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Fixed cost per move ('%g') and lane bring-up ('%g') must be from 0 to %g s",
                    config->move_overhead_s, config->lanes_up_s, VL_EVACUATE_FIXED_MAX_S);
        return NULL;
    }
    if (n == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID, "No domain to move");
        return NULL;
    }

    names = g_new0(const char *, n + 1);
    for (i = 0; i < n; i++) {
        const VlEvacuateDomain *d = g_ptr_array_index(domains, i);

        if (!vl_graph_lookup(graph, d->name, NULL)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Domain '%s' is not in the communication graph", d->name);
            return NULL;
        }
        names[i] = d->name;
        g_hash_table_insert(by_name, d->name, (gpointer)d);
    }
    order = vl_order_plan(graph, names, &config->order, error);
    if (!order)
        return NULL;

    plan = g_new0(VlEvacuatePlan, 1);
    plan->steps = g_ptr_array_new_with_free_func((GDestroyNotify)step_free);
    plan->concurrency = config->concurrency;
    plan->sharing = MIN(config->concurrency, n);
    plan->bandwidth = order->bandwidth;
    plan->cost = order->cost;
    plan->method = order->method;
    plan->optimal = order->optimal;
    plan->lanes_up_s = config->lanes_up_s;
    plan->move_overhead_s = config->move_overhead_s;
    for (i = 0; i < vl_graph_n_edges(graph); i++) {
        guint u = 0, v = 0;

        vl_graph_edge(graph, i, &u, &v);
        if (g_hash_table_contains(by_name, vl_graph_vertex_name(graph, u)) &&
            g_hash_table_contains(by_name, vl_graph_vertex_name(graph, v)))
            plan->n_edges++;
    }

    /* The lanes come up once, before anything moves. */
    slots = g_new0(double, plan->sharing);
    for (i = 0; i < plan->sharing; i++)
        slots[i] = config->lanes_up_s;
    plan->total_s = config->lanes_up_s;
    for (i = 0; i < order->n; i++) {
        g_autofree VlEvacuateStep *step = g_new0(VlEvacuateStep, 1);
        const VlEvacuateDomain *d = g_hash_table_lookup(by_name, order->names[i]);
        guint slot = 0;
        guint k;

        step->name = g_strdup(d->name);
        vl_graph_lookup(graph, d->name, &step->vertex);
        step->memory_bytes = d->memory_bytes;
        step->zero_bytes = d->zero_bytes;
        step->dirty_rate_bps = d->dirty_rate_bps;
        step->job_s = NAN;
        step->overhead_s = NAN;
        step->duration_s = NAN;
        if (config->estimate) {
            if (!config->estimate(config->estimate_data, d, plan->sharing,
                                  &step->move, error)) {
                vl_evacuate_move_estimate_clear(&step->move);
                step_free(g_steal_pointer(&step));
                return NULL;
            }
            if (step->move.estimated) {
                step->job_s = step->move.estimate.converges ?
                    step->move.estimate.total_time_s : INFINITY;
                step->overhead_s = config->move_overhead_s;
                step->duration_s = step->job_s + step->overhead_s;
            }
        }

        /* List scheduling: the next move takes the slot that frees first.
         * Once one duration is unknown, so is every later slot time. */
        for (k = 1; k < plan->sharing; k++) {
            if (slots[k] < slots[slot])
                slot = k;
        }
        if (unknown || isnan(step->duration_s)) {
            unknown = TRUE;
            step->start_s = NAN;
            step->end_s = NAN;
        } else {
            step->start_s = slots[slot];
            step->end_s = slots[slot] + step->duration_s;
            slots[slot] = step->end_s;
            plan->total_s = MAX(plan->total_s, step->end_s);
        }
        g_ptr_array_add(plan->steps, g_steal_pointer(&step));
    }
    if (unknown)
        plan->total_s = NAN;
    return g_steal_pointer(&plan);
}

GStrv
vl_evacuate_plan_get_order(const VlEvacuatePlan *plan)
{
    GStrv names = g_new0(char *, plan->steps->len + 1);
    guint i;

    for (i = 0; i < plan->steps->len; i++)
        names[i] = g_strdup(((VlEvacuateStep *)g_ptr_array_index(plan->steps, i))->name);
    return names;
}

static json_object *
json_number(double value)
{
    return isfinite(value) ? json_object_new_double(value) : NULL;
}

static const char *
method_to_string(VlOrderMethod method)
{
    switch (method) {
    case VL_ORDER_METHOD_EXACT:
        return "exact";
    case VL_ORDER_METHOD_RCM:
        return "rcm";
    case VL_ORDER_METHOD_SEARCH:
        return "search";
    }
    return "?";
}

json_object *
vl_evacuate_plan_to_json(const VlEvacuatePlan *plan)
{
    json_object *obj = json_object_new_object();
    json_object *moves = json_object_new_array();
    guint i;

    json_object_object_add(obj, "concurrency", json_object_new_int(plan->concurrency));
    json_object_object_add(obj, "sharing", json_object_new_int(plan->sharing));
    json_object_object_add(obj, "edges", json_object_new_int(plan->n_edges));
    json_object_object_add(obj, "max_stretch", json_object_new_int(plan->bandwidth));
    json_object_object_add(obj, "total_stretch", json_number(plan->cost));
    json_object_object_add(obj, "method",
                           json_object_new_string(method_to_string(plan->method)));
    json_object_object_add(obj, "optimal", json_object_new_boolean(plan->optimal));
    json_object_object_add(obj, "lanes_up_s", json_number(plan->lanes_up_s));
    json_object_object_add(obj, "move_overhead_s", json_number(plan->move_overhead_s));
    json_object_object_add(obj, "total_s", json_number(plan->total_s));
    for (i = 0; i < plan->steps->len; i++) {
        const VlEvacuateStep *step = g_ptr_array_index(plan->steps, i);
        const VlEvacuateMoveEstimate *m = &step->move;
        json_object *move = json_object_new_object();
        json_object *links = json_object_new_array();
        guint j;

        for (j = 0; m->links && m->links[j]; j++)
            json_object_array_add(links, json_object_new_string(m->links[j]));
        json_object_object_add(move, "position", json_object_new_int(i + 1));
        json_object_object_add(move, "domain", json_object_new_string(step->name));
        json_object_object_add(move, "memory_bytes", json_number(step->memory_bytes));
        json_object_object_add(move, "zero_bytes", json_number(step->zero_bytes));
        json_object_object_add(move, "dirty_rate_bps", json_number(step->dirty_rate_bps));
        json_object_object_add(move, "estimated", json_object_new_boolean(m->estimated));
        json_object_object_add(move, "links", links);
        json_object_object_add(move, "channels", json_object_new_int(m->channels));
        json_object_object_add(move, "bandwidth_bps",
                               m->estimated ? json_number(m->bandwidth_bps) : NULL);
        json_object_object_add(move, "job_s", json_number(step->job_s));
        json_object_object_add(move, "overhead_s", json_number(step->overhead_s));
        json_object_object_add(move, "duration_s", json_number(step->duration_s));
        json_object_object_add(move, "downtime_s",
                               m->estimated ? json_number(m->estimate.downtime_s) : NULL);
        json_object_object_add(move, "converges",
                               m->estimated ?
                               json_object_new_boolean(m->estimate.converges) : NULL);
        json_object_object_add(move, "verdict",
                               m->estimated ?
                               json_object_new_string(vl_estimate_verdict_to_string(m->estimate.verdict)) :
                               NULL);
        json_object_object_add(move, "start_s", json_number(step->start_s));
        json_object_object_add(move, "end_s", json_number(step->end_s));
        json_object_array_add(moves, move);
    }
    json_object_object_add(obj, "moves", moves);
    return obj;
}

/* ---- the run ------------------------------------------------------------ */

typedef struct {
    char *name;
    VlEvacuateMoveState state;
    GError *error;
    gpointer handle;
    guint position;             /* 1-based start position, 0 = not started */
    gint64 started_us;
    gint64 ended_us;
} Move;

typedef struct {
    char *a;                    /* strcmp(a, b) < 0 */
    char *b;
    double weight;
} KnownEdge;

struct _VlEvacuateRun {
    GPtrArray *moves;           /* Move*, plan order */
    GHashTable *by_name;        /* name (borrowed) -> index + 1 */
    guint concurrency;
    const VlEvacuateMoverOps *ops;
    gpointer ops_data;
    GMainContext *context;

    VlEvacuateEventFunc event;
    VlEvacuateDoneFunc done;
    gpointer user_data;

    GArray *started;            /* guint move indices, start order */
    guint running;
    guint finished;
    gboolean begun;
    gboolean stopping;
    gboolean cancelled;
    gboolean done_called;
    gboolean release_called;    /* the mover's release() */
    gboolean releasing;         /* ... not ended yet */
    GSource *fill_source;

    /* dynamic order */
    gboolean dynamic;
    GPtrArray *known;           /* KnownEdge*, first-seen order */
    GHashTable *known_index;    /* "a\x1fb" -> KnownEdge (borrowed) */
    VlEvacuateObserveFunc observe;
    gpointer observe_data;
    GCancellable *observe_cancel;
    gboolean observing;
    guint observed_after;       /* value of @finished at the last one */
};

const char *
vl_evacuate_move_state_to_string(VlEvacuateMoveState state)
{
    switch (state) {
    case VL_EVACUATE_MOVE_PENDING:
        return "pending";
    case VL_EVACUATE_MOVE_RUNNING:
        return "running";
    case VL_EVACUATE_MOVE_MOVED:
        return "moved";
    case VL_EVACUATE_MOVE_FAILED:
        return "failed";
    case VL_EVACUATE_MOVE_CANCELLED:
        return "cancelled";
    }
    return "?";
}

static void
known_edge_free(KnownEdge *edge)
{
    if (!edge)
        return;
    g_free(edge->a);
    g_free(edge->b);
    g_free(edge);
}

VlEvacuateRun *
vl_evacuate_run_new(const VlEvacuatePlan *plan, const VlEvacuateMoverOps *ops,
                    gpointer ops_data)
{
    VlEvacuateRun *run = g_new0(VlEvacuateRun, 1);
    guint i;

    run->moves = g_ptr_array_new();
    run->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    run->concurrency = MAX(1, plan->concurrency);
    run->ops = ops;
    run->ops_data = ops_data;
    run->started = g_array_new(FALSE, FALSE, sizeof(guint));
    run->known = g_ptr_array_new_with_free_func((GDestroyNotify)known_edge_free);
    run->known_index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (i = 0; i < plan->steps->len; i++) {
        const VlEvacuateStep *step = g_ptr_array_index(plan->steps, i);
        Move *m = g_new0(Move, 1);

        m->name = g_strdup(step->name);
        g_ptr_array_add(run->moves, m);
        g_hash_table_insert(run->by_name, m->name, GUINT_TO_POINTER(i + 1));
    }
    return run;
}

void
vl_evacuate_run_free(VlEvacuateRun *run)
{
    guint i;

    if (!run)
        return;
    g_warn_if_fail(!run->observing);
    if (run->fill_source) {
        g_source_destroy(run->fill_source);
        g_clear_pointer(&run->fill_source, g_source_unref);
    }
    for (i = 0; run->moves && i < run->moves->len; i++) {
        Move *m = g_ptr_array_index(run->moves, i);

        if (m->handle && run->ops->free)
            run->ops->free(run->ops_data, m->handle);
        g_clear_error(&m->error);
        g_free(m->name);
        g_free(m);
    }
    g_clear_pointer(&run->by_name, g_hash_table_unref);
    g_clear_pointer(&run->moves, g_ptr_array_unref);
    g_clear_pointer(&run->started, g_array_unref);
    g_clear_pointer(&run->known_index, g_hash_table_unref);
    g_clear_pointer(&run->known, g_ptr_array_unref);
    g_clear_object(&run->observe_cancel);
    g_clear_pointer(&run->context, g_main_context_unref);
    g_free(run);
}

/* Keeps the highest rate seen for the pair, if both move. */
static void
known_merge(VlEvacuateRun *run, const char *x, const char *y, double weight)
{
    const char *a = strcmp(x, y) < 0 ? x : y;
    const char *b = a == x ? y : x;
    g_autofree char *key = NULL;
    KnownEdge *edge = NULL;

    if (!g_hash_table_contains(run->by_name, a) ||
        !g_hash_table_contains(run->by_name, b) || g_str_equal(a, b))
        return;
    key = g_strdup_printf("%s\x1f%s", a, b);
    edge = g_hash_table_lookup(run->known_index, key);
    if (edge) {
        edge->weight = MAX(edge->weight, weight);
        return;
    }
    edge = g_new0(KnownEdge, 1);
    edge->a = g_strdup(a);
    edge->b = g_strdup(b);
    edge->weight = weight;
    g_ptr_array_add(run->known, edge);
    g_hash_table_insert(run->known_index, g_steal_pointer(&key), edge);
}

static void
known_merge_graph(VlEvacuateRun *run, const VlGraph *graph)
{
    guint i;

    for (i = 0; graph && i < vl_graph_n_edges(graph); i++) {
        guint u = 0, v = 0;
        double w = vl_graph_edge(graph, i, &u, &v);

        known_merge(run, vl_graph_vertex_name(graph, u),
                    vl_graph_vertex_name(graph, v), w);
    }
}

void
vl_evacuate_run_set_dynamic(VlEvacuateRun *run, const VlGraph *known,
                            VlEvacuateObserveFunc observe,
                            gpointer observe_data)
{
    g_return_if_fail(!run->begun);
    run->dynamic = TRUE;
    run->observe = observe;
    run->observe_data = observe_data;
    known_merge_graph(run, known);
}

static Move *
move_at(const VlEvacuateRun *run, guint move)
{
    return g_ptr_array_index(run->moves, move);
}

static void
emit(VlEvacuateRun *run, VlEvacuateEvent *event)
{
    if (run->event)
        run->event(run, event, run->user_data);
}

static void
stop(VlEvacuateRun *run, const GError *why)
{
    VlEvacuateEvent ev = { 0 };

    if (run->stopping)
        return;
    run->stopping = TRUE;
    ev.type = VL_EVACUATE_EVENT_STOPPING;
    ev.error = why;
    emit(run, &ev);
}

static gboolean
has_pending(const VlEvacuateRun *run)
{
    return run->started->len < run->moves->len;
}

static guint
first_pending(const VlEvacuateRun *run)
{
    guint i;

    for (i = 0; i < run->moves->len; i++) {
        if (move_at(run, i)->state == VL_EVACUATE_MOVE_PENDING)
            return i;
    }
    g_return_val_if_reached(0);
}

/* The next domain to start, and its traffic to those started. */
static guint
choose_next(VlEvacuateRun *run, double *weight_to_moved)
{
    g_autoptr(VlGraph) graph = vl_graph_new();
    g_autoptr(GPtrArray) moved = g_ptr_array_new();
    g_autoptr(GPtrArray) pending = g_ptr_array_new();
    g_autoptr(GError) error = NULL;
    const char *next = NULL;
    double weight = 0;
    guint index = 0;
    guint i;

    *weight_to_moved = 0;
    if (!run->dynamic)
        return first_pending(run);

    for (i = 0; i < run->known->len; i++) {
        const KnownEdge *e = g_ptr_array_index(run->known, i);

        /* Names come from the plan and weights were checked on the way
         * in: this cannot fail, and if it did the plan order stands. */
        if (!vl_graph_add_edge(graph, e->a, e->b, e->weight, NULL))
            return first_pending(run);
    }
    for (i = 0; i < run->moves->len; i++) {
        Move *m = move_at(run, i);

        g_ptr_array_add(m->state == VL_EVACUATE_MOVE_PENDING ? pending : moved,
                        m->name);
    }
    g_ptr_array_add(moved, NULL);
    g_ptr_array_add(pending, NULL);
    next = vl_order_next(graph, (const char *const *)moved->pdata,
                         (const char *const *)pending->pdata, &error);
    if (!next)
        return first_pending(run);

    for (i = 0; moved->pdata[i]; i++) {
        guint u = 0, v = 0;

        if (vl_graph_lookup(graph, next, &u) &&
            vl_graph_lookup(graph, moved->pdata[i], &v))
            weight += vl_graph_edge_weight(graph, u, v);
    }
    /* Nothing links any pending domain to the ones that left: the plan,
     * made from the same knowledge, decides. */
    if (!(weight > 0))
        return first_pending(run);
    index = GPOINTER_TO_UINT(g_hash_table_lookup(run->by_name, next)) - 1;
    *weight_to_moved = weight;
    return index;
}

static void schedule_fill(VlEvacuateRun *run);

static void
start_move(VlEvacuateRun *run, guint index, double weight_to_moved)
{
    Move *m = move_at(run, index);
    g_autoptr(GError) error = NULL;
    VlEvacuateEvent ev = { 0 };

    m->state = VL_EVACUATE_MOVE_RUNNING;
    m->started_us = g_get_monotonic_time();
    g_array_append_val(run->started, index);
    m->position = run->started->len;
    run->running++;

    ev.type = VL_EVACUATE_EVENT_STARTED;
    ev.move = index;
    ev.domain = m->name;
    ev.position = m->position;
    ev.weight_to_moved = weight_to_moved;
    emit(run, &ev);

    m->handle = run->ops->start(run->ops_data, run, index, m->name, &error);
    if (m->handle)
        return;
    if (!error)
        g_set_error(&error, VL_ERROR, VL_ERROR_FAILED,
                    "Migration of '%s' could not start", m->name);
    vl_evacuate_run_move_done(run, index, FALSE, FALSE, error);
}

typedef struct {
    VlEvacuateObserveFunc func;
    gpointer data;
} ObserveJob;

static void
observe_thread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
               GCancellable *cancellable)
{
    ObserveJob *job = task_data;
    GError *error = NULL;
    VlGraph *graph = job->func(job->data, cancellable, &error);

    if (graph)
        g_task_return_pointer(task, graph, (GDestroyNotify)vl_graph_free);
    else
        g_task_return_error(task, error);
}

static void
observe_done(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
             gpointer user_data)
{
    VlEvacuateRun *run = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(VlGraph) graph = g_task_propagate_pointer(G_TASK(result), &error);
    VlEvacuateEvent ev = { 0 };

    run->observing = FALSE;
    if (graph)
        known_merge_graph(run, graph);
    ev.type = VL_EVACUATE_EVENT_OBSERVED;
    ev.observed = graph;
    ev.error = error;
    emit(run, &ev);
    schedule_fill(run);
}

static void
start_observation(VlEvacuateRun *run)
{
    g_autoptr(GTask) task = NULL;
    ObserveJob *job = g_new0(ObserveJob, 1);

    job->func = run->observe;
    job->data = run->observe_data;
    g_clear_object(&run->observe_cancel);
    run->observe_cancel = g_cancellable_new();
    run->observing = TRUE;
    run->observed_after = run->finished;
    /* The task calls back on the thread-default context, the run's. */
    task = g_task_new(NULL, run->observe_cancel, observe_done, run);
    g_task_set_task_data(task, job, g_free);
    g_task_run_in_thread(task, observe_thread);
}

static void
maybe_finish(VlEvacuateRun *run)
{
    if (run->done_called || run->running > 0 || run->observing || run->releasing)
        return;
    if (!run->stopping && has_pending(run))
        return;
    if (run->ops->release && !run->release_called) {
        run->release_called = TRUE;
        run->releasing = TRUE;
        run->ops->release(run->ops_data, run);
        if (run->releasing)
            return;
    }
    run->done_called = TRUE;
    if (run->done)
        run->done(run, run->user_data);
}

static gboolean
fill(gpointer user_data)
{
    VlEvacuateRun *run = user_data;

    g_clear_pointer(&run->fill_source, g_source_unref);
    while (!run->stopping && !run->observing && has_pending(run) &&
           run->running < run->concurrency) {
        double weight = 0;
        guint next;

        /* Edges show up as domains arrive: look again once another
         * move has ended, before choosing. */
        if (run->dynamic && run->observe && run->finished > run->observed_after) {
            start_observation(run);
            break;
        }
        next = choose_next(run, &weight);
        start_move(run, next, weight);
    }
    maybe_finish(run);
    return G_SOURCE_REMOVE;
}

static void
schedule_fill(VlEvacuateRun *run)
{
    if (run->fill_source || run->done_called)
        return;
    run->fill_source = g_idle_source_new();
    g_source_set_callback(run->fill_source, fill, run, NULL);
    g_source_attach(run->fill_source, run->context);
}

void
vl_evacuate_run_start(VlEvacuateRun *run, VlEvacuateEventFunc event,
                      VlEvacuateDoneFunc done, gpointer user_data)
{
    g_return_if_fail(!run->begun);
    run->begun = TRUE;
    run->event = event;
    run->done = done;
    run->user_data = user_data;
    run->context = g_main_context_ref_thread_default();
    schedule_fill(run);
}

void
vl_evacuate_run_cancel(VlEvacuateRun *run)
{
    g_autoptr(GError) why = NULL;
    guint i;

    if (!run->begun || run->done_called || run->cancelled)
        return;
    run->cancelled = TRUE;
    g_set_error(&why, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                "Evacuation interrupted");
    stop(run, why);
    for (i = 0; i < run->moves->len; i++) {
        Move *m = move_at(run, i);

        if (m->state == VL_EVACUATE_MOVE_RUNNING && m->handle)
            run->ops->cancel(run->ops_data, m->handle);
    }
    if (run->observing)
        g_cancellable_cancel(run->observe_cancel);
    schedule_fill(run);
}

void
vl_evacuate_run_mover_released(VlEvacuateRun *run)
{
    g_return_if_fail(run->releasing);
    run->releasing = FALSE;
    /* Called from inside release(), maybe_finish() goes on by itself. */
    schedule_fill(run);
}

void
vl_evacuate_run_move_progress(VlEvacuateRun *run, guint move,
                              const VlEvacuateProgress *progress)
{
    VlEvacuateEvent ev = { 0 };

    g_return_if_fail(move < run->moves->len);
    g_return_if_fail(move_at(run, move)->state == VL_EVACUATE_MOVE_RUNNING);
    ev.type = VL_EVACUATE_EVENT_PROGRESS;
    ev.move = move;
    ev.domain = move_at(run, move)->name;
    ev.position = move_at(run, move)->position;
    ev.progress = progress;
    emit(run, &ev);
}

void
vl_evacuate_run_move_note(VlEvacuateRun *run, guint move, const char *note)
{
    VlEvacuateEvent ev = { 0 };

    g_return_if_fail(move < run->moves->len);
    ev.type = VL_EVACUATE_EVENT_NOTE;
    ev.move = move;
    ev.domain = move_at(run, move)->name;
    ev.position = move_at(run, move)->position;
    ev.note = note;
    emit(run, &ev);
}

void
vl_evacuate_run_move_done(VlEvacuateRun *run, guint move, gboolean moved,
                          gboolean cancelled, const GError *error)
{
    VlEvacuateEvent ev = { 0 };
    Move *m = NULL;

    g_return_if_fail(move < run->moves->len);
    m = move_at(run, move);
    g_return_if_fail(m->state == VL_EVACUATE_MOVE_RUNNING);

    m->ended_us = g_get_monotonic_time();
    if (moved) {
        m->state = VL_EVACUATE_MOVE_MOVED;
    } else {
        m->state = cancelled ? VL_EVACUATE_MOVE_CANCELLED : VL_EVACUATE_MOVE_FAILED;
        if (error)
            m->error = g_error_copy(error);
        else
            m->error = g_error_new(VL_ERROR, VL_ERROR_FAILED,
                                   "Migration of '%s' failed", m->name);
    }
    run->running--;
    run->finished++;

    ev.type = VL_EVACUATE_EVENT_FINISHED;
    ev.move = move;
    ev.domain = m->name;
    ev.position = m->position;
    ev.state = m->state;
    ev.error = m->error;
    emit(run, &ev);

    if (m->state == VL_EVACUATE_MOVE_FAILED && !run->stopping && has_pending(run)) {
        g_autoptr(GError) why = NULL;
        guint left = run->moves->len - run->started->len;

        g_set_error(&why, VL_ERROR, VL_ERROR_FAILED,
                    "Migration of '%s' failed: not starting the %u domain%s left",
                    m->name, left, left == 1 ? "" : "s");
        stop(run, why);
    }
    schedule_fill(run);
}

guint
vl_evacuate_run_get_n_moves(const VlEvacuateRun *run)
{
    return run->moves->len;
}

const char *
vl_evacuate_run_get_domain(const VlEvacuateRun *run, guint move)
{
    g_return_val_if_fail(move < run->moves->len, NULL);
    return move_at(run, move)->name;
}

VlEvacuateMoveState
vl_evacuate_run_get_state(const VlEvacuateRun *run, guint move)
{
    g_return_val_if_fail(move < run->moves->len, VL_EVACUATE_MOVE_PENDING);
    return move_at(run, move)->state;
}

const GError *
vl_evacuate_run_get_error(const VlEvacuateRun *run, guint move)
{
    g_return_val_if_fail(move < run->moves->len, NULL);
    return move_at(run, move)->error;
}

double
vl_evacuate_run_get_duration(const VlEvacuateRun *run, guint move)
{
    const Move *m = NULL;

    g_return_val_if_fail(move < run->moves->len, NAN);
    m = move_at(run, move);
    if (m->state == VL_EVACUATE_MOVE_PENDING)
        return NAN;
    if (m->state == VL_EVACUATE_MOVE_RUNNING)
        return (g_get_monotonic_time() - m->started_us) / 1e6;
    return (m->ended_us - m->started_us) / 1e6;
}

const guint *
vl_evacuate_run_get_started(const VlEvacuateRun *run, guint *n_started)
{
    *n_started = run->started->len;
    return (const guint *)run->started->data;
}

gboolean
vl_evacuate_run_was_cancelled(const VlEvacuateRun *run)
{
    return run->cancelled;
}

gboolean
vl_evacuate_run_succeeded(const VlEvacuateRun *run)
{
    guint i;

    for (i = 0; i < run->moves->len; i++) {
        if (move_at(run, i)->state != VL_EVACUATE_MOVE_MOVED)
            return FALSE;
    }
    return TRUE;
}

static json_object *
move_to_json(const VlEvacuateRun *run, guint index)
{
    const Move *m = move_at(run, index);
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "domain", json_object_new_string(m->name));
    json_object_object_add(obj, "state",
                           json_object_new_string(vl_evacuate_move_state_to_string(m->state)));
    json_object_object_add(obj, "position",
                           m->position ? json_object_new_int(m->position) : NULL);
    json_object_object_add(obj, "duration_s",
                           json_number(vl_evacuate_run_get_duration(run, index)));
    json_object_object_add(obj, "error",
                           m->error ? json_object_new_string(m->error->message) : NULL);
    return obj;
}

json_object *
vl_evacuate_run_to_json(const VlEvacuateRun *run)
{
    json_object *obj = json_object_new_object();
    json_object *moved = json_object_new_array();
    json_object *not_moved = json_object_new_array();
    json_object *moves = json_object_new_array();
    guint i;

    for (i = 0; i < run->started->len; i++) {
        guint index = g_array_index(run->started, guint, i);
        const Move *m = move_at(run, index);

        if (m->state == VL_EVACUATE_MOVE_MOVED)
            json_object_array_add(moved, json_object_new_string(m->name));
        else
            json_object_array_add(not_moved, json_object_new_string(m->name));
        json_object_array_add(moves, move_to_json(run, index));
    }
    for (i = 0; i < run->moves->len; i++) {
        const Move *m = move_at(run, i);

        if (m->state != VL_EVACUATE_MOVE_PENDING)
            continue;
        json_object_array_add(not_moved, json_object_new_string(m->name));
        json_object_array_add(moves, move_to_json(run, i));
    }
    json_object_object_add(obj, "ok",
                           json_object_new_boolean(vl_evacuate_run_succeeded(run)));
    json_object_object_add(obj, "cancelled", json_object_new_boolean(run->cancelled));
    json_object_object_add(obj, "moved", moved);
    json_object_object_add(obj, "not_moved", not_moved);
    json_object_object_add(obj, "moves", moves);
    return obj;
}

/* ---- the mover: the migration driver ------------------------------------ */

struct _VlEvacuateMigrator {
    VlEvacuateMigratorConfig config;
    char *dest_uri;
    char *migrate_uri;          /* tcp://the peer's migration address */
    char *host_label;
    char *history_path;

    /* The lanes, held for the whole run under one plan id of their own:
     * the first move brings them up (the others wait for it), every move
     * uses them, release() or a failure over them takes them down. */
    GMutex lock;
    char *lanes_plan_id;
    gboolean lanes_tried;       /* lanes-up was asked (or not needed) */
    gboolean lanes_held;        /* lanes-down is owed */
    gboolean lanes_dropped;     /* taken down after a failure over them */
    VlMigrateLanes *lanes;      /* what came up; kept until the end */
    guint lanes_move;           /* the move that brought them up */
};

typedef struct {
    VlEvacuateMigrator *m;
    VlEvacuateRun *run;
    guint move;
    char *domain;
    virDomainPtr dom;
    unsigned char uuid[VIR_UUID_BUFLEN];
    char *plan_id;              /* the destination's plan */
    gint64 started_us;

    /* from the preparation thread */
    char *xml;
    const VlMigrateLanes *lanes;        /* the migrator's, when usable */
    gboolean brought_up;        /* this move asked for the lanes */
    double lanes_wait_s;        /* waiting for the lanes to come up */
    GError *prepare_error;      /* the move cannot go on */
    GError *lanes_error;        /* lanes-up failed: base path only */
    GError *announce_error;     /* "migration-plan" failed */

    /* the job */
    VlMigrateJob *job;
    gpointer job_data;
    VlMigrateJob *old_job;      /* ended, freed from an idle */
    gpointer old_job_data;
    guint idle_id;
    guint links;
    gboolean with_plan;         /* the destination XML carries our plan */
    gboolean retried;
    gboolean retry_pending;     /* lanes going down before the retry */
    gboolean cancel_requested;

    /* the outcome */
    gboolean moved;
    gboolean cancelled;
    GError *error;
    gboolean has_completed;     /* @completed: the job's final statistics */
    VlMigrateJobStats completed;
    double dirty_rate_bps;      /* QEMU's last, NAN unknown */
    GPtrArray *finish_notes;    /* char*, from the finishing thread */
} MigrateMove;

void
vl_evacuate_migrator_config_init(VlEvacuateMigratorConfig *config)
{
    memset(config, 0, sizeof(*config));
}

VlEvacuateMigrator *
vl_evacuate_migrator_new(const VlEvacuateMigratorConfig *config)
{
    VlEvacuateMigrator *m = g_new0(VlEvacuateMigrator, 1);

    m->config = *config;
    virConnectRef(config->conn);
    m->dest_uri = g_strdup(config->dest_uri);
    m->config.dest_uri = m->dest_uri;
    if (!m->config.job_ops) {
        m->config.job_ops = vl_migrate_libvirt_ops();
        m->config.job_data_new = NULL;
        m->config.job_data_free = vl_migrate_libvirt_free;
    }
    if (config->peer && config->peer->migration_address)
        m->migrate_uri = vl_migrate_uri_for_address(config->peer->migration_address);
    m->host_label = vl_migrate_host_label(g_get_host_name());
    m->history_path = g_strdup(config->history_path);
    m->config.history_path = m->history_path;
    g_mutex_init(&m->lock);
    m->lanes_plan_id = vl_migrate_plan_id_new("evacuate",
                                              g_get_real_time() / G_USEC_PER_SEC,
                                              (guint)getpid());
    return m;
}

static guint lanes_timeout_ms(const VlEvacuateMigrator *m);

/* Takes the run's lanes down if they are up; call with the lock held. */
static gboolean
lanes_down_locked(VlEvacuateMigrator *m, guint *n_down, GError **error)
{
    if (!m->lanes_held)
        return TRUE;
    m->lanes_held = FALSE;
    return vl_migrate_lanes_down(m->config.call, m->config.call_data,
                                 m->lanes_plan_id, lanes_timeout_ms(m),
                                 n_down, error);
}

void
vl_evacuate_migrator_free(VlEvacuateMigrator *migrator)
{
    if (!migrator)
        return;
    /* A run that never reached its end (or no run) still owes them. */
    g_mutex_lock(&migrator->lock);
    if (!lanes_down_locked(migrator, NULL, NULL))
        g_debug("Taking the lanes of plan '%s' down failed", migrator->lanes_plan_id);
    g_mutex_unlock(&migrator->lock);
    if (migrator->config.conn)
        virConnectClose(migrator->config.conn);
    g_clear_pointer(&migrator->lanes, vl_migrate_lanes_free);
    g_mutex_clear(&migrator->lock);
    g_free(migrator->lanes_plan_id);
    g_free(migrator->dest_uri);
    g_free(migrator->migrate_uri);
    g_free(migrator->host_label);
    g_free(migrator->history_path);
    g_free(migrator);
}

static void
free_old_job(MigrateMove *mm)
{
    g_clear_pointer(&mm->old_job, vl_migrate_job_free);
    if (mm->old_job_data && mm->m->config.job_data_free)
        mm->m->config.job_data_free(mm->old_job_data);
    mm->old_job_data = NULL;
}

static void
migrate_move_free(gpointer data G_GNUC_UNUSED, gpointer handle)
{
    MigrateMove *mm = handle;

    if (!mm)
        return;
    g_clear_handle_id(&mm->idle_id, g_source_remove);
    free_old_job(mm);
    g_clear_pointer(&mm->job, vl_migrate_job_free);
    if (mm->job_data && mm->m->config.job_data_free)
        mm->m->config.job_data_free(mm->job_data);
    if (mm->dom)
        virDomainFree(mm->dom);
    g_clear_error(&mm->prepare_error);
    g_clear_error(&mm->lanes_error);
    g_clear_error(&mm->announce_error);
    g_clear_error(&mm->error);
    g_clear_pointer(&mm->finish_notes, g_ptr_array_unref);
    g_free(mm->domain);
    g_free(mm->plan_id);
    g_free(mm->xml);
    g_free(mm);
}

static void
note(MigrateMove *mm, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
note(MigrateMove *mm, const char *fmt, ...)
{
    g_autofree char *text = NULL;
    va_list args;

    va_start(args, fmt);
    text = g_strdup_vprintf(fmt, args);
    va_end(args);
    vl_evacuate_run_move_note(mm->run, mm->move, text);
}

static guint
lanes_timeout_ms(const VlEvacuateMigrator *m)
{
    return vl_migrate_lanes_timeout_ms(m->config.migration ?
                                       m->config.migration->lane_up_max_s : 5);
}

/* ---- finishing: lanes down, the destination's plan cleared, reported -- */

/* The move's history line, with its fixed cost.  virt-lanesd may have
 * recorded the same migration (its monitor writes one line per completed
 * job): vl_history_load() takes the two lines as one run, ours adding the
 * fixed cost, so ours is written either way. */
static void
record_history(MigrateMove *mm, double wall_s)
{
    VlEvacuateMigrator *m = mm->m;
    g_autoptr(VlHistoryRecord) record = NULL;
    g_autoptr(GError) error = NULL;
    double dirty = isfinite(mm->dirty_rate_bps) ? mm->dirty_rate_bps : 0;

    record = vl_migrate_history_record_new(mm->domain, g_get_real_time() / G_USEC_PER_SEC,
                                           &mm->completed, dirty, mm->links,
                                           vl_migrate_channels_for(mm->links,
                                                                   m->config.migration ?
                                                                   MAX(1, m->config.migration->channels_per_lane) : 2,
                                                                   0),
                                           NAN);
    record->move_overhead_s = vl_evacuate_move_overhead(wall_s, record->total_time_s,
                                                        mm->lanes_wait_s);
    if (!vl_history_append(m->history_path, record, 0, &error))
        g_ptr_array_add(mm->finish_notes,
                        g_strdup_printf("not recorded in the history: %s", error->message));
}

static void
finish_thread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
              GCancellable *cancellable G_GNUC_UNUSED)
{
    MigrateMove *mm = task_data;
    VlEvacuateMigrator *m = mm->m;
    g_autoptr(GError) error = NULL;
    guint n_down = 0;

    if (mm->retry_pending) {
        /* A failure over lanes may be a lane (the destination's side
         * above all, which this host cannot see): the run's lanes go
         * down, so that the retry and every later move take the base
         * path; the connections of a move still running fall back to
         * it too (docs/lanes.md). */
        g_mutex_lock(&m->lock);
        if (!m->lanes_dropped) {
            m->lanes_dropped = TRUE;
            if (lanes_down_locked(m, &n_down, &error))
                g_ptr_array_add(mm->finish_notes,
                                g_strdup_printf("lanes down for the rest of the evacuation: %u",
                                                n_down));
            else
                g_ptr_array_add(mm->finish_notes,
                                g_strdup_printf("taking the lanes of plan '%s' down failed: %s",
                                                m->lanes_plan_id, error->message));
        }
        g_mutex_unlock(&m->lock);
        g_task_return_boolean(task, TRUE);
        return;
    }
    /* A later migration from the destination that does not go through
     * virt-lanes would otherwise carry this plan along. */
    if (mm->moved && mm->with_plan &&
        !vl_migrate_clear_dest_plan(m->dest_uri, mm->uuid, &error)) {
        g_ptr_array_add(mm->finish_notes, g_strdup(error->message));
        g_clear_error(&error);
    }
    if (mm->moved && mm->has_completed && m->history_path)
        record_history(mm, (g_get_monotonic_time() - mm->started_us) / 1e6);
    g_task_return_boolean(task, TRUE);
}

static void
report_done(MigrateMove *mm)
{
    guint i;

    for (i = 0; i < mm->finish_notes->len; i++)
        note(mm, "%s", (const char *)g_ptr_array_index(mm->finish_notes, i));
    g_ptr_array_set_size(mm->finish_notes, 0);
    vl_evacuate_run_move_done(mm->run, mm->move, mm->moved, mm->cancelled, mm->error);
}

static void start_job(MigrateMove *mm, gboolean use_lanes);

static void
finish_done(GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
    MigrateMove *mm = user_data;

    g_task_propagate_boolean(G_TASK(result), NULL);
    if (mm->retry_pending) {
        guint i;

        mm->retry_pending = FALSE;
        for (i = 0; i < mm->finish_notes->len; i++)
            note(mm, "%s", (const char *)g_ptr_array_index(mm->finish_notes, i));
        g_ptr_array_set_size(mm->finish_notes, 0);
        if (!mm->cancel_requested) {
            start_job(mm, FALSE);
            return;
        }
        mm->cancelled = TRUE;
        mm->error = g_error_new(VL_ERROR, VL_ERROR_FAILED,
                                "Cancelled before the retry of '%s' over the base path",
                                mm->domain);
    }
    report_done(mm);
}

static void
finish(MigrateMove *mm)
{
    g_autoptr(GTask) task = g_task_new(NULL, NULL, finish_done, mm);

    g_task_set_task_data(task, mm, NULL);
    g_task_run_in_thread(task, finish_thread);
}

/* ---- the job ---------------------------------------------------------- */

static void
on_job_progress(VlMigrateJob *job G_GNUC_UNUSED, const VlMigrateProgress *p,
                gpointer user_data)
{
    MigrateMove *mm = user_data;
    VlEvacuateProgress progress;

    progress.elapsed_s = p->elapsed_s;
    progress.percent = p->percent;
    progress.bandwidth_bps = p->bandwidth_bps;
    progress.eta_s = p->eta_s;
    vl_evacuate_run_move_progress(mm->run, mm->move, &progress);
}

static gboolean
free_old_job_idle(gpointer user_data)
{
    MigrateMove *mm = user_data;

    mm->idle_id = 0;
    free_old_job(mm);
    return G_SOURCE_REMOVE;
}

static void
on_job_done(VlMigrateJob *job G_GNUC_UNUSED, const VlMigrateResult *result,
            gpointer user_data)
{
    MigrateMove *mm = user_data;

    /* The job cannot be freed from its own callback. */
    free_old_job(mm);
    mm->old_job = g_steal_pointer(&mm->job);
    mm->old_job_data = g_steal_pointer(&mm->job_data);
    if (!mm->idle_id)
        mm->idle_id = g_idle_add(free_old_job_idle, mm);

    switch (result->outcome) {
    case VL_MIGRATE_OUTCOME_COMPLETED:
        mm->moved = TRUE;
        mm->has_completed = result->has_completed;
        if (result->has_completed)
            mm->completed = result->completed;
        mm->dirty_rate_bps = result->progress.dirty_rate_bps;
        if (result->cancel_requested)
            note(mm, "the cancel came too late: it had already switched over");
        break;
    case VL_MIGRATE_OUTCOME_CANCELLED:
        mm->cancelled = TRUE;
        mm->error = result->error ? g_error_copy(result->error) :
            g_error_new(VL_ERROR, VL_ERROR_FAILED, "Migration of '%s' cancelled",
                        mm->domain);
        break;
    case VL_MIGRATE_OUTCOME_FAILED:
        if (mm->links > 1 && !mm->retried && !mm->cancel_requested) {
            /* What failed may be a lane, the destination's side above
             * all, which this host cannot see: once more without. */
            note(mm, "the migration over %u links failed (%s); retrying over the base path only",
                 mm->links, result->error ? result->error->message : "?");
            mm->retried = TRUE;
            mm->retry_pending = TRUE;
            finish(mm);
            return;
        }
        mm->cancelled = mm->cancel_requested;
        mm->error = result->error ? g_error_copy(result->error) :
            g_error_new(VL_ERROR, VL_ERROR_FAILED, "Migration of '%s' failed",
                        mm->domain);
        break;
    }
    finish(mm);
}

static void
fail_move(MigrateMove *mm, GError *error)
{
    mm->error = error;
    mm->cancelled = mm->cancel_requested;
    finish(mm);
}

static void
start_job(MigrateMove *mm, gboolean use_lanes)
{
    VlEvacuateMigrator *m = mm->m;
    const VlMigrationPolicy *pol = m->config.migration;
    g_autoptr(GString) up = g_string_new(NULL);
    GError *error = NULL;
    VlMigrateSettings settings;
    VlMigrateJobConfig job_config;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned int flags = 0;
    guint per_link = pol ? MAX(1, pol->channels_per_lane) : 2;
    guint channels;
    guint i;

    free_old_job(mm);
    mm->links = use_lanes && mm->lanes ? vl_migrate_lanes_get_links(mm->lanes) : 1;
    channels = vl_migrate_channels_for(mm->links, per_link, 0);
    mm->with_plan = FALSE;
    vl_migrate_settings_init(&settings);
    if (!vl_migrate_build_attempt(&settings, mm->xml, mm->plan_id, m->host_label,
                                  pol ? pol->migration_address : NULL,
                                  use_lanes ? mm->lanes : NULL, mm->links, channels,
                                  m->migrate_uri, &mm->with_plan, &params, &nparams,
                                  &flags, &error)) {
        fail_move(mm, error);
        return;
    }
    for (i = 0; mm->links > 1 && i < mm->lanes->up->len; i++) {
        const VlLaneConfig *lane = g_ptr_array_index(mm->lanes->up, i);

        g_string_append_printf(up, "%s%s", i ? ", " : "", lane->interface);
    }
    if (m->config.job_data_new)
        mm->job_data = m->config.job_data_new(m->config.job_user_data, mm->dom,
                                              m->dest_uri, params, nparams, flags);
    else
        mm->job_data = vl_migrate_libvirt_new(mm->dom, m->dest_uri, params, nparams,
                                              flags);

    vl_migrate_job_config_init(&job_config);
    if (m->config.poll_ms)
        job_config.poll_ms = m->config.poll_ms;
    if (pol) {
        job_config.max_downtime_ms = pol->max_downtime_ms;
        job_config.stall_abort_s = mm->links > 1 ?
            VL_MIGRATE_STALL_ABORT_S + 2 * pol->lane_up_max_s : 0;
    }
    if (mm->links > 1)
        note(mm, "%u links (the base path and %s), %u multifd channels",
             mm->links, up->str, channels);
    else
        note(mm, "1 link (the base path), %u multifd channels", channels);
    mm->job = vl_migrate_job_new(m->config.job_ops, mm->job_data, &job_config);
    vl_migrate_job_start(mm->job, on_job_progress, on_job_done, mm);
    if (mm->cancel_requested)
        vl_migrate_job_cancel(mm->job, NULL);
}

/* ---- preparing: the XML and the lanes, in a thread ----------------------- */

static void
prepare_thread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
               GCancellable *cancellable G_GNUC_UNUSED)
{
    MigrateMove *mm = task_data;
    VlEvacuateMigrator *m = mm->m;
    gint64 waited = 0;
    char *raw = virDomainGetXMLDesc(mm->dom, VIR_DOMAIN_XML_MIGRATABLE |
                                             VIR_DOMAIN_XML_SECURE);

    if (!raw) {
        vl_error_set_from_virt(&mm->prepare_error, "Cannot read the XML of '%s'",
                               mm->domain);
        g_task_return_boolean(task, TRUE);
        return;
    }
    mm->xml = g_strdup(raw);
    free(raw);

    /* The first move brings the lanes up for the run; a move starting
     * meanwhile waits here for them rather than asking again. */
    waited = g_get_monotonic_time();
    g_mutex_lock(&m->lock);
    if (!m->lanes_tried) {
        m->lanes_tried = TRUE;
        if (m->config.call && m->config.peer && m->config.lanes > 0) {
            mm->brought_up = TRUE;
            m->lanes_held = TRUE;
            m->lanes_move = mm->move;
            m->lanes = vl_migrate_lanes_up(m->config.call, m->config.call_data,
                                           m->lanes_plan_id, m->config.peer,
                                           m->config.lanes, m->config.unavailable,
                                           lanes_timeout_ms(m), &mm->lanes_error);
        }
    }
    if (m->lanes && !m->lanes_dropped)
        mm->lanes = m->lanes;
    g_mutex_unlock(&m->lock);
    mm->lanes_wait_s = (g_get_monotonic_time() - waited) / 1e6;

    /* The daemon's own history line then says what was used rather than
     * guess (best effort, as "virt-lanes migrate" does). */
    if (m->config.call) {
        guint links = mm->lanes ? vl_migrate_lanes_get_links(mm->lanes) : 1;
        guint per_link = m->config.migration ?
            MAX(1, m->config.migration->channels_per_lane) : 2;

        if (!vl_migrate_announce(m->config.call, m->config.call_data, mm->domain,
                                 links, vl_migrate_channels_for(links, per_link, 0),
                                 NAN, &mm->announce_error))
            g_debug("Not announced: %s", mm->announce_error->message);
    }
    g_task_return_boolean(task, TRUE);
}

static void
prepare_done(GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
    MigrateMove *mm = user_data;
    guint i;

    g_task_propagate_boolean(G_TASK(result), NULL);
    if (mm->prepare_error) {
        fail_move(mm, g_steal_pointer(&mm->prepare_error));
        return;
    }
    if (mm->lanes_error)
        note(mm, "lanes did not come up (%s): the base path only",
             mm->lanes_error->message);
    if (mm->announce_error)
        note(mm, "virt-lanesd was not told how the migration is carried (%s): its history line may guess",
             mm->announce_error->message);
    if (mm->brought_up && mm->lanes) {
        for (i = 0; i < mm->lanes->outcomes->len; i++) {
            const VlMigrateLaneOutcome *o = g_ptr_array_index(mm->lanes->outcomes, i);

            if (o->error)
                note(mm, "lane '%s' did not come up: %s", o->interface, o->error);
        }
        note(mm, "lanes up for the whole evacuation (plan '%s'): %u of %u in %.1f s",
             mm->m->lanes_plan_id, mm->lanes->up->len, mm->lanes->outcomes->len,
             mm->lanes_wait_s);
        if (mm->lanes->steering_error)
            note(mm, "lanes are up but connections cannot be steered over them (%s): the base path only",
                 mm->lanes->steering_error);
    }
    if (mm->cancel_requested) {
        fail_move(mm, g_error_new(VL_ERROR, VL_ERROR_FAILED,
                                  "Cancelled before the migration of '%s' started",
                                  mm->domain));
        return;
    }
    /* Another move may have failed over the lanes (and taken them down)
     * while this one was preparing. */
    g_mutex_lock(&mm->m->lock);
    if (mm->m->lanes_dropped)
        mm->lanes = NULL;
    g_mutex_unlock(&mm->m->lock);
    start_job(mm, mm->lanes != NULL);
}

static gpointer
migrator_start(gpointer data, VlEvacuateRun *run, guint move, const char *domain,
               GError **error)
{
    VlEvacuateMigrator *m = data;
    g_autoptr(GTask) task = NULL;
    MigrateMove *mm = NULL;
    virDomainPtr dom = virDomainLookupByName(m->config.conn, domain);

    if (!dom) {
        vl_error_set_from_virt(error, "Cannot find domain '%s'", domain);
        return NULL;
    }
    mm = g_new0(MigrateMove, 1);
    mm->m = m;
    mm->run = run;
    mm->move = move;
    mm->domain = g_strdup(domain);
    mm->dom = dom;
    mm->finish_notes = g_ptr_array_new_with_free_func(g_free);
    mm->started_us = g_get_monotonic_time();
    mm->dirty_rate_bps = NAN;
    if (virDomainGetUUID(dom, mm->uuid) < 0)
        memset(mm->uuid, 0, sizeof(mm->uuid));
    mm->plan_id = vl_migrate_plan_id_new(domain, g_get_real_time() / G_USEC_PER_SEC,
                                         (guint)getpid());

    task = g_task_new(NULL, NULL, prepare_done, mm);
    g_task_set_task_data(task, mm, NULL);
    g_task_run_in_thread(task, prepare_thread);
    return mm;
}

static void
migrator_cancel(gpointer data G_GNUC_UNUSED, gpointer handle)
{
    MigrateMove *mm = handle;

    if (mm->cancel_requested)
        return;
    mm->cancel_requested = TRUE;
    if (mm->job && vl_migrate_job_is_running(mm->job))
        vl_migrate_job_cancel(mm->job, NULL);
}

typedef struct {
    VlEvacuateMigrator *m;
    VlEvacuateRun *run;
    GError *error;
    guint n_down;
    gboolean were_up;
} Release;

static void
release_thread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
               GCancellable *cancellable G_GNUC_UNUSED)
{
    Release *r = task_data;

    g_mutex_lock(&r->m->lock);
    r->were_up = r->m->lanes_held;
    lanes_down_locked(r->m, &r->n_down, &r->error);
    g_mutex_unlock(&r->m->lock);
    g_task_return_boolean(task, TRUE);
}

static void
release_done(GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
    Release *r = user_data;
    VlEvacuateMigrator *m = r->m;

    g_task_propagate_boolean(G_TASK(result), NULL);
    if (r->error)
        vl_evacuate_run_move_note(r->run, m->lanes_move, r->error->message);
    else if (r->were_up) {
        g_autofree char *text = g_strdup_printf("lanes down: %u", r->n_down);

        vl_evacuate_run_move_note(r->run, m->lanes_move, text);
    }
    vl_evacuate_run_mover_released(r->run);
    g_clear_error(&r->error);
    g_free(r);
}

static void
migrator_release(gpointer data, VlEvacuateRun *run)
{
    VlEvacuateMigrator *m = data;
    g_autoptr(GTask) task = NULL;
    Release *r = NULL;
    gboolean held;

    g_mutex_lock(&m->lock);
    held = m->lanes_held;
    g_mutex_unlock(&m->lock);
    if (!held) {
        vl_evacuate_run_mover_released(run);
        return;
    }
    r = g_new0(Release, 1);
    r->m = m;
    r->run = run;
    task = g_task_new(NULL, NULL, release_done, r);
    g_task_set_task_data(task, r, NULL);
    g_task_run_in_thread(task, release_thread);
}

static const VlEvacuateMoverOps migrator_ops = {
    .start = migrator_start,
    .cancel = migrator_cancel,
    .free = migrate_move_free,
    .release = migrator_release,
};

const VlEvacuateMoverOps *
vl_evacuate_migrator_ops(void)
{
    return &migrator_ops;
}
