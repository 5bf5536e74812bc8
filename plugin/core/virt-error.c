/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt-error.h"

void
vl_error_set_from_saved_virt(GError **error, const virError *saved,
                             const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list args;

    if (!error)
        return;

    va_start(args, fmt);
    msg = g_strdup_vprintf(fmt, args);
    va_end(args);

    if (saved && saved->code != VIR_ERR_OK && saved->message)
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "%s: %s", msg,
                    saved->message);
    else
        g_set_error_literal(error, VL_ERROR, VL_ERROR_LIBVIRT, msg);
}
