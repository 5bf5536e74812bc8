/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pidfile.h: one daemon instance per pid file
 *
 * The file is held with flock() for the life of the process, so a
 * second instance is refused even when a crashed one left the file
 * behind (the lock dies with its holder; the stale pid does not count).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VlPidFile VlPidFile;

/**
 * vl_pid_file_acquire:
 * @path: the pid file; its directory must exist
 * @error: (out) (optional): VL_ERROR_FAILED naming the holder's pid when
 *         another live process holds the file, VL_ERROR_IO otherwise
 *
 * Creates or opens @path, locks it and writes our pid into it.
 * Returns: (transfer full): the held pid file, or NULL
 */
VlPidFile *vl_pid_file_acquire(const char *path, GError **error);

/* Removes the file and drops the lock; accepts NULL. */
void vl_pid_file_release(VlPidFile *pid_file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlPidFile, vl_pid_file_release)

G_END_DECLS
