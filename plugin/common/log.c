/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "vl-error.h"

static FILE *log_stream;
static char *log_path;

static const char *
level_name(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR)
        return "error";
    if (level & G_LOG_LEVEL_CRITICAL)
        return "critical";
    if (level & G_LOG_LEVEL_WARNING)
        return "warning";
    if (level & G_LOG_LEVEL_MESSAGE)
        return "notice";
    if (level & G_LOG_LEVEL_INFO)
        return "info";
    return "debug";
}

static GLogWriterOutput
vl_log_writer(GLogLevelFlags level,
              const GLogField *fields,
              gsize n_fields,
              gpointer user_data G_GNUC_UNUSED)
{
    FILE *out = log_stream ? log_stream : stderr;
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *stamp = NULL;
    const char *message = NULL;
    const char *domain = NULL;
    gsize i;

    for (i = 0; i < n_fields; i++) {
        if (g_str_equal(fields[i].key, "MESSAGE"))
            message = fields[i].value;
        else if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
            domain = fields[i].value;
    }

    /* Honours --verbose (g_log_set_debug_enabled) and G_MESSAGES_DEBUG. */
    if (g_log_writer_default_would_drop(level, domain))
        return G_LOG_WRITER_HANDLED;

    stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S.%f");
    /* %f gives microseconds; milliseconds are enough for a log. */
    if (stamp && strlen(stamp) > 23)
        stamp[23] = '\0';

    fprintf(out, "%s %s%s%s: %s\n", stamp ? stamp : "-",
            domain && !g_str_equal(domain, G_LOG_DOMAIN) ? domain : "",
            domain && !g_str_equal(domain, G_LOG_DOMAIN) ? " " : "",
            level_name(level), message ? message : "");
    fflush(out);
    return G_LOG_WRITER_HANDLED;
}

gboolean
vl_log_setup(const char *log_file, gboolean verbose, GError **error)
{
    if (verbose)
        g_log_set_debug_enabled(TRUE);

    if (log_file) {
        FILE *stream = fopen(log_file, "ae");

        if (!stream) {
            vl_error_set_from_errno(error, errno, "Cannot open log file '%s'",
                                    log_file);
            return FALSE;
        }
        log_stream = stream;
        g_free(log_path);
        log_path = g_strdup(log_file);
    }

    g_log_set_writer_func(vl_log_writer, NULL, NULL);
    return TRUE;
}

gboolean
vl_log_reopen(GError **error)
{
    FILE *stream;

    if (!log_path)
        return TRUE;

    stream = fopen(log_path, "ae");
    if (!stream) {
        vl_error_set_from_errno(error, errno, "Cannot reopen log file '%s'",
                                log_path);
        return FALSE;
    }
    if (log_stream)
        fclose(log_stream);
    log_stream = stream;
    return TRUE;
}
