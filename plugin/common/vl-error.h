/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vl-error.h: the one GError domain of virt-lanes
 *
 * Every fallible function returns gboolean (or a pointer, NULL on
 * failure) and takes "GError **error" last.  Messages follow libvirt's
 * rules: one unbroken string, a capital letter first, every
 * substitution quoted, the file and line or JSON path named for admin
 * input, no trailing period.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VL_ERROR (vl_error_quark())

typedef enum {
    VL_ERROR_FAILED,        /* anything without a better code */
    VL_ERROR_INVALID,       /* bad argument or input from outside */
    VL_ERROR_POLICY,        /* policy file syntax or semantics */
    VL_ERROR_LIBVIRT,       /* a libvirt call failed */
    VL_ERROR_IPC,           /* daemon socket or protocol */
    VL_ERROR_TIMEOUT,       /* a bounded operation ran out of time */
    VL_ERROR_SCRIPT,        /* an external script failed */
    VL_ERROR_IO,            /* a file or socket operation failed */
    VL_ERROR_ESTIMATE,      /* the migration model got absurd input */
} VlError;

GQuark vl_error_quark(void);

void vl_error_set_from_errno(GError **error, int errsv, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

G_END_DECLS
