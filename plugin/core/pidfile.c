/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidfile.h"
#include "vl-autoptr.h"
#include "vl-error.h"

struct _VlPidFile {
    char *path;
    int fd;
};

/* Reads the holder's pid for the error message; 0 when unreadable. */
static long
read_pid(int fd)
{
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    gint64 pid = 0;

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    g_strchomp(buf);
    if (!g_ascii_string_to_signed(buf, 10, 1, G_MAXINT, &pid, NULL))
        return 0;
    return (long)pid;
}

VlPidFile *
vl_pid_file_acquire(const char *path, GError **error)
{
    g_auto(VlFd) fd = -1;
    g_autofree char *text = NULL;
    VlPidFile *pid_file = NULL;
    struct stat st_fd;
    struct stat st_path;
    gsize len;

    for (;;) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                  0644);
        if (fd < 0) {
            vl_error_set_from_errno(error, errno, "Cannot open pid file '%s'",
                                    path);
            return NULL;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int errsv = errno;
            long holder;

            if (errsv != EWOULDBLOCK) {
                vl_error_set_from_errno(error, errsv,
                                        "Cannot lock pid file '%s'", path);
                return NULL;
            }
            holder = read_pid(fd);
            g_set_error(error, VL_ERROR, VL_ERROR_FAILED,
                        "Another virt-lanesd (pid %ld) holds pid file '%s'",
                        holder, path);
            return NULL;
        }
        /*
         * The previous holder unlinks the file on exit, possibly between
         * our open() and flock(): then we locked an orphaned inode and
         * must start over on the file now at @path.
         */
        if (fstat(fd, &st_fd) < 0) {
            vl_error_set_from_errno(error, errno, "Cannot stat pid file '%s'",
                                    path);
            return NULL;
        }
        if (stat(path, &st_path) == 0 && st_path.st_dev == st_fd.st_dev &&
            st_path.st_ino == st_fd.st_ino)
            break;
        vl_fd_close(fd);
        fd = -1;
    }

    text = g_strdup_printf("%ld\n", (long)getpid());
    len = strlen(text);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, text, len, 0) != (ssize_t)len) {
        vl_error_set_from_errno(error, errno, "Cannot write pid file '%s'",
                                path);
        return NULL;
    }

    pid_file = g_new0(VlPidFile, 1);
    pid_file->path = g_strdup(path);
    pid_file->fd = g_steal_fd(&fd);
    return pid_file;
}

void
vl_pid_file_release(VlPidFile *pid_file)
{
    if (!pid_file)
        return;
    /* Unlink while still holding the lock, so a successor that opens
     * the old inode notices (see the loop above). */
    unlink(pid_file->path);
    if (pid_file->fd >= 0)
        close(pid_file->fd);
    g_free(pid_file->path);
    g_free(pid_file);
}
