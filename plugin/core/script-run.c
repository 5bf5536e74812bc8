/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "script-run.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* PATH for scripts when the daemon has none. */
#define SCRIPT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* How long stderr may stay open after the script exited (a leftover
 * child holding it) before we stop reading. */
#define SCRIPT_STDERR_GRACE_MS 1000
/* Longest stderr line quoted in an error. */
#define SCRIPT_ERROR_LINE_MAX 200

struct _VlScriptRunner {
    char *dir;
};

typedef struct {
    char *script;
    char *subject;
    guint timeout_ms;
    GSubprocess *proc;
    GPid pid;
    GInputStream *err_stream;
    GCancellable *read_cancel;
    GString *err;
    gboolean err_eof;
    gboolean exited;
    gboolean timed_out;
    gboolean cancelled;
    gboolean returned;
    guint timeout_id;
    guint grace_id;
    GCancellable *cancellable;
    gulong cancel_handler;
} RunData;

static void
run_data_free(RunData *data)
{
    g_clear_handle_id(&data->timeout_id, g_source_remove);
    g_clear_handle_id(&data->grace_id, g_source_remove);
    if (data->cancellable && data->cancel_handler)
        g_cancellable_disconnect(data->cancellable, data->cancel_handler);
    g_clear_object(&data->cancellable);
    g_clear_object(&data->read_cancel);
    g_clear_object(&data->err_stream);
    g_clear_object(&data->proc);
    if (data->err)
        g_string_free(data->err, TRUE);
    g_free(data->script);
    g_free(data->subject);
    g_free(data);
}

VlScriptRunner *
vl_script_runner_new(const char *script_dir)
{
    VlScriptRunner *runner = g_new0(VlScriptRunner, 1);

    runner->dir = g_strdup(script_dir);
    return runner;
}

void
vl_script_runner_free(VlScriptRunner *runner)
{
    if (!runner)
        return;
    g_free(runner->dir);
    g_free(runner);
}

const char *
vl_script_runner_get_dir(VlScriptRunner *runner)
{
    return runner->dir;
}

/* Root or we may own it; nobody else may write it. */
static gboolean
check_trusted(const struct stat *st, const char *what, const char *path,
              GError **error)
{
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        g_set_error(error, VL_ERROR, VL_ERROR_SCRIPT,
                    "Refusing script %s '%s' owned by uid %u (only root or the daemon's user may own it)",
                    what, path, (guint) st->st_uid);
        return FALSE;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        g_set_error(error, VL_ERROR, VL_ERROR_SCRIPT,
                    "Refusing script %s '%s' that is group- or world-writable (mode %04o)",
                    what, path, (guint) (st->st_mode & 07777));
        return FALSE;
    }
    return TRUE;
}

/*
 * Checks the directory and the script on opened descriptors (a path
 * checked and then opened could have been swapped in between).  The
 * exec still goes by path: since nobody but root may write the checked
 * directory, the name cannot be replaced behind our back.
 */
static gboolean
check_script(const char *dir, const char *script, GError **error)
{
    g_autofree char *path = g_build_filename(dir, script, NULL);
    g_auto(VlFd) dfd = -1;
    g_auto(VlFd) fd = -1;
    struct stat st;

    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        fstat(dfd, &st) < 0) {
        int errsv = errno;

        g_set_error(error, VL_ERROR, VL_ERROR_SCRIPT,
                    "Cannot open script directory '%s': %s", dir, g_strerror(errsv));
        return FALSE;
    }
    if (!check_trusted(&st, "directory", dir, error))
        return FALSE;
    if ((fd = openat(dfd, script, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0 ||
        fstat(fd, &st) < 0) {
        int errsv = errno;

        g_set_error(error, VL_ERROR, VL_ERROR_SCRIPT,
                    "Cannot open script '%s': %s", path, g_strerror(errsv));
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, VL_ERROR, VL_ERROR_SCRIPT,
                    "Script '%s' is not a regular file", path);
        return FALSE;
    }
    if (!check_trusted(&st, "file", path, error))
        return FALSE;
    if (!(st.st_mode & S_IXUSR)) {
        g_set_error(error, VL_ERROR, VL_ERROR_SCRIPT,
                    "Script '%s' is not executable", path);
        return FALSE;
    }
    return TRUE;
}

/* The first non-empty line of @text, fit for one log line. */
static char *
first_line(const char *text, gsize len)
{
    g_autofree char *valid = g_utf8_make_valid(text, len);
    GString *out = g_string_new(NULL);
    const char *p = valid;
    const char *end;

    while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
        p++;
    end = strchr(p, '\n');
    if (!end)
        end = p + strlen(p);
    for (; p < end; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);

        if (out->len >= SCRIPT_ERROR_LINE_MAX) {
            g_string_append(out, "...");
            break;
        }
        if (c < 0x20 || c == 0x7f)
            g_string_append_printf(out, "\\x%02x", c);
        else
            g_string_append_unichar(out, c);
    }
    while (out->len > 0 && out->str[out->len - 1] == ' ')
        g_string_truncate(out, out->len - 1);
    if (out->len == 0)
        g_string_append(out, "no message on stderr");
    return g_string_free(out, FALSE);
}

static void
run_finish_task(GTask *task)
{
    RunData *data = g_task_get_task_data(task);
    g_autofree char *line = NULL;
    GSubprocess *proc = data->proc;

    if (data->returned)
        return;
    data->returned = TRUE;
    g_clear_handle_id(&data->timeout_id, g_source_remove);
    g_clear_handle_id(&data->grace_id, g_source_remove);
    if (!data->err_eof) {
        /* Something the script started still holds stderr: end it. */
        if (data->pid > 0)
            kill(-data->pid, SIGKILL);
        g_cancellable_cancel(data->read_cancel);
    }

    line = first_line(data->err->str, data->err->len);
    if (data->cancelled) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                "Script '%s' for '%s' was cancelled",
                                data->script, data->subject);
    } else if (data->timed_out) {
        g_task_return_new_error(task, VL_ERROR, VL_ERROR_TIMEOUT,
                                "Script '%s' for '%s' did not finish within %u.%u s and was killed",
                                data->script, data->subject,
                                data->timeout_ms / 1000, data->timeout_ms % 1000 / 100);
    } else if (g_subprocess_get_if_exited(proc) &&
               g_subprocess_get_exit_status(proc) == 0) {
        g_task_return_boolean(task, TRUE);
    } else if (g_subprocess_get_if_exited(proc)) {
        g_task_return_new_error(task, VL_ERROR, VL_ERROR_SCRIPT,
                                "Script '%s' for '%s' failed with exit code %d: %s",
                                data->script, data->subject,
                                g_subprocess_get_exit_status(proc), line);
    } else {
        g_task_return_new_error(task, VL_ERROR, VL_ERROR_SCRIPT,
                                "Script '%s' for '%s' was killed by signal %d: %s",
                                data->script, data->subject,
                                g_subprocess_get_term_sig(proc), line);
    }
}

static void
maybe_finish(GTask *task)
{
    RunData *data = g_task_get_task_data(task);

    if (data->exited && data->err_eof)
        run_finish_task(task);
}

static gboolean
on_grace(gpointer user_data)
{
    GTask *task = user_data;
    RunData *data = g_task_get_task_data(task);

    data->grace_id = 0;
    run_finish_task(task);
    return G_SOURCE_REMOVE;
}

static void
on_exited(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GTask) task = user_data;
    RunData *data = g_task_get_task_data(task);

    /* Errors here mean only that waiting was cancelled; we never cancel it. */
    g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
    data->exited = TRUE;
    if (!data->err_eof && !data->returned && !data->grace_id)
        data->grace_id = g_timeout_add_full(G_PRIORITY_DEFAULT,
                                            SCRIPT_STDERR_GRACE_MS, on_grace,
                                            g_object_ref(task), g_object_unref);
    maybe_finish(task);
}

static void read_more(GTask *task);

static void
on_read(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GTask) task = user_data;
    RunData *data = g_task_get_task_data(task);
    g_autoptr(GBytes) bytes = NULL;
    gsize n = 0;

    bytes = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, NULL);
    if (bytes)
        n = g_bytes_get_size(bytes);
    if (n == 0) {
        data->err_eof = TRUE;
        maybe_finish(task);
        return;
    }
    if (data->err->len < VL_SCRIPT_STDERR_MAX) {
        gsize keep = MIN(n, VL_SCRIPT_STDERR_MAX - data->err->len);

        g_string_append_len(data->err, g_bytes_get_data(bytes, NULL), keep);
    }
    if (!data->returned)
        read_more(task);
}

static void
read_more(GTask *task)
{
    RunData *data = g_task_get_task_data(task);

    g_input_stream_read_bytes_async(data->err_stream, 4096, G_PRIORITY_DEFAULT,
                                    data->read_cancel, on_read,
                                    g_object_ref(task));
}

static void
kill_group(RunData *data)
{
    if (data->pid > 0 && !data->exited)
        kill(-data->pid, SIGKILL);
}

static gboolean
on_timeout(gpointer user_data)
{
    GTask *task = user_data;
    RunData *data = g_task_get_task_data(task);

    data->timeout_id = 0;
    data->timed_out = TRUE;
    kill_group(data);
    return G_SOURCE_REMOVE;
}

static gboolean
on_cancel_idle(gpointer user_data)
{
    GTask *task = user_data;
    RunData *data = g_task_get_task_data(task);

    if (!data->exited && !data->returned) {
        data->cancelled = TRUE;
        kill_group(data);
    }
    return G_SOURCE_REMOVE;
}

static void
on_cancelled(GCancellable *cancellable G_GNUC_UNUSED, gpointer user_data)
{
    /* May run in any thread: do the work on the task's context. */
    GTask *task = user_data;

    g_main_context_invoke_full(g_task_get_context(task), G_PRIORITY_DEFAULT,
                               on_cancel_idle, g_object_ref(task), g_object_unref);
}

static void
child_setup(gpointer user_data G_GNUC_UNUSED)
{
    /* Its own process group, so that a timeout kills what it started too. */
    setpgid(0, 0);
}

void
vl_script_runner_run_async(VlScriptRunner *runner,
                           const char *script,
                           const char *subject,
                           const char *const *args,
                           guint timeout_ms,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
    g_autoptr(GTask) task = NULL;
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autoptr(GPtrArray) argv = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    g_autofree char *path_env = NULL;
    const char *env[3];
    const char *id;
    RunData *data;
    gsize i;

    g_return_if_fail(runner != NULL);
    g_return_if_fail(script != NULL && !strchr(script, '/'));
    g_return_if_fail(timeout_ms > 0);

    task = g_task_new(NULL, cancellable, callback, user_data);
    g_task_set_source_tag(task, vl_script_runner_run_async);
    data = g_new0(RunData, 1);
    data->script = g_strdup(script);
    data->subject = g_strdup(subject ? subject : "");
    data->timeout_ms = timeout_ms;
    data->err = g_string_new(NULL);
    data->read_cancel = g_cancellable_new();
    g_task_set_task_data(task, data, (GDestroyNotify) run_data_free);

    if (!check_script(runner->dir, script, &error)) {
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }

    path = g_build_filename(runner->dir, script, NULL);
    argv = g_ptr_array_new();
    g_ptr_array_add(argv, path);
    for (i = 0; args && args[i]; i++)
        g_ptr_array_add(argv, (gpointer) args[i]);
    g_ptr_array_add(argv, NULL);

    /* Cleared environment plus the allow-list (PATH, LC_ALL=C). */
    path_env = g_strconcat("PATH=", g_getenv("PATH") ? g_getenv("PATH") :
                           SCRIPT_DEFAULT_PATH, NULL);
    env[0] = path_env;
    env[1] = "LC_ALL=C";
    env[2] = NULL;

    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                         G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_set_environ(launcher, (char **) env);
    g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
    data->proc = g_subprocess_launcher_spawnv(launcher,
                                              (const char *const *) argv->pdata,
                                              &error);
    if (!data->proc) {
        g_task_return_new_error(task, VL_ERROR, VL_ERROR_SCRIPT,
                                "Cannot run script '%s' for '%s': %s",
                                script, data->subject, error->message);
        return;
    }
    id = g_subprocess_get_identifier(data->proc);
    data->pid = id ? (GPid) g_ascii_strtoll(id, NULL, 10) : 0;
    data->err_stream = g_object_ref(g_subprocess_get_stderr_pipe(data->proc));

    data->timeout_id = g_timeout_add_full(G_PRIORITY_DEFAULT, timeout_ms, on_timeout,
                                          g_object_ref(task), g_object_unref);
    if (cancellable) {
        data->cancellable = g_object_ref(cancellable);
        data->cancel_handler = g_cancellable_connect(cancellable,
                                                     G_CALLBACK(on_cancelled),
                                                     task, NULL);
    }
    read_more(task);
    g_subprocess_wait_async(data->proc, NULL, on_exited, g_object_ref(task));
}

gboolean
vl_script_runner_run_finish(VlScriptRunner *runner G_GNUC_UNUSED,
                            GAsyncResult *result,
                            char **stderr_text,
                            GError **error)
{
    GTask *task = G_TASK(result);
    RunData *data;

    g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
    data = g_task_get_task_data(task);
    if (stderr_text)
        *stderr_text = g_strndup(data->err->str, data->err->len);
    return g_task_propagate_boolean(task, error);
}
