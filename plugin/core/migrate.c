/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migrate.c: the migration driver behind "virt-lanes migrate"
 * (see migrate.h)
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "ipc.h"
#include "migrate.h"
#include "virt-error.h"
#include "vl-autoptr.h"
#include "vl-virt-autoptr.h"

/* Bounds on planning input that come from outside (policy, argv). */
#define MAX_RATE_BPS (1e15)
#define MAX_THRESHOLD_S (86400.0 * 365)
#define PLAN_ID_NAME_MAX 40
/* Slack for the socket and the daemon's own work around the scripts. */
#define LANES_TIMEOUT_SLACK_MS 5000

/* ---- the peer ---------------------------------------------------------- */

static gboolean
str_equal0(const char *a, const char *b)
{
    return g_strcmp0(a, b) == 0;
}

static gboolean
ascii_equal0(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return g_ascii_strcasecmp(a, b) == 0;
}

/* The path with trailing slashes dropped ("/system/" == "/system",
 * "/" == ""). */
static char *
normal_path(const char *path)
{
    char *copy = g_strdup(path ? path : "");
    gsize len = strlen(copy);

    while (len > 0 && copy[len - 1] == '/')
        copy[--len] = '\0';
    return copy;
}

gboolean
vl_migrate_uri_equal(const char *a, const char *b)
{
    g_autoptr(GUri) ua = NULL;
    g_autoptr(GUri) ub = NULL;
    g_autofree char *pa = NULL;
    g_autofree char *pb = NULL;

    if (!a || !b)
        return FALSE;
    if (g_str_equal(a, b))
        return TRUE;
    ua = g_uri_parse(a, G_URI_FLAGS_NON_DNS, NULL);
    ub = g_uri_parse(b, G_URI_FLAGS_NON_DNS, NULL);
    if (!ua || !ub)
        return FALSE;
    pa = normal_path(g_uri_get_path(ua));
    pb = normal_path(g_uri_get_path(ub));
    return ascii_equal0(g_uri_get_scheme(ua), g_uri_get_scheme(ub)) &&
           str_equal0(g_uri_get_userinfo(ua), g_uri_get_userinfo(ub)) &&
           ascii_equal0(g_uri_get_host(ua), g_uri_get_host(ub)) &&
           g_uri_get_port(ua) == g_uri_get_port(ub) &&
           g_str_equal(pa, pb) &&
           str_equal0(g_uri_get_query(ua), g_uri_get_query(ub));
}

/* "'host-b', 'host-c'" or "none" (for messages). */
static char *
list_peers(const VlMigrationPolicy *migration)
{
    GString *list = g_string_new(NULL);
    guint i;

    for (i = 0; i < migration->peers->len; i++) {
        const VlPeerConfig *peer = g_ptr_array_index(migration->peers, i);

        g_string_append_printf(list, "%s'%s' (%s)", i ? ", " : "",
                               peer->name, peer->uri);
    }
    if (list->len == 0)
        g_string_append(list, "none");
    return g_string_free(list, FALSE);
}

VlPeerConfig *
vl_migrate_find_peer(const VlMigrationPolicy *migration, const char *dest_uri,
                     const char *peer_name, GError **error)
{
    g_autofree char *known = NULL;
    g_autofree char *shown = NULL;
    guint i;

    g_return_val_if_fail(migration != NULL, NULL);
    g_return_val_if_fail(dest_uri != NULL, NULL);

    for (i = 0; i < migration->peers->len; i++) {
        VlPeerConfig *peer = g_ptr_array_index(migration->peers, i);

        if (peer_name ? g_str_equal(peer->name, peer_name)
                      : vl_migrate_uri_equal(peer->uri, dest_uri))
            return peer;
    }

    known = list_peers(migration);
    if (peer_name) {
        shown = g_strescape(peer_name, NULL);
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Peer '%s' is not in the migration policy (peers: %s)",
                    shown, known);
    } else {
        shown = g_strescape(dest_uri, NULL);
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "No peer in the migration policy has the URI '%s' (peers: %s); add it to the policy or name it with --peer",
                    shown, known);
    }
    return NULL;
}

/* ---- channels ------------------------------------------------------------ */

guint
vl_migrate_channels_for(guint links, guint per_link, guint requested)
{
    guint per;

    if (links == 0 || links > VL_MIGRATE_CHANNELS_MAX)
        return 0;
    if (requested > 0)
        per = requested / links + (requested % links ? 1 : 0);
    else
        per = MAX(per_link, 1);
    per = MIN(per, VL_MIGRATE_CHANNELS_MAX / links);
    return per * links;
}

/* ---- planning -------------------------------------------------------------- */

void
vl_migrate_plan_input_init(VlMigratePlanInput *input)
{
    g_return_if_fail(input != NULL);

    memset(input, 0, sizeof(*input));
    input->max_links = 1;
    input->channels_per_link = 2;
    input->threshold_s = 60;
    input->lane_up_s = 5;
    input->max_downtime_s = 0.3;
    input->overhead_s = NAN;
}

const char *
vl_migrate_stop_reason_to_string(VlMigrateStopReason reason)
{
    switch (reason) {
    case VL_MIGRATE_STOP_WITHIN_THRESHOLD:
        return "within the threshold";
    case VL_MIGRATE_STOP_MAX_LINKS:
        return "max_lanes reached";
    case VL_MIGRATE_STOP_NO_MORE_LANES:
        return "no more lanes";
    case VL_MIGRATE_STOP_NO_GAIN:
        return "another lane would not make it faster";
    }
    return "unknown";
}

static void
lane_step_free(VlMigrateLaneStep *step)
{
    if (!step)
        return;
    g_free(step->added_lane);
    g_free(step);
}

void
vl_migrate_lane_plan_free(VlMigrateLanePlan *plan)
{
    if (!plan)
        return;
    if (plan->steps)
        g_ptr_array_unref(plan->steps);
    g_free(plan);
}

const VlMigrateLaneStep *
vl_migrate_lane_plan_get_chosen(const VlMigrateLanePlan *plan)
{
    g_return_val_if_fail(plan != NULL && plan->chosen < plan->steps->len,
                         NULL);
    return g_ptr_array_index(plan->steps, plan->chosen);
}

static gboolean
check_rate(double value, gboolean zero_ok, const char *what, GError **error)
{
    /* Written so that NaN fails too. */
    if (!(value >= 0 && value <= MAX_RATE_BPS) || (!zero_ok && value == 0)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Planning input '%s' must be %s and at most %g bytes/s, not '%g'",
                    what, zero_ok ? "0 or more" : "above 0", MAX_RATE_BPS,
                    value);
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_plan_input(const VlMigratePlanInput *in, GError **error)
{
    gsize i;

    if (!check_rate(in->base_bps, FALSE, "base_bps", error) ||
        !check_rate(in->dirty_rate_bps, TRUE, "dirty_rate_bps", error) ||
        !check_rate(in->bandwidth_cap_bps, TRUE, "bandwidth_cap_bps", error))
        return FALSE;
    if (!(in->threshold_s > 0 && in->threshold_s <= MAX_THRESHOLD_S)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Planning input 'threshold_s' must be above 0 and at most %g, not '%g'",
                    MAX_THRESHOLD_S, in->threshold_s);
        return FALSE;
    }
    if (!(in->lane_up_s >= 0 && in->lane_up_s <= MAX_THRESHOLD_S)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Planning input 'lane_up_s' must be 0 or more and at most %g, not '%g'",
                    MAX_THRESHOLD_S, in->lane_up_s);
        return FALSE;
    }
    if (in->max_links < 1 || in->max_links > VL_PLAN_LANES_MAX + 1) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Planning input 'max_links' must be from 1 to %d, not '%u'",
                    VL_PLAN_LANES_MAX + 1, in->max_links);
        return FALSE;
    }
    if (in->channels_per_link < 1 ||
        in->channels_per_link > VL_MIGRATE_CHANNELS_MAX ||
        in->requested_channels > VL_MIGRATE_CHANNELS_MAX) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Planning input channels must be from 1 to %d (per link '%u', requested '%u')",
                    VL_MIGRATE_CHANNELS_MAX, in->channels_per_link,
                    in->requested_channels);
        return FALSE;
    }
    if (in->n_lanes > VL_PLAN_LANES_MAX ||
        (in->n_lanes > 0 && (!in->lane_bps || !in->lane_names))) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Planning input has '%zu' lanes; at most %d, each with a name and a rate",
                    in->n_lanes, VL_PLAN_LANES_MAX);
        return FALSE;
    }
    for (i = 0; i < in->n_lanes; i++) {
        g_autofree char *what = g_strdup_printf("lane_bps[%zu]", i);

        if (!in->lane_names[i]) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Planning input lane %zu has no name", i);
            return FALSE;
        }
        if (!check_rate(in->lane_bps[i], FALSE, what, error))
            return FALSE;
    }
    return TRUE;
}

/* The learned rate for @links links, or 0 when none is known. */
static double
learned_for(const VlMigratePlanInput *in, guint links)
{
    double bps;

    if (!in->learned_bps || links == 0 || links > in->n_learned)
        return 0;
    bps = in->learned_bps[links - 1];
    return isfinite(bps) && bps > 0 && bps <= MAX_RATE_BPS ? bps : 0;
}

double
vl_migrate_setup_from_overhead(double overhead_s)
{
    /* The learned overhead is one figure for setup and resume together:
     * the resume keeps its fixed share. */
    return isfinite(overhead_s) && overhead_s >= 0 ?
        MAX(0, overhead_s - VL_MIGRATE_RESUME_S) : VL_MIGRATE_SETUP_S;
}

static VlMigrateLaneStep *
plan_step(const VlMigratePlanInput *in, guint links, GError **error)
{
    g_autoptr(GError) local = NULL;
    VlMigrateLaneStep *step = g_new0(VlMigrateLaneStep, 1);
    double bw[VL_PLAN_LANES_MAX + 1];
    VlEstimateInput e;
    double learned = learned_for(in, links);
    double aggregate = 0;
    guint i;

    vl_estimate_input_init(&e);
    e.memory_bytes = in->memory_bytes;
    e.zero_bytes = in->zero_bytes;
    e.dirty_rate_bps = in->dirty_rate_bps;
    e.max_downtime_s = in->max_downtime_s;
    e.setup_s = vl_migrate_setup_from_overhead(in->overhead_s);
    e.resume_s = VL_MIGRATE_RESUME_S;
    step->setup_s = e.setup_s;
    step->links = links;
    step->channels = vl_migrate_channels_for(links, in->channels_per_link,
                                             in->requested_channels);
    e.channels = step->channels;
    if (links > 1)
        step->added_lane = g_strdup(in->lane_names[links - 2]);

    if (learned > 0) {
        /* What earlier runs over as many links achieved, as one pipe. */
        bw[0] = learned;
        e.n_lanes = 1;
        e.efficiency = 1;
        step->learned = TRUE;
    } else {
        bw[0] = in->base_bps;
        for (i = 1; i < links; i++)
            bw[i] = in->lane_bps[i - 1];
        e.n_lanes = links;
        e.efficiency = VL_MIGRATE_EFFICIENCY;
    }
    e.lane_bps = bw;
    if (!vl_estimate_aggregate_bandwidth(&e, &aggregate, &local))
        goto fail;
    if (in->bandwidth_cap_bps > 0 && aggregate > in->bandwidth_cap_bps) {
        bw[0] = in->bandwidth_cap_bps;
        e.n_lanes = 1;
        e.efficiency = 1;
        aggregate = in->bandwidth_cap_bps;
    }
    step->bandwidth_bps = aggregate;
    if (!vl_estimate_run(&e, &step->estimate, &local))
        goto fail;

    if (step->estimate.converges)
        step->predicted_s = step->estimate.total_time_s +
                            (links > 1 ? in->lane_up_s : 0);
    else
        step->predicted_s = INFINITY;
    step->within_threshold = step->predicted_s <= in->threshold_s;
    return step;

 fail:
    g_propagate_error(error, g_steal_pointer(&local));
    lane_step_free(step);
    return NULL;
}

/* Whether @a is a better plan than @b: faster, or, when neither ends,
 * more bandwidth (the best chance for auto-converge or post-copy). */
static gboolean
step_better(const VlMigrateLaneStep *a, const VlMigrateLaneStep *b)
{
    if (isinf(a->predicted_s) && isinf(b->predicted_s))
        return a->bandwidth_bps > b->bandwidth_bps;
    return a->predicted_s < b->predicted_s;
}

VlMigrateLanePlan *
vl_migrate_lane_plan_compute(const VlMigratePlanInput *input, GError **error)
{
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    VlMigrateLaneStep *step;
    VlMigrateLaneStep *best;

    g_return_val_if_fail(input != NULL, NULL);

    if (!check_plan_input(input, error))
        return NULL;

    plan = g_new0(VlMigrateLanePlan, 1);
    plan->steps = g_ptr_array_new_with_free_func((GDestroyNotify) lane_step_free);
    if (!(step = plan_step(input, 1, error)))
        return NULL;
    g_ptr_array_add(plan->steps, step);
    best = step;

    for (;;) {
        guint links = step->links;

        if (step->within_threshold) {
            plan->stop_reason = VL_MIGRATE_STOP_WITHIN_THRESHOLD;
            break;
        }
        if (links >= input->max_links) {
            plan->stop_reason = VL_MIGRATE_STOP_MAX_LINKS;
            break;
        }
        if (links - 1 >= input->n_lanes) {
            plan->stop_reason = VL_MIGRATE_STOP_NO_MORE_LANES;
            break;
        }
        if (!(step = plan_step(input, links + 1, error)))
            return NULL;
        g_ptr_array_add(plan->steps, step);
        if (!step_better(step, best)) {
            plan->stop_reason = VL_MIGRATE_STOP_NO_GAIN;
            break;
        }
        best = step;
    }

    plan->chosen = best->links - 1;
    return g_steal_pointer(&plan);
}

/* A number for JSON, or null when unknown or infinite. */
static json_object *
json_number(double value)
{
    return isfinite(value) ? json_object_new_double(value) : NULL;
}

json_object *
vl_migrate_lane_plan_to_json(const VlMigrateLanePlan *plan)
{
    json_object *obj;
    json_object *chosen;
    json_object *steps;
    const VlMigrateLaneStep *pick;
    guint i;

    g_return_val_if_fail(plan != NULL, NULL);

    pick = vl_migrate_lane_plan_get_chosen(plan);
    obj = json_object_new_object();
    chosen = json_object_new_object();
    json_object_object_add(chosen, "links", json_object_new_int(pick->links));
    json_object_object_add(chosen, "channels",
                           json_object_new_int(pick->channels));
    json_object_object_add(obj, "chosen", chosen);
    json_object_object_add(obj, "stop_reason",
                           json_object_new_string(
                               vl_migrate_stop_reason_to_string(plan->stop_reason)));
    steps = json_object_new_array();
    for (i = 0; i < plan->steps->len; i++) {
        const VlMigrateLaneStep *s = g_ptr_array_index(plan->steps, i);
        json_object *o = json_object_new_object();

        json_object_object_add(o, "links", json_object_new_int(s->links));
        json_object_object_add(o, "channels", json_object_new_int(s->channels));
        json_object_object_add(o, "added_lane", s->added_lane ?
                               json_object_new_string(s->added_lane) : NULL);
        json_object_object_add(o, "bandwidth_bps", json_number(s->bandwidth_bps));
        json_object_object_add(o, "learned", json_object_new_boolean(s->learned));
        json_object_object_add(o, "setup_s", json_number(s->setup_s));
        json_object_object_add(o, "predicted_s", json_number(s->predicted_s));
        json_object_object_add(o, "job_s", json_number(s->estimate.total_time_s));
        json_object_object_add(o, "job_s_high",
                               json_number(s->estimate.total_time_high_s));
        json_object_object_add(o, "downtime_s", json_number(s->estimate.downtime_s));
        json_object_object_add(o, "iterations",
                               json_object_new_int64(s->estimate.iterations));
        json_object_object_add(o, "verdict", json_object_new_string(
                                   vl_estimate_verdict_to_string(s->estimate.verdict)));
        json_object_object_add(o, "converges",
                               json_object_new_boolean(s->estimate.converges));
        json_object_object_add(o, "within_threshold",
                               json_object_new_boolean(s->within_threshold));
        json_object_object_add(o, "chosen", json_object_new_boolean(i == plan->chosen));
        json_object_array_add(steps, o);
    }
    json_object_object_add(obj, "steps", steps);
    return obj;
}

/* ---- planning inputs from the policy ----------------------------------------- */

guint
vl_migrate_max_links(const VlMigrationPolicy *migration, const VlPeerConfig *peer,
                     gint max_lanes, char **why)
{
    guint links;

    g_return_val_if_fail(migration != NULL && peer != NULL, 1);

    /* The policy's max_lanes counts lanes besides the base path, as the
     * daemon's "lanes-up" does; the plan counts links. */
    links = 1 + (max_lanes >= 0 ? (guint)max_lanes : migration->max_lanes);
    links = MIN(links, peer->lanes->len + 1);
    if (links > 1 && !peer->migration_address) {
        if (why)
            *why = g_strdup_printf("Peer '%s' has no migration_address in the policy: no lanes, libvirt picks the migration address",
                                   peer->name);
        return 1;
    }
    if (links > 1 && !migration->migration_address) {
        if (why)
            *why = g_strdup("The policy sets no migration_address for this host: the destination cannot route lanes back, so no lanes");
        return 1;
    }
    return links;
}

VlMigratePeerLinks *
vl_migrate_peer_links_new(const VlPeerConfig *peer, GHashTable *unavailable,
                          const VlHistory *history)
{
    VlMigratePeerLinks *links = g_new0(VlMigratePeerLinks, 1);
    guint i;

    links->names = g_ptr_array_new();
    links->bps = g_array_new(FALSE, FALSE, sizeof(double));
    for (i = 0; i < G_N_ELEMENTS(links->learned); i++) {
        links->learned[i] = NAN;
        if (history)
            vl_history_learned_bps(history, i, 0, &links->learned[i]);
    }
    /* The setup the daemon's estimate learns too. */
    links->overhead_s = NAN;
    if (history)
        vl_history_learned_job_overhead(history, 0, &links->overhead_s);
    for (i = 0; i < peer->lanes->len; i++) {
        const VlLaneConfig *lane = g_ptr_array_index(peer->lanes, i);
        double bps = lane->bandwidth_mbit * 1e6 / 8;

        if (unavailable && g_hash_table_contains(unavailable, lane->interface))
            continue;
        g_ptr_array_add(links->names, lane->interface);
        g_array_append_val(links->bps, bps);
    }

    if (peer->base_bandwidth_mbit > 0) {
        links->base_bps = peer->base_bandwidth_mbit * 1e6 / 8;
        links->base_source = VL_MIGRATE_BASE_DECLARED;
    } else if (isfinite(links->learned[0])) {
        links->base_bps = links->learned[0] / VL_MIGRATE_EFFICIENCY;
        links->base_source = VL_MIGRATE_BASE_LEARNED;
    } else if (peer->lanes->len > 0) {
        const VlLaneConfig *first = g_ptr_array_index(peer->lanes, 0);

        links->base_bps = first->bandwidth_mbit * 1e6 / 8;
        links->base_source = VL_MIGRATE_BASE_FIRST_LANE;
    } else {
        links->base_source = VL_MIGRATE_BASE_UNKNOWN;
    }
    return links;
}

void
vl_migrate_peer_links_free(VlMigratePeerLinks *links)
{
    if (!links)
        return;
    if (links->names)
        g_ptr_array_unref(links->names);
    if (links->bps)
        g_array_unref(links->bps);
    g_free(links);
}

void
vl_migrate_plan_input_from_policy(VlMigratePlanInput *input,
                                  const VlMigrationPolicy *migration,
                                  const VlMigratePeerLinks *links,
                                  guint max_links)
{
    g_return_if_fail(input != NULL && migration != NULL && links != NULL);

    vl_migrate_plan_input_init(input);
    input->base_bps = links->base_bps;
    input->lane_names = (const char *const *)links->names->pdata;
    input->lane_bps = (const double *)(gpointer)links->bps->data;
    input->n_lanes = links->names->len;
    input->learned_bps = links->learned;
    input->n_learned = G_N_ELEMENTS(links->learned);
    input->max_links = MAX(1, max_links);
    input->channels_per_link = MAX(1, migration->channels_per_lane);
    input->threshold_s = migration->threshold_s;
    input->lane_up_s = migration->lane_up_max_s;
    input->max_downtime_s = migration->max_downtime_ms / 1000.0;
    input->overhead_s = links->overhead_s;
}

double
vl_migrate_guess_zero_bytes(virDomainPtr dom, double memory_bytes)
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

/* ---- the daemon's lanes ------------------------------------------------------ */

json_object *
vl_migrate_daemon_call_socket(gpointer data, json_object *request,
                              guint timeout_ms, GError **error)
{
    return vl_ipc_call((const char *)data, request, timeout_ms, error);
}

json_object *
vl_migrate_daemon_call_local(gpointer data, json_object *request,
                             guint timeout_ms, GError **error)
{
    return vl_ipc_local_call(data, request, timeout_ms, error);
}

/* A member of @obj of @type, or NULL: replies are input from outside. */
static json_object *
member(json_object *obj, const char *key, json_type type)
{
    json_object *value = NULL;

    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &value) ||
        !json_object_is_type(value, type))
        return NULL;
    return value;
}

static const char *
member_string(json_object *obj, const char *key)
{
    json_object *value = member(obj, key, json_type_string);

    return value ? json_object_get_string(value) : NULL;
}

static gboolean
peer_has_lane(const VlPeerConfig *peer, const char *interface)
{
    guint i;

    for (i = 0; i < peer->lanes->len; i++) {
        const VlLaneConfig *lane = g_ptr_array_index(peer->lanes, i);

        if (g_str_equal(lane->interface, interface))
            return TRUE;
    }
    return FALSE;
}

/* A finite number >= 0 at @key of @obj. */
static gboolean
member_number(json_object *obj, const char *key, double *out)
{
    json_object *value = NULL;
    double v;

    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &value) ||
        !(json_object_is_type(value, json_type_double) ||
          json_object_is_type(value, json_type_int)))
        return FALSE;
    v = json_object_get_double(value);
    if (!(v >= 0 && v <= MAX_RATE_BPS))
        return FALSE;
    *out = v;
    return TRUE;
}

guint
vl_migrate_estimate_inputs(json_object *reply, double *dirty_bps,
                           double *zero_bytes)
{
    json_object *ok = member(reply, "ok", json_type_boolean);
    json_object *inputs = member(reply, "inputs", json_type_object);
    json_object *fresh = member(inputs, "dirty_fresh", json_type_boolean);
    double v = 0;
    guint got = 0;

    g_return_val_if_fail(dirty_bps != NULL && zero_bytes != NULL, 0);

    if (!ok || !json_object_get_boolean(ok) || !inputs)
        return 0;
    if (g_strcmp0(member_string(inputs, "dirty_source"), "sampled") == 0 &&
        fresh && json_object_get_boolean(fresh) &&
        member_number(inputs, "dirty_rate_bps", &v)) {
        *dirty_bps = v;
        got |= VL_MIGRATE_INPUT_DIRTY;
    }
    if (g_strcmp0(member_string(inputs, "zero_source"), "measured") == 0 &&
        member_number(inputs, "zero_bytes", &v)) {
        *zero_bytes = v;
        got |= VL_MIGRATE_INPUT_ZERO;
    }
    return got;
}

GHashTable *
vl_migrate_unavailable_lanes(json_object *reply, const VlPeerConfig *peer)
{
    GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal,
                                            g_free, g_free);
    json_object *lanes = member(reply, "lanes", json_type_array);
    json_object *ok = member(reply, "ok", json_type_boolean);
    size_t i;

    g_return_val_if_fail(peer != NULL, out);

    if (!ok || !json_object_get_boolean(ok) || !lanes)
        return out;
    for (i = 0; i < json_object_array_length(lanes); i++) {
        json_object *lane = json_object_array_get_idx(lanes, i);
        const char *interface = member_string(lane, "interface");
        const char *owner = member_string(lane, "peer");
        const char *state = member_string(lane, "state");
        const char *why = member_string(lane, "error");
        char *reason = NULL;

        if (!interface || !peer_has_lane(peer, interface))
            continue;
        if (owner && !g_str_equal(owner, peer->name))
            reason = g_strdup_printf("held for peer '%s'", owner);
        else if (g_strcmp0(state, "failed") == 0)
            reason = g_strdup_printf("failed earlier%s%s", why ? ": " : "",
                                     why ? why : "");
        else if (g_strcmp0(state, "going-down") == 0)
            reason = g_strdup("still going down");
        if (reason)
            g_hash_table_replace(out, g_strdup(interface), reason);
    }
    return out;
}

static void
lane_outcome_free(VlMigrateLaneOutcome *outcome)
{
    if (!outcome)
        return;
    g_free(outcome->interface);
    g_free(outcome->error);
    g_free(outcome);
}

void
vl_migrate_lanes_free(VlMigrateLanes *lanes)
{
    if (!lanes)
        return;
    g_free(lanes->plan_id);
    if (lanes->up)
        g_ptr_array_unref(lanes->up);
    if (lanes->outcomes)
        g_ptr_array_unref(lanes->outcomes);
    g_free(lanes->steering_error);
    g_free(lanes);
}

guint
vl_migrate_lanes_get_links(const VlMigrateLanes *lanes)
{
    if (!lanes || lanes->steering_error)
        return 1;
    return 1 + lanes->up->len;
}

/* The daemon's message, made safe for one line of output. */
static char *
safe_text(const char *text)
{
    g_autofree char *valid = NULL;
    char *out;
    char *p;

    if (!text)
        return g_strdup("(no message)");
    valid = g_utf8_make_valid(text, -1);
    out = g_strndup(valid, 400);
    for (p = out; *p; p++) {
        if ((guchar)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    return out;
}

static gboolean
reply_ok(json_object *reply, const char *request, GError **error)
{
    json_object *ok = member(reply, "ok", json_type_boolean);
    g_autofree char *msg = NULL;

    if (!ok) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "The daemon's reply to '%s' has no 'ok'", request);
        return FALSE;
    }
    if (!json_object_get_boolean(ok)) {
        msg = safe_text(member_string(reply, "error"));
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "The daemon refused '%s': %s", request, msg);
        return FALSE;
    }
    return TRUE;
}

VlMigrateLanes *
vl_migrate_lanes_parse_reply(json_object *reply, const char *plan_id,
                             const VlPeerConfig *peer,
                             const char *const *requested, GError **error)
{
    g_autoptr(VlMigrateLanes) lanes = NULL;
    g_autoptr(GHashTable) reported = NULL;
    json_object *report;
    json_object *array;
    const char *reported_id;
    size_t i;

    g_return_val_if_fail(plan_id != NULL && peer != NULL && requested != NULL,
                         NULL);

    if (!reply_ok(reply, "lanes-up", error))
        return NULL;
    report = member(reply, "report", json_type_object);
    array = member(report, "lanes", json_type_array);
    reported_id = member_string(report, "plan_id");
    if (!report || !array || !reported_id) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "The daemon's reply to 'lanes-up' has no valid report");
        return NULL;
    }
    if (!g_str_equal(reported_id, plan_id)) {
        g_autofree char *shown = safe_text(reported_id);

        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "The daemon's reply to 'lanes-up' is for plan '%s', not '%s'",
                    shown, plan_id);
        return NULL;
    }

    /* interface -> its report entry */
    reported = g_hash_table_new(g_str_hash, g_str_equal);
    for (i = 0; i < json_object_array_length(array); i++) {
        json_object *entry = json_object_array_get_idx(array, i);
        const char *interface = member_string(entry, "interface");

        if (!interface || !g_strv_contains(requested, interface)) {
            g_autofree char *shown = safe_text(interface);

            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "The daemon's reply to 'lanes-up' reports lane '%s', which was not asked for",
                        shown);
            return NULL;
        }
        g_hash_table_insert(reported, (gpointer)interface, entry);
    }

    lanes = g_new0(VlMigrateLanes, 1);
    lanes->plan_id = g_strdup(plan_id);
    lanes->up = g_ptr_array_new();
    lanes->outcomes = g_ptr_array_new_with_free_func((GDestroyNotify) lane_outcome_free);
    if (member_string(report, "steering_error"))
        lanes->steering_error = safe_text(member_string(report, "steering_error"));

    for (i = 0; i < peer->lanes->len; i++) {
        VlLaneConfig *lane = g_ptr_array_index(peer->lanes, i);
        json_object *entry;
        json_object *up;
        VlMigrateLaneOutcome *outcome;

        if (!g_strv_contains(requested, lane->interface))
            continue;
        entry = g_hash_table_lookup(reported, lane->interface);
        up = member(entry, "up", json_type_boolean);
        outcome = g_new0(VlMigrateLaneOutcome, 1);
        outcome->interface = g_strdup(lane->interface);
        if (up && json_object_get_boolean(up)) {
            g_ptr_array_add(lanes->up, lane);
        } else if (!entry) {
            outcome->error = g_strdup("the daemon did not report it");
        } else {
            outcome->error = safe_text(member_string(entry, "error"));
        }
        g_ptr_array_add(lanes->outcomes, outcome);
    }
    return g_steal_pointer(&lanes);
}

VlMigrateLanes *
vl_migrate_lanes_up(VlMigrateDaemonCall call, gpointer call_data,
                    const char *plan_id, const VlPeerConfig *peer,
                    guint count, GHashTable *unavailable, guint timeout_ms,
                    GError **error)
{
    g_autoptr(json_object) request = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    json_object *array;
    guint i;

    g_return_val_if_fail(call != NULL && plan_id != NULL && peer != NULL, NULL);

    for (i = 0; i < peer->lanes->len && names->len < count; i++) {
        const VlLaneConfig *lane = g_ptr_array_index(peer->lanes, i);

        if (unavailable && g_hash_table_contains(unavailable, lane->interface))
            continue;
        g_ptr_array_add(names, lane->interface);
    }
    if (names->len == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Peer '%s' has no lane that can come up", peer->name);
        return NULL;
    }
    g_ptr_array_add(names, NULL);

    request = vl_ipc_message_new("lanes-up");
    json_object_object_add(request, "plan_id", json_object_new_string(plan_id));
    json_object_object_add(request, "peer", json_object_new_string(peer->name));
    array = json_object_new_array();
    for (i = 0; names->pdata[i]; i++)
        json_object_array_add(array, json_object_new_string(names->pdata[i]));
    json_object_object_add(request, "lanes", array);

    if (!(reply = call(call_data, request, timeout_ms, error)))
        return NULL;
    return vl_migrate_lanes_parse_reply(reply, plan_id, peer,
                                        (const char *const *)names->pdata,
                                        error);
}

VlMigrateLanesCheck
vl_migrate_lanes_check(json_object *reply, const VlMigrateLanes *lanes)
{
    json_object *ok = member(reply, "ok", json_type_boolean);
    json_object *array = member(reply, "lanes", json_type_array);
    guint i;
    size_t j;

    g_return_val_if_fail(lanes != NULL, VL_MIGRATE_LANES_UNKNOWN);

    if (!ok || !json_object_get_boolean(ok) || !array)
        return VL_MIGRATE_LANES_UNKNOWN;
    for (i = 0; i < lanes->up->len; i++) {
        const VlLaneConfig *lane = g_ptr_array_index(lanes->up, i);
        gboolean held = FALSE;

        for (j = 0; j < json_object_array_length(array) && !held; j++) {
            json_object *entry = json_object_array_get_idx(array, j);
            json_object *plans = member(entry, "plans", json_type_array);
            size_t k;

            if (g_strcmp0(member_string(entry, "interface"), lane->interface) != 0 ||
                g_strcmp0(member_string(entry, "state"), "up") != 0 || !plans)
                continue;
            for (k = 0; k < json_object_array_length(plans); k++) {
                json_object *id = json_object_array_get_idx(plans, k);

                if (json_object_is_type(id, json_type_string) &&
                    g_str_equal(json_object_get_string(id), lanes->plan_id))
                    held = TRUE;
            }
        }
        if (!held)
            return VL_MIGRATE_LANES_LOST;
    }
    return VL_MIGRATE_LANES_HELD;
}

gboolean
vl_migrate_lanes_down(VlMigrateDaemonCall call, gpointer call_data,
                      const char *plan_id, guint timeout_ms, guint *n_down,
                      GError **error)
{
    g_autoptr(json_object) request = NULL;
    g_autoptr(json_object) reply = NULL;
    json_object *down;

    g_return_val_if_fail(call != NULL && plan_id != NULL, FALSE);

    request = vl_ipc_message_new("lanes-down");
    json_object_object_add(request, "plan_id", json_object_new_string(plan_id));
    if (!(reply = call(call_data, request, timeout_ms, error)) ||
        !reply_ok(reply, "lanes-down", error))
        return FALSE;
    down = member(reply, "down", json_type_int);
    if (n_down)
        *n_down = down ? (guint)CLAMP(json_object_get_int64(down), 0, G_MAXUINT) : 0;
    return TRUE;
}

gboolean
vl_migrate_announce(VlMigrateDaemonCall call, gpointer call_data,
                    const char *domain, guint links, guint channels,
                    double predicted_s, GError **error)
{
    g_autoptr(json_object) request = NULL;
    g_autoptr(json_object) reply = NULL;

    g_return_val_if_fail(call != NULL && domain != NULL, FALSE);

    request = vl_ipc_message_new("migration-plan");
    json_object_object_add(request, "domain", json_object_new_string(domain));
    json_object_object_add(request, "links", json_object_new_int(MAX(links, 1)));
    json_object_object_add(request, "channels", json_object_new_int(channels));
    json_object_object_add(request, "predicted_s", isfinite(predicted_s) && predicted_s >= 0 ?
                           json_object_new_double(predicted_s) : NULL);
    if (!(reply = call(call_data, request, VL_MIGRATE_ANNOUNCE_TIMEOUT_MS, error)))
        return FALSE;
    return reply_ok(reply, "migration-plan", error);
}

guint
vl_migrate_lanes_timeout_ms(double lane_up_max_s)
{
    double ms = 3 * lane_up_max_s * 1000 + LANES_TIMEOUT_SLACK_MS;

    if (!(ms >= LANES_TIMEOUT_SLACK_MS))
        return LANES_TIMEOUT_SLACK_MS;
    return (guint)MIN(ms, (double)G_MAXINT);
}

/* ---- the plan for the destination ------------------------------------------ */

static gboolean
plan_id_char(char c)
{
    return g_ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
}

char *
vl_migrate_plan_id_new(const char *domain, gint64 time, guint pid)
{
    g_autofree char *suffix = g_strdup_printf(".%" G_GINT64_FORMAT ".%u",
                                              time, pid);
    GString *id = g_string_new(NULL);
    gsize room = VL_PLAN_ID_MAX - MIN(strlen(suffix), VL_PLAN_ID_MAX - 1);
    const char *p;

    room = MIN(room, PLAN_ID_NAME_MAX);
    for (p = domain ? domain : ""; *p && id->len < room; p++)
        g_string_append_c(id, plan_id_char(*p) ? *p : '_');
    if (id->len == 0)
        g_string_append(id, "domain");
    g_string_append(id, suffix);
    g_string_truncate(id, VL_PLAN_ID_MAX);
    return g_string_free(id, FALSE);
}

char *
vl_migrate_host_label(const char *hostname)
{
    GString *label = g_string_new(NULL);
    const char *p;

    for (p = hostname ? hostname : ""; *p && label->len < 64; p++) {
        gboolean ok = g_ascii_isalnum(*p) || *p == '_' || *p == '.' ||
                      *p == '-';

        g_string_append_c(label, ok ? *p : '-');
    }
    if (label->len == 0)
        g_string_append(label, "localhost");
    return g_string_free(label, FALSE);
}

/* "198.18.11.1/24" -> "198.18.11.1" */
static char *
strip_prefix(const char *address)
{
    return g_strndup(address, strcspn(address, "/"));
}

VlMigrationPlan *
vl_migrate_build_plan(const char *plan_id, const char *source_host,
                      const char *source_migration_address,
                      const VlMigrateLanes *lanes, guint channels)
{
    VlMigrationPlan *plan = vl_migration_plan_new();
    guint i;

    plan->id = g_strdup(plan_id);
    plan->source_host = g_strdup(source_host);
    plan->source_migration_address = g_strdup(source_migration_address);
    plan->channels = channels;
    if (lanes && !lanes->steering_error) {
        for (i = 0; i < lanes->up->len; i++) {
            const VlLaneConfig *lane = g_ptr_array_index(lanes->up, i);
            g_autofree char *local = strip_prefix(lane->address);

            g_ptr_array_add(plan->lanes,
                            vl_plan_lane_new(local, lane->peer_address));
        }
    }
    return plan;
}

char *
vl_migrate_build_dest_xml(const char *xml, const VlMigrationPlan *plan,
                          GError **error)
{
    g_return_val_if_fail(xml != NULL && plan != NULL, NULL);

    return vl_migration_plan_insert_into_domain_xml(xml, strlen(xml), plan,
                                                    error);
}

/* ---- migration parameters ----------------------------------------------------- */

void
vl_migrate_settings_init(VlMigrateSettings *settings)
{
    g_return_if_fail(settings != NULL);

    memset(settings, 0, sizeof(*settings));
    settings->live = TRUE;
}

char *
vl_migrate_uri_for_address(const char *address)
{
    g_autoptr(GInetAddress) inet = NULL;

    if (!address || !(inet = g_inet_address_new_from_string(address)))
        return NULL;
    if (g_inet_address_get_family(inet) == G_SOCKET_FAMILY_IPV6)
        return g_strdup_printf("tcp://[%s]", address);
    return g_strdup_printf("tcp://%s", address);
}

gboolean
vl_migrate_build_params(const VlMigrateSettings *settings,
                        const char *migration_uri, const char *dest_xml,
                        const char *persist_xml, guint channels,
                        virTypedParameterPtr *params, int *nparams,
                        unsigned int *flags, GError **error)
{
    virTypedParameterPtr p = NULL;
    int n = 0;
    int max = 0;
    unsigned int f = VIR_MIGRATE_PEER2PEER;

    g_return_val_if_fail(settings != NULL && params != NULL &&
                         nparams != NULL && flags != NULL, FALSE);

    if (channels > VL_MIGRATE_CHANNELS_MAX) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Parallel connections must be at most %d, not '%u'",
                    VL_MIGRATE_CHANNELS_MAX, channels);
        return FALSE;
    }
    if (settings->live)
        f |= VIR_MIGRATE_LIVE;
    if (settings->persistent)
        f |= VIR_MIGRATE_PERSIST_DEST;
    if (settings->auto_converge)
        f |= VIR_MIGRATE_AUTO_CONVERGE;
    if (settings->postcopy)
        f |= VIR_MIGRATE_POSTCOPY;
    if (channels > 0)
        f |= VIR_MIGRATE_PARALLEL;

    if ((migration_uri &&
         virTypedParamsAddString(&p, &n, &max, VIR_MIGRATE_PARAM_URI,
                                 migration_uri) < 0) ||
        (dest_xml &&
         virTypedParamsAddString(&p, &n, &max, VIR_MIGRATE_PARAM_DEST_XML,
                                 dest_xml) < 0) ||
        (persist_xml && settings->persistent &&
         virTypedParamsAddString(&p, &n, &max, VIR_MIGRATE_PARAM_PERSIST_XML,
                                 persist_xml) < 0) ||
        (channels > 0 &&
         virTypedParamsAddInt(&p, &n, &max,
                              VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                              (int)channels) < 0) ||
        (settings->bandwidth_mib > 0 &&
         virTypedParamsAddULLong(&p, &n, &max, VIR_MIGRATE_PARAM_BANDWIDTH,
                                 settings->bandwidth_mib) < 0)) {
        vl_error_set_from_virt(error, "Failed to build the migration parameters");
        virTypedParamsFree(p, n);
        return FALSE;
    }
    *params = p;
    *nparams = n;
    *flags = f;
    return TRUE;
}

gboolean
vl_migrate_build_attempt(const VlMigrateSettings *settings, const char *xml,
                         const char *plan_id, const char *source_host,
                         const char *source_migration_address,
                         const VlMigrateLanes *lanes, guint links, guint channels,
                         const char *migration_uri, gboolean *with_plan,
                         virTypedParameterPtr *params, int *nparams,
                         unsigned int *flags, GError **error)
{
    g_autoptr(VlMigrationPlan) plan = NULL;
    g_autofree char *dest_xml = NULL;

    g_return_val_if_fail(settings != NULL, FALSE);
    g_return_val_if_fail(xml != NULL || !(lanes && links > 1), FALSE);

    if (lanes && links > 1) {
        plan = vl_migrate_build_plan(plan_id, source_host, source_migration_address,
                                     lanes, channels);
        if (!(dest_xml = vl_migrate_build_dest_xml(xml, plan, error)))
            return FALSE;
    }
    if (!vl_migrate_build_params(settings, migration_uri, dest_xml, xml, channels,
                                 params, nparams, flags, error))
        return FALSE;
    if (with_plan)
        *with_plan = dest_xml != NULL;
    return TRUE;
}

/* ---- job statistics ------------------------------------------------------------ */

/* 1 found, 0 missing, -1 wrong type (libvirt's convention). */
static int
get_ullong(const virTypedParameter *params, int nparams, const char *name,
           guint64 *out, GError **error)
{
    unsigned long long value = 0;
    int rc = virTypedParamsGetULLong((virTypedParameterPtr)params, nparams,
                                     name, &value);

    if (rc < 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Job statistics field '%s' is not an unsigned long long",
                    name);
        return -1;
    }
    if (rc == 1)
        *out = value;
    return rc;
}

gboolean
vl_migrate_job_stats_parse(int type, const virTypedParameter *params,
                           int nparams, VlMigrateJobStats *stats,
                           GError **error)
{
    VlMigrateJobStats s = { 0 };
    guint64 elapsed = 0;
    guint64 downtime = 0;
    int rc;

    g_return_val_if_fail(stats != NULL, FALSE);
    g_return_val_if_fail(nparams == 0 || params != NULL, FALSE);

    s.type = type;
    s.downtime_ms = NAN;
    s.sample.page_size = 4096;
    if (get_ullong(params, nparams, VIR_DOMAIN_JOB_TIME_ELAPSED, &elapsed,
                   error) < 0 ||
        (rc = get_ullong(params, nparams, VIR_DOMAIN_JOB_MEMORY_TOTAL,
                         &s.sample.memory_total, error)) < 0 ||
        get_ullong(params, nparams, VIR_DOMAIN_JOB_MEMORY_PROCESSED,
                   &s.sample.memory_processed, error) < 0 ||
        get_ullong(params, nparams, VIR_DOMAIN_JOB_MEMORY_REMAINING,
                   &s.sample.memory_remaining, error) < 0 ||
        get_ullong(params, nparams, VIR_DOMAIN_JOB_MEMORY_BPS,
                   &s.sample.memory_bps, error) < 0 ||
        get_ullong(params, nparams, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE,
                   &s.sample.memory_dirty_rate, error) < 0 ||
        get_ullong(params, nparams, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE,
                   &s.sample.page_size, error) < 0 ||
        get_ullong(params, nparams, VIR_DOMAIN_JOB_MEMORY_ITERATION,
                   &s.sample.memory_iteration, error) < 0 ||
        get_ullong(params, nparams, VIR_DOMAIN_JOB_DATA_TOTAL,
                   &s.data_total, error) < 0 ||
        get_ullong(params, nparams, VIR_DOMAIN_JOB_DATA_PROCESSED,
                   &s.data_processed, error) < 0)
        return FALSE;
    s.has_memory = rc == 1;
    if (elapsed > (guint64)G_MAXINT64) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Job statistics field '%s' is out of range",
                    VIR_DOMAIN_JOB_TIME_ELAPSED);
        return FALSE;
    }
    s.sample.time_elapsed_ms = (gint64)elapsed;
    if ((rc = get_ullong(params, nparams, VIR_DOMAIN_JOB_DOWNTIME, &downtime,
                         error)) < 0)
        return FALSE;
    if (rc == 1)
        s.downtime_ms = (double)downtime;
    if (s.sample.page_size == 0)
        s.sample.page_size = 4096;
    *stats = s;
    return TRUE;
}

/* ---- the libvirt side of the job --------------------------------------------------- */

typedef struct {
    virDomainPtr dom;
    char *name;
    char *dest_uri;
    virTypedParameterPtr params;
    int nparams;
    unsigned int flags;
} VlMigrateLibvirt;

gpointer
vl_migrate_libvirt_new(virDomainPtr dom, const char *dest_uri,
                       virTypedParameterPtr params, int nparams,
                       unsigned int flags)
{
    VlMigrateLibvirt *lv = g_new0(VlMigrateLibvirt, 1);
    const char *name = virDomainGetName(dom);

    virDomainRef(dom);
    lv->dom = dom;
    lv->name = g_strdup(name ? name : "?");
    lv->dest_uri = g_strdup(dest_uri);
    lv->params = params;
    lv->nparams = nparams;
    lv->flags = flags;
    return lv;
}

void
vl_migrate_libvirt_free(gpointer data)
{
    VlMigrateLibvirt *lv = data;

    if (!lv)
        return;
    if (lv->dom)
        virDomainFree(lv->dom);
    g_free(lv->name);
    g_free(lv->dest_uri);
    virTypedParamsFree(lv->params, lv->nparams);
    g_free(lv);
}

static gboolean
libvirt_migrate(gpointer data, GError **error)
{
    VlMigrateLibvirt *lv = data;

    if (virDomainMigrateToURI3(lv->dom, lv->dest_uri, lv->params, lv->nparams,
                               lv->flags) < 0) {
        vl_error_set_from_virt(error, "Failed to migrate '%s' to '%s'",
                               lv->name, lv->dest_uri);
        return FALSE;
    }
    return TRUE;
}

static gboolean
libvirt_job_stats(gpointer data, gboolean completed, VlMigrateJobStats *stats,
                  GError **error)
{
    VlMigrateLibvirt *lv = data;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int type = 0;
    unsigned int flags = completed ?
        VIR_DOMAIN_JOB_STATS_COMPLETED | VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED : 0;
    gboolean ok;

    if (virDomainGetJobStats(lv->dom, &type, &params, &nparams, flags) < 0) {
        vl_error_set_from_virt(error, "Failed to read the job statistics of '%s'",
                               lv->name);
        return FALSE;
    }
    ok = vl_migrate_job_stats_parse(type, params, nparams, stats, error);
    virTypedParamsFree(params, nparams);
    return ok;
}

static gboolean
libvirt_abort_job(gpointer data, GError **error)
{
    VlMigrateLibvirt *lv = data;

    if (virDomainAbortJob(lv->dom) < 0) {
        vl_error_set_from_virt(error, "Failed to abort the migration of '%s'",
                               lv->name);
        return FALSE;
    }
    return TRUE;
}

static gboolean
libvirt_set_max_downtime(gpointer data, guint ms, GError **error)
{
    VlMigrateLibvirt *lv = data;

    if (virDomainMigrateSetMaxDowntime(lv->dom, ms, 0) < 0) {
        vl_error_set_from_virt(error, "Failed to set the downtime limit of '%s' to '%u' ms",
                               lv->name, ms);
        return FALSE;
    }
    return TRUE;
}

static gboolean
libvirt_start_postcopy(gpointer data, GError **error)
{
    VlMigrateLibvirt *lv = data;

    if (virDomainMigrateStartPostCopy(lv->dom, 0) < 0) {
        vl_error_set_from_virt(error, "Failed to switch the migration of '%s' to post-copy",
                               lv->name);
        return FALSE;
    }
    return TRUE;
}

static const VlMigrateJobOps libvirt_ops = {
    .migrate = libvirt_migrate,
    .job_stats = libvirt_job_stats,
    .abort_job = libvirt_abort_job,
    .set_max_downtime = libvirt_set_max_downtime,
    .start_postcopy = libvirt_start_postcopy,
};

const VlMigrateJobOps *
vl_migrate_libvirt_ops(void)
{
    return &libvirt_ops;
}

/* ---- the job --------------------------------------------------------------------- */

const char *
vl_migrate_outcome_to_string(VlMigrateOutcome outcome)
{
    switch (outcome) {
    case VL_MIGRATE_OUTCOME_COMPLETED:
        return "completed";
    case VL_MIGRATE_OUTCOME_FAILED:
        return "failed";
    case VL_MIGRATE_OUTCOME_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

void
vl_migrate_job_config_init(VlMigrateJobConfig *config)
{
    g_return_if_fail(config != NULL);

    memset(config, 0, sizeof(*config));
    config->poll_ms = VL_MIGRATE_POLL_MS;
}

struct _VlMigrateJob {
    const VlMigrateJobOps *ops;
    gpointer ops_data;
    VlMigrateJobConfig config;
    VlEta *eta;

    gboolean running;
    gboolean cancel_pending;        /* abort still to be done */
    gboolean downtime_set;
    GSource *poll;              /* on the thread-default context */
    gint64 start_us;
    gboolean seen_job;              /* the libvirt job was seen running */
    guint64 best_processed;
    gint64 progress_us;             /* when best_processed last grew */

    VlMigrateProgressFunc progress;
    VlMigrateDoneFunc done;
    gpointer user_data;
    VlMigrateResult result;

    /* written by the thread, read after it ended */
    gboolean thread_ok;
    GError *thread_error;
    gboolean thread_has_completed;
    VlMigrateJobStats thread_completed;
};

static void
stop_polling(VlMigrateJob *job)
{
    if (!job->poll)
        return;
    g_source_destroy(job->poll);
    g_clear_pointer(&job->poll, g_source_unref);
}

VlMigrateJob *
vl_migrate_job_new(const VlMigrateJobOps *ops, gpointer ops_data,
                   const VlMigrateJobConfig *config)
{
    VlMigrateJob *job;
    VlEtaConfig eta_config;

    g_return_val_if_fail(ops != NULL && ops->migrate != NULL &&
                         ops->job_stats != NULL && ops->abort_job != NULL,
                         NULL);

    job = g_new0(VlMigrateJob, 1);
    job->ops = ops;
    job->ops_data = ops_data;
    if (config)
        job->config = *config;
    else
        vl_migrate_job_config_init(&job->config);
    if (job->config.poll_ms == 0)
        job->config.poll_ms = VL_MIGRATE_POLL_MS;

    vl_eta_config_init(&eta_config);
    eta_config.prior_dirty_rate_bps = job->config.prior_dirty_rate_bps;
    eta_config.time_cap_s = job->config.time_cap_s;
    job->eta = vl_eta_new(&eta_config);
    job->result.progress.eta_s = NAN;
    job->result.progress.bandwidth_bps = NAN;
    job->result.progress.dirty_rate_bps = NAN;
    return job;
}

void
vl_migrate_job_free(VlMigrateJob *job)
{
    if (!job)
        return;
    g_return_if_fail(!job->running);
    stop_polling(job);
    g_clear_pointer(&job->eta, vl_eta_free);
    g_clear_error(&job->thread_error);
    g_clear_error(&job->result.error);
    g_free(job);
}

gboolean
vl_migrate_job_is_running(VlMigrateJob *job)
{
    g_return_val_if_fail(job != NULL, FALSE);
    return job->running;
}

static gboolean
try_abort(VlMigrateJob *job, GError **error)
{
    if (!job->ops->abort_job(job->ops_data, error)) {
        job->cancel_pending = TRUE;
        return FALSE;
    }
    job->cancel_pending = FALSE;
    return TRUE;
}

gboolean
vl_migrate_job_cancel(VlMigrateJob *job, GError **error)
{
    g_return_val_if_fail(job != NULL, FALSE);

    job->result.cancel_requested = TRUE;
    if (!job->running)
        return TRUE;
    return try_abort(job, error);
}

static void
update_progress(VlMigrateJob *job, const VlMigrateJobStats *stats)
{
    VlMigrateProgress *p = &job->result.progress;
    VlEtaResult eta;
    guint64 done = stats->sample.memory_processed;
    guint64 left = stats->sample.memory_remaining;

    vl_eta_get_result(job->eta, &eta);
    p->elapsed_s = stats->sample.time_elapsed_ms / 1000.0;
    p->total_bytes = stats->sample.memory_total;
    p->processed_bytes = done;
    p->remaining_bytes = left;
    /* processed counts pages sent again, so this is "sent vs still to
     * send", which only reaches 100 at the end. */
    p->percent = done + left > 0 ? 100.0 * done / (double)(done + left) : 0;
    p->bandwidth_bps = eta.bandwidth_bps;
    p->eta_s = eta.eta_s;
    p->dirty_rate_bps = eta.dirty_rate_bps;
    p->iteration = stats->sample.memory_iteration;
    p->verdict = eta.verdict;
    p->reason = eta.reason;
}

static void
maybe_postcopy(VlMigrateJob *job)
{
    VlMigrateProgress *p = &job->result.progress;
    g_autoptr(GError) error = NULL;

    if (p->postcopy || !job->ops->start_postcopy ||
        job->config.postcopy_after_s <= 0 || p->iteration < 2)
        return;
    if (!(p->verdict == VL_ETA_VERDICT_NOT_CONVERGING ||
          (!isnan(p->eta_s) && p->eta_s > job->config.postcopy_after_s)))
        return;
    if (job->ops->start_postcopy(job->ops_data, &error))
        p->postcopy = TRUE;
    else
        g_debug("Post-copy switch failed: %s", error->message);
}

static gboolean
poll_tick(gpointer user_data)
{
    VlMigrateJob *job = user_data;
    g_autoptr(GError) error = NULL;
    VlMigrateJobStats stats;
    gboolean active;

    if (job->cancel_pending) {
        if (!try_abort(job, &error)) {
            g_debug("Abort not done yet: %s", error->message);
            g_clear_error(&error);
        }
    }
    if (!job->ops->job_stats(job->ops_data, FALSE, &stats, &error)) {
        g_debug("No job statistics: %s", error->message);
        return G_SOURCE_CONTINUE;
    }
    active = stats.type == VIR_DOMAIN_JOB_BOUNDED ||
             stats.type == VIR_DOMAIN_JOB_UNBOUNDED;
    if (!active)
        return G_SOURCE_CONTINUE;

    if (!job->downtime_set && job->config.max_downtime_ms > 0 &&
        job->ops->set_max_downtime) {
        /* Only possible once the job exists; tried until it works. */
        if (job->ops->set_max_downtime(job->ops_data,
                                       job->config.max_downtime_ms, &error))
            job->downtime_set = TRUE;
        else
            g_debug("%s", error->message);
        g_clear_error(&error);
    }
    if (!job->seen_job || stats.sample.memory_processed > job->best_processed) {
        job->seen_job = TRUE;
        job->best_processed = stats.sample.memory_processed;
        job->progress_us = g_get_monotonic_time();
    } else if (job->config.stall_abort_s > 0 && !job->result.stalled &&
               !job->result.cancel_requested &&
               g_get_monotonic_time() - job->progress_us >
               job->config.stall_abort_s * G_USEC_PER_SEC) {
        job->result.stalled = TRUE;
        if (!try_abort(job, &error)) {
            g_debug("Abort of a stalled job not done yet: %s", error->message);
            g_clear_error(&error);
        }
    }
    if (!stats.has_memory)
        return G_SOURCE_CONTINUE;

    stats.sample.downtime_limit_ms = job->config.max_downtime_ms;
    if (!vl_eta_update(job->eta, &stats.sample, &error)) {
        g_debug("Job statistics sample skipped: %s", error->message);
        return G_SOURCE_CONTINUE;
    }
    job->result.has_last = TRUE;
    job->result.last = stats;
    update_progress(job, &stats);
    maybe_postcopy(job);
    if (job->progress)
        job->progress(job, &job->result.progress, job->user_data);
    return G_SOURCE_CONTINUE;
}

static void
job_thread(GTask *task, gpointer source_object G_GNUC_UNUSED,
           gpointer task_data, GCancellable *cancellable G_GNUC_UNUSED)
{
    VlMigrateJob *job = task_data;
    g_autoptr(GError) error = NULL;

    job->thread_ok = job->ops->migrate(job->ops_data, &job->thread_error);
    /* At once, before the source forgets a transient domain. */
    job->thread_has_completed = job->ops->job_stats(job->ops_data, TRUE,
                                                    &job->thread_completed,
                                                    &error);
    if (!job->thread_has_completed)
        g_debug("No completed job statistics: %s", error->message);
    g_task_return_boolean(task, TRUE);
}

static void
job_finished(GObject *source G_GNUC_UNUSED, GAsyncResult *res,
             gpointer user_data)
{
    VlMigrateJob *job = user_data;
    VlMigrateResult *r = &job->result;

    g_task_propagate_boolean(G_TASK(res), NULL);
    job->running = FALSE;
    stop_polling(job);
    r->wall_s = (g_get_monotonic_time() - job->start_us) / 1e6;
    r->has_completed = job->thread_has_completed &&
                       job->thread_completed.type == VIR_DOMAIN_JOB_COMPLETED;
    if (r->has_completed)
        r->completed = job->thread_completed;

    if (job->thread_ok) {
        /* A cancel that came after switch-over is too late: the guest
         * runs on the destination now. */
        r->outcome = VL_MIGRATE_OUTCOME_COMPLETED;
    } else if (r->cancel_requested) {
        r->outcome = VL_MIGRATE_OUTCOME_CANCELLED;
        r->error = g_steal_pointer(&job->thread_error);
    } else if (r->stalled) {
        r->outcome = VL_MIGRATE_OUTCOME_FAILED;
        r->error = g_error_new(VL_ERROR, VL_ERROR_TIMEOUT,
                               "No memory was sent for %g s: the migration was aborted (%s)",
                               job->config.stall_abort_s,
                               job->thread_error ? job->thread_error->message : "no error");
    } else {
        r->outcome = VL_MIGRATE_OUTCOME_FAILED;
        r->error = g_steal_pointer(&job->thread_error);
    }
    if (!r->error && r->outcome != VL_MIGRATE_OUTCOME_COMPLETED)
        r->error = g_error_new_literal(VL_ERROR, VL_ERROR_FAILED,
                                       "The migration failed without a reason");
    if (job->done)
        job->done(job, r, job->user_data);
}

void
vl_migrate_job_start(VlMigrateJob *job, VlMigrateProgressFunc progress,
                     VlMigrateDoneFunc done, gpointer user_data)
{
    g_autoptr(GTask) task = NULL;

    g_return_if_fail(job != NULL && !job->running);

    job->progress = progress;
    job->done = done;
    job->user_data = user_data;
    job->running = TRUE;
    job->start_us = g_get_monotonic_time();
    if (job->result.cancel_requested)
        job->cancel_pending = TRUE;

    task = g_task_new(NULL, NULL, job_finished, job);
    g_task_set_task_data(task, job, NULL);
    g_task_set_name(task, "virt-lanes migrate");
    g_task_run_in_thread(task, job_thread);
    /* The caller's context, not the global default: a driver running in
     * a worker thread turns a context of its own (mover.h). */
    job->poll = g_timeout_source_new(job->config.poll_ms);
    g_source_set_callback(job->poll, poll_tick, job, NULL);
    g_source_attach(job->poll, g_main_context_get_thread_default());
}

/* ---- afterwards ------------------------------------------------------------------ */

gboolean
vl_migrate_clear_dest_plan(const char *dest_uri, const unsigned char *uuid,
                           GError **error)
{
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;

    g_return_val_if_fail(dest_uri != NULL && uuid != NULL, FALSE);

    if (!(conn = virConnectOpen(dest_uri))) {
        vl_error_set_from_virt(error, "Failed to connect to '%s'", dest_uri);
        return FALSE;
    }
    if (!(dom = virDomainLookupByUUID(conn, uuid))) {
        vl_error_set_from_virt(error, "Failed to find the migrated domain on '%s'",
                               dest_uri);
        return FALSE;
    }
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, NULL, NULL,
                             VL_METADATA_PLAN_NS, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        vl_error_set_from_virt(error, "Failed to remove the migration plan from the domain on '%s'",
                               dest_uri);
        return FALSE;
    }
    return TRUE;
}

VlHistoryRecord *
vl_migrate_history_record_new(const char *domain, gint64 time,
                              const VlMigrateJobStats *stats,
                              double dirty_rate_bps, guint links,
                              guint channels, double predicted_s)
{
    VlHistoryRecord *record = vl_history_record_new();

    g_return_val_if_fail(domain != NULL && stats != NULL, record);

    record->time = time;
    record->domain = g_strdup(domain);
    record->memory_bytes = stats->sample.memory_total;
    record->processed_bytes = stats->sample.memory_processed;
    record->total_time_s = stats->sample.time_elapsed_ms / 1000.0;
    record->memory_bps = (double)stats->sample.memory_bps;
    record->iterations = (guint)MIN(stats->sample.memory_iteration, G_MAXUINT);
    record->downtime_ms = isfinite(stats->downtime_ms) ? stats->downtime_ms : 0;
    record->dirty_rate_bps = isfinite(dirty_rate_bps) && dirty_rate_bps > 0 ?
                             dirty_rate_bps : 0;
    /* The history counts lanes besides the base path. */
    record->lanes = links > 0 ? links - 1 : 0;
    record->channels = channels;
    record->predicted_time_s = isfinite(predicted_s) ? predicted_s : NAN;
    record->load1 = vl_history_load_average();
    return record;
}

gboolean
vl_migrate_history_has_record(const VlHistory *history, const char *domain,
                              gint64 since)
{
    guint i;

    g_return_val_if_fail(history != NULL && domain != NULL, FALSE);

    for (i = 0; i < history->records->len; i++) {
        const VlHistoryRecord *r = g_ptr_array_index(history->records, i);

        if (r->time >= since && g_strcmp0(r->domain, domain) == 0)
            return TRUE;
    }
    return FALSE;
}
