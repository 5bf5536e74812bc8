/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt-lanes lanes [list] [--json]
 * virt-lanes lanes up PEER --plan ID (--count N | --lane IF...) [--json]
 * virt-lanes lanes down --plan ID
 *
 * The lanes the daemon brought up (state, tables, plans), and bringing
 * lanes up or down by hand (what 'virt-lanes migrate' does for a
 * migration).  Exit 0 when everything asked for happened, 1 when the
 * daemon refused or a lane failed, 2 on usage errors.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipc.h"
#include "vl-autoptr.h"

/* Listing answers at once; up and down wait for scripts (each bounded
 * by the policy's lane_up_max_s, at most 600 s) queued behind others. */
#define LIST_TIMEOUT_MS 10000
#define CHANGE_TIMEOUT_S 120

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
text(json_object *obj, const char *key, const char *fallback)
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

static void
print_json(json_object *obj)
{
    printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Sends @request; the validated reply, or NULL after saying why. */
static json_object *
call(const VlCliOptions *opts, json_object *request, guint timeout_ms, const char *what)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) reply = NULL;
    json_object *ok;

    reply = vl_ipc_call(opts->socket_path, request, timeout_ms, &error);
    if (!reply) {
        fprintf(stderr, "virt-lanes: Cannot reach virt-lanesd at '%s': %s\n",
                opts->socket_path, error->message);
        return NULL;
    }
    ok = member(reply, "ok", json_type_boolean);
    if (!ok || !json_object_get_boolean(ok)) {
        g_autofree char *message = text(reply, "error", "no reason given");

        if (opts->json)
            print_json(reply);
        fprintf(stderr, "virt-lanes: virt-lanesd refused %s: %s\n", what, message);
        return NULL;
    }
    return g_steal_pointer(&reply);
}

static void
print_lanes(json_object *reply)
{
    json_object *lanes = member(reply, "lanes", json_type_array);
    json_object *incoming = member(reply, "incoming", json_type_array);
    g_autofree char *journal = text(reply, "journal", "?");
    size_t n = lanes ? json_object_array_length(lanes) : 0;
    size_t m = incoming ? json_object_array_length(incoming) : 0;
    size_t i;

    printf("Lanes:       %zu (journal %s)\n", n, journal);
    if (n > 0)
        printf("  %-15s %-10s %-11s %-15s %-19s %-6s %s\n", "INTERFACE", "STATE", "PEER",
               "TO", "ADDRESS", "TABLE", "PLANS");
    for (i = 0; i < n; i++) {
        json_object *l = json_object_array_get_idx(lanes, i);
        json_object *plans = member(l, "plans", json_type_array);
        json_object *table = member(l, "table", json_type_int);
        g_autofree char *name = text(l, "interface", "?");
        g_autofree char *state = text(l, "state", "?");
        g_autofree char *peer = text(l, "peer", "?");
        g_autofree char *to = text(l, "peer_migration_address", "?");
        g_autofree char *address = text(l, "address", "?");
        GString *p = g_string_new(NULL);
        size_t j;

        for (j = 0; plans && j < json_object_array_length(plans); j++) {
            json_object *id = json_object_array_get_idx(plans, j);

            if (json_object_is_type(id, json_type_string))
                g_string_append_printf(p, "%s%s", j ? "," : "", json_object_get_string(id));
        }
        for (j = 0; j < p->len; j++) {
            if ((guchar) p->str[j] < 0x20 || p->str[j] == 0x7f)
                p->str[j] = '?';
        }
        printf("  %-15s %-10s %-11s %-15s %-19s %-6" G_GINT64_FORMAT " %s\n", name, state,
               peer, to, address, table ? json_object_get_int64(table) : (gint64) -1,
               p->len ? p->str : "-");
        if (member(l, "error", json_type_string)) {
            g_autofree char *err = text(l, "error", "");

            printf("    error: %s\n", err);
        }
        g_string_free(p, TRUE);
    }
    printf("Incoming:    %zu\n", m);
    for (i = 0; i < m; i++) {
        json_object *in = json_object_array_get_idx(incoming, i);
        g_autofree char *dom = text(in, "domain", "?");
        g_autofree char *plan = text(in, "plan_id", "?");
        g_autofree char *peer = text(in, "peer", "?");
        g_autofree char *since = text(in, "since", "?");

        printf("  %s from %s, plan %s, since %s\n", dom, peer, plan, since);
    }
}

static int
lanes_list(const VlCliOptions *opts)
{
    g_autoptr(json_object) request = vl_ipc_message_new("lanes");
    g_autoptr(json_object) reply = call(opts, request, LIST_TIMEOUT_MS, "the lanes request");

    if (!reply)
        return 1;
    if (opts->json)
        print_json(reply);
    else
        print_lanes(reply);
    return 0;
}

/* Prints what came up; 0 when every lane did and is steered to. */
static int
print_report(const VlCliOptions *opts, json_object *reply)
{
    json_object *report = member(reply, "report", json_type_object);
    json_object *lanes = member(report, "lanes", json_type_array);
    size_t n = lanes ? json_object_array_length(lanes) : 0;
    gboolean all = n > 0;
    size_t i;

    if (opts->json)
        print_json(reply);
    for (i = 0; i < n; i++) {
        json_object *l = json_object_array_get_idx(lanes, i);
        json_object *up = member(l, "up", json_type_boolean);
        g_autofree char *name = text(l, "interface", "?");

        if (up && json_object_get_boolean(up)) {
            if (!opts->json)
                printf("%s: up\n", name);
        } else {
            g_autofree char *err = text(l, "error", "not up");

            all = FALSE;
            fprintf(stderr, "virt-lanes: lane '%s' is not up: %s\n", name, err);
        }
    }
    if (member(report, "steering_error", json_type_string)) {
        g_autofree char *err = text(report, "steering_error", "");

        all = FALSE;
        fprintf(stderr, "virt-lanes: connections are not steered over the lanes: %s\n", err);
    }
    return all ? 0 : 1;
}

static int G_GNUC_PRINTF(1, 2)
usage_error(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list args;

    va_start(args, fmt);
    msg = g_strdup_vprintf(fmt, args);
    va_end(args);
    fprintf(stderr, "virt-lanes lanes: %s\nTry 'virt-lanes lanes --help'.\n", msg);
    return 2;
}

/* An argument from the command line, escaped for a message. */
static char *
quoted(const char *arg)
{
    return g_strescape(arg, NULL);
}

int
vl_cmd_lanes(const VlCliOptions *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) octx = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) request = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autofree char *plan = NULL;
    g_auto(GStrv) lanes = NULL;
    VlCliOptions opts = *global;
    gboolean json = global->json;
    int count = 0;
    int timeout_s = CHANGE_TIMEOUT_S;
    const char *action = "list";
    GOptionEntry entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print the daemon's reply as JSON", NULL },
        { "plan", 'p', 0, G_OPTION_ARG_STRING, &plan, "The plan id (up, down)", "ID" },
        { "count", 'n', 0, G_OPTION_ARG_INT, &count,
          "up: the peer's first N lanes of the policy", "N" },
        { "lane", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &lanes,
          "up: this lane (repeatable)", "IF" },
        { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout_s,
          "up, down: wait at most S seconds (default 120)", "S" },
        { NULL }
    };

    octx = g_option_context_new("[list | up PEER | down] - show, bring up or take down lanes");
    g_option_context_set_summary(octx,
                                 "  lanes [list]                            the lanes and incoming migrations\n"
                                 "  lanes up PEER --plan ID --count N       bring up PEER's first N lanes\n"
                                 "  lanes up PEER --plan ID --lane IF...    bring up these lanes of PEER\n"
                                 "  lanes down --plan ID                    release the plan's lanes");
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error)) {
        fprintf(stderr, "virt-lanes lanes: %s\n", error->message);
        return 2;
    }
    opts.json = json;
    if (argc > 1)
        action = argv[1];
    if (timeout_s < 1 || timeout_s > 3600)
        return usage_error("--timeout must be 1 to 3600 seconds");

    if (g_str_equal(action, "list")) {
        if (argc > 2) {
            g_autofree char *q = quoted(argv[2]);

            return usage_error("Unexpected argument '%s'", q);
        }
        if (plan || count || lanes)
            return usage_error("'list' takes no --plan, --count or --lane");
        return lanes_list(&opts);
    }
    if (g_str_equal(action, "up")) {
        if (argc != 3)
            return usage_error("'up' needs exactly one PEER");
        if (!plan)
            return usage_error("'up' needs --plan ID");
        if ((count > 0) == (lanes != NULL))
            return usage_error("'up' needs either --count N or --lane IF");
        if (lanes == NULL && (count < 1 || count > 64))
            return usage_error("--count must be 1 to 64");
        request = vl_ipc_message_new("lanes-up");
        json_object_object_add(request, "plan_id", json_object_new_string(plan));
        json_object_object_add(request, "peer", json_object_new_string(argv[2]));
        if (lanes) {
            json_object *array = json_object_new_array();
            guint i;

            for (i = 0; lanes[i]; i++)
                json_object_array_add(array, json_object_new_string(lanes[i]));
            json_object_object_add(request, "lanes", array);
        } else {
            json_object_object_add(request, "count", json_object_new_int(count));
        }
        reply = call(&opts, request, (guint) timeout_s * 1000, "to bring lanes up");
        return reply ? print_report(&opts, reply) : 1;
    }
    if (g_str_equal(action, "down")) {
        if (argc > 2) {
            g_autofree char *q = quoted(argv[2]);

            return usage_error("Unexpected argument '%s'", q);
        }
        if (!plan)
            return usage_error("'down' needs --plan ID");
        if (count || lanes)
            return usage_error("'down' takes no --count or --lane");
        request = vl_ipc_message_new("lanes-down");
        json_object_object_add(request, "plan_id", json_object_new_string(plan));
        reply = call(&opts, request, (guint) timeout_s * 1000, "to take lanes down");
        if (!reply)
            return 1;
        if (opts.json) {
            print_json(reply);
        } else {
            json_object *down = member(reply, "down", json_type_int);

            printf("%" G_GINT64_FORMAT " lane(s) taken down\n",
                   down ? json_object_get_int64(down) : (gint64) 0);
        }
        return 0;
    }
    {
        g_autofree char *q = quoted(action);

        return usage_error("Unknown action '%s' (list, up, down)", q);
    }
}
