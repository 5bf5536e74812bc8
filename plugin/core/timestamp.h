/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * timestamp.h: the one time format of status output and event records
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Formats @real_us (microseconds since the epoch, as g_get_real_time()
 * returns) as ISO 8601 in UTC with milliseconds: "2026-01-31T12:34:56.789Z".
 * Caller frees the result.
 */
char *vl_timestamp_format(gint64 real_us);

G_END_DECLS
