/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hook-bench: how long libvirtd waits for virt-lanes-hook
 *
 *   hook-bench --hook PATH --fake PATH [--runs N] [--xml-size BYTES]
 *
 * Runs the built hook N times (default 1000) as libvirtd would, with a
 * realistic domain XML (default ~8 KiB) on stdin, once against the
 * fixture daemon answering "continue" and once with no daemon at all,
 * and prints the median, p99 and max wall time per call.  The time is
 * spawn to reap, which is what libvirtd pays; /bin/true run the same way
 * gives the floor that process creation alone costs.  Not a test: numbers
 * depend on the machine.
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *
make_domain_xml(gsize size)
{
    GString *xml = g_string_new(
        "<domain type='kvm' id='7'>\n"
        "  <name>web-3</name>\n"
        "  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n"
        "  <metadata>\n"
        "    <lanes:container xmlns:lanes='https://virt-lanes.example/1' name='web'/>\n"
        "  </metadata>\n"
        "  <memory unit='KiB'>4194304</memory>\n"
        "  <vcpu placement='static'>4</vcpu>\n"
        "  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>\n"
        "  <features><acpi/><apic/></features>\n"
        "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n"
        "  <devices>\n"
        "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
        "    <graphics type='vnc' port='-1' autoport='yes' passwd='s3cr3t'/>\n");
    guint i = 0;

    /* Disks and NICs until the size is reached, as a busy guest has. */
    while (xml->len + 32 < size) {
        g_string_append_printf(xml,
            "    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='qcow2' cache='none' io='native'/>\n"
            "      <source file='/var/lib/libvirt/images/web-3-%u.qcow2'/>\n"
            "      <target dev='vd%c' bus='virtio'/>\n"
            "    </disk>\n"
            "    <interface type='bridge'>\n"
            "      <mac address='52:54:00:12:34:%02x'/>\n"
            "      <source bridge='br%u'/><model type='virtio'/>\n"
            "    </interface>\n",
            i, 'a' + (i % 26), i & 0xff, i);
        i++;
    }
    g_string_append(xml, "  </devices>\n</domain>\n");
    return g_string_free(xml, FALSE);
}

/* One hook call; returns wall microseconds, or -1 on a spawn failure. */
static gint64
run_once(const char *hook, char **envp, const char *xml, gsize len, int *status)
{
    const char *argv[] = { hook, "web-3", "migrate", "begin", "-", NULL };
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    GPid pid;
    int in_fd = -1;
    gsize off = 0;

    if (!g_spawn_async_with_pipes(NULL, (char **) argv, envp,
                                  G_SPAWN_DO_NOT_REAP_CHILD |
                                  G_SPAWN_STDOUT_TO_DEV_NULL |
                                  G_SPAWN_STDERR_TO_DEV_NULL,
                                  NULL, NULL, &pid, &in_fd, NULL, NULL,
                                  &error)) {
        fprintf(stderr, "hook-bench: %s\n", error->message);
        return -1;
    }
    while (off < len) {
        ssize_t n = write(in_fd, xml + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += n;
    }
    close(in_fd);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return g_get_monotonic_time() - start;
}

static int
compare_gint64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *) a;
    gint64 y = *(const gint64 *) b;

    return (x > y) - (x < y);
}

static gboolean
bench(const char *label, const char *hook, char **envp, const char *xml,
      guint runs)
{
    g_autofree gint64 *t = g_new(gint64, runs);
    guint nonzero = 0;

    for (guint i = 0; i < runs; i++) {
        int status = 0;

        t[i] = run_once(hook, envp, xml, strlen(xml), &status);
        if (t[i] < 0)
            return FALSE;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            nonzero++;
    }
    qsort(t, runs, sizeof(gint64), compare_gint64);
    printf("| %-23s | %5u | %9.2f | %9.2f | %9.2f | %8u |\n", label, runs,
           t[runs / 2] / 1000.0, t[MIN(runs - 1, runs * 99 / 100)] / 1000.0,
           t[runs - 1] / 1000.0, nonzero);
    return TRUE;
}

static gboolean
wait_for_socket(const char *path)
{
    for (int i = 0; i < 200; i++) {
        if (g_file_test(path, G_FILE_TEST_EXISTS))
            return TRUE;
        g_usleep(20 * 1000);
    }
    return FALSE;
}

int
main(int argc, char **argv)
{
    g_autofree char *hook = NULL;
    g_autofree char *fake = NULL;
    gint runs = 1000;
    gint xml_size = 8192;
    GOptionEntry entries[] = {
        { "hook", 0, 0, G_OPTION_ARG_FILENAME, &hook, "Built virt-lanes-hook", "PATH" },
        { "fake", 0, 0, G_OPTION_ARG_FILENAME, &fake, "Built fake-daemon", "PATH" },
        { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "Calls per scenario", "N" },
        { "xml-size", 0, 0, G_OPTION_ARG_INT, &xml_size, "Domain XML size", "BYTES" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- time virt-lanes-hook");
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *sock = NULL;
    g_autofree char *missing = NULL;
    g_autofree char *xml = NULL;
    g_auto(GStrv) env_up = NULL;
    g_auto(GStrv) env_down = NULL;
    const char *fake_argv[8];
    GPid fake_pid;
    gboolean ok;

    /* /bin/true exits without reading its stdin: take EPIPE, as libvirtd does. */
    signal(SIGPIPE, SIG_IGN);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || !hook || !fake ||
        runs < 1 || xml_size < 512) {
        fprintf(stderr, "hook-bench: %s\n",
                error ? error->message : "need --hook, --fake, runs >= 1, xml-size >= 512");
        return 2;
    }

    dir = g_dir_make_tmp("vl-hook-bench-XXXXXX", &error);
    if (!dir) {
        fprintf(stderr, "hook-bench: %s\n", error->message);
        return 1;
    }
    sock = g_build_filename(dir, "vl.sock", NULL);
    missing = g_build_filename(dir, "absent.sock", NULL);
    xml = make_domain_xml(xml_size);

    /* libvirtd gives hooks a near-empty environment; so do we. */
    env_up = g_environ_setenv(NULL, "VL_HOOK_SOCKET", sock, TRUE);
    env_up = g_environ_setenv(env_up, "LC_ALL", "C", TRUE);
    env_down = g_environ_setenv(NULL, "VL_HOOK_SOCKET", missing, TRUE);
    env_down = g_environ_setenv(env_down, "LC_ALL", "C", TRUE);

    fake_argv[0] = fake;
    fake_argv[1] = "--socket";
    fake_argv[2] = sock;
    fake_argv[3] = "--mode";
    fake_argv[4] = "continue";
    fake_argv[5] = "--lifetime";
    fake_argv[6] = "600";
    fake_argv[7] = NULL;
    if (!g_spawn_async(NULL, (char **) fake_argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                       NULL, NULL, &fake_pid, &error)) {
        fprintf(stderr, "hook-bench: %s\n", error->message);
        return 1;
    }
    if (!wait_for_socket(sock)) {
        fprintf(stderr, "hook-bench: the fake daemon did not start\n");
        kill(fake_pid, SIGTERM);
        return 1;
    }

    printf("virt-lanes-hook, %zu-byte domain XML on stdin, 'migrate begin'\n\n",
           strlen(xml));
    printf("| %-23s | %5s | %9s | %9s | %9s | %8s |\n", "scenario", "runs",
           "median ms", "p99 ms", "max ms", "exit!=0");
    printf("|%s|%s|%s|%s|%s|%s|\n", "-------------------------", "-------",
           "-----------", "-----------", "-----------", "----------");
    /* The floor: spawning a program that does nothing. */
    ok = bench("/bin/true (spawn floor)", "/bin/true", env_up, xml, runs) &&
         bench("daemon up (continue)", hook, env_up, xml, runs) &&
         bench("no daemon", hook, env_down, xml, runs);

    kill(fake_pid, SIGTERM);
    waitpid(fake_pid, NULL, 0);
    g_unlink(sock);
    g_rmdir(dir);
    return ok ? 0 : 1;
}
