/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipc-priv.h: pieces of ipc.c shared with the hook and the unit tests
 *
 * Not part of the protocol API in ipc.h: the hook uses these to decide
 * whether argv is worth sending at all, so both sides agree on one list.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE if @op is one of libvirt's QEMU hook operations (NULL is not). */
gboolean vl_hook_op_is_known(const char *op);

/* TRUE if @subop is "begin", "end" or "-" (NULL is not). */
gboolean vl_hook_subop_is_known(const char *subop);

G_END_DECLS
