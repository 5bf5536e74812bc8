/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-output.h: what "virt-lanes migrate" and "virt-lanes evacuate" share
 * to read numbers from argv and to print for people and for --json
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

/*
 * A whole number from @min to @max in @text, the value of @option;
 * otherwise VL_ERROR_INVALID naming the option, the range and @text
 * (escaped).  @out is left alone on failure.
 */
gboolean vl_cli_parse_uint(const char *option, const char *text, guint64 min,
                           guint64 max, guint64 *out, GError **error);

/* Prints "virt-lanes COMMAND: PROBLEM" (when @problem) and the help of
 * @octx on stderr; returns 2, the usage exit code. */
int vl_cli_usage(GOptionContext *octx, const char *command, const char *problem);

/* @text made safe for a terminal: valid UTF-8, control characters '?'
 * (transfer full; NULL prints as ""). */
char *vl_cli_shown(const char *text);

/* One JSON line on stdout, flushed (--json). */
void vl_cli_print_json(json_object *obj);

/* {"event": @event} (transfer full). */
json_object *vl_cli_json_event(const char *event);

/* A number, or NULL (JSON null) when it is not finite. */
json_object *vl_cli_json_num(double value);

/* "12.3 s", "4m05s", "1h02m"; @unknown for NAN, @never for infinity
 * (transfer full). */
char *vl_cli_format_seconds(double s, const char *unknown, const char *never);

G_END_DECLS
