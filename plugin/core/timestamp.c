/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include "timestamp.h"

char *
vl_timestamp_format(gint64 real_us)
{
    gint64 secs = real_us / G_USEC_PER_SEC;
    gint64 rem = real_us % G_USEC_PER_SEC;
    g_autoptr(GDateTime) dt = NULL;
    g_autofree char *base = NULL;

    /* Division truncates towards zero; keep the remainder positive so
     * that instants before 1970 still format sensibly. */
    if (rem < 0) {
        rem += G_USEC_PER_SEC;
        secs--;
    }

    dt = g_date_time_new_from_unix_utc(secs);
    if (!dt)
        return g_strdup("1970-01-01T00:00:00.000Z");
    base = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
    return g_strdup_printf("%s.%03dZ", base, (int)(rem / 1000));
}
