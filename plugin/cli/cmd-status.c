/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-lanes status: what the daemon knows, for an admin or a script. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipc.h"
#include "vl-autoptr.h"

/* The daemon answers at once; this only bounds a wedged daemon. */
#define STATUS_TIMEOUT_MS 10000
/* Events per domain shown without --verbose. */
#define STATUS_EVENTS_SHOWN 5

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

/* A string member made safe for a terminal (control characters become
 * '?'), or "?" when missing. */
static char *
text(json_object *obj, const char *key)
{
    json_object *value = member(obj, key, json_type_string);
    char *copy;
    char *p;

    if (!value)
        return g_strdup("?");
    copy = g_strdup(json_object_get_string(value));
    for (p = copy; *p; p++) {
        if ((guchar)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return copy;
}

static gint64
number(json_object *obj, const char *key)
{
    json_object *value = member(obj, key, json_type_int);

    return value ? json_object_get_int64(value) : -1;
}

static char *
format_duration(gint64 secs)
{
    if (secs < 0)
        return g_strdup("?");
    if (secs >= 86400)
        return g_strdup_printf("%" G_GINT64_FORMAT "d %02dh %02dm",
                               secs / 86400, (int)(secs % 86400 / 3600),
                               (int)(secs % 3600 / 60));
    if (secs >= 3600)
        return g_strdup_printf("%dh %02dm %02ds", (int)(secs / 3600),
                               (int)(secs % 3600 / 60), (int)(secs % 60));
    if (secs >= 60)
        return g_strdup_printf("%dm %02ds", (int)(secs / 60), (int)(secs % 60));
    return g_strdup_printf("%ds", (int)secs);
}

static void
print_daemon(json_object *reply)
{
    json_object *daemon = member(reply, "daemon", json_type_object);
    g_autofree char *version = text(daemon, "version");
    g_autofree char *started = text(daemon, "started");
    g_autofree char *socket_path = text(daemon, "socket");
    g_autofree char *config = text(daemon, "config");
    g_autofree char *uptime = format_duration(number(daemon, "uptime_s"));

    printf("Daemon:      virt-lanesd %s, pid %" G_GINT64_FORMAT ", up %s (since %s)\n",
           version, number(daemon, "pid"), uptime, started);
    printf("  socket:    %s\n", socket_path);
    printf("  config:    %s\n", config);
}

static void
print_connection(json_object *reply)
{
    json_object *conn = member(reply, "connection", json_type_object);
    json_object *connected = member(conn, "connected", json_type_boolean);
    g_autofree char *uri = text(conn, "uri");
    g_autofree char *since = text(conn, "since");
    gint64 reconnects = number(conn, "reconnects");

    printf("Connection:  %s, %s since %s, %" G_GINT64_FORMAT " reconnect%s\n",
           uri,
           connected && json_object_get_boolean(connected) ?
           "connected" : "NOT connected",
           since, reconnects, reconnects == 1 ? "" : "s");
    if (member(conn, "last_error", json_type_string)) {
        g_autofree char *last_error = text(conn, "last_error");

        printf("  last error: %s\n", last_error);
    }
}

/* A number member, integer or not; NAN when missing or null. */
static double
real(json_object *obj, const char *key)
{
    json_object *value = NULL;

    if (!obj || !json_object_object_get_ex(obj, key, &value) ||
        !(json_object_is_type(value, json_type_int) ||
          json_object_is_type(value, json_type_double)))
        return NAN;
    return json_object_get_double(value);
}

/* What the daemon did to an outgoing migration (docs/lanes.md). */
static void
print_levers(json_object *levers)
{
    size_t n = levers ? json_object_array_length(levers) : 0;
    size_t i;

    for (i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(levers, i);
        g_autofree char *lever = NULL;
        g_autofree char *outcome = NULL;
        g_autofree char *why = NULL;
        double value;

        if (!json_object_is_type(d, json_type_object))
            continue;
        lever = text(d, "lever");
        outcome = text(d, "outcome");
        why = member(d, "why", json_type_string) ? text(d, "why") : g_strdup("");
        value = real(d, "value");
        printf("    lever %s", lever);
        if (isfinite(value))
            printf(" %.0f%s", value, g_str_equal(lever, "downtime") ? " ms" : " MiB/s");
        printf(" %s at iteration %.0f, %.1f s: %s\n", outcome,
               real(d, "iteration"), real(d, "elapsed_s"), why);
    }
}

static void
print_migration(json_object *m)
{
    json_object *active = member(m, "active", json_type_boolean);
    g_autofree char *direction = NULL;
    g_autofree char *verdict = NULL;
    g_autofree char *outcome = NULL;
    double eta;

    if (!m)
        return;
    direction = text(m, "direction");
    verdict = text(m, "verdict");
    eta = real(m, "eta_s");
    if (g_strcmp0(direction, "in") == 0) {
        /* libvirt keeps an incoming migration's statistics on its
         * source: there are no numbers to show here. */
        if (active && json_object_get_boolean(active)) {
            printf("    migration in: running (its statistics are on the source host)\n");
        } else {
            outcome = member(m, "outcome", json_type_string) ?
                text(m, "outcome") : g_strdup("?");
            printf("    last migration in: %s\n", outcome);
        }
    } else if (active && json_object_get_boolean(active)) {
        printf("    migration %s: %.1f s elapsed, ETA ", direction,
               real(m, "elapsed_s"));
        if (isfinite(eta))
            printf("%.1f s", eta);
        else
            printf("%s", "unknown");
        printf(", %s, iteration %.0f, %.0f MiB left, %.1f MiB/s, dirty %.1f MiB/s\n",
               verdict, real(m, "iteration"),
               real(m, "remaining_bytes") / 1048576.0,
               real(m, "bandwidth_bps") / 1048576.0,
               real(m, "dirty_rate_bps") / 1048576.0);
    } else {
        outcome = member(m, "outcome", json_type_string) ?
            text(m, "outcome") : g_strdup("?");
        printf("    last migration %s: %s after %.1f s (%s)\n", direction,
               outcome, real(m, "elapsed_s"), verdict);
    }
    print_levers(member(m, "levers", json_type_array));
}

static void
print_domains(json_object *reply, gboolean verbose)
{
    json_object *domains = member(reply, "domains", json_type_array);
    size_t n = domains ? json_object_array_length(domains) : 0;
    size_t i;

    printf("Domains:     %zu\n", n);
    for (i = 0; i < n; i++) {
        json_object *dom = json_object_array_get_idx(domains, i);
        json_object *events = member(dom, "events", json_type_array);
        size_t n_events = events ? json_object_array_length(events) : 0;
        size_t first = 0;
        g_autofree char *name = text(dom, "name");
        g_autofree char *state = text(dom, "state");
        g_autofree char *uuid = member(dom, "uuid", json_type_string) ?
            text(dom, "uuid") : g_strdup("-");
        size_t j;

        printf("  %s  %s  %s\n", name, state, uuid);
        print_migration(member(dom, "migration", json_type_object));
        if (!verbose && n_events > STATUS_EVENTS_SHOWN) {
            first = n_events - STATUS_EVENTS_SHOWN;
            printf("    (%zu older events; --verbose shows all)\n", first);
        }
        for (j = first; j < n_events; j++) {
            json_object *ev = json_object_array_get_idx(events, j);
            g_autofree char *time = text(ev, "time");
            g_autofree char *source = text(ev, "source");
            g_autofree char *what = text(ev, "event");

            printf("    %s  %-7s  %s\n", time, source, what);
        }
    }
}

int
vl_cmd_status(const VlCliOptions *opts, int argc, char **argv)
{
    g_autoptr(GOptionContext) octx = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) request = NULL;
    g_autoptr(json_object) reply = NULL;
    gboolean json = opts->json;
    gboolean verbose = opts->verbose;
    GOptionEntry entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
          "Print the daemon's status reply as JSON", NULL },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
          "Show every recorded event", NULL },
        { NULL }
    };
    json_object *ok;

    octx = g_option_context_new("- show the daemon, its libvirt connection and the domains");
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error)) {
        fprintf(stderr, "virt-lanes status: %s\n", error->message);
        return 2;
    }
    if (argc > 1) {
        g_autofree char *shown = g_strescape(argv[1], NULL);

        fprintf(stderr, "virt-lanes status: Unexpected argument '%s'\n", shown);
        return 2;
    }

    request = vl_ipc_message_new("status");
    reply = vl_ipc_call(opts->socket_path, request, STATUS_TIMEOUT_MS, &error);
    if (!reply) {
        fprintf(stderr, "virt-lanes: Cannot reach virt-lanesd at '%s': %s\n",
                opts->socket_path, error->message);
        return 1;
    }

    ok = member(reply, "ok", json_type_boolean);
    if (!ok || !json_object_get_boolean(ok)) {
        g_autofree char *message = text(reply, "error");

        fprintf(stderr, "virt-lanes: virt-lanesd refused the status request: %s\n",
                message);
        return 1;
    }

    if (json) {
        printf("%s\n", json_object_to_json_string_ext(reply,
                                                      JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
    }

    print_daemon(reply);
    print_connection(reply);
    print_domains(reply, verbose);
    return 0;
}
