/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <math.h>
#include <string.h>

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
    return path;
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

const VlPeerConfig *
vl_evacuate_find_peer(const VlMigrationPolicy *migration, const char *dest_uri)
{
    guint i;

    for (i = 0; migration && migration->peers && i < migration->peers->len; i++) {
        const VlPeerConfig *peer = g_ptr_array_index(migration->peers, i);

        if (g_strcmp0(peer->uri, dest_uri) == 0)
            return peer;
    }
    return NULL;
}

VlEvacuatePath *
vl_evacuate_path_from_peer(const VlMigrationPolicy *migration,
                           const VlPeerConfig *peer, guint max_lanes,
                           GError **error)
{
    g_autoptr(VlEvacuatePath) path = vl_evacuate_path_new();
    const VlLaneConfig *first = NULL;
    guint i;

    if (!peer->lanes || peer->lanes->len == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Peer '%s' declares no lane: no link rate is known for an estimate",
                    peer->name);
        return NULL;
    }
    if (max_lanes == VL_EVACUATE_LANES_FROM_POLICY)
        max_lanes = migration->max_lanes;
    path->channels_per_link = MAX(1, migration->channels_per_lane);
    path->max_downtime_s = migration->max_downtime_ms / 1000.0;

    first = g_ptr_array_index(peer->lanes, 0);
    if (!vl_evacuate_path_add_link(path, "base", first->bandwidth_mbit * 1e6 / 8,
                                   error))
        return NULL;
    for (i = 0; i < peer->lanes->len && i < max_lanes; i++) {
        const VlLaneConfig *lane = g_ptr_array_index(peer->lanes, i);

        if (!vl_evacuate_path_add_link(path, lane->interface,
                                       lane->bandwidth_mbit * 1e6 / 8, error))
            return NULL;
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
    in.channels = n > 1 ? n * path->channels_per_link : 0;
    in.efficiency = VL_EVACUATE_EFFICIENCY;
    in.max_downtime_s = path->max_downtime_s;
    in.setup_s = VL_EVACUATE_SETUP_S;
    in.resume_s = VL_EVACUATE_RESUME_S;

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

void
vl_evacuate_plan_config_init(VlEvacuatePlanConfig *config)
{
    memset(config, 0, sizeof(*config));
    config->concurrency = 1;
    vl_order_options_init(&config->order);
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
    for (i = 0; i < vl_graph_n_edges(graph); i++) {
        guint u = 0, v = 0;

        vl_graph_edge(graph, i, &u, &v);
        if (g_hash_table_contains(by_name, vl_graph_vertex_name(graph, u)) &&
            g_hash_table_contains(by_name, vl_graph_vertex_name(graph, v)))
            plan->n_edges++;
    }

    slots = g_new0(double, plan->sharing);
    plan->total_s = 0;
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
        step->duration_s = NAN;
        if (config->estimate) {
            if (!config->estimate(config->estimate_data, d, plan->sharing,
                                  &step->move, error)) {
                vl_evacuate_move_estimate_clear(&step->move);
                step_free(g_steal_pointer(&step));
                return NULL;
            }
            if (step->move.estimated)
                step->duration_s = step->move.estimate.converges ?
                    step->move.estimate.total_time_s : INFINITY;
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
    if (run->done_called || run->running > 0 || run->observing)
        return;
    if (!run->stopping && has_pending(run))
        return;
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

/* ---- the plain libvirt mover ------------------------------------------- */

struct _VlEvacuateLibvirtMover {
    virConnectPtr conn;
    char *dest_uri;
    char *migrate_uri;
    guint poll_ms;
};

typedef struct {
    VlEvacuateLibvirtMover *mover;
    VlEvacuateRun *run;
    guint move;
    virDomainPtr dom;
    GSource *poll;
    gint64 started_us;
    gboolean cancel_requested;
    gboolean abort_sent;
    gboolean running;
} LibvirtMove;

VlEvacuateLibvirtMover *
vl_evacuate_libvirt_mover_new(virConnectPtr conn, const char *dest_uri,
                              const char *migrate_uri, guint poll_ms)
{
    VlEvacuateLibvirtMover *mover = g_new0(VlEvacuateLibvirtMover, 1);

    virConnectRef(conn);
    mover->conn = conn;
    mover->dest_uri = g_strdup(dest_uri);
    mover->migrate_uri = g_strdup(migrate_uri);
    mover->poll_ms = MAX(1, poll_ms);
    return mover;
}

void
vl_evacuate_libvirt_mover_free(VlEvacuateLibvirtMover *mover)
{
    if (!mover)
        return;
    if (mover->conn)
        virConnectClose(mover->conn);
    g_free(mover->dest_uri);
    g_free(mover->migrate_uri);
    g_free(mover);
}

static void
libvirt_move_free(gpointer data G_GNUC_UNUSED, gpointer handle)
{
    LibvirtMove *lm = handle;

    if (!lm)
        return;
    if (lm->poll) {
        g_source_destroy(lm->poll);
        g_source_unref(lm->poll);
    }
    if (lm->dom)
        virDomainFree(lm->dom);
    g_free(lm);
}

static void
migrate_thread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
               GCancellable *cancellable G_GNUC_UNUSED)
{
    LibvirtMove *lm = task_data;
    /* Read now: every libvirt call, virDomainGetName() too, resets the
     * thread's last error, which the message below needs. */
    const char *name = virDomainGetName(lm->dom);
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int maxparams = 0;
    int rc;

    if (lm->mover->migrate_uri &&
        virTypedParamsAddString(&params, &nparams, &maxparams,
                                VIR_MIGRATE_PARAM_URI, lm->mover->migrate_uri) < 0) {
        g_task_return_new_error(task, VL_ERROR, VL_ERROR_LIBVIRT,
                                "Cannot build the migration parameters of '%s'",
                                name);
        return;
    }
    rc = virDomainMigrateToURI3(lm->dom, lm->mover->dest_uri, params, nparams,
                                VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER);
    virTypedParamsFree(params, nparams);
    if (rc < 0) {
        GError *error = NULL;

        vl_error_set_from_virt(&error, "Migration of '%s' to '%s' failed",
                               name, lm->mover->dest_uri);
        g_task_return_error(task, error);
        return;
    }
    g_task_return_boolean(task, TRUE);
}

static void
migrate_done(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
             gpointer user_data)
{
    LibvirtMove *lm = user_data;
    g_autoptr(GError) error = NULL;
    gboolean ok = g_task_propagate_boolean(G_TASK(result), &error);

    lm->running = FALSE;
    if (!ok && lm->cancel_requested)
        g_prefix_error(&error, "Aborted on request: ");
    if (lm->poll) {
        g_source_destroy(lm->poll);
        g_clear_pointer(&lm->poll, g_source_unref);
    }
    vl_evacuate_run_move_done(lm->run, lm->move, ok, !ok && lm->cancel_requested,
                              error);
}

static void
send_abort(LibvirtMove *lm)
{
    /* Fails while the job has not started yet: tried again at each poll. */
    if (virDomainAbortJob(lm->dom) == 0)
        lm->abort_sent = TRUE;
}

static gboolean
libvirt_poll(gpointer user_data)
{
    LibvirtMove *lm = user_data;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int type = 0;
    unsigned long long total = 0, processed = 0, remaining = 0, bps = 0;
    unsigned long long elapsed_ms = 0;
    VlEvacuateProgress progress;

    if (!lm->running)
        return G_SOURCE_REMOVE;
    if (lm->cancel_requested && !lm->abort_sent)
        send_abort(lm);
    if (virDomainGetJobStats(lm->dom, &type, &params, &nparams, 0) < 0)
        return G_SOURCE_CONTINUE;
    if (type != VIR_DOMAIN_JOB_NONE) {
        virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_TOTAL, &total);
        virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_PROCESSED,
                                &processed);
        virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_REMAINING,
                                &remaining);
        virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_BPS, &bps);
        virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_TIME_ELAPSED,
                                &elapsed_ms);
    }
    virTypedParamsFree(params, nparams);

    progress.elapsed_s = elapsed_ms > 0 ? elapsed_ms / 1000.0 :
        (g_get_monotonic_time() - lm->started_us) / 1e6;
    progress.percent = total > 0 && remaining <= total ?
        100.0 * (double)(total - remaining) / (double)total : NAN;
    progress.bandwidth_bps = bps > 0 ? (double)bps : NAN;
    progress.eta_s = bps > 0 ? (double)remaining / (double)bps : NAN;
    vl_evacuate_run_move_progress(lm->run, lm->move, &progress);
    return G_SOURCE_CONTINUE;
}

static gpointer
libvirt_start(gpointer data, VlEvacuateRun *run, guint move, const char *domain,
              GError **error)
{
    VlEvacuateLibvirtMover *mover = data;
    g_autoptr(GTask) task = NULL;
    LibvirtMove *lm = NULL;
    virDomainPtr dom = virDomainLookupByName(mover->conn, domain);

    if (!dom) {
        vl_error_set_from_virt(error, "Cannot find domain '%s'", domain);
        return NULL;
    }
    lm = g_new0(LibvirtMove, 1);
    lm->mover = mover;
    lm->run = run;
    lm->move = move;
    lm->dom = dom;
    lm->started_us = g_get_monotonic_time();
    lm->running = TRUE;

    lm->poll = g_timeout_source_new(mover->poll_ms);
    g_source_set_callback(lm->poll, libvirt_poll, lm, NULL);
    g_source_attach(lm->poll, g_main_context_get_thread_default());

    /* The handle outlives the task: the run frees it after the end. */
    task = g_task_new(NULL, NULL, migrate_done, lm);
    g_task_set_task_data(task, lm, NULL);
    g_task_run_in_thread(task, migrate_thread);
    return lm;
}

static void
libvirt_cancel(gpointer data G_GNUC_UNUSED, gpointer handle)
{
    LibvirtMove *lm = handle;

    if (!lm->running || lm->cancel_requested)
        return;
    lm->cancel_requested = TRUE;
    send_abort(lm);
}

static const VlEvacuateMoverOps libvirt_ops = {
    .start = libvirt_start,
    .cancel = libvirt_cancel,
    .free = libvirt_move_free,
};

const VlEvacuateMoverOps *
vl_evacuate_libvirt_mover_ops(void)
{
    return &libvirt_ops;
}
