/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-test.h: helpers shared by the tests against test:///default */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "conn.h"
#include "domains.h"
#include "events.h"
#include "test-util.h"

G_BEGIN_DECLS

/* Hard limit for anything the tests wait for on the main loop. */
#define VL_VIRT_TEST_TIMEOUT_MS 10000

/* gvir_init_check() and gvir_event_register(), as the daemon does. */
void vl_virt_test_init(void);

/* vl_test_loop_run_until() with VL_VIRT_TEST_TIMEOUT_MS. */
gboolean vl_virt_test_wait(VlTestCondition cond, gpointer data);

/* TRUE if @s looks like "2026-01-31T12:34:56.789Z". */
gboolean vl_virt_test_is_timestamp(const char *s);

/*
 * Writes a test-driver node file with one running domain, "vl-node-1",
 * into @dir and returns its URI ("test:///DIR/node.xml").
 */
char *vl_virt_test_write_node(const char *dir);

/* The event strings recorded for @name, oldest first (NULL-terminated;
 * an empty vector when the domain is unknown). */
char **vl_virt_test_events(VlDomainTable *table, const char *name);

/*
 * The daemon's wiring without the daemon: a VlConn whose handlers
 * attach and detach a VlEvents feeding a VlDomainTable, counting what
 * happens.  Started at once.
 */
typedef struct {
    VlDomainTable *table;
    VlEvents *events;
    VlConn *conn;
    guint n_connected;
    guint n_disconnected;
    GArray *retry_ms;           /* guint, one per failed attempt */
    char *last_reason;          /* of the last disconnection */
    gboolean last_lost;         /* ...and whether it was a loss */
} VlVirtTestRig;

VlVirtTestRig *vl_virt_test_rig_new(const char *uri, guint backoff_min_ms,
                                    guint backoff_max_ms);
void vl_virt_test_rig_free(VlVirtTestRig *rig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlVirtTestRig, vl_virt_test_rig_free)

/* Waits until @rig has connected @n times in all. */
gboolean vl_virt_test_rig_wait_connections(VlVirtTestRig *rig, guint n);

/* Waits until @name has at least @n events in @table. */
gboolean vl_virt_test_wait_events(VlDomainTable *table, const char *name,
                                  guint n);

/* Removes @dir and the files in it (not recursive). */
void vl_virt_test_rmdir(const char *dir);

G_END_DECLS
