/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hook-verdict.h: the daemon's answer to a hook event
 *
 * A reply may carry, besides the envelope ("version", "type", "ok",
 * "error"), only "verdict" ("continue" or "refuse") and "reason" (a
 * string).  Anything else, or no reply at all, means continue: the hook
 * fails open, so a broken daemon can never stop a guest from starting.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

typedef enum {
    VL_HOOK_VERDICT_CONTINUE,
    VL_HOOK_VERDICT_REFUSE,
} VlHookVerdict;

/* Longest reason passed on to libvirtd, in bytes. */
#define VL_HOOK_REASON_MAX 512

/**
 * vl_hook_verdict_from_reply:
 * @reply: (transfer none): a reply envelope from vl_ipc_call()
 * @reason: (out) (optional): for REFUSE, one printable line of at most
 *          VL_HOOK_REASON_MAX bytes; caller frees
 * @error: (out) (optional): VL_ERROR_IPC when the reply was an error or
 *         malformed (the verdict is then CONTINUE)
 *
 * Returns: the verdict; CONTINUE unless the daemon clearly said refuse
 */
VlHookVerdict vl_hook_verdict_from_reply(json_object *reply, char **reason,
                                         GError **error);

/* TRUE if libvirtd aborts @op when the hook exits non-zero and nothing
 * worse happens: prepare, start, started, migrate and restore.  (For
 * reconnect libvirtd kills QEMU, so the hook never refuses it.) */
gboolean vl_hook_op_honours_refusal(const char *op);

G_END_DECLS
