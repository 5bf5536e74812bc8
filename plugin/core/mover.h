/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mover.h: the daemon's own migrations of container members, over lanes
 *
 * VlMover is the lanes capability behind the executor's migration steps
 * (executor.h, VlExecutorMigrateFunc): one member moved as "virt-lanes
 * migrate" moves a domain (docs/containers.md, "Moves over lanes"),
 * synchronously, in the executor's worker thread:
 *
 * 1. The peer is the policy's migration.peers[] entry whose uri is the
 *    destination (vl_migrate_find_peer()).  None (a bring_back: the
 *    destination is this host, the source a peer whose daemon this one
 *    cannot ask for lanes) means a plain migration, P2P and live, to the
 *    migration address the policy gives the destination, as before.
 * 2. The estimate: guest RAM and zero pages from libvirt, the dirty rate
 *    from the daemon's background sampler ("estimate"), else one
 *    measurement ("measure"), bandwidth per link from the policy's lanes
 *    and what the history learned, the plan against the policy's
 *    threshold_s (vl_migrate_lane_plan_compute()).
 * 3. Lanes when the plan wants them: "lanes-up" to the daemon, the plan
 *    in the destination XML (its hook brings the destination's side up
 *    before QEMU starts there), multifd channels sized to the links that
 *    came up.  Lanes failing is no failure: the move goes over what came
 *    up, or the base path.  A plan with no lane still uses the policy's
 *    channels_per_lane multifd channels on the base path.
 * 4. The job (VlMigrateJob on a main context of this thread: statistics,
 *    downtime limit, stall abort), once more over the base path if it
 *    failed over lanes, then "lanes-down" after success, failure or
 *    cancel, and the plan cleared from the destination's live metadata.
 *    The move is announced first ("migration-plan"), so the daemon's
 *    monitor writes its history line with the links and channels used.
 *
 * The daemon is reached through a VlMigrateDaemonCall (its own handlers
 * through a VlIpcLocal in virt-lanesd), libvirt's job through
 * VlMigrateJobOps: the seams the tests replace.  The library does not
 * log: admin-facing lines go to a VlMoverLogFunc, on the main context
 * the mover was made on.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <libvirt/libvirt.h>

#include "migrate.h"
#include "policy.h"

G_BEGIN_DECLS

/* Default dirty-rate measurement when the sampler has nothing fresh, as
 * "virt-lanes migrate" measures (1 s is noisy under TCG). */
#define VL_MOVER_DIRTY_SAMPLE_S 3
/* The "estimate" and "lanes" queries are answered at once. */
#define VL_MOVER_QUERY_TIMEOUT_MS 3000

typedef struct _VlMover VlMover;

/* @level is G_LOG_LEVEL_MESSAGE, _WARNING or _DEBUG. */
typedef void (*VlMoverLogFunc)(GLogLevelFlags level, const char *message,
                               gpointer user_data);

typedef struct {
    /* The local daemon; NULL call = none: no lanes, no sampled rate. */
    VlMigrateDaemonCall call;
    gpointer call_data;
    GDestroyNotify call_data_free;      /* nullable: with the mover */
    /* The job's libvirt side; NULL job_ops = vl_migrate_libvirt_ops()
     * with vl_migrate_libvirt_new()/vl_migrate_libvirt_free(). */
    const VlMigrateJobOps *job_ops;
    VlMigrateJobDataNew job_data_new;
    GDestroyNotify job_data_free;
    gpointer job_user_data;
    guint poll_ms;              /* 0 = VL_MIGRATE_POLL_MS */
    /* "measure" this long when the sampler has no fresh rate; 0 = 0 B/s */
    guint dirty_sample_s;
    VlMoverLogFunc log_func;    /* nullable */
    gpointer log_data;
} VlMoverConfig;

/* Zeroes @config, then VL_MOVER_DIRTY_SAMPLE_S. */
void vl_mover_config_init(VlMoverConfig *config);

/* On the main context its log lines go to.  Not configured: every move
 * is a plain one until vl_mover_configure(). */
VlMover *vl_mover_new(const VlMoverConfig *config);
VlMover *vl_mover_ref(VlMover *mover);
void vl_mover_unref(VlMover *mover);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlMover, vl_mover_unref)

/**
 * vl_mover_configure:
 * @migration: (nullable): the policy's migration object (copied: moves
 *     in flight keep what they started with)
 * @home_uri: (nullable): this host's URI as peers reach it (a bring_back's
 *     destination)
 * @history_path: (nullable): the history file to learn bandwidth from
 */
void vl_mover_configure(VlMover *mover, const VlMigrationPolicy *migration,
                        const char *home_uri, const char *history_path);

/* Aborts every move in flight (its guest keeps running where it was);
 * the lanes come down as after any failure.  Any thread. */
void vl_mover_cancel(VlMover *mover);

/**
 * vl_mover_migrate:
 * @user_data: the VlMover
 *
 * A VlExecutorMigrateFunc: moves @dom to @dest_uri and returns when it
 * is over.  Never on the main context it reports to (it waits for the
 * daemon's replies there).
 */
gboolean vl_mover_migrate(virDomainPtr dom, const char *dest_uri,
                          gpointer user_data, GError **error);

G_END_DECLS
