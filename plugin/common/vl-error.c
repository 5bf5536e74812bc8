/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <string.h>

#include "vl-error.h"

G_DEFINE_QUARK(vl-error-quark, vl_error)

/**
 * vl_error_set_from_errno:
 * @error: (out) (optional): where to store the error
 * @errsv: the saved errno value
 * @fmt: printf-style context, e.g. "Cannot open '%s'"
 *
 * Sets @error to "@fmt: strerror(@errsv)" in the VL_ERROR_IO code.
 * Callers save errno right after the failing call, before anything
 * else can clobber it.
 */
void
vl_error_set_from_errno(GError **error, int errsv, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list args;

    if (!error)
        return;

    va_start(args, fmt);
    msg = g_strdup_vprintf(fmt, args);
    va_end(args);

    g_set_error(error, VL_ERROR, VL_ERROR_IO, "%s: %s", msg, g_strerror(errsv));
}
