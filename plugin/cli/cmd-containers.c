/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt-lanes containers [NAME] [--json]: the daemon's view of the
 * virtual containers (the "containers" request, docs/containers.md).
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipc.h"
#include "vl-autoptr.h"

/* The daemon answers at once; this only bounds a wedged daemon. */
#define CONTAINERS_TIMEOUT_MS 10000

/* A member of @obj of @type, or NULL: the reply is input from outside. */
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

/* A string member made safe for a terminal, or @fallback. */
static char *
text_or(json_object *obj, const char *key, const char *fallback)
{
    json_object *value = member(obj, key, json_type_string);
    char *copy;
    char *p;

    if (!value)
        return g_strdup(fallback);
    copy = g_strdup(json_object_get_string(value));
    for (p = copy; *p; p++) {
        if ((guchar)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return copy;
}

static gint64
integer(json_object *obj, const char *key)
{
    json_object *value = member(obj, key, json_type_int);

    return value ? json_object_get_int64(value) : -1;
}

/* A number member as text: "-" for null or missing. */
static char *
number_text(json_object *obj, const char *key)
{
    json_object *value = NULL;

    if (!obj || !json_object_object_get_ex(obj, key, &value) ||
        !(json_object_is_type(value, json_type_double) ||
          json_object_is_type(value, json_type_int)))
        return g_strdup("-");
    return g_strdup_printf("%.1f", json_object_get_double(value));
}

/* "start_standby start=web-3 members=a,b" from a decision object. */
static char *
decision_text(json_object *d)
{
    GString *out = g_string_new(NULL);
    json_object *members = member(d, "members", json_type_array);
    json_object *crossed = member(d, "crossed", json_type_object);
    g_autofree char *action = text_or(d, "action", "?");
    g_autofree char *reason = text_or(d, "reason", "?");
    const char *keys[] = { "define", "start", "peer" };
    size_t i;

    g_string_append_printf(out, "%s (%s)", action, reason);
    for (i = 0; i < G_N_ELEMENTS(keys); i++) {
        if (member(d, keys[i], json_type_string)) {
            g_autofree char *value = text_or(d, keys[i], "?");

            g_string_append_printf(out, " %s=%s", keys[i], value);
        }
    }
    if (members && json_object_array_length(members) > 0) {
        g_string_append(out, " members=");
        for (i = 0; i < json_object_array_length(members); i++) {
            json_object *m = json_object_array_get_idx(members, i);
            g_autofree char *name = NULL;
            char *p;

            if (!json_object_is_type(m, json_type_string))
                continue;
            name = g_strdup(json_object_get_string(m));
            for (p = name; *p; p++) {
                if ((guchar)*p < 0x20 || *p == 0x7f)
                    *p = '?';
            }
            g_string_append_printf(out, "%s%s", i ? "," : "", name);
        }
    }
    if (crossed) {
        g_autofree char *ind = text_or(crossed, "indicator", "?");
        g_autofree char *th = text_or(crossed, "threshold", "?");
        g_autofree char *value = number_text(crossed, "value");
        g_autofree char *limit = number_text(crossed, "limit");

        g_string_append_printf(out, ", crossed %s.%s (%s against %s)", ind,
                               th, value, limit);
    }
    return g_string_free(out, FALSE);
}

static char *
crossings_text(json_object *crossings)
{
    GString *out = g_string_new(NULL);
    size_t n = crossings ? json_object_array_length(crossings) : 0;
    size_t i;

    for (i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(crossings, i);
        g_autofree char *th = text_or(c, "threshold", "?");
        gint64 held_in = integer(c, "held_in_s");

        if (out->len)
            g_string_append(out, "; ");
        g_string_append_printf(out, "%s for %" G_GINT64_FORMAT " s", th,
                               integer(c, "since_s"));
        if (held_in > 0)
            g_string_append_printf(out, " (held in %" G_GINT64_FORMAT " s)",
                                   held_in);
        else
            g_string_append(out, " (held)");
    }
    if (!out->len)
        g_string_append(out, "-");
    return g_string_free(out, FALSE);
}

static void
print_container(json_object *c)
{
    static const char *const thresholds[] = {
        "substantially_under_loaded", "under_loaded", "overloaded",
        "substantially_overloaded",
    };
    json_object *indicators = member(c, "indicators", json_type_array);
    json_object *members = member(c, "members", json_type_array);
    json_object *tick = member(c, "last_tick", json_type_object);
    json_object *in_flight = member(c, "in_flight", json_type_object);
    json_object *last = member(c, "last", json_type_object);
    g_autofree char *name = text_or(c, "name", "?");
    g_autofree char *mode = text_or(c, "mode", "?");
    g_autofree char *effective = text_or(c, "effective_mode", "?");
    size_t i;
    size_t j;

    printf("\n%s  %s%s  %" G_GINT64_FORMAT " active (min %" G_GINT64_FORMAT
           ", max %" G_GINT64_FORMAT ")  cooldown %" G_GINT64_FORMAT " s\n",
           name, mode, g_str_equal(mode, effective) ? "" : " (advise: dry run)",
           integer(c, "active"), integer(c, "min_active"),
           integer(c, "max_active"), integer(c, "cooldown_s"));
    if (member(c, "host_load", json_type_object)) {
        json_object *h = member(c, "host_load", json_type_object);
        g_autofree char *state = text_or(h, "state", "?");
        static const char *const keys[] = { "cpu", "memory" };
        GString *limits = g_string_new(NULL);
        g_autofree char *text = NULL;

        for (j = 0; j < G_N_ELEMENTS(keys); j++) {
            json_object *t = member(h, keys[j], json_type_object);
            g_autofree char *under = number_text(t, "under_loaded");
            g_autofree char *over = number_text(t, "overloaded");

            if (t)
                g_string_append_printf(limits, ", %s %s..%s %%", keys[j],
                                       under, over);
        }
        text = g_string_free(limits, FALSE);
        printf("  host load:  %s (bring back below, move away above%s; held %"
               G_GINT64_FORMAT " s)\n", state, text, integer(h, "hold_s"));
    }
    if (tick) {
        g_autofree char *action = text_or(tick, "action", "?");
        g_autofree char *reason = text_or(tick, "reason", "?");

        printf("  last tick:  %s (%s)\n", action, reason);
    } else {
        printf("  last tick:  none yet\n");
    }
    if (in_flight) {
        g_autofree char *what = decision_text(in_flight);
        g_autofree char *step = text_or(in_flight, "step", "-");

        printf("  in flight:  %s [%s]\n", what, step);
    }
    if (last) {
        g_autofree char *what = decision_text(last);
        g_autofree char *outcome = text_or(last, "outcome", "?");

        printf("  last:       %s: %s, %" G_GINT64_FORMAT " s ago\n", what,
               outcome, integer(last, "age_s"));
        if (member(last, "error", json_type_string)) {
            g_autofree char *why = text_or(last, "error", "?");

            printf("              %s\n", why);
        }
    }

    if (indicators && json_object_array_length(indicators) > 0) {
        printf("  %-10s %8s %8s %8s %8s %8s %6s  %s\n", "indicator", "value",
               "s.under", "under", "over", "s.over", "hold", "crossing");
        for (i = 0; i < json_object_array_length(indicators); i++) {
            json_object *ind = json_object_array_get_idx(indicators, i);
            json_object *limits = member(ind, "thresholds", json_type_object);
            g_autofree char *iname = text_or(ind, "indicator", "?");
            g_autofree char *value = number_text(ind, "value");
            g_autofree char *crossing =
                crossings_text(member(ind, "crossings", json_type_array));

            printf("  %-10s %8s", iname, value);
            for (j = 0; j < G_N_ELEMENTS(thresholds); j++) {
                g_autofree char *limit = number_text(limits, thresholds[j]);

                printf(" %8s", limit);
            }
            printf(" %5" G_GINT64_FORMAT "s  %s\n", integer(ind, "hold_s"),
                   crossing);
        }
    }

    printf("  members:\n");
    for (i = 0; members && i < json_object_array_length(members); i++) {
        json_object *m = json_object_array_get_idx(members, i);
        json_object *values = member(m, "values", json_type_object);
        json_object *standby = member(m, "standby", json_type_boolean);
        g_autofree char *mname = text_or(m, "name", "?");
        g_autofree char *state = text_or(m, "state", "?");
        g_autofree char *host = text_or(m, "host", NULL);
        GString *vals = g_string_new(NULL);

        if (values) {
            json_object_object_foreach(values, key, val) {
                g_autofree char *v = val ? g_strdup_printf("%.1f",
                                                           json_object_get_double(val))
                                         : g_strdup("-");

                g_string_append_printf(vals, " %s=%s", key, v);
            }
        }
        printf("    %-20s %-9s%s%s%s%s\n", mname, state,
               standby && json_object_get_boolean(standby) ? " standby" : "",
               host ? " on " : "", host ? host : "", vals->str);
        g_string_free(vals, TRUE);
    }
    if (!members || json_object_array_length(members) == 0)
        printf("    (none)\n");
}

int
vl_cmd_containers(const VlCliOptions *opts, int argc, char **argv)
{
    g_autoptr(GOptionContext) octx = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) request = NULL;
    g_autoptr(json_object) reply = NULL;
    gboolean json = opts->json;
    GOptionEntry entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
          "Print the daemon's reply as JSON", NULL },
        { NULL }
    };
    json_object *ok;
    json_object *containers;
    json_object *cycle;
    size_t i;

    octx = g_option_context_new("[NAME] - show the virtual containers: members, indicators, actions");
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error)) {
        fprintf(stderr, "virt-lanes containers: %s\n", error->message);
        return 2;
    }
    if (argc > 2) {
        g_autofree char *shown = g_strescape(argv[2], NULL);

        fprintf(stderr, "virt-lanes containers: Unexpected argument '%s'\n",
                shown);
        return 2;
    }
    if (argc == 2 && !g_utf8_validate(argv[1], -1, NULL)) {
        g_autofree char *shown = g_strescape(argv[1], NULL);

        fprintf(stderr, "virt-lanes containers: Container name '%s' is not valid UTF-8\n",
                shown);
        return 2;
    }

    request = vl_ipc_message_new("containers");
    if (argc == 2)
        json_object_object_add(request, "name", json_object_new_string(argv[1]));
    reply = vl_ipc_call(opts->socket_path, request, CONTAINERS_TIMEOUT_MS, &error);
    if (!reply) {
        fprintf(stderr, "virt-lanes: Cannot reach virt-lanesd at '%s': %s\n",
                opts->socket_path, error->message);
        return 1;
    }
    ok = member(reply, "ok", json_type_boolean);
    if (!ok || !json_object_get_boolean(ok)) {
        g_autofree char *message = text_or(reply, "error", "?");

        fprintf(stderr, "virt-lanes: virt-lanesd refused the containers request: %s\n",
                message);
        return 1;
    }
    if (json) {
        printf("%s\n", json_object_to_json_string_ext(reply,
                                                      JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
    }

    {
        g_autofree char *source = text_or(reply, "stats_source", "?");
        g_autofree char *audit = text_or(reply, "audit_log", "none");
        json_object *dry = member(reply, "dry_run", json_type_boolean);

        printf("Cycle every %" G_GINT64_FORMAT " s (next in %" G_GINT64_FORMAT
               " s), statistics from %s, audit log %s%s\n",
               integer(reply, "tick_s"), integer(reply, "next_cycle_s"), source,
               audit, dry && json_object_get_boolean(dry) ? ", DRY RUN" : "");
    }
    cycle = member(reply, "last_cycle", json_type_object);
    if (cycle) {
        g_autofree char *time = text_or(cycle, "time", "?");
        g_autofree char *sample = number_text(cycle, "sample_ms");
        g_autofree char *sample_cpu = number_text(cycle, "sample_cpu_ms");
        g_autofree char *tick_cpu = number_text(cycle, "tick_cpu_ms");

        printf("Last cycle %s: %" G_GINT64_FORMAT " domains sampled in %s ms (%s ms CPU), ticks %s ms CPU\n",
               time, integer(cycle, "domains"), sample, sample_cpu, tick_cpu);
        if (member(cycle, "error", json_type_string)) {
            g_autofree char *why = text_or(cycle, "error", "?");

            printf("  no statistics: %s\n", why);
        }
        {
            json_object *host = member(cycle, "host", json_type_object);
            g_autofree char *cpu = number_text(host, "cpu");
            g_autofree char *memory = number_text(host, "memory");

            printf("Host load: CPU %s %%, memory %s %%\n", cpu, memory);
        }
    }

    containers = member(reply, "containers", json_type_array);
    if (!containers || json_object_array_length(containers) == 0) {
        printf("No containers in the policy\n");
        return 0;
    }
    for (i = 0; i < json_object_array_length(containers); i++)
        print_container(json_object_array_get_idx(containers, i));
    return 0;
}
