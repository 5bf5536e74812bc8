/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemonize.h"
#include "vl-error.h"

static void
to_dev_null(int target)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return;
    if (fd != target) {
        dup2(fd, target);
        close(fd);
    }
}

int
vl_daemonize(GError **error)
{
    int pipefd[2];
    pid_t pid;

    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot create a pipe");
        return -1;
    }

    pid = fork();
    if (pid < 0) {
        vl_error_set_from_errno(error, errno, "Cannot fork");
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }

    if (pid > 0) {
        char status = 1;
        ssize_t n;

        close(pipefd[1]);
        do {
            n = read(pipefd[0], &status, 1);
        } while (n < 0 && errno == EINTR);
        /* EOF without a byte: the child died before it was ready. */
        _exit(n == 1 && status == 0 ? 0 : 1);
    }

    close(pipefd[0]);
    if (setsid() < 0) {
        vl_error_set_from_errno(error, errno, "Cannot start a new session");
        close(pipefd[1]);
        return -1;
    }
    /* Do not keep a mount point busy, nor inherit the caller's umask. */
    if (chdir("/") < 0) {
        vl_error_set_from_errno(error, errno, "Cannot change directory to '/'");
        close(pipefd[1]);
        return -1;
    }
    umask(022);
    to_dev_null(STDIN_FILENO);
    to_dev_null(STDOUT_FILENO);
    return pipefd[1];
}

void
vl_daemonize_ready(int fd, gboolean ok, gboolean keep_stderr)
{
    char status = ok ? 0 : 1;
    ssize_t n;

    if (fd < 0)
        return;
    do {
        n = write(fd, &status, 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (!keep_stderr)
        to_dev_null(STDERR_FILENO);
}
