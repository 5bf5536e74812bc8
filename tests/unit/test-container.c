/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-container.c: the decision engine, driven by recorded traces
 * (tests/data/container/<name>.trace, format in docs/containers.md)
 * compared line by line with <expected>.expected, plus invariants checked
 * on every tick and a randomised simulation with a fake executor.
 *
 * VL_TEST_REGENERATE=1 rewrites the .expected files from the engine's
 * output; review every change before committing it.
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "container-priv.h"
#include "indicators.h"
#include "policy-helper.h"
#include "test-util.h"

/* ---- policies of the trace cases ----------------------------------- */

typedef void (*PolicySetup)(VlContainerPolicy *policy);

/* 2 running + 2 standby: the shape of most cases. */
static void
setup_standby(VlContainerPolicy *p)
{
    vl_test_strv_set(&p->standby, "web-3,web-4");
}

static void
setup_advise(VlContainerPolicy *p)
{
    setup_standby(p);
    p->mode = VL_CONTAINER_MODE_ADVISE;
}

static void
setup_min2(VlContainerPolicy *p)
{
    setup_standby(p);
    p->min_active = 2;
}

static void
setup_max3(VlContainerPolicy *p)
{
    setup_standby(p);
    p->max_active = 3;
}

static void
setup_max5(VlContainerPolicy *p)
{
    vl_test_strv_set(&p->standby, "web-5");
    p->max_active = 5;
}

static void
setup_ratio(VlContainerPolicy *p)
{
    vl_test_strv_set(&p->standby, "web-3,web-4,web-5");
    p->max_active = 5;
    p->active_standby_ratio = 2.0;
}

static void
setup_ratio_template(VlContainerPolicy *p)
{
    vl_test_strv_set(&p->standby, "web-3");
    p->max_active = 5;
    p->active_standby_ratio = 2.0;
    p->template_domain = g_strdup("web-template");
}

static void
setup_template(VlContainerPolicy *p)
{
    p->template_domain = g_strdup("web-template");
}

static void
setup_peers(VlContainerPolicy *p)
{
    setup_standby(p);
    vl_test_strv_set(&p->peers, "qemu+ssh://peer/system");
}

/* net_rx only, with a longer hold than cpu's. */
static void
setup_net_only(VlContainerPolicy *p)
{
    setup_standby(p);
    p->indicators[VL_INDICATOR_CPU].enabled = FALSE;
    vl_test_container_policy_set_indicator(p, VL_INDICATOR_NET_RX,
                                           1, 5, 500, 800, 300);
}

/* cpu and memory: under-loaded only when both are. */
static void
setup_cpu_memory(VlContainerPolicy *p)
{
    setup_standby(p);
    vl_test_container_policy_set_indicator(p, VL_INDICATOR_MEMORY,
                                           15, 30, 85, 95, 240);
}

/* ---- order hooks ----------------------------------------------------- */

static void
order_reverse(const VlContainerPolicy *policy G_GNUC_UNUSED,
              GPtrArray *members, gpointer data G_GNUC_UNUSED)
{
    guint i;

    for (i = 0; i < members->len / 2; i++) {
        gpointer tmp = members->pdata[i];

        members->pdata[i] = members->pdata[members->len - 1 - i];
        members->pdata[members->len - 1 - i] = tmp;
    }
}

/* A buggy hook: drops a member.  The engine must not trust it. */
static void
order_drop_one(const VlContainerPolicy *policy G_GNUC_UNUSED,
               GPtrArray *members, gpointer data G_GNUC_UNUSED)
{
    if (members->len > 0)
        g_ptr_array_remove_index(members, 0);
}

/* ---- the trace runner ---------------------------------------------- */

typedef struct {
    gint64 time;
    guint order;            /* file order, for a stable sort */
    guint line;
    GStrv args;             /* subject and its arguments */
} TraceEvent;

static void
trace_event_free(gpointer data)
{
    TraceEvent *e = data;

    g_strfreev(e->args);
    g_free(e);
}

static gint
trace_event_compare(gconstpointer pa, gconstpointer pb)
{
    const TraceEvent *a = *(TraceEvent *const *) pa;
    const TraceEvent *b = *(TraceEvent *const *) pb;

    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    return a->order < b->order ? -1 : (a->order > b->order);
}

static gboolean
parse_i64(const char *s, gint64 *out)
{
    char *end = NULL;
    gint64 v;

    errno = 0;
    v = g_ascii_strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return FALSE;
    *out = v;
    return TRUE;
}

/* "T" or "FROM..TO/STEP" (inclusive). */
static gboolean
parse_times(const char *s, gint64 *from, gint64 *to, gint64 *step)
{
    g_auto(GStrv) range = NULL;
    g_auto(GStrv) tail = NULL;

    if (!strstr(s, "..")) {
        *step = 1;
        return parse_i64(s, from) && parse_i64(s, to);
    }
    range = g_strsplit(s, "..", 2);
    tail = g_strsplit(range[1], "/", 2);
    return parse_i64(range[0], from) && tail[1] && parse_i64(tail[0], to) &&
           parse_i64(tail[1], step) && *step > 0 && *from <= *to;
}

static GPtrArray *
trace_load(const char *path)
{
    g_autofree char *contents = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) lines = NULL;
    GPtrArray *events = g_ptr_array_new_with_free_func(trace_event_free);
    guint order = 0;
    guint i;

    if (!g_file_get_contents(path, &contents, NULL, &error))
        ck_abort_msg("Cannot read trace '%s': %s", path, error->message);
    lines = g_strsplit(contents, "\n", -1);
    for (i = 0; lines[i]; i++) {
        g_auto(GStrv) tokens = NULL;
        g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
        char *hash = strchr(lines[i], '#');
        gint64 from, to, step, t;
        guint j;

        if (hash)
            *hash = '\0';
        tokens = g_strsplit_set(lines[i], " \t", -1);
        for (j = 0; tokens[j]; j++) {
            if (*tokens[j])
                g_ptr_array_add(args, g_strdup(tokens[j]));
        }
        if (args->len == 0)
            continue;
        ck_assert_msg(args->len >= 2, "%s:%u: time and subject needed",
                      path, i + 1);
        ck_assert_msg(parse_times(g_ptr_array_index(args, 0), &from, &to, &step),
                      "%s:%u: bad time '%s'", path, i + 1,
                      (char *) g_ptr_array_index(args, 0));
        for (t = from; t <= to; t += step) {
            TraceEvent *e = g_new0(TraceEvent, 1);
            guint k;

            e->time = t;
            e->order = order++;
            e->line = i + 1;
            e->args = g_new0(char *, args->len);
            for (k = 1; k < args->len; k++)
                e->args[k - 1] = g_strdup(g_ptr_array_index(args, k));
            g_ptr_array_add(events, e);
        }
    }
    g_ptr_array_sort(events, trace_event_compare);
    return events;
}

static VlContainerMemberState
parse_member_state(const char *s)
{
    int i;

    for (i = 0; i < VL_CONTAINER_MEMBER_LAST; i++) {
        if (strcmp(s, vl_container_member_state_to_string(i)) == 0)
            return i;
    }
    ck_abort_msg("Unknown member state '%s'", s);
    return VL_CONTAINER_MEMBER_OTHER;
}

static VlContainerHostLoad
parse_host_load(const char *s)
{
    if (strcmp(s, "under") == 0)
        return VL_CONTAINER_HOST_UNDER;
    if (strcmp(s, "in_band") == 0)
        return VL_CONTAINER_HOST_IN_BAND;
    if (strcmp(s, "over") == 0)
        return VL_CONTAINER_HOST_OVER;
    ck_assert_str_eq(s, "unknown");
    return VL_CONTAINER_HOST_UNKNOWN;
}

typedef struct {
    VlContainerState *state;
    VlContainerPolicy *policy;
    GHashTable *values;     /* member -> double[VL_INDICATOR_LAST] */
    VlContainerHost host;   /* as last set by @host */
} TraceRun;

static void
apply_values(TraceRun *run, const TraceEvent *e)
{
    double *v = g_new(double, VL_INDICATOR_LAST);
    guint k;
    int i;

    for (i = 0; i < VL_INDICATOR_LAST; i++)
        v[i] = VL_INDICATOR_UNKNOWN;
    for (k = 1; e->args[k]; k++) {
        g_auto(GStrv) kv = g_strsplit(e->args[k], "=", 2);
        gboolean found = FALSE;

        ck_assert_msg(kv[1] != NULL, "line %u: KEY=VALUE expected", e->line);
        for (i = 0; i < VL_INDICATOR_LAST; i++) {
            if (strcmp(kv[0], vl_indicator_to_string(i)) == 0) {
                found = TRUE;
                if (strcmp(kv[1], "-") != 0)
                    v[i] = g_ascii_strtod(kv[1], NULL);
            }
        }
        ck_assert_msg(found, "line %u: unknown indicator '%s'", e->line, kv[0]);
    }
    g_hash_table_replace(run->values, g_strdup(e->args[0]), v);
}

static void
apply_event(TraceRun *run, const TraceEvent *e)
{
    const char *subject = e->args[0];

    if (strcmp(subject, "@member") == 0) {
        ck_assert_msg(e->args[1] && e->args[2], "line %u: @member NAME STATE",
                      e->line);
        vl_container_note_member_state(run->state, e->args[1],
                                       parse_member_state(e->args[2]),
                                       e->args[3], e->time);
    } else if (strcmp(subject, "@finish") == 0) {
        gboolean ok;

        ck_assert_msg(e->args[1] != NULL, "line %u: @finish OUTCOME", e->line);
        ok = vl_container_action_finished(run->state,
                                          strcmp(e->args[1], "success") == 0 ?
                                          VL_CONTAINER_OUTCOME_SUCCESS :
                                          VL_CONTAINER_OUTCOME_FAILURE,
                                          e->time);
        ck_assert_msg(ok, "line %u: nothing in flight to finish", e->line);
    } else if (strcmp(subject, "@host") == 0) {
        gint64 n = 0;

        ck_assert_msg(e->args[1] != NULL, "line %u: @host LOAD", e->line);
        run->host.load = parse_host_load(e->args[1]);
        if (e->args[2])
            ck_assert(parse_i64(e->args[2], &n) && n >= 0);
        run->host.migrations_in_flight = (guint) n;
    } else if (strcmp(subject, "@forget") == 0) {
        ck_assert(vl_container_forget_member(run->state, e->args[1]));
    } else {
        ck_assert_msg(subject[0] != '@', "line %u: unknown directive '%s'",
                      e->line, subject);
        apply_values(run, e);
    }
}

static void
count_members(VlContainerState *state, guint *running, guint *busy)
{
    guint i;

    *running = 0;
    *busy = 0;
    for (i = 0; i < state->members->len; i++) {
        VlContainerMember *m = g_ptr_array_index(state->members, i);

        if (m->state == VL_CONTAINER_MEMBER_RUNNING)
            (*running)++;
        else if (m->state == VL_CONTAINER_MEMBER_STARTING ||
                 m->state == VL_CONTAINER_MEMBER_STOPPING ||
                 m->state == VL_CONTAINER_MEMBER_MIGRATING)
            (*busy)++;
    }
}

/*
 * What must hold of every decision, whatever the trace: nothing while an
 * action or a member is in motion or during the cooldown; never beyond
 * max_active nor below min_active; advise mode flags and never holds.
 */
static void
check_invariants(TraceRun *run, const VlContainerDecision *d,
                 gboolean was_in_flight, guint running, guint busy,
                 gint64 cooldown_until, gint64 now)
{
    const VlContainerPolicy *p = run->policy;
    guint min = p->min_active;
    guint max = p->max_active;

    if (was_in_flight || busy > 0 || now < cooldown_until)
        ck_assert_int_eq(d->action, VL_CONTAINER_ACTION_NONE);

    switch (d->action) {
    case VL_CONTAINER_ACTION_START_STANDBY:
    case VL_CONTAINER_ACTION_REPLACE:
    case VL_CONTAINER_ACTION_COMBINE:
        ck_assert_uint_le(running + 1, max);
        break;
    case VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE:
        if (d->start)
            ck_assert_uint_le(running + 1, max);
        break;
    default:
        break;
    }
    if (d->action == VL_CONTAINER_ACTION_COMBINE ||
        (d->action == VL_CONTAINER_ACTION_SHUTDOWN_MEMBER &&
         d->reason != VL_CONTAINER_REASON_ABOVE_MAX_ACTIVE))
        ck_assert_uint_ge(running, min + 1);
    if (d->action == VL_CONTAINER_ACTION_SHUTDOWN_MEMBER &&
        d->reason == VL_CONTAINER_REASON_ABOVE_MAX_ACTIVE)
        ck_assert_uint_gt(running, max);

    if (d->action != VL_CONTAINER_ACTION_NONE) {
        ck_assert_int_eq(d->advise, p->mode == VL_CONTAINER_MODE_ADVISE);
        if (d->advise)
            ck_assert_ptr_null(vl_container_state_get_in_flight(run->state));
        else
            ck_assert_ptr_nonnull(vl_container_state_get_in_flight(run->state));
    }
}

static char *
trace_run(const char *trace, PolicySetup setup, VlContainerOrderFunc order)
{
    g_autofree char *path = NULL;
    g_autoptr(GPtrArray) events = NULL;
    g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *file = g_strconcat("container/", trace, ".trace", NULL);
    TraceRun run = { 0 };
    guint i = 0;

    path = vl_test_data_path(file);
    events = trace_load(path);
    run.policy = vl_test_container_policy_new("web");
    if (setup)
        setup(run.policy);
    run.state = vl_container_state_new("web");
    vl_container_state_set_order_func(run.state, order, NULL);
    run.values = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    while (i < events->len) {
        gint64 now = ((TraceEvent *) g_ptr_array_index(events, i))->time;
        g_autoptr(VlContainerDecision) d = NULL;
        g_autofree VlContainerMemberValues *mv = NULL;
        g_autofree char *line = NULL;
        VlContainerHost host;
        GHashTableIter iter;
        gpointer key, value;
        gboolean was_in_flight;
        gint64 cooldown_until;
        guint running, busy;
        guint n = 0;

        for (; i < events->len; i++) {
            TraceEvent *e = g_ptr_array_index(events, i);

            if (e->time != now)
                break;
            apply_event(&run, e);
        }

        mv = g_new0(VlContainerMemberValues, g_hash_table_size(run.values));
        g_hash_table_iter_init(&iter, run.values);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
            mv[n].member = key;
            memcpy(mv[n].values, value, sizeof(mv[n].values));
            n++;
        }

        was_in_flight = vl_container_state_get_in_flight(run.state) != NULL;
        cooldown_until = vl_container_state_get_cooldown_until(run.state);
        count_members(run.state, &running, &busy);
        /* The daemon builds the host view afresh every cycle. */
        host = run.host;
        d = vl_container_tick(run.state, run.policy, mv, n, &host, now);
        ck_assert_ptr_nonnull(d);
        check_invariants(&run, d, was_in_flight, running, busy,
                         cooldown_until, now);

        line = vl_container_decision_to_string(d);
        g_string_append_printf(out, "%" G_GINT64_FORMAT " %s\n", now, line);
    }

    g_hash_table_unref(run.values);
    vl_container_state_free(run.state);
    vl_test_container_policy_free(run.policy);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

typedef struct {
    const char *trace;
    const char *expected;
    PolicySetup setup;
    VlContainerOrderFunc order;
} TraceCase;

static const TraceCase trace_cases[] = {
    /* each threshold fires only once held hold_s */
    { "over-hold", "over-hold", setup_standby, NULL },
    { "substantially-over", "substantially-over", setup_standby, NULL },
    { "under-hold", "under-hold", setup_standby, NULL },
    { "substantially-under", "substantially-under", setup_max5, NULL },
    { "net-hold", "net-hold", setup_net_only, NULL },
    { "under-all", "under-all", setup_cpu_memory, NULL },
    /* shorter than hold_s: nothing */
    { "spike", "spike", setup_standby, NULL },
    /* cooldown and failures */
    { "cooldown", "cooldown", setup_standby, NULL },
    { "failure-backoff", "failure-backoff", setup_standby, NULL },
    /* min_active / max_active */
    { "min-active", "min-active", setup_min2, NULL },
    { "at-min-active", "at-min-active", setup_min2, NULL },
    { "max-active", "max-active", setup_max3, NULL },
    /* lifecycle hold-off */
    { "holdoff-migrating", "holdoff-migrating", setup_standby, NULL },
    { "holdoff-starting", "holdoff-starting", setup_standby, NULL },
    /* active_standby_ratio */
    { "ratio", "ratio", setup_ratio, NULL },
    { "ratio-template", "ratio-template", setup_ratio_template, NULL },
    { "template", "template", setup_template, NULL },
    /* advise mode: the same decisions, flagged */
    { "over-hold", "over-hold-advise", setup_advise, NULL },
    /* unknown values never count */
    { "unknown", "unknown", setup_standby, NULL },
    { "unknown-combine", "unknown-combine", setup_standby, NULL },
    /* host overload: away to a peer and back, ordered by the hook */
    { "host", "host", setup_peers, NULL },
    { "host", "host-reversed", setup_peers, order_reverse },
    { "host", "host", setup_peers, order_drop_one },
};

#define EXPECTED_HEADER "# SPDX-License-Identifier: LGPL-2.1-or-later\n"

/* Drops the "#" lines of an .expected file (its licence header). */
static char *
strip_comments(char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GString *out = g_string_new(NULL);
    guint i;

    g_free(text);
    for (i = 0; lines[i]; i++) {
        if (lines[i][0] == '#')
            continue;
        g_string_append(out, lines[i]);
        if (lines[i + 1])
            g_string_append_c(out, '\n');
    }
    return g_string_free(out, FALSE);
}

START_TEST(test_trace)
{
    const TraceCase *tc = &trace_cases[_i];
    g_autofree char *actual = trace_run(tc->trace, tc->setup, tc->order);
    g_autofree char *file = g_strconcat("container/", tc->expected,
                                        ".expected", NULL);
    g_autofree char *path = vl_test_data_path(file);
    g_autofree char *expected = NULL;
    g_autoptr(GError) error = NULL;

    if (g_getenv("VL_TEST_REGENERATE")) {
        g_autofree char *text = g_strconcat(EXPECTED_HEADER, actual, NULL);

        ck_assert_msg(g_file_set_contents(path, text, -1, &error),
                      "%s", error ? error->message : "");
        return;
    }
    if (!g_file_get_contents(path, &expected, NULL, &error))
        ck_abort_msg("Cannot read '%s': %s", path, error->message);
    expected = strip_comments(g_steal_pointer(&expected));
    if (strcmp(expected, actual) != 0) {
        g_autofree char *actual_path = g_strconcat(path, ".actual", NULL);

        g_file_set_contents(actual_path, actual, -1, NULL);
        ck_abort_msg("Trace '%s' differs from '%s' (output in '%s'):\n%s",
                     tc->trace, path, actual_path, actual);
    }
}
END_TEST

/* ---- API-level cases ------------------------------------------------- */

static VlContainerMemberValues
cpu_value(const char *member, double cpu)
{
    VlContainerMemberValues v = { .member = member };
    int i;

    for (i = 0; i < VL_INDICATOR_LAST; i++)
        v.values[i] = VL_INDICATOR_UNKNOWN;
    v.values[VL_INDICATOR_CPU] = cpu;
    return v;
}

/* Two running at @cpu, two standby; ticks 0, 60, ..., until a decision. */
static VlContainerDecision *
tick_until_action(VlContainerState *state, const VlContainerPolicy *policy,
                  double cpu, gint64 *now, VlContainerHost *host)
{
    VlContainerMemberValues v[2] = { cpu_value("web-1", cpu),
                                     cpu_value("web-2", cpu) };

    gint64 limit = *now + 3600;

    for (; *now <= limit; *now += 60) {
        VlContainerHost h = host ? *host : (VlContainerHost) { 0 };
        VlContainerDecision *d = vl_container_tick(state, policy, v, 2, &h,
                                                   *now);

        if (d->action != VL_CONTAINER_ACTION_NONE)
            return d;
        vl_container_decision_free(d);
    }
    return NULL;
}

static VlContainerState *
two_plus_two(void)
{
    VlContainerState *state = vl_container_state_new("web");

    vl_container_note_member_state(state, "web-1", VL_CONTAINER_MEMBER_RUNNING,
                                   NULL, 0);
    vl_container_note_member_state(state, "web-2", VL_CONTAINER_MEMBER_RUNNING,
                                   NULL, 0);
    vl_container_note_member_state(state, "web-3", VL_CONTAINER_MEMBER_OFF,
                                   NULL, 0);
    vl_container_note_member_state(state, "web-4", VL_CONTAINER_MEMBER_OFF,
                                   NULL, 0);
    return state;
}

START_TEST(test_advise_never_in_flight)
{
    VlContainerPolicy *policy = vl_test_container_policy_new("web");
    g_autoptr(VlContainerState) state = two_plus_two();
    g_autoptr(VlContainerDecision) d = NULL;
    VlContainerOutcome outcome = VL_CONTAINER_OUTCOME_NONE;
    gint64 now = 0;

    setup_advise(policy);
    d = tick_until_action(state, policy, 80, &now, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d->action, VL_CONTAINER_ACTION_START_STANDBY);
    ck_assert(d->advise);
    ck_assert_ptr_null(vl_container_state_get_in_flight(state));
    ck_assert_ptr_nonnull(vl_container_state_get_last(state, &outcome));
    ck_assert_int_eq(outcome, VL_CONTAINER_OUTCOME_ADVISED);
    ck_assert_int_eq(vl_container_state_get_cooldown_until(state),
                     now + policy->cooldown_s);
    /* Nothing to finish: the executor never ran it. */
    ck_assert(!vl_container_action_finished(state, VL_CONTAINER_OUTCOME_SUCCESS,
                                            now));
    vl_test_container_policy_free(policy);
}
END_TEST

START_TEST(test_enforce_in_flight_until_finished)
{
    VlContainerPolicy *policy = vl_test_container_policy_new("web");
    g_autoptr(VlContainerState) state = two_plus_two();
    g_autoptr(VlContainerDecision) d = NULL;
    const VlContainerDecision *last;
    VlContainerOutcome outcome = VL_CONTAINER_OUTCOME_NONE;
    gint64 now = 0;

    setup_standby(policy);
    d = tick_until_action(state, policy, 80, &now, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert(!d->advise);
    ck_assert_ptr_nonnull(vl_container_state_get_in_flight(state));
    ck_assert_str_eq(vl_container_state_get_in_flight(state)->start, "web-3");
    ck_assert_ptr_null(vl_container_state_get_last(state, NULL));

    ck_assert(vl_container_action_finished(state, VL_CONTAINER_OUTCOME_SUCCESS,
                                           now + 30));
    ck_assert_ptr_null(vl_container_state_get_in_flight(state));
    last = vl_container_state_get_last(state, &outcome);
    ck_assert_ptr_nonnull(last);
    ck_assert_int_eq(last->action, VL_CONTAINER_ACTION_START_STANDBY);
    ck_assert_int_eq(outcome, VL_CONTAINER_OUTCOME_SUCCESS);
    ck_assert_int_eq(vl_container_state_get_cooldown_until(state),
                     now + 30 + 300);
    /* A second report of the same completion is refused. */
    ck_assert(!vl_container_action_finished(state, VL_CONTAINER_OUTCOME_SUCCESS,
                                            now + 31));
    vl_test_container_policy_free(policy);
}
END_TEST

/* failures -> cooldown multiple of max(cooldown_s, 60) */
static const struct {
    guint cooldown_s;
    guint failures;
    gint64 expected;
} backoff_cases[] = {
    { 300, 1, 600 },
    { 300, 2, 1200 },
    { 300, 3, 2400 },
    { 300, 4, 4800 },
    { 300, 5, 4800 },    /* capped at 16 x */
    { 300, 1000, 4800 },
    { 0, 1, 120 },       /* the base is at least 60 s */
    { 30, 4, 960 },
    { 0, 0, 60 },
};

START_TEST(test_failure_backoff)
{
    ck_assert_int_eq(vl_container_failure_cooldown(backoff_cases[_i].cooldown_s,
                                                   backoff_cases[_i].failures),
                     backoff_cases[_i].expected);
}
END_TEST

/* The growth is applied by action_finished, and a success resets it. */
START_TEST(test_failures_grow_then_reset)
{
    VlContainerPolicy *policy = vl_test_container_policy_new("web");
    g_autoptr(VlContainerState) state = two_plus_two();
    gint64 now = 0;
    gint64 expected[] = { 600, 1200, 2400, 4800, 4800, 4800 };
    guint k;

    setup_standby(policy);
    for (k = 0; k < G_N_ELEMENTS(expected); k++) {
        g_autoptr(VlContainerDecision) d = NULL;

        d = tick_until_action(state, policy, 80, &now, NULL);
        ck_assert_ptr_nonnull(d);
        ck_assert(vl_container_action_finished(state,
                                               VL_CONTAINER_OUTCOME_FAILURE,
                                               now));
        ck_assert_int_eq(vl_container_state_get_cooldown_until(state) - now,
                         expected[k]);
        /* the next tick may decide only after the cooldown */
        now = vl_container_state_get_cooldown_until(state);
    }
    {
        g_autoptr(VlContainerDecision) d = NULL;

        d = tick_until_action(state, policy, 80, &now, NULL);
        ck_assert_ptr_nonnull(d);
        ck_assert(vl_container_action_finished(state,
                                               VL_CONTAINER_OUTCOME_SUCCESS,
                                               now));
        ck_assert_int_eq(vl_container_state_get_cooldown_until(state) - now, 300);
        ck_assert_uint_eq(state->failures, 0);
    }
    vl_test_container_policy_free(policy);
}
END_TEST

/* One host, two containers, one cycle: only the first may migrate. */
START_TEST(test_one_migration_per_cycle)
{
    VlContainerPolicy *policy = vl_test_container_policy_new("web");
    g_autoptr(VlContainerState) a = two_plus_two();
    g_autoptr(VlContainerState) b = two_plus_two();
    VlContainerMemberValues v[2] = { cpu_value("web-1", 50),
                                     cpu_value("web-2", 50) };
    gint64 now;
    gboolean moved = FALSE;

    setup_peers(policy);
    for (now = 0; now <= 600 && !moved; now += 60) {
        VlContainerHost host = { VL_CONTAINER_HOST_OVER, 0 };
        g_autoptr(VlContainerDecision) da = NULL;
        g_autoptr(VlContainerDecision) db = NULL;

        da = vl_container_tick(a, policy, v, 2, &host, now);
        db = vl_container_tick(b, policy, v, 2, &host, now);
        if (da->action == VL_CONTAINER_ACTION_MIGRATE_AWAY) {
            moved = TRUE;
            ck_assert_int_eq(now, 120);
            ck_assert_uint_eq(host.migrations_in_flight, 1);
            ck_assert_int_eq(db->action, VL_CONTAINER_ACTION_NONE);
        } else {
            ck_assert_int_eq(db->action, VL_CONTAINER_ACTION_NONE);
        }
    }
    ck_assert(moved);
    vl_test_container_policy_free(policy);
}
END_TEST

/* A migration of anything on the host holds every container's move. */
START_TEST(test_host_migration_in_flight_blocks)
{
    VlContainerPolicy *policy = vl_test_container_policy_new("web");
    g_autoptr(VlContainerState) state = two_plus_two();
    g_autoptr(VlContainerDecision) d = NULL;
    VlContainerHost host = { VL_CONTAINER_HOST_OVER, 1 };
    gint64 now = 0;

    setup_peers(policy);
    d = tick_until_action(state, policy, 50, &now, &host);
    ck_assert_ptr_null(d);
    vl_test_container_policy_free(policy);
}
END_TEST

START_TEST(test_decision_strings)
{
    g_autoptr(VlContainerDecision) d = g_new0(VlContainerDecision, 1);
    g_autofree char *s = NULL;
    g_autoptr(VlAuditRecord) r = NULL;

    d->action = VL_CONTAINER_ACTION_COMBINE;
    d->reason = VL_CONTAINER_REASON_MEMBERS_UNDER_LOADED;
    d->container = g_strdup("web");
    d->start = g_strdup("web 5");
    d->members = g_strsplit("a\"b;c|with\nnewline", "|", -1);
    d->indicator = VL_INDICATOR_CPU;
    d->threshold = VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_UNDER;
    d->limit = 10;
    d->advise = TRUE;
    s = vl_container_decision_to_string(d);
    ck_assert_str_eq(s, "combine reason=members_under_loaded start=\"web 5\" "
                     "members=\"a\\\"b;c\",\"with\\nnewline\" "
                     "crossed=cpu.substantially_under_loaded advise");
    ck_assert_ptr_null(strchr(s, '\n'));

    r = vl_container_decision_to_audit(d, VL_CONTAINER_OUTCOME_NONE, 42);
    ck_assert_str_eq(r->container, "web");
    ck_assert_str_eq(r->member, "web 5");
    ck_assert_str_eq(r->start, "web 5");
    ck_assert_str_eq(r->members[1], "with\nnewline");
    ck_assert_str_eq(r->action, "combine");
    ck_assert_str_eq(r->crossed, "substantially_under_loaded");
    ck_assert_str_eq(r->outcome, "advised");
    ck_assert_int_eq(r->mode, VL_CONTAINER_MODE_ADVISE);
    ck_assert_int_eq(r->indicator, VL_INDICATOR_CPU);
    ck_assert(r->limit == 10);
}
END_TEST

START_TEST(test_forget_member)
{
    g_autoptr(VlContainerState) state = two_plus_two();

    ck_assert(vl_container_forget_member(state, "web-3"));
    ck_assert_ptr_null(vl_container_state_find_member(state, "web-3"));
    ck_assert(!vl_container_forget_member(state, "web-3"));
    ck_assert_uint_eq(state->members->len, 3);
}
END_TEST

/* The daemon may hand back the engine's own host string. */
START_TEST(test_note_own_host)
{
    g_autoptr(VlContainerState) state = vl_container_state_new("web");
    VlContainerMember *m;

    vl_container_note_member_state(state, "web-1", VL_CONTAINER_MEMBER_RUNNING,
                                   "qemu+ssh://peer/system", 0);
    m = vl_container_state_find_member(state, "web-1");
    vl_container_note_member_state(state, "web-1", VL_CONTAINER_MEMBER_OFF,
                                   m->host, 1);
    ck_assert_str_eq(m->host, "qemu+ssh://peer/system");
    ck_assert_int_eq(m->state, VL_CONTAINER_MEMBER_OFF);
    ck_assert_int_eq(m->state_since, 1);
}
END_TEST

/*
 * A policy with max_active below min_active (the parser refuses it; the
 * engine must still not flip-flop): min_active wins, nothing is shut.
 */
START_TEST(test_max_below_min)
{
    VlContainerPolicy *policy = vl_test_container_policy_new("web");
    g_autoptr(VlContainerState) state = two_plus_two();
    VlContainerMemberValues v[2] = { cpu_value("web-1", 50),
                                     cpu_value("web-2", 50) };
    gint64 now;

    setup_standby(policy);
    policy->min_active = 2;
    policy->max_active = 1;
    for (now = 0; now < 1200; now += 60) {
        g_autoptr(VlContainerDecision) d = NULL;

        d = vl_container_tick(state, policy, v, 2, NULL, now);
        ck_assert_int_eq(d->action, VL_CONTAINER_ACTION_NONE);
        ck_assert_int_eq(d->reason, VL_CONTAINER_REASON_IN_BAND);
    }
    vl_test_container_policy_free(policy);
}
END_TEST

/* Members are kept in name order whatever order they are reported in. */
START_TEST(test_members_sorted)
{
    g_autoptr(VlContainerState) state = vl_container_state_new("c");
    const char *names[] = { "m", "b", "z", "a", "q", "b" };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(names); i++)
        vl_container_note_member_state(state, names[i],
                                       VL_CONTAINER_MEMBER_OFF, NULL, 0);
    ck_assert_uint_eq(state->members->len, 5);
    for (i = 1; i < state->members->len; i++) {
        VlContainerMember *a = g_ptr_array_index(state->members, i - 1);
        VlContainerMember *b = g_ptr_array_index(state->members, i);

        ck_assert_int_lt(strcmp(a->name, b->name), 0);
    }
}
END_TEST

/* ---- simulation -------------------------------------------------------- */

/*
 * A fake executor that applies every decision over the following ticks
 * (start: STARTING one tick, then RUNNING; shutdown: STOPPING one tick,
 * then OFF), fails one action in eight, and a random-walk load.  Checks
 * on every tick: active within [min_active, max_active], and decisions
 * only when nothing is in flight.
 */
typedef struct {
    VlContainerState *state;
    VlContainerDecision *running; /* the decision being executed */
    guint step;
    gboolean fail;
} FakeExecutor;

static void
note(VlContainerState *state, const char *name, VlContainerMemberState s,
     gint64 now)
{
    VlContainerMember *m = vl_container_state_find_member(state, name);

    vl_container_note_member_state(state, name, s, m ? m->host : NULL, now);
}

static void
executor_step(FakeExecutor *x, gint64 now)
{
    VlContainerDecision *d = x->running;
    guint i;

    if (!d)
        return;
    if (x->fail) {
        vl_container_action_finished(x->state, VL_CONTAINER_OUTCOME_FAILURE, now);
        g_clear_pointer(&x->running, vl_container_decision_free);
        return;
    }
    switch (x->step++) {
    case 0:
        if (d->define && !vl_container_state_find_member(x->state, d->define))
            note(x->state, d->define, VL_CONTAINER_MEMBER_OFF, now);
        if (d->start)
            note(x->state, d->start, VL_CONTAINER_MEMBER_STARTING, now);
        return;
    case 1:
        if (d->start)
            note(x->state, d->start, VL_CONTAINER_MEMBER_RUNNING, now);
        if (d->action != VL_CONTAINER_ACTION_MIGRATE_AWAY &&
            d->action != VL_CONTAINER_ACTION_BRING_BACK) {
            for (i = 0; d->members && d->members[i]; i++)
                note(x->state, d->members[i], VL_CONTAINER_MEMBER_STOPPING, now);
        }
        return;
    default:
        if (d->action != VL_CONTAINER_ACTION_MIGRATE_AWAY &&
            d->action != VL_CONTAINER_ACTION_BRING_BACK) {
            for (i = 0; d->members && d->members[i]; i++)
                note(x->state, d->members[i], VL_CONTAINER_MEMBER_OFF, now);
        }
        vl_container_action_finished(x->state, VL_CONTAINER_OUTCOME_SUCCESS,
                                     now);
        g_clear_pointer(&x->running, vl_container_decision_free);
        return;
    }
}

START_TEST(test_simulation)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(1000 + _i);
    VlContainerPolicy *policy = vl_test_container_policy_new("sim");
    g_autoptr(VlContainerState) state = vl_container_state_new("sim");
    FakeExecutor x = { .state = state };
    double load = 40;           /* total work, in member-cpu-% units */
    double target;
    guint decisions = 0;
    gint64 now;
    guint i;

    policy->min_active = 2;
    policy->max_active = 5;
    policy->cooldown_s = 120;
    policy->active_standby_ratio = (_i % 3 == 0) ? 2.0 : 0;
    if (_i % 2 == 0)
        policy->template_domain = g_strdup("sim-template");
    vl_test_strv_set(&policy->standby, "s-1,s-2,s-3,s-4");
    vl_test_container_policy_set_indicator(policy, VL_INDICATOR_CPU,
                                           10, 20, 75, 90, 60);
    for (i = 1; i <= 4; i++) {
        g_autofree char *name = g_strdup_printf("s-%u", i);

        vl_container_note_member_state(state, name, i <= 2 ?
                                       VL_CONTAINER_MEMBER_RUNNING :
                                       VL_CONTAINER_MEMBER_OFF, NULL, 0);
    }

    for (now = 0; now < 4 * 3600; now += 30) {
        g_autoptr(GArray) values = g_array_new(FALSE, FALSE,
                                               sizeof(VlContainerMemberValues));
        g_autoptr(VlContainerDecision) d = NULL;
        gboolean quiet;
        guint running, busy, active;

        executor_step(&x, now);
        count_members(state, &running, &busy);
        /* starting members count against max_active from the start */
        active = running;
        for (i = 0; i < state->members->len; i++) {
            VlContainerMember *m = g_ptr_array_index(state->members, i);

            if (m->state == VL_CONTAINER_MEMBER_STARTING)
                active++;
        }
        ck_assert_uint_le(active, policy->max_active);
        ck_assert_uint_ge(active, policy->min_active);

        /* a slow daily-like swing with noise: scale-outs and scale-ins */
        target = 200 + 180 * sin(2 * G_PI * (double) now / 5400);
        load += 0.2 * (target - load) + g_rand_double_range(rand, -20, 20);
        load = CLAMP(load, 0, 500);
        for (i = 0; i < state->members->len; i++) {
            VlContainerMember *m = g_ptr_array_index(state->members, i);
            VlContainerMemberValues v = cpu_value(m->name, 0);

            if (m->state != VL_CONTAINER_MEMBER_RUNNING)
                continue;
            /* uneven split, and now and then a missing sample */
            v.values[VL_INDICATOR_CPU] =
                MIN(100, load / running * g_rand_double_range(rand, 0.5, 1.5));
            if (g_rand_int_range(rand, 0, 20) == 0)
                v.values[VL_INDICATOR_CPU] = VL_INDICATOR_UNKNOWN;
            g_array_append_val(values, v);
        }

        quiet = x.running != NULL || busy > 0;
        d = vl_container_tick(state, policy,
                              (VlContainerMemberValues *) values->data,
                              values->len, NULL, now);
        if (quiet)
            ck_assert_int_eq(d->action, VL_CONTAINER_ACTION_NONE);
        if (g_getenv("VL_TEST_DEBUG")) {
            g_autofree char *str = vl_container_decision_to_string(d);

            g_printerr("%" G_GINT64_FORMAT " load=%.0f running=%u %s\n",
                       now, load, running, str);
        }
        if (d->action != VL_CONTAINER_ACTION_NONE) {
            decisions++;
            x.running = g_steal_pointer(&d);
            x.step = 0;
            x.fail = g_rand_int_range(rand, 0, 8) == 0;
        }
    }
    /* the load walks far enough for the engine to have had work */
    ck_assert_uint_gt(decisions, 3);
    g_clear_pointer(&x.running, vl_container_decision_free);
    vl_test_container_policy_free(policy);
}
END_TEST

static Suite *
container_suite(void)
{
    Suite *s = suite_create("container");
    TCase *tc;

    tc = tcase_create("traces");
    tcase_add_loop_test(tc, test_trace, 0, G_N_ELEMENTS(trace_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("lifecycle");
    tcase_add_test(tc, test_advise_never_in_flight);
    tcase_add_test(tc, test_enforce_in_flight_until_finished);
    tcase_add_test(tc, test_forget_member);
    tcase_add_test(tc, test_members_sorted);
    tcase_add_test(tc, test_note_own_host);
    tcase_add_test(tc, test_max_below_min);
    suite_add_tcase(s, tc);

    tc = tcase_create("backoff");
    tcase_add_loop_test(tc, test_failure_backoff, 0,
                        G_N_ELEMENTS(backoff_cases));
    tcase_add_test(tc, test_failures_grow_then_reset);
    suite_add_tcase(s, tc);

    tc = tcase_create("host");
    tcase_add_test(tc, test_one_migration_per_cycle);
    tcase_add_test(tc, test_host_migration_in_flight_blocks);
    suite_add_tcase(s, tc);

    tc = tcase_create("strings");
    tcase_add_test(tc, test_decision_strings);
    suite_add_tcase(s, tc);

    tc = tcase_create("simulation");
    tcase_add_loop_test(tc, test_simulation, 0, 12);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(container_suite());
}
