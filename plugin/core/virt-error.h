/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <libvirt/virterror.h>

#include "vl-error.h"

G_BEGIN_DECLS

/**
 * vl_error_set_from_virt:
 * @error: (out) (optional): where to store the error
 * @...: printf-style context, e.g. "Failed to look up '%s'", name
 *
 * Sets @error to "context: <libvirt's last error message>" with the
 * VL_ERROR_LIBVIRT code, the way libvirt-glib reports libvirt failures.
 * Use it as a statement right after the failing libvirt call, on the
 * same thread.
 *
 * It is a macro because libvirt's public functions reset the last error
 * when they are entered: in vl_error_set_from_virt(error, "... '%s'",
 * virDomainGetName(dom)) the argument would wipe the very message we
 * want before a function could read it.  The macro saves the error
 * before any argument is evaluated.
 */
#define vl_error_set_from_virt(error, ...) \
    G_STMT_START { \
        virErrorPtr vl_virt_saved_error_ = virSaveLastError(); \
        vl_error_set_from_saved_virt((error), vl_virt_saved_error_, __VA_ARGS__); \
        virFreeError(vl_virt_saved_error_); \
    } G_STMT_END

/* The function behind vl_error_set_from_virt(); @saved may be NULL. */
void vl_error_set_from_saved_virt(GError **error, const virError *saved,
                                  const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

G_END_DECLS
