/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lanes.h: bringing migration lanes up and down, and keeping track of them
 *
 * A lane is one spare NIC towards a peer host (a VlLaneConfig of the
 * policy) made usable for a migration: link up, address set, a routing
 * table of its own with the route to the peer's migration address, and
 * an "ip rule fwmark" selecting that table.  Steering then spreads the
 * migration's TCP connections over the base path and the up lanes
 * (docs/lanes.md).
 *
 * Two layers:
 *
 * - VlLaneBackend, an ops table (up, down, steer) in the style of
 *   mptcpd's path-manager plugins: the seam between the bookkeeping and
 *   the system.  vl_lane_backend_new_scripts() is the real one (it runs
 *   the qemu-scripts/lane-* scripts through VlScriptRunner); tests
 *   plug in fakes.
 *
 * - VlLaneManager, which owns the lanes this daemon brought up.  Every
 *   lane is written to an on-disk journal *before* the backend is asked
 *   to create it and removed from the journal only once it is down, so
 *   after a crash vl_lane_manager_recover_async() can tear down exactly
 *   what was left.  Lanes are reference-counted by plan id: a lane used
 *   by two migrations comes down after the last one releases it.
 *
 * Everything runs on the thread-default main context of the caller; the
 * manager is not thread-safe.  The library does not log: admin-facing
 * messages go to the VlLaneLogFunc given to the manager.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <json-c/json.h>

#include "policy.h"

G_BEGIN_DECLS

/* Lanes one manager may hold at once; marks and tables are allocated in
 * table_base + 1 .. table_base + VL_LANES_MAX. */
#define VL_LANES_MAX 64
/* Default first routing table / fwmark; table_base itself is the mark
 * of the base path (no "ip rule" for it: the main table routes it). */
#define VL_LANE_TABLE_BASE_DEFAULT 7600
#define VL_LANE_TABLE_BASE_MIN 256
#define VL_LANE_TABLE_BASE_MAX 2000000000

typedef enum {
    VL_LANE_STATE_COMING_UP,  /* recorded; the backend is bringing it up */
    VL_LANE_STATE_UP,         /* up and steered to */
    VL_LANE_STATE_GOING_DOWN, /* unsteered; the backend is taking it down */
    VL_LANE_STATE_FAILED,     /* up or down failed; still in the journal */
} VlLaneState;

/* "coming-up", "up", "going-down", "failed" (static string). */
const char *vl_lane_state_to_string(VlLaneState state);

/* ---- one lane, as the backend sees it -------------------------------- */

/*
 * Everything a backend needs to bring one lane up or down.  The same
 * values go to lane-up and lane-down (docs/lanes.md, "The scripts").
 */
typedef struct {
    char *interface;              /* "lane1" */
    char *address;                /* this end with prefix, "198.18.11.1/24" */
    char *peer_address;           /* the peer's end, "198.18.11.2" */
    char *peer_migration_address; /* "198.19.0.2" */
    guint table;                  /* routing table, also the fwmark */
    guint mark;                   /* fwmark (== table today) */
} VlLaneSpec;

VlLaneSpec *vl_lane_spec_new(void);
VlLaneSpec *vl_lane_spec_copy(const VlLaneSpec *spec);
void vl_lane_spec_free(VlLaneSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlLaneSpec, vl_lane_spec_free)

/* ---- the back end (the seam) ----------------------------------------- */

/*
 * Completion of one backend operation.  @error: (transfer full)
 * (nullable): NULL on success, else VL_ERROR_SCRIPT, VL_ERROR_TIMEOUT,
 * ... naming the lane.  A backend must call @done exactly once, and
 * never before the operation function has returned (from a later
 * main-loop iteration, as GSubprocess and g_idle_add() do).
 */
typedef void (*VlLaneBackendDone)(GError *error, gpointer user_data);

typedef struct {
    /* Bring @lane up; idempotent (up twice = up once).  @lane is
     * borrowed for the duration of the call only. */
    void (*up)(gpointer backend_data, const VlLaneSpec *lane,
               guint timeout_ms, VlLaneBackendDone done, gpointer user_data);
    /* Undo what up did; must work on a half-up or never-up lane. */
    void (*down)(gpointer backend_data, const VlLaneSpec *lane,
                 guint timeout_ms, VlLaneBackendDone done, gpointer user_data);
    /* Spread new TCP connections to @peer_migration_address over the
     * base path (@base_mark) and @lanes (borrowed for the call, all up),
     * replacing any earlier steering for that peer.  No lanes: remove
     * the peer's steering. */
    void (*steer)(gpointer backend_data, const char *peer_migration_address,
                  guint base_mark, const VlLaneSpec *const *lanes,
                  guint n_lanes, guint timeout_ms,
                  VlLaneBackendDone done, gpointer user_data);
    /* Frees @backend_data (nullable member). */
    void (*free)(gpointer backend_data);
} VlLaneBackendOps;

typedef struct {
    const VlLaneBackendOps *ops; /* static, borrowed */
    gpointer data;               /* owned: released with ops->free */
} VlLaneBackend;

/* Wraps @ops and @data (transfer full) into a backend. */
VlLaneBackend *vl_lane_backend_new(const VlLaneBackendOps *ops, gpointer data);
void vl_lane_backend_free(VlLaneBackend *backend);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlLaneBackend, vl_lane_backend_free)

/**
 * vl_lane_backend_new_scripts:
 * @script_dir: where lane-up, lane-down and lane-steer live (copied);
 *              refused at run time when group- or world-writable
 * @state_dir: passed to lane-up/lane-down as --state-dir (copied): where
 *             they note what they changed, so that down undoes only that
 *
 * The real back end: runs SCRIPT_DIR/lane-up, lane-down and lane-steer
 * with argv only, a cleared environment (PATH, LC_ALL=C), stderr
 * captured into the error and a kill on timeout (see script-run.h).
 */
VlLaneBackend *vl_lane_backend_new_scripts(const char *script_dir,
                                           const char *state_dir);

/* ---- the manager ------------------------------------------------------ */

typedef struct _VlLaneManager VlLaneManager;

/* @level is G_LOG_LEVEL_MESSAGE, _WARNING or _DEBUG. */
typedef void (*VlLaneLogFunc)(GLogLevelFlags level, const char *message,
                              gpointer user_data);

/**
 * vl_lane_manager_new:
 * @journal_path: the journal, e.g. /var/lib/virt-lanes/lanes.json (copied);
 *                its directory is created 0700 when missing
 * @table_base: see VL_LANE_TABLE_BASE_DEFAULT (MIN..MAX)
 * @backend: (transfer full): what brings lanes up and down
 * @log_func: (nullable): receives admin-facing messages
 * @log_data: passed to @log_func
 *
 * Reads nothing yet: call vl_lane_manager_recover_async() before use.
 */
VlLaneManager *vl_lane_manager_new(const char *journal_path,
                                   guint table_base,
                                   VlLaneBackend *backend,
                                   VlLaneLogFunc log_func,
                                   gpointer log_data);

/*
 * Frees the bookkeeping only: lanes that are up stay up and stay in the
 * journal (the next start recovers them).  Operations still running
 * are cancelled; their callbacks still run, with G_IO_ERROR_CANCELLED.
 * Use vl_lane_manager_release_all_async() first for an orderly end.
 */
void vl_lane_manager_free(VlLaneManager *manager);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlLaneManager, vl_lane_manager_free)

const char *vl_lane_manager_get_journal_path(VlLaneManager *manager);

/* The fwmark of the base path (== table_base). */
guint vl_lane_manager_get_base_mark(VlLaneManager *manager);

/**
 * vl_lane_manager_recover_async:
 * @timeout_ms: bound for each backend call
 *
 * Reads the journal and tears down every lane in it (steering of each
 * peer first, then each lane), logging each.  Lanes that come down are
 * removed from the journal; lanes that do not stay in it as FAILED and
 * are listed.  A missing journal is an empty one.
 *
 * A journal that cannot be read or parsed, or holds one invalid record,
 * is an error (VL_ERROR_IO or VL_ERROR_INVALID naming the file and what
 * is wrong) and *nothing* is torn down: tearing down guessed lanes could
 * remove an admin's own configuration.  The unreadable file is renamed
 * to PATH.corrupt for the admin, and the manager starts empty.
 */
void vl_lane_manager_recover_async(VlLaneManager *manager,
                                   guint timeout_ms,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
/* @n_down: (out) (optional): lanes torn down.  FALSE with @error when
 * the journal was bad or some lanes did not come down. */
gboolean vl_lane_manager_recover_finish(VlLaneManager *manager,
                                        GAsyncResult *result,
                                        guint *n_down,
                                        GError **error);

/* ---- acquiring lanes for a migration ---------------------------------- */

/* The fate of one requested lane. */
typedef struct {
    char *interface;
    gboolean up;            /* up (and steered to, unless steer_error) */
    gboolean reused;        /* was already up for another plan */
    guint table;            /* 0 when none was allocated */
    guint mark;
    GError *error;          /* why it is not up; NULL when up */
} VlLaneResult;

typedef struct {
    char *plan_id;
    char *peer_name;
    char *peer_migration_address;
    guint base_mark;
    GPtrArray *lanes;       /* VlLaneResult*, in request order */
    guint n_up;
    GError *steer_error;    /* nullable: lanes are up but not steered to */
} VlLaneReport;

void vl_lane_report_free(VlLaneReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlLaneReport, vl_lane_report_free)

/*
 * {"plan_id", "peer", "peer_migration_address", "base_mark",
 *  "lanes": [{"interface", "up", "reused", "table", "mark", "error"}],
 *  "up": [names], "failed": [names], "steering_error": string|null}.
 * Caller owns the result.
 */
json_object *vl_lane_report_to_json(const VlLaneReport *report);

/**
 * vl_lane_manager_acquire_async:
 * @plan_id: the migration's plan id (vl_metadata_plan_id_is_valid())
 * @peer: (transfer none): the policy's peer (its name, migration
 *        address and lanes are copied)
 * @interfaces: (nullable): which of @peer's lanes, by interface name, in
 *              order; NULL: the first @count lanes of @peer
 * @count: used when @interfaces is NULL (1..VL_LANES_MAX)
 * @timeout_ms: bound for each backend call (the policy's lane_up_max_s)
 *
 * Brings the lanes up (in parallel), each recorded in the journal
 * before the backend touches it, then re-steers the peer over all its
 * up lanes.  A lane already up (for another plan) just gains @plan_id.
 * Asking again for a lane the plan holds changes nothing.
 *
 * Per-lane trouble (script failure, hang, lane held for another peer)
 * does not fail the call: the report says which lanes are up and why
 * the others are not, and a lane that failed is taken down again (a
 * half-up lane must not linger).  The call fails (no report) only when
 * nothing could be attempted: bad plan id, no migration address, an
 * unknown interface, journal not writable.
 */
void vl_lane_manager_acquire_async(VlLaneManager *manager,
                                   const char *plan_id,
                                   const VlPeerConfig *peer,
                                   const char *const *interfaces,
                                   guint count,
                                   guint timeout_ms,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
/* Returns: (transfer full): the report, or NULL with @error. */
VlLaneReport *vl_lane_manager_acquire_finish(VlLaneManager *manager,
                                             GAsyncResult *result,
                                             GError **error);

/**
 * vl_lane_manager_release_async:
 *
 * Drops @plan_id from its lanes; each lane no plan holds any more is
 * unsteered (the peer is re-steered without it), taken down and removed
 * from the journal.  VL_ERROR_INVALID when @plan_id holds no lanes.
 * Lanes that fail to come down stay in the journal as FAILED and are
 * named in the error; the others still come down.
 */
void vl_lane_manager_release_async(VlLaneManager *manager,
                                   const char *plan_id,
                                   guint timeout_ms,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
/* @n_down: (out) (optional): lanes taken down by this release. */
gboolean vl_lane_manager_release_finish(VlLaneManager *manager,
                                        GAsyncResult *result,
                                        guint *n_down,
                                        GError **error);

/* Releases every plan (daemon shutdown).  Same results as above. */
void vl_lane_manager_release_all_async(VlLaneManager *manager,
                                       guint timeout_ms,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean vl_lane_manager_release_all_finish(VlLaneManager *manager,
                                            GAsyncResult *result,
                                            guint *n_down,
                                            GError **error);

/* ---- queries ----------------------------------------------------------- */

/* Lanes known (any state). */
guint vl_lane_manager_get_n_lanes(VlLaneManager *manager);

/* Whether @plan_id holds at least one lane. */
gboolean vl_lane_manager_has_plan(VlLaneManager *manager, const char *plan_id);

/* TRUE when no backend operation is running. */
gboolean vl_lane_manager_is_idle(VlLaneManager *manager);

/*
 * [{"interface", "peer", "peer_migration_address", "address",
 *   "peer_address", "table", "mark", "state", "plans": [ids],
 *   "error": string|null}, ...], sorted by interface.
 * Caller owns the result.
 */
json_object *vl_lane_manager_to_json(VlLaneManager *manager);

G_END_DECLS
