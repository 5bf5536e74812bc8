/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * container.c: the virtual-container decision engine
 *
 * The rules below are documented, in the same order, in
 * docs/containers.md ("Decision rules"); keep the two in step.
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "container-priv.h"
#include "indicators.h"

/* ---- names --------------------------------------------------------- */

static const char *const action_names[] = {
    "none", "start_standby", "define_from_template", "replace",
    "shutdown_member", "combine", "migrate_away", "bring_back",
};
G_STATIC_ASSERT(G_N_ELEMENTS(action_names) == VL_CONTAINER_ACTION_LAST);

static const char *const reason_names[] = {
    "below_min_active", "above_max_active", "host_overloaded", "overloaded",
    "member_overloaded", "under_loaded", "members_under_loaded",
    "host_under_loaded", "standby_ratio", "in_band", "holding", "unknown",
    "in_flight", "member_busy", "cooldown", "at_max_active",
    "at_min_active", "no_standby", "ratio", "would_overload",
};
G_STATIC_ASSERT(G_N_ELEMENTS(reason_names) == VL_CONTAINER_REASON_LAST);

/* The policy's key names, so that logs and policy files read alike. */
static const char *const threshold_names[] = {
    "substantially_under_loaded", "under_loaded", "overloaded",
    "substantially_overloaded",
};
G_STATIC_ASSERT(G_N_ELEMENTS(threshold_names) == VL_CONTAINER_THRESHOLD_LAST);

static const char *const member_state_names[] = {
    "off", "starting", "running", "stopping", "migrating", "other",
};
G_STATIC_ASSERT(G_N_ELEMENTS(member_state_names) == VL_CONTAINER_MEMBER_LAST);

const char *
vl_container_action_to_string(VlContainerAction action)
{
    g_return_val_if_fail(action < VL_CONTAINER_ACTION_LAST, "invalid");
    return action_names[action];
}

const char *
vl_container_reason_to_string(VlContainerReason reason)
{
    g_return_val_if_fail(reason < VL_CONTAINER_REASON_LAST, "invalid");
    return reason_names[reason];
}

const char *
vl_container_threshold_to_string(VlContainerThreshold threshold)
{
    g_return_val_if_fail(threshold < VL_CONTAINER_THRESHOLD_LAST, "invalid");
    return threshold_names[threshold];
}

const char *
vl_container_member_state_to_string(VlContainerMemberState state)
{
    g_return_val_if_fail(state < VL_CONTAINER_MEMBER_LAST, "invalid");
    return member_state_names[state];
}

const char *
vl_container_outcome_to_string(VlContainerOutcome outcome)
{
    switch (outcome) {
    case VL_CONTAINER_OUTCOME_NONE:
        return "none";
    case VL_CONTAINER_OUTCOME_ADVISED:
        return "advised";
    case VL_CONTAINER_OUTCOME_SUCCESS:
        return "success";
    case VL_CONTAINER_OUTCOME_FAILURE:
        return "failure";
    }
    g_return_val_if_reached("invalid");
}

/* ---- decisions ----------------------------------------------------- */

static VlContainerDecision *
decision_new(const char *container, gint64 now)
{
    VlContainerDecision *d = g_new0(VlContainerDecision, 1);
    int i;

    d->action = VL_CONTAINER_ACTION_NONE;
    d->reason = VL_CONTAINER_REASON_IN_BAND;
    d->time = now;
    d->container = g_strdup(container);
    d->indicator = VL_INDICATOR_LAST;
    d->threshold = VL_CONTAINER_THRESHOLD_LAST;
    d->value = VL_INDICATOR_UNKNOWN;
    d->limit = VL_INDICATOR_UNKNOWN;
    for (i = 0; i < VL_INDICATOR_LAST; i++)
        d->values[i] = VL_INDICATOR_UNKNOWN;
    return d;
}

static VlContainerDecision *
decision_copy(const VlContainerDecision *src)
{
    VlContainerDecision *d = g_memdup2(src, sizeof(*src));

    d->container = g_strdup(src->container);
    d->start = g_strdup(src->start);
    d->define = g_strdup(src->define);
    d->members = g_strdupv(src->members);
    d->peer = g_strdup(src->peer);
    return d;
}

void
vl_container_decision_free(VlContainerDecision *decision)
{
    if (!decision)
        return;
    g_free(decision->container);
    g_free(decision->start);
    g_free(decision->define);
    g_strfreev(decision->members);
    g_free(decision->peer);
    g_free(decision);
}

/* Names come from admins: keep each on one word of one line. */
static void
append_name(GString *out, const char *name)
{
    const char *p;
    gboolean plain = *name != '\0';

    for (p = name; *p && plain; p++) {
        if (!g_ascii_isgraph(*p) || strchr("\"\\,=", *p))
            plain = FALSE;
    }
    if (plain) {
        g_string_append(out, name);
    } else {
        g_autofree char *escaped = g_strescape(name, NULL);

        g_string_append_printf(out, "\"%s\"", escaped);
    }
}

char *
vl_container_decision_to_string(const VlContainerDecision *d)
{
    GString *out;
    guint i;

    g_return_val_if_fail(d != NULL, NULL);

    out = g_string_new(vl_container_action_to_string(d->action));
    g_string_append_printf(out, " reason=%s",
                           vl_container_reason_to_string(d->reason));
    if (d->define) {
        g_string_append(out, " define=");
        append_name(out, d->define);
    }
    if (d->start) {
        g_string_append(out, " start=");
        append_name(out, d->start);
    }
    if (d->members) {
        g_string_append(out, " members=");
        for (i = 0; d->members[i]; i++) {
            if (i > 0)
                g_string_append_c(out, ',');
            append_name(out, d->members[i]);
        }
    }
    if (d->peer) {
        g_string_append(out, " peer=");
        append_name(out, d->peer);
    }
    if (d->indicator < VL_INDICATOR_LAST &&
        d->threshold < VL_CONTAINER_THRESHOLD_LAST)
        g_string_append_printf(out, " crossed=%s.%s",
                               vl_indicator_to_string(d->indicator),
                               vl_container_threshold_to_string(d->threshold));
    if (d->advise)
        g_string_append(out, " advise");
    return g_string_free(out, FALSE);
}

VlAuditRecord *
vl_container_decision_to_audit(const VlContainerDecision *d,
                               VlContainerOutcome outcome, gint64 time_us)
{
    VlAuditRecord *r;
    const char *member = NULL;
    int i;

    g_return_val_if_fail(d != NULL, NULL);

    r = vl_audit_record_new();
    r->time_us = time_us;
    r->container = g_strdup(d->container);
    if (d->start)
        member = d->start;
    else if (d->define)
        member = d->define;
    else if (d->members && d->members[0])
        member = d->members[0];
    r->member = g_strdup(member);
    r->members = g_strdupv(d->members);
    r->start = g_strdup(d->start);
    for (i = 0; i < VL_INDICATOR_LAST; i++)
        r->values[i] = d->values[i];
    if (d->indicator < VL_INDICATOR_LAST &&
        d->threshold < VL_CONTAINER_THRESHOLD_LAST) {
        r->indicator = d->indicator;
        r->crossed = g_strdup(vl_container_threshold_to_string(d->threshold));
        r->limit = d->limit;
    }
    r->action = g_strdup(vl_container_action_to_string(d->action));
    r->reason = g_strdup(vl_container_reason_to_string(d->reason));
    r->mode = d->advise ? VL_CONTAINER_MODE_ADVISE : VL_CONTAINER_MODE_ENFORCE;
    if (outcome == VL_CONTAINER_OUTCOME_NONE)
        r->outcome = g_strdup(d->advise ? "advised" : "decided");
    else
        r->outcome = g_strdup(vl_container_outcome_to_string(outcome));
    return r;
}

/* ---- state --------------------------------------------------------- */

static void
hysteresis_reset(VlContainerHysteresis *h)
{
    int t;

    for (t = 0; t < VL_CONTAINER_THRESHOLD_LAST; t++)
        h->since[t] = VL_CONTAINER_NEVER;
}

static void
member_free(VlContainerMember *m)
{
    if (!m)
        return;
    g_free(m->name);
    g_free(m->host);
    g_free(m);
}

static void
reset_all_hysteresis(VlContainerState *state)
{
    guint i;
    int j;

    for (j = 0; j < VL_INDICATOR_LAST; j++)
        hysteresis_reset(&state->hyst[j]);
    for (i = 0; i < state->members->len; i++) {
        VlContainerMember *m = g_ptr_array_index(state->members, i);

        for (j = 0; j < VL_INDICATOR_LAST; j++)
            hysteresis_reset(&m->hyst[j]);
    }
    state->host_over_since = VL_CONTAINER_NEVER;
    state->host_under_since = VL_CONTAINER_NEVER;
}

VlContainerState *
vl_container_state_new(const char *name)
{
    VlContainerState *state;

    g_return_val_if_fail(name != NULL, NULL);

    state = g_new0(VlContainerState, 1);
    state->name = g_strdup(name);
    state->members = g_ptr_array_new_with_free_func((GDestroyNotify) member_free);
    state->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    state->scratch_running = g_ptr_array_new();
    state->scratch_standby = g_ptr_array_new();
    state->scratch_home = g_ptr_array_new();
    state->scratch_burst = g_ptr_array_new();
    state->scratch_idle = g_ptr_array_new();
    state->last_outcome = VL_CONTAINER_OUTCOME_NONE;
    reset_all_hysteresis(state);
    return state;
}

void
vl_container_state_free(VlContainerState *state)
{
    if (!state)
        return;
    g_clear_pointer(&state->by_name, g_hash_table_unref);
    g_clear_pointer(&state->members, g_ptr_array_unref);
    g_clear_pointer(&state->scratch_running, g_ptr_array_unref);
    g_clear_pointer(&state->scratch_standby, g_ptr_array_unref);
    g_clear_pointer(&state->scratch_home, g_ptr_array_unref);
    g_clear_pointer(&state->scratch_burst, g_ptr_array_unref);
    g_clear_pointer(&state->scratch_idle, g_ptr_array_unref);
    g_clear_pointer(&state->in_flight, vl_container_decision_free);
    g_clear_pointer(&state->last, vl_container_decision_free);
    g_free(state->name);
    g_free(state);
}

const char *
vl_container_state_get_name(VlContainerState *state)
{
    g_return_val_if_fail(state != NULL, NULL);
    return state->name;
}

void
vl_container_state_set_order_func(VlContainerState *state,
                                  VlContainerOrderFunc func,
                                  gpointer user_data)
{
    g_return_if_fail(state != NULL);
    state->order_func = func;
    state->order_data = user_data;
}

VlContainerMember *
vl_container_state_find_member(VlContainerState *state, const char *name)
{
    g_return_val_if_fail(state != NULL && name != NULL, NULL);
    return g_hash_table_lookup(state->by_name, name);
}

/* Index where @name belongs in the name-ordered member array. */
static guint
member_insert_pos(VlContainerState *state, const char *name)
{
    guint lo = 0;
    guint hi = state->members->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        VlContainerMember *m = g_ptr_array_index(state->members, mid);

        if (strcmp(m->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static VlContainerMember *
member_add(VlContainerState *state, const char *name,
           VlContainerMemberState mstate, const char *host, gint64 now)
{
    VlContainerMember *m = g_new0(VlContainerMember, 1);
    int i;

    m->name = g_strdup(name);
    m->state = mstate;
    m->host = g_strdup(host);
    m->state_since = now;
    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        m->values[i] = VL_INDICATOR_UNKNOWN;
        hysteresis_reset(&m->hyst[i]);
    }
    g_ptr_array_insert(state->members, (gint) member_insert_pos(state, name), m);
    g_hash_table_insert(state->by_name, m->name, m);
    return m;
}

void
vl_container_note_member_state(VlContainerState *state, const char *member,
                               VlContainerMemberState mstate,
                               const char *host, gint64 now)
{
    VlContainerMember *m;

    g_return_if_fail(state != NULL && member != NULL);
    g_return_if_fail(mstate < VL_CONTAINER_MEMBER_LAST);

    m = g_hash_table_lookup(state->by_name, member);
    if (!m) {
        member_add(state, member, mstate, host, now);
    } else if (m->state != mstate || g_strcmp0(m->host, host) != 0) {
        /* @host may be m->host itself: copy before freeing. */
        char *copy = g_strdup(host);

        m->state = mstate;
        g_free(m->host);
        m->host = copy;
        m->state_since = now;
    } else {
        return;
    }
    reset_all_hysteresis(state);
}

gboolean
vl_container_forget_member(VlContainerState *state, const char *member)
{
    VlContainerMember *m;

    g_return_val_if_fail(state != NULL && member != NULL, FALSE);

    m = g_hash_table_lookup(state->by_name, member);
    if (!m)
        return FALSE;
    g_hash_table_remove(state->by_name, member);
    g_ptr_array_remove(state->members, m);
    reset_all_hysteresis(state);
    return TRUE;
}

const VlContainerDecision *
vl_container_state_get_in_flight(VlContainerState *state)
{
    g_return_val_if_fail(state != NULL, NULL);
    return state->in_flight;
}

const VlContainerDecision *
vl_container_state_get_last(VlContainerState *state,
                            VlContainerOutcome *outcome)
{
    g_return_val_if_fail(state != NULL, NULL);
    if (outcome)
        *outcome = state->last_outcome;
    return state->last;
}

gint64
vl_container_state_get_cooldown_until(VlContainerState *state)
{
    g_return_val_if_fail(state != NULL, 0);
    return state->cooldown_until;
}

void
vl_container_state_set_cooldown_until(VlContainerState *state, gint64 until)
{
    g_return_if_fail(state != NULL);
    state->cooldown_until = MAX(state->cooldown_until, until);
}

guint
vl_container_state_get_n_members(VlContainerState *state)
{
    g_return_val_if_fail(state != NULL, 0);
    return state->members->len;
}

gboolean
vl_container_state_get_member(VlContainerState *state, guint index,
                              VlContainerMemberInfo *info)
{
    VlContainerMember *m;

    g_return_val_if_fail(state != NULL && info != NULL, FALSE);
    if (index >= state->members->len)
        return FALSE;
    m = g_ptr_array_index(state->members, index);
    info->name = m->name;
    info->state = m->state;
    info->host = m->host;
    info->may_start = m->may_start;
    info->state_since = m->state_since;
    info->values = m->values;
    return TRUE;
}

gboolean
vl_container_state_get_crossing(VlContainerState *state, const char *member,
                                VlIndicator indicator,
                                VlContainerThreshold threshold,
                                gint64 *since)
{
    const VlContainerHysteresis *h;
    gint64 value;

    g_return_val_if_fail(state != NULL && since != NULL, FALSE);
    g_return_val_if_fail(indicator < VL_INDICATOR_LAST, FALSE);
    g_return_val_if_fail(threshold < VL_CONTAINER_THRESHOLD_LAST, FALSE);

    if (member) {
        VlContainerMember *m = g_hash_table_lookup(state->by_name, member);

        if (!m)
            return FALSE;
        h = &m->hyst[indicator];
    } else {
        h = &state->hyst[indicator];
    }
    value = h->since[threshold];
    if (value == VL_CONTAINER_NEVER)
        return FALSE;
    *since = value;
    return TRUE;
}

gint64
vl_container_failure_cooldown(guint cooldown_s, guint failures)
{
    gint64 base = MAX((gint64) cooldown_s, VL_CONTAINER_FAILURE_BACKOFF_MIN_S);

    return base << MIN(failures, VL_CONTAINER_FAILURE_BACKOFF_MAX_SHIFT);
}

/* ---- thresholds ---------------------------------------------------- */

static double
threshold_limit(const VlIndicatorThresholds *th, VlContainerThreshold t)
{
    switch (t) {
    case VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_UNDER:
        return th->substantially_under_loaded;
    case VL_CONTAINER_THRESHOLD_UNDER:
        return th->under_loaded;
    case VL_CONTAINER_THRESHOLD_OVER:
        return th->overloaded;
    case VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_OVER:
    case VL_CONTAINER_THRESHOLD_LAST:
        break;
    }
    return th->substantially_overloaded;
}

/* Strict: a value equal to a threshold has not crossed it. */
static gboolean
crosses(const VlIndicatorThresholds *th, VlContainerThreshold t, double v)
{
    if (!vl_indicator_is_known(v))
        return FALSE;
    if (t <= VL_CONTAINER_THRESHOLD_UNDER)
        return v < threshold_limit(th, t);
    return v > threshold_limit(th, t);
}

static void
hysteresis_update(VlContainerHysteresis *h, const VlIndicatorThresholds *th,
                  double v, gint64 now)
{
    int t;

    for (t = 0; t < VL_CONTAINER_THRESHOLD_LAST; t++) {
        if (!crosses(th, t, v))
            h->since[t] = VL_CONTAINER_NEVER;
        else if (h->since[t] == VL_CONTAINER_NEVER)
            h->since[t] = now;
    }
}

static gboolean
since_held(gint64 since, guint hold_s, gint64 now)
{
    return since != VL_CONTAINER_NEVER && now - since >= (gint64) hold_s;
}

static gboolean
since_pending(gint64 since, guint hold_s, gint64 now)
{
    return since != VL_CONTAINER_NEVER && now - since < (gint64) hold_s;
}

static gboolean
is_enabled(const VlContainerPolicy *policy, int i)
{
    return policy->indicators[i].enabled;
}

/* ---- one tick ------------------------------------------------------ */

typedef struct {
    VlContainerState *state;
    const VlContainerPolicy *policy;
    VlContainerHost *host;
    gint64 now;
    guint n_enabled;
    guint host_hold_s;
    guint min_active;
    guint max_active;       /* never below min_active, whatever the policy */
    GPtrArray *running;     /* VlContainerMember* (borrowed), name order */
    GPtrArray *standby;     /* startable VlContainerMember*, name order */
    double mean[VL_INDICATOR_LAST];
    VlContainerReason blocked; /* first rule that applied but could not
                                * act; LAST = none */
} Tick;

static void
block(Tick *t, VlContainerReason reason)
{
    if (t->blocked == VL_CONTAINER_REASON_LAST)
        t->blocked = reason;
}

static gboolean
is_startable(const VlContainerPolicy *policy, const VlContainerMember *m)
{
    if (m->state != VL_CONTAINER_MEMBER_OFF || m->host)
        return FALSE;
    return m->may_start ||
           (policy->standby && g_strv_contains((const char *const *) policy->standby,
                                               m->name));
}

static gboolean
is_transitional(const VlContainerMember *m)
{
    return m->state == VL_CONTAINER_MEMBER_STARTING ||
           m->state == VL_CONTAINER_MEMBER_STOPPING ||
           m->state == VL_CONTAINER_MEMBER_MIGRATING;
}

/*
 * A member's load for choosing among members: its highest value relative
 * to that indicator's overloaded threshold.  Unknown sorts as the busiest.
 */
static double
member_score(const Tick *t, const VlContainerMember *m)
{
    double score = 0.0;
    int i;

    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        double limit = t->policy->indicators[i].overloaded;
        double v = m->values[i];

        if (!is_enabled(t->policy, i))
            continue;
        if (!vl_indicator_is_known(v))
            return INFINITY;
        score = MAX(score, limit > 0 ? v / limit : v);
    }
    return score;
}

/* Least loaded first; among equals burst members first, then by name. */
static VlContainerMember *
least_loaded(const Tick *t, GPtrArray *members)
{
    VlContainerMember *best = NULL;
    double best_score = 0;
    guint i;

    for (i = 0; i < members->len; i++) {
        VlContainerMember *m = g_ptr_array_index(members, i);
        double s = member_score(t, m);

        if (!best || s < best_score ||
            (s == best_score && m->host && !best->host)) {
            best = m;
            best_score = s;
        }
    }
    return best;
}

static guint
wanted_standby(const VlContainerPolicy *policy, guint active)
{
    if (policy->active_standby_ratio <= 0)
        return 0;
    /* The epsilon keeps 4 / 2.0 from rounding up to 3. */
    return (guint) ceil((double) active / policy->active_standby_ratio - 1e-9);
}

static gboolean
has_template(const VlContainerPolicy *policy)
{
    return policy->template_domain && *policy->template_domain;
}

static char *
template_name(VlContainerState *state)
{
    for (;;) {
        char *name = g_strdup_printf("%s-%u", state->name,
                                     ++state->template_serial);

        if (!g_hash_table_contains(state->by_name, name))
            return name;
        g_free(name);
    }
}

/*
 * Picks the domain to start: the first standby in name order, unless
 * that would leave fewer standbys than the ratio wants once the action is
 * done (@active_after members active, @returned members shut down by it
 * and so become standbys), in which case a new one from the template.
 */
static gboolean
choose_start(Tick *t, guint active_after, guint returned, gboolean keep_ratio,
             VlContainerDecision *d)
{
    guint n = t->standby->len;

    if (n > 0 &&
        (!keep_ratio ||
         n - 1 + returned >= wanted_standby(t->policy, active_after))) {
        VlContainerMember *m = g_ptr_array_index(t->standby, 0);

        d->start = g_strdup(m->name);
        return TRUE;
    }
    if (has_template(t->policy)) {
        d->define = template_name(t->state);
        d->start = g_strdup(d->define);
        return TRUE;
    }
    block(t, n > 0 ? VL_CONTAINER_REASON_RATIO : VL_CONTAINER_REASON_NO_STANDBY);
    return FALSE;
}

static void
set_members(VlContainerDecision *d, VlContainerMember *a, VlContainerMember *b)
{
    d->members = g_new0(char *, 3);
    d->members[0] = g_strdup(a->name);
    if (b)
        d->members[1] = g_strdup(b->name);
}

static void
set_crossing(VlContainerDecision *d, const VlContainerPolicy *policy,
             int indicator, VlContainerThreshold threshold, double value)
{
    d->indicator = indicator;
    d->threshold = threshold;
    d->value = value;
    d->limit = threshold_limit(&policy->indicators[indicator], threshold);
}

static GPtrArray *
member_names(GPtrArray *members)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    guint i;

    for (i = 0; i < members->len; i++) {
        VlContainerMember *m = g_ptr_array_index(members, i);

        g_ptr_array_add(names, g_strdup(m->name));
    }
    return names;
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Does @ordered hold exactly the names of @sorted (in name order)? */
static gboolean
same_names(GPtrArray *ordered, GPtrArray *sorted)
{
    g_autoptr(GPtrArray) check = NULL;
    guint i;

    if (ordered->len != sorted->len)
        return FALSE;
    check = g_ptr_array_sized_new(ordered->len);
    for (i = 0; i < ordered->len; i++) {
        if (!g_ptr_array_index(ordered, i))
            return FALSE;
        g_ptr_array_add(check, g_ptr_array_index(ordered, i));
    }
    g_ptr_array_sort(check, compare_strings);
    for (i = 0; i < check->len; i++) {
        if (strcmp(g_ptr_array_index(check, i),
                   g_ptr_array_index(sorted, i)) != 0)
            return FALSE;
    }
    return TRUE;
}

/* The members to move, ordered by the hook (or by name). */
static GStrv
ordered_names(Tick *t, GPtrArray *members)
{
    g_autoptr(GPtrArray) names = member_names(members);

    if (t->state->order_func) {
        g_autoptr(GPtrArray) ordered = member_names(members);

        t->state->order_func(t->policy, ordered, t->state->order_data);
        /* A hook that changed the set is a bug there: keep name order. */
        if (same_names(ordered, names)) {
            g_ptr_array_unref(names);
            names = g_steal_pointer(&ordered);
        } else {
            g_debug("Container '%s': the order hook changed the member set",
                    t->state->name);
        }
    }
    g_ptr_array_add(names, NULL);
    return (GStrv) g_ptr_array_steal(names, NULL);
}

/* Container-level: the held "overloaded" crossing with the largest
 * relative excess, or LAST. */
static int
container_over(const Tick *t)
{
    int best = VL_INDICATOR_LAST;
    double best_ratio = 0;
    int i;

    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        const VlIndicatorThresholds *th = &t->policy->indicators[i];
        double ratio;

        if (!is_enabled(t->policy, i) ||
            !since_held(t->state->hyst[i].since[VL_CONTAINER_THRESHOLD_OVER],
                        th->hold_s, t->now))
            continue;
        ratio = th->overloaded > 0 ? t->mean[i] / th->overloaded : t->mean[i];
        if (best == VL_INDICATOR_LAST || ratio > best_ratio) {
            best = i;
            best_ratio = ratio;
        }
    }
    return best;
}

/*
 * TRUE when every enabled indicator of @h holds @threshold; @last gets
 * the indicator that crossed last (the one that completed the set).
 */
static gboolean
all_held(const Tick *t, const VlContainerHysteresis *h,
         VlContainerThreshold threshold, int *last)
{
    gint64 latest = VL_CONTAINER_NEVER;
    int i;

    if (t->n_enabled == 0)
        return FALSE;
    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        gint64 since = h[i].since[threshold];

        if (!is_enabled(t->policy, i))
            continue;
        if (!since_held(since, t->policy->indicators[i].hold_s, t->now))
            return FALSE;
        if (since > latest) {
            latest = since;
            *last = i;
        }
    }
    return TRUE;
}

/* The member's held "substantially overloaded" crossing, or LAST. */
static int
member_hot(const Tick *t, const VlContainerMember *m)
{
    int best = VL_INDICATOR_LAST;
    double best_ratio = 0;
    int i;

    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        const VlIndicatorThresholds *th = &t->policy->indicators[i];
        gint64 since = m->hyst[i].since[VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_OVER];
        double ratio;

        if (!is_enabled(t->policy, i) || !since_held(since, th->hold_s, t->now))
            continue;
        ratio = th->substantially_overloaded > 0 ?
                m->values[i] / th->substantially_overloaded : m->values[i];
        if (best == VL_INDICATOR_LAST || ratio > best_ratio) {
            best = i;
            best_ratio = ratio;
        }
    }
    return best;
}

/* Would the others stay below "overloaded" with one member fewer? */
static gboolean
shutdown_keeps_band(const Tick *t)
{
    guint n = t->running->len;
    int i;

    if (n < 2)
        return TRUE;
    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        if (is_enabled(t->policy, i) &&
            !(t->mean[i] * n / (n - 1) < t->policy->indicators[i].overloaded))
            return FALSE;
    }
    return TRUE;
}

/* Would one member carrying both loads stay below "overloaded"? */
static gboolean
combine_keeps_band(const Tick *t, const VlContainerMember *a,
                   const VlContainerMember *b)
{
    int i;

    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        if (is_enabled(t->policy, i) &&
            !(a->values[i] + b->values[i] < t->policy->indicators[i].overloaded))
            return FALSE;
    }
    return TRUE;
}

static gint
compare_score(gconstpointer pa, gconstpointer pb, gpointer data)
{
    const Tick *t = data;
    const VlContainerMember *a = *(VlContainerMember *const *) pa;
    const VlContainerMember *b = *(VlContainerMember *const *) pb;
    double sa = member_score(t, a);
    double sb = member_score(t, b);

    if (sa != sb)
        return sa < sb ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Anything crossing but not yet held long enough? */
static gboolean
anything_holding(const Tick *t, GPtrArray *burst)
{
    const VlContainerPolicy *policy = t->policy;
    gboolean all_under = t->n_enabled > 0;
    gboolean under_pending = FALSE;
    guint idle = 0;
    gboolean idle_pending = FALSE;
    guint i;
    int j;

    for (j = 0; j < VL_INDICATOR_LAST; j++) {
        const VlContainerHysteresis *h = &t->state->hyst[j];
        guint hold = policy->indicators[j].hold_s;

        if (!is_enabled(policy, j))
            continue;
        if (since_pending(h->since[VL_CONTAINER_THRESHOLD_OVER], hold, t->now))
            return TRUE;
        if (h->since[VL_CONTAINER_THRESHOLD_UNDER] == VL_CONTAINER_NEVER)
            all_under = FALSE;
        else if (since_pending(h->since[VL_CONTAINER_THRESHOLD_UNDER], hold,
                               t->now))
            under_pending = TRUE;
    }
    if (all_under && under_pending)
        return TRUE;

    for (i = 0; i < t->running->len; i++) {
        const VlContainerMember *m = g_ptr_array_index(t->running, i);
        gboolean all_idle = t->n_enabled > 0;
        gboolean pending = FALSE;

        for (j = 0; j < VL_INDICATOR_LAST; j++) {
            const VlContainerHysteresis *h = &m->hyst[j];
            guint hold = policy->indicators[j].hold_s;

            if (!is_enabled(policy, j))
                continue;
            if (since_pending(h->since[VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_OVER],
                              hold, t->now))
                return TRUE;
            if (h->since[VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_UNDER] ==
                VL_CONTAINER_NEVER)
                all_idle = FALSE;
            else if (since_pending(h->since[VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_UNDER],
                                   hold, t->now))
                pending = TRUE;
        }
        if (all_idle) {
            idle++;
            idle_pending = idle_pending || pending;
        }
    }
    if (idle >= 2 && idle_pending)
        return TRUE;

    if (policy->peers && policy->peers[0] &&
        since_pending(t->state->host_over_since, t->host_hold_s, t->now))
        return TRUE;
    if (burst->len > 0 &&
        since_pending(t->state->host_under_since, t->host_hold_s, t->now))
        return TRUE;
    return FALSE;
}

static gboolean
anything_unknown(const Tick *t)
{
    int i;

    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        if (is_enabled(t->policy, i) && !vl_indicator_is_known(t->mean[i]))
            return TRUE;
    }
    return FALSE;
}

static void
decide_start(VlContainerDecision *d, VlContainerReason reason)
{
    d->action = d->define ? VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE
                          : VL_CONTAINER_ACTION_START_STANDBY;
    d->reason = reason;
}

/* An emptied per-state array: a tick allocates nothing it can reuse. */
static GPtrArray *
scratch(GPtrArray *array)
{
    g_ptr_array_set_size(array, 0);
    return array;
}

/* The rules, in priority order; the first that acts wins. */
static void
decide(Tick *t, VlContainerDecision *d)
{
    const VlContainerPolicy *policy = t->policy;
    VlContainerState *state = t->state;
    guint active = t->running->len;
    gboolean host_free = t->host && t->host->migrations_in_flight == 0;
    GPtrArray *home = scratch(state->scratch_home);
    GPtrArray *burst = scratch(state->scratch_burst);
    GPtrArray *idle = scratch(state->scratch_idle);
    VlContainerMember *hottest = NULL;
    int hottest_ind = VL_INDICATOR_LAST;
    int ind = VL_INDICATOR_LAST;
    guint i;

    /* 1. Never fewer than min_active. */
    if (active < t->min_active) {
        if (choose_start(t, active + 1, 0, FALSE, d))
            decide_start(d, VL_CONTAINER_REASON_BELOW_MIN_ACTIVE);
        else
            d->reason = t->blocked;
        return;
    }

    /* 2. Never more than max_active. */
    if (active > t->max_active) {
        d->action = VL_CONTAINER_ACTION_SHUTDOWN_MEMBER;
        d->reason = VL_CONTAINER_REASON_ABOVE_MAX_ACTIVE;
        set_members(d, least_loaded(t, t->running), NULL);
        return;
    }

    for (i = 0; i < t->running->len; i++) {
        VlContainerMember *m = g_ptr_array_index(t->running, i);

        g_ptr_array_add(m->host ? burst : home, m);
    }

    /* 3. An overloaded host sends the container's members to a peer. */
    if (policy->peers && policy->peers[0] && host_free && home->len > 0 &&
        since_held(state->host_over_since, t->host_hold_s, t->now)) {
        d->action = VL_CONTAINER_ACTION_MIGRATE_AWAY;
        d->reason = VL_CONTAINER_REASON_HOST_OVERLOADED;
        d->members = ordered_names(t, home);
        d->peer = g_strdup(policy->peers[0]);
        t->host->migrations_in_flight++;
        return;
    }

    /* 4. Overloaded: one more member. */
    ind = container_over(t);
    if (ind != VL_INDICATOR_LAST) {
        set_crossing(d, policy, ind, VL_CONTAINER_THRESHOLD_OVER, t->mean[ind]);
        if (active >= t->max_active)
            d->reason = VL_CONTAINER_REASON_AT_MAX_ACTIVE;
        else if (choose_start(t, active + 1, 0, TRUE, d))
            decide_start(d, VL_CONTAINER_REASON_OVERLOADED);
        else
            d->reason = t->blocked;
        return;
    }

    /* 5. One member substantially overloaded: replace it. */
    for (i = 0; i < t->running->len; i++) {
        VlContainerMember *m = g_ptr_array_index(t->running, i);
        int hot = member_hot(t, m);

        if (hot != VL_INDICATOR_LAST &&
            (!hottest || member_score(t, m) > member_score(t, hottest))) {
            hottest = m;
            hottest_ind = hot;
        }
    }
    if (hottest) {
        if (active + 1 > t->max_active) {
            block(t, VL_CONTAINER_REASON_AT_MAX_ACTIVE);
        } else if (choose_start(t, active, 1, TRUE, d)) {
            d->action = VL_CONTAINER_ACTION_REPLACE;
            d->reason = VL_CONTAINER_REASON_MEMBER_OVERLOADED;
            set_members(d, hottest, NULL);
            set_crossing(d, policy, hottest_ind,
                         VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_OVER,
                         hottest->values[hottest_ind]);
            return;
        }
    }

    /* 6. Under-loaded on every indicator: one member fewer. */
    if (all_held(t, state->hyst, VL_CONTAINER_THRESHOLD_UNDER, &ind)) {
        if (active == 0 || active <= t->min_active) {
            block(t, VL_CONTAINER_REASON_AT_MIN_ACTIVE);
        } else if (!shutdown_keeps_band(t)) {
            block(t, VL_CONTAINER_REASON_WOULD_OVERLOAD);
        } else {
            d->action = VL_CONTAINER_ACTION_SHUTDOWN_MEMBER;
            d->reason = VL_CONTAINER_REASON_UNDER_LOADED;
            set_members(d, least_loaded(t, t->running), NULL);
            set_crossing(d, policy, ind, VL_CONTAINER_THRESHOLD_UNDER,
                         t->mean[ind]);
            return;
        }
    }

    /* 7. Two members substantially under-loaded: one fresh member. */
    for (i = 0; i < t->running->len; i++) {
        VlContainerMember *m = g_ptr_array_index(t->running, i);
        int last;

        if (all_held(t, m->hyst, VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_UNDER,
                     &last))
            g_ptr_array_add(idle, m);
    }
    if (idle->len >= 2) {
        VlContainerMember *a;
        VlContainerMember *b;
        int last = VL_INDICATOR_LAST;

        g_ptr_array_sort_with_data(idle, compare_score, t);
        a = g_ptr_array_index(idle, 0);
        b = g_ptr_array_index(idle, 1);
        /* Capacity is never reduced on a partial view of the service. */
        if (anything_unknown(t)) {
            block(t, VL_CONTAINER_REASON_UNKNOWN);
        } else if (!combine_keeps_band(t, a, b)) {
            block(t, VL_CONTAINER_REASON_WOULD_OVERLOAD);
        } else if (active <= t->min_active) {
            block(t, VL_CONTAINER_REASON_AT_MIN_ACTIVE);
        } else if (active + 1 > t->max_active) {
            block(t, VL_CONTAINER_REASON_AT_MAX_ACTIVE);
        } else if (choose_start(t, active - 1, 2, TRUE, d)) {
            d->action = VL_CONTAINER_ACTION_COMBINE;
            d->reason = VL_CONTAINER_REASON_MEMBERS_UNDER_LOADED;
            set_members(d, a, b);
            all_held(t, b->hyst, VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_UNDER,
                     &last);
            set_crossing(d, policy, last,
                         VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_UNDER,
                         b->values[last]);
            return;
        }
    }

    /* 8. Burst members come home once the host has room again. */
    if (burst->len > 0 && host_free &&
        since_held(state->host_under_since, t->host_hold_s, t->now)) {
        gboolean in_band = TRUE;

        for (i = 0; i < VL_INDICATOR_LAST; i++) {
            if (is_enabled(policy, i) &&
                !(t->mean[i] <= policy->indicators[i].overloaded))
                in_band = FALSE;
        }
        if (in_band) {
            d->action = VL_CONTAINER_ACTION_BRING_BACK;
            d->reason = VL_CONTAINER_REASON_HOST_UNDER_LOADED;
            d->members = ordered_names(t, burst);
            t->host->migrations_in_flight++;
            return;
        }
    }

    /* 9. Too few standbys for the ratio: define one. */
    if (t->standby->len < wanted_standby(policy, active) &&
        has_template(policy)) {
        d->action = VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE;
        d->reason = VL_CONTAINER_REASON_STANDBY_RATIO;
        d->define = template_name(state);
        return;
    }

    if (t->blocked != VL_CONTAINER_REASON_LAST)
        d->reason = t->blocked;
    else if (anything_holding(t, burst))
        d->reason = VL_CONTAINER_REASON_HOLDING;
    else if (anything_unknown(t))
        d->reason = VL_CONTAINER_REASON_UNKNOWN;
    else
        d->reason = VL_CONTAINER_REASON_IN_BAND;
}

static void
update_host(VlContainerState *state, const VlContainerHost *host, gint64 now)
{
    if (!host || host->migrations_in_flight > 0) {
        state->host_over_since = VL_CONTAINER_NEVER;
        state->host_under_since = VL_CONTAINER_NEVER;
        return;
    }
    if (host->load != VL_CONTAINER_HOST_OVER)
        state->host_over_since = VL_CONTAINER_NEVER;
    else if (state->host_over_since == VL_CONTAINER_NEVER)
        state->host_over_since = now;
    if (host->load != VL_CONTAINER_HOST_UNDER)
        state->host_under_since = VL_CONTAINER_NEVER;
    else if (state->host_under_since == VL_CONTAINER_NEVER)
        state->host_under_since = now;
}

static void
commit(VlContainerState *state, const VlContainerPolicy *policy,
       VlContainerDecision *d, gint64 now)
{
    d->advise = policy->mode == VL_CONTAINER_MODE_ADVISE;
    if (d->advise) {
        /* Nothing will run: wait one cooldown before advising again. */
        state->cooldown_until = now + policy->cooldown_s;
        g_clear_pointer(&state->last, vl_container_decision_free);
        state->last = decision_copy(d);
        state->last_outcome = VL_CONTAINER_OUTCOME_ADVISED;
    } else {
        state->in_flight = decision_copy(d);
        state->cooldown_s = policy->cooldown_s;
    }
}

VlContainerDecision *
vl_container_tick(VlContainerState *state, const VlContainerPolicy *policy,
                  const VlContainerMemberValues *values, guint n_values,
                  VlContainerHost *host, gint64 now)
{
    g_autoptr(VlContainerDecision) d = NULL;
    GPtrArray *running;
    GPtrArray *standby;
    gboolean busy = FALSE;
    Tick t = { 0 };
    guint i;
    int j;

    g_return_val_if_fail(state != NULL && policy != NULL, NULL);
    g_return_val_if_fail(values != NULL || n_values == 0, NULL);

    d = decision_new(state->name, now);
    running = scratch(state->scratch_running);
    standby = scratch(state->scratch_standby);

    for (i = 0; i < state->members->len; i++) {
        VlContainerMember *m = g_ptr_array_index(state->members, i);

        for (j = 0; j < VL_INDICATOR_LAST; j++)
            m->values[j] = VL_INDICATOR_UNKNOWN;
    }
    for (i = 0; i < n_values; i++) {
        VlContainerMember *m = NULL;

        if (!values[i].member)
            continue;
        /* Values given in member (name) order skip the hash lookup. */
        if (i < state->members->len) {
            m = g_ptr_array_index(state->members, i);
            if (strcmp(m->name, values[i].member) != 0)
                m = NULL;
        }
        if (!m)
            m = g_hash_table_lookup(state->by_name, values[i].member);
        if (m)
            memcpy(m->values, values[i].values, sizeof(m->values));
    }

    t.state = state;
    t.policy = policy;
    t.host = host;
    t.now = now;
    t.running = running;
    t.standby = standby;
    t.blocked = VL_CONTAINER_REASON_LAST;
    t.min_active = policy->min_active;
    t.max_active = MAX(policy->max_active, policy->min_active);
    for (j = 0; j < VL_INDICATOR_LAST; j++) {
        if (is_enabled(policy, j)) {
            t.n_enabled++;
            t.host_hold_s = MAX(t.host_hold_s, policy->indicators[j].hold_s);
        }
    }
    /* The host's own thresholds come with their own hold. */
    if (policy->host_load.enabled)
        t.host_hold_s = policy->host_load.hold_s;

    for (i = 0; i < state->members->len; i++) {
        VlContainerMember *m = g_ptr_array_index(state->members, i);

        if (m->state == VL_CONTAINER_MEMBER_RUNNING)
            g_ptr_array_add(running, m);
        else if (is_startable(policy, m))
            g_ptr_array_add(standby, m);
        if (is_transitional(m))
            busy = TRUE;
    }

    /* Container value: the mean over active members, all of them known. */
    for (j = 0; j < VL_INDICATOR_LAST; j++) {
        double sum = 0;

        t.mean[j] = VL_INDICATOR_UNKNOWN;
        if (running->len == 0)
            continue;
        for (i = 0; i < running->len; i++) {
            VlContainerMember *m = g_ptr_array_index(running, i);

            sum += m->values[j];
        }
        if (vl_indicator_is_known(sum))
            t.mean[j] = sum / running->len;
    }
    memcpy(d->values, t.mean, sizeof(d->values));

    /* Lifecycle hold-off: measurements taken while things move are void. */
    if (state->in_flight || busy) {
        reset_all_hysteresis(state);
        d->reason = state->in_flight ? VL_CONTAINER_REASON_IN_FLIGHT
                                     : VL_CONTAINER_REASON_MEMBER_BUSY;
        return g_steal_pointer(&d);
    }

    for (j = 0; j < VL_INDICATOR_LAST; j++) {
        if (is_enabled(policy, j))
            hysteresis_update(&state->hyst[j], &policy->indicators[j],
                              t.mean[j], now);
        else
            hysteresis_reset(&state->hyst[j]);
    }
    for (i = 0; i < state->members->len; i++) {
        VlContainerMember *m = g_ptr_array_index(state->members, i);

        for (j = 0; j < VL_INDICATOR_LAST; j++) {
            if (is_enabled(policy, j) && m->state == VL_CONTAINER_MEMBER_RUNNING)
                hysteresis_update(&m->hyst[j], &policy->indicators[j],
                                  m->values[j], now);
            else
                hysteresis_reset(&m->hyst[j]);
        }
    }
    update_host(state, host, now);

    if (now < state->cooldown_until) {
        d->reason = VL_CONTAINER_REASON_COOLDOWN;
        return g_steal_pointer(&d);
    }

    decide(&t, d);
    if (d->action != VL_CONTAINER_ACTION_NONE)
        commit(state, policy, d, now);
    return g_steal_pointer(&d);
}

gboolean
vl_container_action_finished(VlContainerState *state,
                             VlContainerOutcome outcome, gint64 now)
{
    g_autoptr(VlContainerDecision) d = NULL;
    guint i;

    g_return_val_if_fail(state != NULL, FALSE);
    g_return_val_if_fail(outcome == VL_CONTAINER_OUTCOME_SUCCESS ||
                         outcome == VL_CONTAINER_OUTCOME_FAILURE, FALSE);

    if (!state->in_flight)
        return FALSE;
    d = g_steal_pointer(&state->in_flight);

    if (outcome == VL_CONTAINER_OUTCOME_SUCCESS) {
        state->failures = 0;
        state->cooldown_until = now + state->cooldown_s;
        /* What we shut down or defined, we may start later. */
        if (d->action == VL_CONTAINER_ACTION_REPLACE ||
            d->action == VL_CONTAINER_ACTION_SHUTDOWN_MEMBER ||
            d->action == VL_CONTAINER_ACTION_COMBINE) {
            for (i = 0; d->members && d->members[i]; i++) {
                VlContainerMember *m = g_hash_table_lookup(state->by_name,
                                                           d->members[i]);
                if (m)
                    m->may_start = TRUE;
            }
        }
        if (d->define) {
            VlContainerMember *m = g_hash_table_lookup(state->by_name,
                                                       d->define);

            if (!m) {
                m = member_add(state, d->define,
                               d->start ? VL_CONTAINER_MEMBER_RUNNING
                                        : VL_CONTAINER_MEMBER_OFF,
                               NULL, now);
                reset_all_hysteresis(state);
            }
            m->may_start = TRUE;
        }
    } else {
        if (state->failures < G_MAXUINT)
            state->failures++;
        state->cooldown_until = now +
            vl_container_failure_cooldown(state->cooldown_s, state->failures);
    }

    g_clear_pointer(&state->last, vl_container_decision_free);
    state->last = g_steal_pointer(&d);
    state->last_outcome = outcome;
    return TRUE;
}
