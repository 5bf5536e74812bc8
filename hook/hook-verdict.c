/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hook-verdict.c: reading the daemon's verdict
 */
#include <config.h>

#include <string.h>

#include "hook-verdict.h"
#include "vl-error.h"

static const char *const vl_hook_reply_keys[] = {
    "version", "type", "ok", "error", "verdict", "reason", NULL,
};

static const char *const vl_hook_refusable_ops[] = {
    "prepare", "start", "started", "migrate", "restore", NULL,
};

gboolean
vl_hook_op_honours_refusal(const char *op)
{
    return op && g_strv_contains(vl_hook_refusable_ops, op);
}

/* One line of printable text, cut at a character boundary. */
static char *
vl_hook_verdict_clean_reason(const char *text)
{
    g_autofree char *valid = g_utf8_make_valid(text, -1);
    GString *out = g_string_sized_new(64);
    const char *p;

    for (p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        const char *next = g_utf8_next_char(p);

        if (out->len + (next - p) > VL_HOOK_REASON_MAX)
            break;
        if (g_unichar_iscntrl(c))
            g_string_append_c(out, ' ');
        else
            g_string_append_len(out, p, next - p);
    }
    return g_string_free(out, FALSE);
}

VlHookVerdict
vl_hook_verdict_from_reply(json_object *reply, char **reason, GError **error)
{
    json_object *val = NULL;
    const char *verdict = NULL;

    if (!reply || !json_object_is_type(reply, json_type_object)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC, "Reply is not a JSON object");
        return VL_HOOK_VERDICT_CONTINUE;
    }

    json_object_object_foreach(reply, key, v) {
        (void) v;
        if (!g_strv_contains(vl_hook_reply_keys, key)) {
            g_autofree char *esc = g_strescape(key, NULL);

            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Reply has unexpected field '%.64s'", esc);
            return VL_HOOK_VERDICT_CONTINUE;
        }
    }

    if (!json_object_object_get_ex(reply, "ok", &val) ||
        !json_object_is_type(val, json_type_boolean)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC, "Reply has no boolean 'ok'");
        return VL_HOOK_VERDICT_CONTINUE;
    }
    if (!json_object_get_boolean(val)) {
        g_autofree char *msg = NULL;

        if (json_object_object_get_ex(reply, "error", &val) &&
            json_object_is_type(val, json_type_string))
            msg = vl_hook_verdict_clean_reason(json_object_get_string(val));
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Daemon answered with an error: %s", msg ? msg : "(none)");
        return VL_HOOK_VERDICT_CONTINUE;
    }

    if (!json_object_object_get_ex(reply, "verdict", &val))
        return VL_HOOK_VERDICT_CONTINUE;
    if (!json_object_is_type(val, json_type_string)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC, "Reply 'verdict' is not a string");
        return VL_HOOK_VERDICT_CONTINUE;
    }
    verdict = json_object_get_string(val);
    if (strcmp(verdict, "continue") == 0)
        return VL_HOOK_VERDICT_CONTINUE;
    if (strcmp(verdict, "refuse") != 0) {
        g_autofree char *esc = g_strescape(verdict, NULL);

        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Reply has unknown verdict '%.64s'", esc);
        return VL_HOOK_VERDICT_CONTINUE;
    }

    val = NULL;
    if (json_object_object_get_ex(reply, "reason", &val) &&
        !json_object_is_type(val, json_type_string)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC, "Reply 'reason' is not a string");
        return VL_HOOK_VERDICT_CONTINUE;
    }
    if (reason) {
        const char *text = val ? json_object_get_string(val) : NULL;

        *reason = vl_hook_verdict_clean_reason(text && *text ? text :
                                               "Refused by virt-lanesd");
    }
    return VL_HOOK_VERDICT_REFUSE;
}
