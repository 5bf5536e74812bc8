/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hook-input.h: what libvirtd hands the hook (argv and the XML on
 * stdin), turned into a VlHookEvent
 */
#pragma once

#include <glib.h>

#include "ipc.h"

G_BEGIN_DECLS

/* Bytes of XML kept and forwarded; the rest is read and counted only. */
#define VL_HOOK_XML_LIMIT (1024 * 1024)

/**
 * vl_hook_input_from_argv:
 * @argc: as passed to main()
 * @argv: (transfer none): exactly "PROG NAME OP SUBOP EXTRA"
 * @error: (out) (optional): VL_ERROR_INVALID naming what is wrong
 *
 * Checks the argument count, that no argument is empty and that OP and
 * SUBOP are libvirt's.  NAME and EXTRA pass through byte for byte
 * (spaces, quotes, ';' and newlines are data); bytes that are not
 * UTF-8 become U+FFFD and set name_mangled.
 * Returns: (transfer full): a new event without XML, or NULL
 */
VlHookEvent *vl_hook_input_from_argv(int argc, char *const *argv,
                                     GError **error);

/**
 * vl_hook_input_read_xml:
 * @event: (inout): gets xml, xml_size and xml_truncated
 * @fd: where libvirtd writes the domain XML (stdin)
 * @limit: bytes to keep; more are read and counted, not kept
 * @deadline: g_get_monotonic_time() value after which reading stops
 * @error: (out) (optional): VL_ERROR_TIMEOUT or VL_ERROR_IO
 *
 * Reads @fd to EOF so libvirtd never blocks writing into the pipe,
 * keeping the first @limit bytes.  On a timeout or read error the
 * event still holds what was read (marked truncated, since the rest is
 * unknown) and FALSE is returned so the caller can record why.  The
 * kept XML is made valid UTF-8 without NULs; a cut at @limit falls on
 * a character boundary.  Empty input leaves xml NULL.
 */
gboolean vl_hook_input_read_xml(VlHookEvent *event, int fd, gsize limit,
                                gint64 deadline, GError **error);

G_END_DECLS
