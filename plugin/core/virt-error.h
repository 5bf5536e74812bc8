/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vl-error.h"

G_BEGIN_DECLS

/**
 * vl_error_set_from_virt:
 * @error: (out) (optional): where to store the error
 * @fmt: printf-style context, e.g. "Failed to look up '%s'"
 *
 * Sets @error to "@fmt: <libvirt's last error message>" with the
 * VL_ERROR_LIBVIRT code, the way libvirt-glib reports libvirt failures.
 * Call it right after the failing libvirt call, on the same thread.
 */
void vl_error_set_from_virt(GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

G_END_DECLS
