/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hook-input.c: argv and stdin of virt-lanes-hook
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "hook-input.h"
#include "ipc-priv.h"
#include "vl-error.h"

/* First allocation for the XML; a typical domain fits. */
#define VL_HOOK_XML_INITIAL (32 * 1024)

/* Copies @s, replacing bytes that are not UTF-8; sets *@mangled if any. */
static char *
vl_hook_input_utf8_dup(const char *s, gboolean *mangled)
{
    if (g_utf8_validate(s, -1, NULL))
        return g_strdup(s);
    *mangled = TRUE;
    return g_utf8_make_valid(s, -1);
}

VlHookEvent *
vl_hook_input_from_argv(int argc, char *const *argv, GError **error)
{
    g_autoptr(VlHookEvent) event = NULL;
    static const char *const what[] = { "NAME", "OP", "SUBOP", "EXTRA" };
    int i;

    if (argc != 5) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Expected 4 arguments 'NAME OP SUBOP EXTRA', got '%d'",
                    argc - 1);
        return NULL;
    }
    for (i = 1; i < 5; i++) {
        if (!argv[i] || argv[i][0] == '\0') {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Argument '%s' is empty", what[i - 1]);
            return NULL;
        }
    }
    /* Unknown names are reported escaped: they are outside input. */
    if (!vl_hook_op_is_known(argv[2])) {
        g_autofree char *esc = g_strescape(argv[2], NULL);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Unknown hook operation '%.64s'", esc);
        return NULL;
    }
    if (!vl_hook_subop_is_known(argv[3])) {
        g_autofree char *esc = g_strescape(argv[3], NULL);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Unknown hook sub-operation '%.64s'", esc);
        return NULL;
    }

    event = vl_hook_event_new();
    event->domain = vl_hook_input_utf8_dup(argv[1], &event->name_mangled);
    event->op = g_strdup(argv[2]);
    event->subop = g_strdup(argv[3]);
    event->extra = vl_hook_input_utf8_dup(argv[4], &event->name_mangled);
    return g_steal_pointer(&event);
}

/* Turns the kept bytes into the event's NUL-free UTF-8 string. */
static void
vl_hook_input_take_xml(VlHookEvent *event, char *buf, gsize kept)
{
    const char *end = NULL;

    if (kept == 0) {
        g_free(buf);
        return;
    }
    buf[kept] = '\0';
    /* A cut at the limit may split a character: drop the partial tail
     * rather than invent a U+FFFD that libvirtd never wrote. */
    if (event->xml_truncated && !g_utf8_validate_len(buf, kept, &end) &&
        kept - (end - buf) < 4 &&
        g_utf8_get_char_validated(end, kept - (end - buf)) == (gunichar) -2) {
        kept = end - buf;
        buf[kept] = '\0';
    }
    if (g_utf8_validate_len(buf, kept, NULL)) {
        event->xml = buf;
        return;
    }
    event->xml = g_utf8_make_valid(buf, kept);
    explicit_bzero(buf, kept);
    g_free(buf);
}

gboolean
vl_hook_input_read_xml(VlHookEvent *event, int fd, gsize limit,
                       gint64 deadline, GError **error)
{
    gsize cap = MIN(limit, VL_HOOK_XML_INITIAL);
    char *buf = g_malloc(cap + 1);
    gsize kept = 0;
    guint64 total = 0;
    gboolean ok = TRUE;
    char scratch[16384];

    g_return_val_if_fail(event != NULL, FALSE);

    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        gint64 left = deadline - g_get_monotonic_time();
        char *dst = NULL;
        gsize want;
        ssize_t n;
        int r;

        if (left <= 0) {
            g_set_error(error, VL_ERROR, VL_ERROR_TIMEOUT,
                        "Timed out reading the domain XML after %" G_GUINT64_FORMAT " bytes",
                        total);
            ok = FALSE;
            break;
        }
        /* poll() first: read() on a pipe whose writer never closes would
         * block past any bound. */
        r = poll(&pfd, 1, (int) MIN((left + 999) / 1000, G_MAXINT));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || pfd.revents & POLLNVAL) {
            vl_error_set_from_errno(error, r < 0 ? errno : EBADF,
                                    "Cannot read the domain XML");
            ok = FALSE;
            break;
        }
        if (r == 0)
            continue;

        if (kept < limit) {
            if (kept == cap) {
                cap = MIN(cap * 2, limit);
                buf = g_realloc(buf, cap + 1);
            }
            dst = buf + kept;
            want = cap - kept;
        } else {
            dst = scratch;
            want = sizeof(scratch);
        }
        n = read(fd, dst, want);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            vl_error_set_from_errno(error, errno, "Cannot read the domain XML");
            ok = FALSE;
            break;
        }
        if (n == 0)
            break;
        total += n;
        if (dst != scratch)
            kept += n;
    }

    event->xml_size = total;
    event->xml_truncated = total > kept || !ok;
    vl_hook_input_take_xml(event, buf, kept);
    return ok;
}
