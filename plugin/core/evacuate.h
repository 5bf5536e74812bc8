/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * evacuate.h: moving a group of domains off this host, in the order
 * their traffic suggests
 *
 * Three parts, each usable and tested on its own (docs/evacuate.md):
 *
 * 1. The graph (pure): the domains to move, the admin's declared
 *    affinities and the traffic observed (traffic.h), in one VlGraph.
 *
 * 2. The plan (pure): the order from order.h's vl_order_plan() and, per
 *    domain, an estimate of its migration (estimate.h) with the links it
 *    uses.  Up to N moves run at once and share the links: each move's
 *    estimate gets 1/k of the aggregate bandwidth, k = min(N, domains).
 *    The predicted start and end of each move follow from starting them
 *    in order, each as soon as one of the N slots is free.
 *
 * 3. The run: starts the moves in the plan's order (or, with a dynamic
 *    order, the pending domain with the most traffic to the ones that
 *    have left, order.h's vl_order_next(), re-observing between moves),
 *    at most N at once, through VlEvacuateMoverOps, the seam between
 *    the order of things and how one domain is migrated (the real one
 *    is the migration driver of migrate.h, VlEvacuateMigrator).  A failed move
 *    stops new ones from starting and lets running ones finish;
 *    vl_evacuate_run_cancel() also aborts the running ones.  The run
 *    lives on the thread-default main context of whoever starts it.
 *
 * The library does not log; the CLI prints.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "estimate.h"
#include "graph.h"
#include "migrate.h"
#include "order.h"
#include "policy.h"
#include "vl-error.h"

G_BEGIN_DECLS

/* At most this many moves at once. */
#define VL_EVACUATE_CONCURRENCY_MAX 16

/* The fixed cost of one move besides its job and the lanes coming up,
 * when the history has none (docs/estimator.md, "The fixed cost of a
 * move"): about the mean the lab measured one at a time with the lanes
 * held for the whole run (5.6, 0.5 and 0.5 s). */
#define VL_EVACUATE_MOVE_OVERHEAD_S 2.0
/* Bounds of a fixed cost or lane bring-up time given to the plan. */
#define VL_EVACUATE_FIXED_MAX_S 600.0

/* ---- the graph ------------------------------------------------------- */

/**
 * vl_evacuate_graph_build:
 * @domains: NULL-terminated, distinct names of the domains to move
 * @affinities: (nullable) (element-type VlAffinity): declared pairs
 *   (borrowed); pairs with a domain outside @domains are ignored
 * @observed: (nullable): traffic seen (bytes/s, traffic.h); edges with
 *   a domain outside @domains are ignored
 * @affinity_scale: (out) (optional): what one unit of affinity weight
 *   became
 * @error: (out) (optional): VL_ERROR_INVALID on an empty, repeated or
 *   non-UTF-8 name
 *
 * The graph the plan orders: vertex i is @domains[i]; an edge for each
 * observed pair, plus one for each declared pair.  Declared weights are
 * relative, so they are scaled to the observed ones: the heaviest
 * affinity among @domains counts as much as the heaviest observed pair
 * (unscaled, factor 1, when nothing was observed).  A pair both
 * declared and observed gets the sum.
 *
 * Returns: (transfer full): the graph
 */
VlGraph *vl_evacuate_graph_build(const char *const *domains,
                                 GPtrArray *affinities,
                                 const VlGraph *observed,
                                 double *affinity_scale,
                                 GError **error);

/* ---- the plan -------------------------------------------------------- */

/* One domain to move and what its estimate needs. */
typedef struct {
    char *name;
    double memory_bytes;        /* guest RAM; 0 when unknown */
    double zero_bytes;          /* RAM thought to be zero pages */
    double dirty_rate_bps;      /* NAN when not measured (0 is used) */
} VlEvacuateDomain;

VlEvacuateDomain *vl_evacuate_domain_new(const char *name);
void vl_evacuate_domain_free(VlEvacuateDomain *domain);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlEvacuateDomain, vl_evacuate_domain_free)

/* One move's estimate, as VlEvacuateEstimateFunc fills it. */
typedef struct {
    gboolean estimated;         /* FALSE: nothing known, times are NAN */
    VlEstimate estimate;        /* when estimated */
    double bandwidth_bps;       /* usable aggregate this move gets */
    guint channels;             /* multifd channels, 0 = one stream */
    GStrv links;                /* names of the links it uses (owned) */
} VlEvacuateMoveEstimate;

void vl_evacuate_move_estimate_clear(VlEvacuateMoveEstimate *estimate);

/**
 * VlEvacuateEstimateFunc:
 * @data: the function's data
 * @domain: the domain
 * @sharing: how many moves share the links (>= 1)
 * @out: (out caller-allocates): zeroed by the caller
 * @error: (out) (optional)
 *
 * Estimates one move.  Returns FALSE with @error on absurd input (the
 * plan fails); a domain about which too little is known is a success
 * with @out->estimated FALSE.
 */
typedef gboolean (*VlEvacuateEstimateFunc)(gpointer data,
                                           const VlEvacuateDomain *domain,
                                           guint sharing,
                                           VlEvacuateMoveEstimate *out,
                                           GError **error);

/* One link to the destination: the base path or a lane. */
typedef struct {
    char *name;                 /* "base" or the lane's interface */
    double bps;                 /* raw link rate, bytes/s, > 0 */
} VlEvacuateLink;

/* The links every move uses, for vl_evacuate_estimate_links(). */
typedef struct {
    GPtrArray *links;           /* VlEvacuateLink*, owned; base path first */
    guint channels_per_link;    /* multifd channels per link, >= 1 */
    double max_downtime_s;      /* QEMU's downtime limit */
    /* each job's setup until RAM flows: VL_MIGRATE_SETUP_S, or what
     * vl_evacuate_path_learn_setup() took from the history */
    double setup_s;
} VlEvacuatePath;

VlEvacuatePath *vl_evacuate_path_new(void);
void vl_evacuate_path_free(VlEvacuatePath *path);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlEvacuatePath, vl_evacuate_path_free)

/* Appends a link (@name copied); FALSE with VL_ERROR_INVALID for a rate
 * that is not positive and finite. */
gboolean vl_evacuate_path_add_link(VlEvacuatePath *path, const char *name,
                                   double bps, GError **error);

/**
 * vl_evacuate_path_learn_setup:
 * @history: (nullable): earlier migrations
 *
 * Sets @path's setup_s from the job overhead the history teaches
 * (vl_history_learned_job_overhead(), then
 * vl_migrate_setup_from_overhead()), as
 * "virt-lanes migrate" and the daemon's mover plan with it.  Returns
 * FALSE, @path unchanged, when the history teaches none.
 */
gboolean vl_evacuate_path_learn_setup(VlEvacuatePath *path,
                                      const VlHistory *history);

/* vl_evacuate_path_from_peer()'s @max_lanes for the policy's max_lanes. */
#define VL_EVACUATE_LANES_FROM_POLICY G_MAXUINT

/**
 * vl_evacuate_path_from_peer:
 * @migration: the policy's migration object (borrowed)
 * @peer: the destination (borrowed)
 * @max_lanes: most lanes besides the base path (0: the base path alone),
 *   or VL_EVACUATE_LANES_FROM_POLICY
 * @unavailable: (nullable): lanes that cannot come up
 *   (vl_migrate_unavailable_lanes()), left out
 * @error: (out) (optional): VL_ERROR_INVALID when no rate is known for
 *   the base path (no base_bandwidth_mbit and no lane)
 *
 * The path to @peer: the base path at the peer's base_bandwidth_mbit,
 * else as fast as its first lane (what "virt-lanes migrate" assumes
 * without history), then the peer's lanes in bring-up order, at most
 * @max_lanes of them.  Channels per link and the downtime limit are the
 * policy's.
 * Returns: (transfer full): the path
 */
VlEvacuatePath *vl_evacuate_path_from_peer(const VlMigrationPolicy *migration,
                                           const VlPeerConfig *peer,
                                           guint max_lanes,
                                           GHashTable *unavailable,
                                           GError **error);

/**
 * vl_evacuate_estimate_links:
 * The default VlEvacuateEstimateFunc; @data is a VlEvacuatePath.  Each
 * link's rate (and so the aggregate) is divided by @sharing; the
 * channels are those the mover will use,
 * vl_migrate_channels_for(links, channels_per_link, 0).
 */
gboolean vl_evacuate_estimate_links(gpointer data,
                                    const VlEvacuateDomain *domain,
                                    guint sharing,
                                    VlEvacuateMoveEstimate *out,
                                    GError **error);

typedef struct {
    guint concurrency;          /* moves at once, 1..VL_EVACUATE_CONCURRENCY_MAX */
    VlOrderOptions order;       /* vl_order_plan()'s options */
    VlEvacuateEstimateFunc estimate;    /* nullable: no estimates */
    gpointer estimate_data;
    /* Added to every estimated move's job time, 0..VL_EVACUATE_FIXED_MAX_S */
    double move_overhead_s;
    /* The lanes coming up, once, before the first move starts (0 without
     * lanes), 0..VL_EVACUATE_FIXED_MAX_S */
    double lanes_up_s;
} VlEvacuatePlanConfig;

/* Concurrency 1, order.h's defaults, no estimate function, the default
 * fixed cost per move (VL_EVACUATE_MOVE_OVERHEAD_S), no lanes. */
void vl_evacuate_plan_config_init(VlEvacuatePlanConfig *config);

/**
 * vl_evacuate_move_overhead:
 * @wall_s: the whole move as the mover saw it, start to end
 * @job_s: the job's own time (QEMU's time_elapsed)
 * @lanes_wait_s: what the move waited for the run's lanes to come up
 *
 * The fixed cost of one move, what the history records and
 * vl_history_learned_overhead() learns: @wall_s minus the job and the
 * lanes, never below 0; NAN when an input is not a finite number >= 0.
 */
double vl_evacuate_move_overhead(double wall_s, double job_s, double lanes_wait_s);

typedef struct {
    char *name;
    guint vertex;               /* in the plan's graph */
    double memory_bytes;        /* the domain's inputs, as given */
    double zero_bytes;
    double dirty_rate_bps;      /* NAN when not measured */
    VlEvacuateMoveEstimate move;
    double job_s;               /* predicted job time: NAN unknown,
                                 * INFINITY when it does not converge */
    double overhead_s;          /* the fixed cost; NAN when not estimated */
    double duration_s;          /* job_s + overhead_s: the move's time */
    double start_s;             /* predicted, from the first start */
    double end_s;
} VlEvacuateStep;

typedef struct {
    GPtrArray *steps;           /* VlEvacuateStep*, in move order */
    guint concurrency;          /* as asked */
    guint sharing;              /* min(concurrency, domains) */
    guint n_edges;              /* edges among the domains */
    guint bandwidth;            /* max stretch of the order */
    double cost;                /* total weighted stretch */
    VlOrderMethod method;
    gboolean optimal;
    double lanes_up_s;          /* before the first move, as configured */
    double move_overhead_s;     /* per move, as configured */
    double total_s;             /* predicted end of the last move */
} VlEvacuatePlan;

void vl_evacuate_plan_free(VlEvacuatePlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlEvacuatePlan, vl_evacuate_plan_free)

/**
 * vl_evacuate_plan_compute:
 * @graph: from vl_evacuate_graph_build(): every domain of @domains is a
 *   vertex
 * @domains: (element-type VlEvacuateDomain): the domains (borrowed)
 * @config: (nullable): NULL for the defaults
 * @error: (out) (optional): VL_ERROR_INVALID for no domains, a domain
 *   missing from @graph, a bad config; the estimate function's error
 *
 * The order is vl_order_plan() over @domains; each step's estimate uses
 * sharing = min(concurrency, number of domains); its duration is the
 * job plus move_overhead_s.  Predicted times: every slot is free at
 * lanes_up_s; moves start in order, each when one of the concurrency
 * slots frees; the total is the latest end (NAN when a duration is
 * unknown, INFINITY when a move does not converge).
 * Returns: (transfer full): the plan
 */
VlEvacuatePlan *vl_evacuate_plan_compute(const VlGraph *graph,
                                         GPtrArray *domains,
                                         const VlEvacuatePlanConfig *config,
                                         GError **error);

/* The plan's names in move order, NULL-terminated (transfer full). */
GStrv vl_evacuate_plan_get_order(const VlEvacuatePlan *plan);

/*
 * {"concurrency", "sharing", "edges", "max_stretch", "total_stretch",
 *  "method", "optimal", "lanes_up_s", "move_overhead_s", "total_s",
 *  "moves": [{"position", "domain", "memory_bytes", "zero_bytes",
 *             "dirty_rate_bps", "estimated", "links", "channels",
 *             "bandwidth_bps", "job_s", "overhead_s", "duration_s",
 *             "downtime_s", "converges",
 *             "verdict", "start_s", "end_s"}]};
 * numbers that are unknown or infinite are null.  Caller owns it.
 */
json_object *vl_evacuate_plan_to_json(const VlEvacuatePlan *plan);

/* ---- the run --------------------------------------------------------- */

typedef enum {
    VL_EVACUATE_MOVE_PENDING,   /* not started */
    VL_EVACUATE_MOVE_RUNNING,
    VL_EVACUATE_MOVE_MOVED,
    VL_EVACUATE_MOVE_FAILED,    /* the guest is still on this host */
    VL_EVACUATE_MOVE_CANCELLED, /* aborted on request, still on this host */
} VlEvacuateMoveState;

/* "pending", "running", "moved", "failed", "cancelled" */
const char *vl_evacuate_move_state_to_string(VlEvacuateMoveState state);

typedef struct _VlEvacuateRun VlEvacuateRun;

typedef struct {
    double elapsed_s;
    double percent;             /* of RAM sent; NAN unknown */
    double bandwidth_bps;       /* NAN unknown */
    double eta_s;               /* NAN unknown */
} VlEvacuateProgress;

/*
 * How one domain is migrated.  All three are called on the run's main
 * context.
 */
typedef struct {
    /*
     * Starts moving @domain; the mover later reports with
     * vl_evacuate_run_move_progress() (any number of times) and
     * vl_evacuate_run_move_done() (exactly once), on the run's main
     * context and never from inside start().  Returns a handle, or NULL
     * with @error when it could not start (a failed move).
     */
    gpointer (*start)(gpointer data, VlEvacuateRun *run, guint move,
                      const char *domain, GError **error);
    /* Asks a running move to abort, leaving the guest on this host. */
    void (*cancel)(gpointer data, gpointer handle);
    /* Frees a handle once its move is done (nullable member). */
    void (*free)(gpointer data, gpointer handle);
    /*
     * Nullable member.  Called once, when no move runs and none will
     * start (all moved, a failure, a cancel), before the done callback:
     * gives back what the mover held for the whole run (the lanes).  The
     * mover then calls vl_evacuate_run_mover_released() exactly once, on
     * the run's main context (from inside release() too).
     */
    void (*release)(gpointer data, VlEvacuateRun *run);
} VlEvacuateMoverOps;

typedef enum {
    VL_EVACUATE_EVENT_STARTED,  /* a move started */
    VL_EVACUATE_EVENT_PROGRESS, /* a mover reported progress */
    VL_EVACUATE_EVENT_FINISHED, /* a move ended (state says how) */
    VL_EVACUATE_EVENT_STOPPING, /* no more moves start (error says why) */
    VL_EVACUATE_EVENT_OBSERVED, /* a re-observation ended (dynamic) */
    VL_EVACUATE_EVENT_NOTE,     /* a mover says something about a move */
} VlEvacuateEventType;

typedef struct {
    VlEvacuateEventType type;
    guint move;                 /* index of the domain (plan order) */
    const char *domain;         /* STARTED, PROGRESS, FINISHED */
    guint position;             /* STARTED: 1-based start position */
    VlEvacuateMoveState state;  /* FINISHED */
    const VlEvacuateProgress *progress; /* PROGRESS */
    const GError *error;        /* FINISHED failed/cancelled, STOPPING,
                                 * OBSERVED when it failed */
    double weight_to_moved;     /* STARTED, dynamic: traffic to the
                                 * domains started before */
    const VlGraph *observed;    /* OBSERVED: what was seen (nullable) */
    const char *note;           /* NOTE */
} VlEvacuateEvent;

typedef void (*VlEvacuateEventFunc)(VlEvacuateRun *run,
                                    const VlEvacuateEvent *event,
                                    gpointer user_data);
typedef void (*VlEvacuateDoneFunc)(VlEvacuateRun *run, gpointer user_data);

/*
 * Observes traffic now, in a worker thread (it may block for its
 * sampling interval); returns bytes/s between domains, or NULL with
 * @error (the run goes on with what it knew).
 */
typedef VlGraph *(*VlEvacuateObserveFunc)(gpointer data,
                                          GCancellable *cancellable,
                                          GError **error);

/**
 * vl_evacuate_run_new:
 * @plan: (transfer none): the order and the domains; copied
 * @ops: (transfer none): static
 * @ops_data: (transfer none): must outlive the run
 */
VlEvacuateRun *vl_evacuate_run_new(const VlEvacuatePlan *plan,
                                   const VlEvacuateMoverOps *ops,
                                   gpointer ops_data);
/* Must not be called before the done callback. */
void vl_evacuate_run_free(VlEvacuateRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlEvacuateRun, vl_evacuate_run_free)

/**
 * vl_evacuate_run_set_dynamic:
 * @known: (transfer none): the graph known at the start (copied)
 * @observe: (nullable): re-observation, in a worker thread; NULL = only
 *   @known is used
 * @observe_data: (transfer none): must outlive the run
 *
 * Before each start after a move has finished, @observe runs and what it
 * sees is merged into the known graph (a pair keeps the highest rate
 * seen).  The next domain is vl_order_next(known, started, pending)
 * when it has traffic to a started domain; otherwise the first pending
 * domain in the plan's order (the plan already used all that was known).
 * Call before vl_evacuate_run_start().
 */
void vl_evacuate_run_set_dynamic(VlEvacuateRun *run, const VlGraph *known,
                                 VlEvacuateObserveFunc observe,
                                 gpointer observe_data);

/**
 * vl_evacuate_run_start:
 * @event: (nullable): every event, on the main context
 * @done: called once, from the main context, when nothing runs and
 *   nothing more will start
 */
void vl_evacuate_run_start(VlEvacuateRun *run, VlEvacuateEventFunc event,
                           VlEvacuateDoneFunc done, gpointer user_data);

/* Stops starting moves and asks the running ones to abort. */
void vl_evacuate_run_cancel(VlEvacuateRun *run);

/* Called by movers, on the main context. */
void vl_evacuate_run_move_progress(VlEvacuateRun *run, guint move,
                                   const VlEvacuateProgress *progress);
/* A line about a running move for the admin ("lanes up: lane1"). */
void vl_evacuate_run_move_note(VlEvacuateRun *run, guint move, const char *note);
/* The mover's release() has ended (VlEvacuateMoverOps). */
void vl_evacuate_run_mover_released(VlEvacuateRun *run);
/* @moved: the domain is on the destination; otherwise @error says why
 * (copied); @cancelled: it was aborted on request. */
void vl_evacuate_run_move_done(VlEvacuateRun *run, guint move, gboolean moved,
                               gboolean cancelled, const GError *error);

guint vl_evacuate_run_get_n_moves(const VlEvacuateRun *run);
const char *vl_evacuate_run_get_domain(const VlEvacuateRun *run, guint move);
VlEvacuateMoveState vl_evacuate_run_get_state(const VlEvacuateRun *run,
                                              guint move);
/* Why it failed or was cancelled, or NULL (borrowed). */
const GError *vl_evacuate_run_get_error(const VlEvacuateRun *run, guint move);
/* Seconds from its start to its end; NAN when it did not start. */
double vl_evacuate_run_get_duration(const VlEvacuateRun *run, guint move);
/* Move indices in the order they started (borrowed array). */
const guint *vl_evacuate_run_get_started(const VlEvacuateRun *run,
                                         guint *n_started);
gboolean vl_evacuate_run_was_cancelled(const VlEvacuateRun *run);
/* Whether every domain moved. */
gboolean vl_evacuate_run_succeeded(const VlEvacuateRun *run);

/* ---- the mover: the migration driver (migrate.h) ---------------------- */

/*
 * One move as "virt-lanes migrate" makes it, except that the lanes are
 * the run's: the first move asks the local daemon for them ("lanes-up"
 * under one plan id for the whole run; a move starting meanwhile waits
 * for that answer) and every move uses them; release() at the end of the
 * run ("lanes-down"), or the first failure over them, takes them down,
 * and vl_evacuate_migrator_free() does if nothing did.  Per move: size
 * the multifd channels to the links that came up, put a plan of its own
 * into the destination XML (the destination's daemon brings its side up
 * per incoming migration), run the job (VlMigrateJob:
 * virDomainMigrateToURI3 in a thread, statistics, ETA, stall abort),
 * retry once over the base path alone if a migration over lanes fails,
 * then, after a success, clear the plan from the destination's live
 * metadata and write a history line with the move's fixed cost.
 * Blocking steps (lanes, XML, history) run in worker threads.  Every step
 * that matters to an admin is reported as a note
 * (vl_evacuate_run_move_note()).
 */
typedef struct _VlEvacuateMigrator VlEvacuateMigrator;

/* Makes the job's ops data for one move (migrate.h). */
typedef VlMigrateJobDataNew VlEvacuateJobDataNew;

typedef struct {
    virConnectPtr conn;         /* the source; a reference is taken */
    const char *dest_uri;       /* copied */
    /* borrowed, must outlive the migrator: max_downtime_ms,
     * channels_per_lane, lane_up_max_s, migration_address */
    const VlMigrationPolicy *migration;
    /* nullable, borrowed: the destination in the policy, for lanes and
     * its migration address */
    const VlPeerConfig *peer;
    guint lanes;                /* lanes to ask for, per move (0 = none) */
    GHashTable *unavailable;    /* nullable, borrowed: lanes not to ask for */
    /* The daemon; NULL call = none, so no lanes. */
    VlMigrateDaemonCall call;
    gpointer call_data;
    /* The job's libvirt side; NULL for vl_migrate_libvirt_ops() and
     * vl_migrate_libvirt_new()/vl_migrate_libvirt_free(). */
    const VlMigrateJobOps *job_ops;
    VlEvacuateJobDataNew job_data_new;
    GDestroyNotify job_data_free;
    gpointer job_user_data;
    guint poll_ms;              /* 0 = VL_MIGRATE_POLL_MS */
    /* nullable, copied: where each completed move's history line goes
     * (unless the daemon wrote one) */
    const char *history_path;
} VlEvacuateMigratorConfig;

/* Zeroes @config (no daemon, no lanes, libvirt's job ops). */
void vl_evacuate_migrator_config_init(VlEvacuateMigratorConfig *config);

VlEvacuateMigrator *vl_evacuate_migrator_new(const VlEvacuateMigratorConfig *config);
void vl_evacuate_migrator_free(VlEvacuateMigrator *migrator);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlEvacuateMigrator, vl_evacuate_migrator_free)

/* The ops; their data is a VlEvacuateMigrator. */
const VlEvacuateMoverOps *vl_evacuate_migrator_ops(void);

/*
 * {"ok", "cancelled", "moved": [names in start order],
 *  "not_moved": [names], "moves": [{"domain", "state", "position"
 *  (1-based or null), "duration_s", "error"}] in start order, then those
 *  never started in plan order}.  Caller owns it.
 */
json_object *vl_evacuate_run_to_json(const VlEvacuateRun *run);

G_END_DECLS
