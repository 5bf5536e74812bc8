/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <check.h>
#include <glib/gstdio.h>
#include <libvirt-glib/libvirt-glib.h>

#include "virt-test.h"

void
vl_virt_test_init(void)
{
    static gboolean done;
    g_autoptr(GError) error = NULL;

    if (done)
        return;
    if (!gvir_init_check(NULL, NULL, &error))
        ck_abort_msg("gvir_init_check: %s", error->message);
    gvir_event_register();
    done = TRUE;
}

gboolean
vl_virt_test_wait(VlTestCondition cond, gpointer data)
{
    return vl_test_loop_run_until(cond, data, VL_VIRT_TEST_TIMEOUT_MS);
}

gboolean
vl_virt_test_is_timestamp(const char *s)
{
    return s && g_regex_match_simple("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
                                     "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                                     s, 0, 0);
}

char *
vl_virt_test_write_node(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "node.xml", NULL);
    static const char node[] =
        "<node>\n"
        "  <domain type='test'>\n"
        "    <name>vl-node-1</name>\n"
        "    <uuid>11111111-2222-3333-4444-555555555555</uuid>\n"
        "    <memory>8192</memory>\n"
        "    <os><type>hvm</type></os>\n"
        "  </domain>\n"
        "</node>\n";

    ck_assert(g_file_set_contents(path, node, -1, NULL));
    /* test:// + an absolute path gives the three slashes. */
    return g_strdup_printf("test://%s", path);
}

char **
vl_virt_test_events(VlDomainTable *table, const char *name)
{
    VlDomainInfo *info = vl_domain_table_lookup(table, name);
    g_autoptr(GPtrArray) out = g_ptr_array_new();
    guint i;

    if (info) {
        for (i = 0; i < vl_domain_info_get_n_events(info); i++)
            g_ptr_array_add(out,
                            g_strdup(vl_domain_info_get_event(info, i)->event));
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

void
vl_virt_test_rmdir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (!d)
        return;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);

        g_unlink(path);
    }
    g_rmdir(dir);
}

static void
rig_connected(VlConn *conn G_GNUC_UNUSED, virConnectPtr vconn,
              gpointer user_data)
{
    VlVirtTestRig *rig = user_data;
    g_autoptr(GError) error = NULL;

    if (!vl_events_attach(rig->events, vconn, &error))
        ck_abort_msg("vl_events_attach: %s", error->message);
    rig->n_connected++;
}

static void
rig_disconnected(VlConn *conn G_GNUC_UNUSED, virConnectPtr vconn G_GNUC_UNUSED,
                 const char *reason, gboolean lost, gpointer user_data)
{
    VlVirtTestRig *rig = user_data;

    rig->last_lost = lost;
    vl_events_detach(rig->events);
    g_free(rig->last_reason);
    rig->last_reason = g_strdup(reason);
    rig->n_disconnected++;
}

static void
rig_failed(VlConn *conn G_GNUC_UNUSED, const GError *error G_GNUC_UNUSED,
           guint retry_ms, gpointer user_data)
{
    VlVirtTestRig *rig = user_data;

    g_array_append_val(rig->retry_ms, retry_ms);
}

VlVirtTestRig *
vl_virt_test_rig_new(const char *uri, guint backoff_min_ms,
                     guint backoff_max_ms)
{
    VlVirtTestRig *rig = g_new0(VlVirtTestRig, 1);
    VlConnOptions options = {
        .keepalive_interval = 5,
        .keepalive_count = 3,
        .backoff_min_ms = backoff_min_ms,
        .backoff_max_ms = backoff_max_ms,
    };
    VlConnHandlers handlers = {
        .connected = rig_connected,
        .disconnected = rig_disconnected,
        .failed = rig_failed,
    };

    vl_virt_test_init();
    rig->retry_ms = g_array_new(FALSE, FALSE, sizeof(guint));
    rig->table = vl_domain_table_new();
    rig->events = vl_events_new(rig->table);
    rig->conn = vl_conn_new(uri, &options, &handlers, rig);
    vl_conn_start(rig->conn);
    return rig;
}

void
vl_virt_test_rig_free(VlVirtTestRig *rig)
{
    if (!rig)
        return;
    g_clear_pointer(&rig->conn, vl_conn_free);
    g_clear_pointer(&rig->events, vl_events_free);
    g_clear_pointer(&rig->table, vl_domain_table_free);
    g_array_unref(rig->retry_ms);
    g_free(rig->last_reason);
    g_free(rig);
}

typedef struct {
    VlVirtTestRig *rig;
    guint n;
} ConnWait;

static gboolean
connections_reached(gpointer data)
{
    ConnWait *w = data;

    return w->rig->n_connected >= w->n && vl_conn_is_connected(w->rig->conn);
}

gboolean
vl_virt_test_rig_wait_connections(VlVirtTestRig *rig, guint n)
{
    ConnWait w = { rig, n };

    return vl_virt_test_wait(connections_reached, &w);
}

typedef struct {
    VlDomainTable *table;
    const char *name;
    guint n;
} EventWait;

static gboolean
events_reached(gpointer data)
{
    EventWait *w = data;
    VlDomainInfo *info = vl_domain_table_lookup(w->table, w->name);

    return info && vl_domain_info_get_n_events(info) >= w->n;
}

gboolean
vl_virt_test_wait_events(VlDomainTable *table, const char *name, guint n)
{
    EventWait w = { table, name, n };

    return vl_virt_test_wait(events_reached, &w);
}
