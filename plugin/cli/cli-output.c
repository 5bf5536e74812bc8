/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <math.h>
#include <stdio.h>

#include "cli-output.h"
#include "vl-error.h"

gboolean
vl_cli_parse_uint(const char *option, const char *text, guint64 min, guint64 max,
                  guint64 *out, GError **error)
{
    guint64 value = 0;

    if (!g_ascii_string_to_unsigned(text, 10, min, max, &value, NULL)) {
        g_autofree char *shown = g_strescape(text, NULL);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Option '%s' takes a whole number from %" G_GUINT64_FORMAT
                    " to %" G_GUINT64_FORMAT ", not '%s'",
                    option, min, max, shown);
        return FALSE;
    }
    *out = value;
    return TRUE;
}

int
vl_cli_usage(GOptionContext *octx, const char *command, const char *problem)
{
    g_autofree char *help = g_option_context_get_help(octx, TRUE, NULL);

    if (problem)
        fprintf(stderr, "virt-lanes %s: %s\n", command, problem);
    fputs(help, stderr);
    return 2;
}

char *
vl_cli_shown(const char *text)
{
    char *out = g_utf8_make_valid(text ? text : "", -1);
    char *p;

    for (p = out; *p; p++) {
        if ((guchar)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return out;
}

void
vl_cli_print_json(json_object *obj)
{
    printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(stdout);
}

json_object *
vl_cli_json_event(const char *event)
{
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "event", json_object_new_string(event));
    return obj;
}

json_object *
vl_cli_json_num(double value)
{
    return isfinite(value) ? json_object_new_double(value) : NULL;
}

char *
vl_cli_format_seconds(double s, const char *unknown, const char *never)
{
    if (isnan(s))
        return g_strdup(unknown);
    if (isinf(s))
        return g_strdup(never);
    if (s >= 3600)
        return g_strdup_printf("%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    if (s >= 100)
        return g_strdup_printf("%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    return g_strdup_printf("%.1f s", s);
}
