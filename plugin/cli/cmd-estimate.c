/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt-lanes estimate DOMAIN: how long migrating DOMAIN would take over
 * the base path and 0..N lanes besides it (as 'virt-lanes migrate' counts
 * them: N lanes = N + 1 links), as the daemon predicts it from its
 * samples, its history and the policy.  Without a fresh dirty-rate sample the command first asks
 * the daemon to measure (each configured length in turn, with progress
 * on stderr), unless --no-measure: then the guest is assumed idle and
 * the output says so.  --measure discards the daemon's samples of the
 * domain and measures afresh (after a reboot or a change of workload).
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cmd-estimate-priv.h"
#include "commands.h"
#include "ipc.h"
#include "vl-autoptr.h"

#define ESTIMATE_TIMEOUT_MS 30000
/* A measurement takes its length plus QEMU's and libvirt's overhead, and
 * may wait for a background one to finish first. */
#define MEASURE_SLACK_MS 130000
#define MIB (1048576.0)
#define GIB (1024 * MIB)

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

/* A number member (integer or not), or NAN. */
static double
number(json_object *obj, const char *key)
{
    json_object *value = NULL;

    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &value))
        return NAN;
    if (json_object_is_type(value, json_type_int) ||
        json_object_is_type(value, json_type_double))
        return json_object_get_double(value);
    return NAN;
}

static char *
bytes_str(double b)
{
    if (!isfinite(b))
        return g_strdup("?");
    if (b >= GIB)
        return g_strdup_printf("%.2f GiB", b / GIB);
    return g_strdup_printf("%.0f MiB", b / MIB);
}

static char *
rate_str(double bps)
{
    if (!isfinite(bps))
        return g_strdup("?");
    return g_strdup_printf("%.1f MiB/s", bps / MIB);
}

static void
format_inputs(json_object *reply, GString *out)
{
    json_object *in = member(reply, "inputs", json_type_object);
    json_object *curve = member(in, "curve", json_type_array);
    json_object *fresh = member(in, "dirty_fresh", json_type_boolean);
    g_autofree char *domain = text(reply, "domain");
    g_autofree char *mem = bytes_str(number(in, "memory_bytes"));
    g_autofree char *zero = bytes_str(number(in, "zero_bytes"));
    g_autofree char *zero_src = text(in, "zero_source");
    g_autofree char *dirty = rate_str(number(in, "dirty_rate_bps"));
    g_autofree char *dirty_src = text(in, "dirty_source");
    g_autofree char *over_src = text(in, "overhead_source");
    double age = number(in, "dirty_age_s");
    double cap = number(in, "time_cap_s");
    size_t n = curve ? json_object_array_length(curve) : 0;
    size_t i;

    g_string_append_printf(out, "Domain '%s'", domain);
    if (member(reply, "peer", json_type_string)) {
        g_autofree char *peer = text(reply, "peer");

        g_string_append_printf(out, " to peer '%s'", peer);
    }
    g_string_append_printf(out, ": %s of RAM, %s never touched (%s)\n",
                           mem, zero, zero_src);

    g_string_append_printf(out, "Dirty rate:  %s (%s", dirty, dirty_src);
    if (isfinite(age))
        g_string_append_printf(out, ", %.0f s ago, %s, %.0f measurement%s",
                               age, fresh && json_object_get_boolean(fresh) ?
                               "fresh" : "NOT fresh",
                               number(in, "measurements"),
                               number(in, "measurements") == 1 ? "" : "s");
    g_string_append(out, ")\n");
    if (n > 0) {
        g_string_append(out, "  f(t):");
        for (i = 0; i < n; i++) {
            json_object *pt = json_object_array_get_idx(curve, i);

            g_string_append_printf(out, "%s %g s: %.0f MiB", i ? "," : "",
                                   number(pt, "seconds"),
                                   number(pt, "bytes") / MIB);
        }
        g_string_append(out, "\n");
    }
    g_string_append_printf(out, "Setup + resume: %.1f s (%s); downtime limit %.0f ms; ",
                           number(in, "overhead_s"), over_src,
                           number(in, "max_downtime_s") * 1000);
    if (isfinite(cap) && cap > 0)
        g_string_append_printf(out, "time cap %.0f s\n", cap);
    else
        g_string_append(out, "no time cap\n");
}

static void
format_rows(json_object *reply, GString *out)
{
    json_object *rows = member(reply, "rows", json_type_array);
    size_t n = rows ? json_object_array_length(rows) : 0;
    size_t i;

    g_string_append(out, "\nlanes  links  channels  bandwidth    per link     source    total time  downtime  verdict\n");
    for (i = 0; i < n; i++) {
        json_object *row = json_object_array_get_idx(rows, i);
        g_autofree char *bw = rate_str(number(row, "bandwidth_bps"));
        g_autofree char *per = rate_str(number(row, "bandwidth_per_link_bps"));
        g_autofree char *src = member(row, "bandwidth_source", json_type_string) ?
            text(row, "bandwidth_source") : g_strdup("-");
        g_autofree char *verdict = text(row, "verdict");
        double total = number(row, "total_time_s");
        double down = number(row, "downtime_s");
        g_autofree char *total_s = isfinite(total) ?
            g_strdup_printf("%.1f s", total) : g_strdup("-");
        g_autofree char *down_s = isfinite(down) ?
            g_strdup_printf("%.0f ms", down * 1000) : g_strdup("-");

        g_string_append_printf(out, "%5.0f  %5.0f  %8.0f  %-11s  %-11s  %-8s  %10s  %8s  %s\n",
                               number(row, "lanes"), number(row, "links"),
                               number(row, "channels"),
                               bw, per, src, total_s, down_s, verdict);
    }
}

void
vl_cmd_estimate_format(json_object *reply, GString *out)
{
    json_object *notes = member(reply, "notes", json_type_array);
    size_t n = notes ? json_object_array_length(notes) : 0;
    size_t i;

    format_inputs(reply, out);
    format_rows(reply, out);
    for (i = 0; i < n; i++) {
        json_object *note = json_object_array_get_idx(notes, i);
        g_autofree char *t = NULL;
        char *p;

        if (!json_object_is_type(note, json_type_string))
            continue;
        t = g_strdup(json_object_get_string(note));
        for (p = t; *p; p++) {
            if ((guchar)*p < 0x20 || *p == 0x7f)
                *p = '?';
        }
        g_string_append_printf(out, "%s%s\n", i ? "" : "\n", t);
    }
}

static json_object *
call(const VlCliOptions *opts, json_object *request, guint timeout_ms,
     const char *what)
{
    g_autoptr(GError) error = NULL;
    json_object *reply;
    json_object *ok;

    reply = vl_ipc_call(opts->socket_path, request, timeout_ms, &error);
    if (!reply) {
        fprintf(stderr, "virt-lanes: Cannot reach virt-lanesd at '%s': %s\n",
                opts->socket_path, error->message);
        return NULL;
    }
    ok = member(reply, "ok", json_type_boolean);
    if (!ok || !json_object_get_boolean(ok)) {
        g_autofree char *message = text(reply, "error");

        fprintf(stderr, "virt-lanes: virt-lanesd refused the %s request: %s\n",
                what, message);
        json_object_put(reply);
        return NULL;
    }
    return reply;
}

static json_object *
estimate_request(const char *domain, const char *to, int lanes, double cap)
{
    json_object *req = vl_ipc_message_new("estimate");

    json_object_object_add(req, "domain", json_object_new_string(domain));
    if (to)
        json_object_object_add(req, "to", json_object_new_string(to));
    if (lanes != G_MININT)
        json_object_object_add(req, "lanes", json_object_new_int(lanes));
    if (cap > 0)
        json_object_object_add(req, "time_cap_s", json_object_new_double(cap));
    return req;
}

/* Measures each configured length in turn; FALSE when one failed. */
static gboolean
measure(const VlCliOptions *opts, const char *domain, json_object *reply,
        gboolean reset)
{
    json_object *in = member(reply, "inputs", json_type_object);
    json_object *periods = member(in, "measure_periods", json_type_array);
    size_t n = periods ? json_object_array_length(periods) : 0;
    g_autofree char *shown = g_strescape(domain, NULL);
    size_t i;

    for (i = 0; i < n; i++) {
        g_autoptr(json_object) req = vl_ipc_message_new("measure");
        g_autoptr(json_object) got = NULL;
        json_object *p = json_object_array_get_idx(periods, i);
        int period = json_object_get_int(p);

        if (!json_object_is_type(p, json_type_int) || period < 1 ||
            period > 60)
            continue;
        fprintf(stderr, "Measuring the dirty rate of '%s' over %d s (%zu of %zu)...\n",
                shown, period, i + 1, n);
        json_object_object_add(req, "domain", json_object_new_string(domain));
        json_object_object_add(req, "period_s", json_object_new_int(period));
        if (reset && i == 0)
            json_object_object_add(req, "reset", json_object_new_boolean(TRUE));
        got = call(opts, req, period * 1000 + MEASURE_SLACK_MS, "measure");
        if (!got)
            return FALSE;
        fprintf(stderr, "  %.1f MiB/s\n",
                number(member(got, "sample", json_type_object),
                       "bytes_per_second") / MIB);
    }
    return TRUE;
}

int
vl_cmd_estimate(const VlCliOptions *opts, int argc, char **argv)
{
    g_autoptr(GOptionContext) octx = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) request = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autofree char *to = NULL;
    gboolean json = opts->json;
    gboolean no_measure = FALSE;
    gboolean force = FALSE;
    int lanes = G_MININT;       /* not given: the policy's max_lanes */
    double cap = 0;
    GOptionEntry entries[] = {
        { "to", 't', 0, G_OPTION_ARG_STRING, &to,
          "The peer host, by its policy name (default: the only one)", "HOST" },
        { "lanes", 'l', 0, G_OPTION_ARG_INT, &lanes,
          "Estimate for 0..N lanes besides the base path (default: the policy's max_lanes)", "N" },
        { "time-cap", 0, 0, G_OPTION_ARG_DOUBLE, &cap,
          "A migration running longer than S seconds counts as failed", "S" },
        { "measure", 'm', 0, G_OPTION_ARG_NONE, &force,
          "Discard the daemon's samples of DOMAIN and measure now", NULL },
        { "no-measure", 'n', 0, G_OPTION_ARG_NONE, &no_measure,
          "Without a fresh sample, assume an idle guest instead of measuring", NULL },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
          "Print the daemon's reply as JSON", NULL },
        { NULL }
    };
    json_object *in;
    json_object *fresh;
    GString *out;

    octx = g_option_context_new("DOMAIN - predict the migration time of DOMAIN");
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error)) {
        fprintf(stderr, "virt-lanes estimate: %s\n", error->message);
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "virt-lanes estimate: %s\n",
                argc < 2 ? "Need a DOMAIN" : "Only one DOMAIN, please");
        return 2;
    }
    if (lanes != G_MININT && (lanes < 0 || lanes > 16)) {
        fprintf(stderr, "virt-lanes estimate: --lanes must be from 0 to 16, not '%d'\n",
                lanes);
        return 2;
    }
    if (force && no_measure) {
        fprintf(stderr, "virt-lanes estimate: --measure and --no-measure exclude each other\n");
        return 2;
    }
    if (!isfinite(cap) || cap < 0 || cap > 86400) {
        fprintf(stderr, "virt-lanes estimate: --time-cap must be from 0 to 86400 seconds\n");
        return 2;
    }

    request = estimate_request(argv[1], to, lanes, cap);
    reply = call(opts, request, ESTIMATE_TIMEOUT_MS, "estimate");
    if (!reply)
        return 1;
    in = member(reply, "inputs", json_type_object);
    fresh = member(in, "dirty_fresh", json_type_boolean);
    if (force || (!no_measure && !(fresh && json_object_get_boolean(fresh)))) {
        if (!force)
            fprintf(stderr, "No fresh dirty-rate sample of this domain; measuring now.\n");
        if (measure(opts, argv[1], reply, force)) {
            g_clear_pointer(&reply, json_object_put);
            reply = call(opts, request, ESTIMATE_TIMEOUT_MS, "estimate");
            if (!reply)
                return 1;
        } else {
            fprintf(stderr, "virt-lanes: Estimating without a measurement\n");
        }
    }

    if (json) {
        printf("%s\n", json_object_to_json_string_ext(reply,
                                                      JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
    }
    out = g_string_new(NULL);
    vl_cmd_estimate_format(reply, out);
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
    return 0;
}
