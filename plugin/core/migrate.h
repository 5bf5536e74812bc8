/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migrate.h: the migration driver behind "virt-lanes migrate"
 *
 * Four steps, each usable on its own (docs/lanes.md, "virt-lanes
 * migrate"):
 *
 * 1. Planning (pure, no libvirt, no I/O): find the peer in the policy,
 *    then estimate the migration over the base path alone and, while the
 *    estimate exceeds the threshold and another lane can come up, add a
 *    lane and estimate again.  Every step is kept so that the CLI can
 *    print how it decided (vl_migrate_lane_plan_compute()).
 *
 * 2. Lanes: ask the local daemon to bring the chosen lanes up
 *    ("lanes-up", docs/architecture.md) and read which did; size the
 *    multifd channels to the links that are up so that the daemon's
 *    round-robin steering spreads them evenly; put the plan into the
 *    destination XML for the destination's daemon.  The daemon is
 *    reached through VlMigrateDaemonCall, the seam the tests replace.
 *
 * 3. The job (VlMigrateJob): virDomainMigrateToURI3() in a GTask thread
 *    while the main context polls the job statistics, feeds them to a
 *    VlEta and reports progress; cancelling aborts the libvirt job.
 *    libvirt is reached through VlMigrateJobOps, again a seam.
 *
 * 4. Afterwards: "lanes-down" and a history record.
 *
 * "Links" below counts the paths a migration uses: the base path (the
 * route to the peer's migration address that exists without lanes) plus
 * the lanes that are up; the history's "lanes" counts links in this
 * sense (a plain migration uses one), while the policy's max_lanes, like
 * the daemon, counts lanes besides the base path (max_links = 1 +
 * max_lanes).
 *
 * The library does not log (g_debug only); the CLI prints.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "estimate.h"
#include "eta.h"
#include "history.h"
#include "metadata.h"
#include "policy.h"
#include "vl-error.h"

G_BEGIN_DECLS

/* Polling interval of the job statistics while a migration runs. */
#define VL_MIGRATE_POLL_MS 500
/* Share of a link's raw rate a migration stream gets (docs/estimator.md). */
#define VL_MIGRATE_EFFICIENCY 0.95
/* From the start of the job until RAM flows, and resume after the last
 * byte: the lab's measurements (docs/estimator.md, "Inputs"). */
#define VL_MIGRATE_SETUP_S 1.4
#define VL_MIGRATE_RESUME_S 0.1

/**
 * vl_migrate_setup_from_overhead:
 * @overhead_s: a job's setup and resume together, as the history learns
 *   it (vl_history_learned_job_overhead()); NAN or negative: unknown
 *
 * The setup to estimate with: @overhead_s less the resume's fixed share,
 * or VL_MIGRATE_SETUP_S when @overhead_s is unknown.
 */
double vl_migrate_setup_from_overhead(double overhead_s);
/* libvirt's bound on "parallel.connections". */
#define VL_MIGRATE_CHANNELS_MAX 255
/* With lanes, a job whose sent bytes do not grow for this long plus two
 * lane_up_max_s is aborted (and tried again over the base path): a
 * channel steered onto a lane the destination did not bring up never
 * moves (docs/lanes.md, "The destination path"). */
#define VL_MIGRATE_STALL_ABORT_S 10

/* ---- the peer ------------------------------------------------------- */

/**
 * vl_migrate_uri_equal:
 *
 * Whether two libvirt URIs name the same host the same way: equal
 * strings, or equal scheme and host (both case-insensitive), user, port,
 * path (a trailing '/' aside) and query.  Unparsable URIs are only
 * equal as strings.
 */
gboolean vl_migrate_uri_equal(const char *a, const char *b);

/**
 * vl_migrate_find_peer:
 * @migration: the policy's migration object (borrowed)
 * @dest_uri: the destination URI given to "migrate"
 * @peer_name: (nullable): --peer; when set the peer is found by name
 *             and @dest_uri may be any URI of that host
 *
 * Returns: (transfer none): the peer, or NULL with VL_ERROR_INVALID
 * naming what was looked for and the peers there are.
 */
VlPeerConfig *vl_migrate_find_peer(const VlMigrationPolicy *migration,
                                   const char *dest_uri,
                                   const char *peer_name,
                                   GError **error);

/* ---- channels -------------------------------------------------------- */

/**
 * vl_migrate_channels_for:
 * @links: paths in use (base path + lanes up), >= 1
 * @per_link: channels per link (the policy's channels_per_lane), >= 1
 * @requested: --parallel-connections, 0 = use @per_link
 *
 * The multifd channel count for @links paths.  lane-steer hands new
 * connections to the paths round robin, so any @links consecutive
 * connections cover every path once; QEMU opens the main connection
 * and then the channels one after another, so a channel count that is
 * a multiple of @links puts the same number of channels (which carry
 * the RAM) on every path.  @requested is rounded up to such a multiple;
 * the result never exceeds VL_MIGRATE_CHANNELS_MAX (rounded down to a
 * multiple there).  0 only for @links == 0 or > 255.
 */
guint vl_migrate_channels_for(guint links, guint per_link, guint requested);

/* ---- planning --------------------------------------------------------- */

typedef struct {
    double memory_bytes;        /* guest RAM, > 0 */
    double zero_bytes;          /* RAM thought to be zero pages, >= 0 */
    double dirty_rate_bps;      /* measured or given, >= 0 */
    double base_bps;            /* raw rate of the base path (bytes/s) */
    /* Candidate lanes in bring-up order (those known not to be able to
     * come up already left out); names and rates, borrowed. */
    const char *const *lane_names;
    const double *lane_bps;     /* raw rates, bytes/s */
    gsize n_lanes;
    /* learned_bps[k - 1]: usable aggregate rate learned from earlier
     * migrations over k links, NAN when unknown; nullable. */
    const double *learned_bps;
    gsize n_learned;
    guint max_links;            /* base path included, >= 1 (1 + the
                                 * policy's max_lanes) */
    guint channels_per_link;    /* >= 1 */
    guint requested_channels;   /* --parallel-connections, 0 = none */
    double threshold_s;         /* wanted upper bound on the time */
    double lane_up_s;           /* counted once when lanes are added */
    double max_downtime_s;
    double bandwidth_cap_bps;   /* --bandwidth, 0 = none */
    /* The job's time beyond moving its bytes, learned from the history
     * (setup + resume, the daemon's "overhead_s"); NAN: the fixed
     * VL_MIGRATE_SETUP_S + VL_MIGRATE_RESUME_S. */
    double overhead_s;
} VlMigratePlanInput;

/* Fills @input with the defaults (1 link, 2 channels per link, the
 * policy defaults for threshold and lane_up_s, 300 ms downtime). */
void vl_migrate_plan_input_init(VlMigratePlanInput *input);

typedef struct {
    guint links;                /* 1 = the base path only */
    guint channels;             /* multifd channels for these links */
    char *added_lane;           /* the lane this step added; NULL for 1 */
    double bandwidth_bps;       /* usable aggregate the model used */
    gboolean learned;           /* ... learned from history */
    double setup_s;             /* the setup the model used */
    VlEstimate estimate;        /* the model's answer for the job */
    double predicted_s;         /* lanes coming up + the job; INFINITY
                                 * when it does not converge */
    gboolean within_threshold;
} VlMigrateLaneStep;

typedef enum {
    VL_MIGRATE_STOP_WITHIN_THRESHOLD,   /* the chosen step is fast enough */
    VL_MIGRATE_STOP_MAX_LINKS,          /* max_lanes reached */
    VL_MIGRATE_STOP_NO_MORE_LANES,      /* every candidate lane is used */
    VL_MIGRATE_STOP_NO_GAIN,            /* one more lane would not help */
} VlMigrateStopReason;

/* "within the threshold", ... (static strings) */
const char *vl_migrate_stop_reason_to_string(VlMigrateStopReason reason);

typedef struct {
    GPtrArray *steps;           /* VlMigrateLaneStep*, steps[0] = 1 link */
    guint chosen;               /* index of the step to use */
    VlMigrateStopReason stop_reason;
} VlMigrateLanePlan;

void vl_migrate_lane_plan_free(VlMigrateLanePlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlMigrateLanePlan, vl_migrate_lane_plan_free)

/* The chosen step (borrowed). */
const VlMigrateLaneStep *
vl_migrate_lane_plan_get_chosen(const VlMigrateLanePlan *plan);

/**
 * vl_migrate_lane_plan_compute:
 *
 * Step 1 is the base path alone.  While the last step's prediction
 * exceeds the threshold (or it does not converge), fewer than
 * max_links links are used and a candidate lane is left, the next lane
 * is added and the model run again; when the new step predicts no
 * shorter time than the best so far, planning stops at the best one
 * (a lane that takes lane_up_s to come up can cost more than it
 * gains).  Bandwidth for k links: the learned rate when known, else
 * the raw rates times VL_MIGRATE_EFFICIENCY; --bandwidth caps both.
 *
 * Returns: (transfer full): the plan, or NULL with VL_ERROR_INVALID or
 * VL_ERROR_ESTIMATE naming the bad input.
 */
VlMigrateLanePlan *vl_migrate_lane_plan_compute(const VlMigratePlanInput *input,
                                                GError **error);

/*
 * {"chosen": {"links", "channels"}, "stop_reason",
 *  "steps": [{"links", "channels", "added_lane", "bandwidth_bps",
 *  "learned", "predicted_s", "job_s", "downtime_s", "verdict",
 *  "converges", "within_threshold", "chosen"}]}; unknown or infinite
 * numbers are null.  Caller owns the result.
 */
json_object *vl_migrate_lane_plan_to_json(const VlMigrateLanePlan *plan);

/* ---- planning inputs from the policy ------------------------------------ */

/**
 * vl_migrate_max_links:
 * @migration: the policy's migration object (borrowed)
 * @peer: the destination (borrowed)
 * @max_lanes: lanes besides the base path at most; -1 = the policy's
 *   max_lanes
 * @why: (out) (optional) (transfer full): set when the base path alone
 *   must do although lanes were allowed: the warning to show
 *
 * The links (base path included) a migration to @peer may use: 1 +
 * @max_lanes, no more than the peer has lanes; 1 when the peer has no
 * migration_address (nowhere to send the data) or this host has none
 * (the destination could not route the lanes back).
 */
guint vl_migrate_max_links(const VlMigrationPolicy *migration,
                           const VlPeerConfig *peer, gint max_lanes,
                           char **why);

typedef enum {
    VL_MIGRATE_BASE_DECLARED,   /* the peer's base_bandwidth_mbit */
    VL_MIGRATE_BASE_LEARNED,    /* the history's one-link rate */
    VL_MIGRATE_BASE_FIRST_LANE, /* assumed as fast as the first lane */
    VL_MIGRATE_BASE_UNKNOWN,    /* no rate: nothing to estimate with */
} VlMigrateBaseSource;

/* The links to one peer as the planner sees them, and the storage that
 * a VlMigratePlanInput points into. */
typedef struct {
    GPtrArray *names;           /* candidate lanes in bring-up order
                                 * (const char*, borrowed from the peer) */
    GArray *bps;                /* double: their raw rates, bytes/s */
    /* learned[k]: usable rate learned over k lanes besides the base
     * path (k + 1 links); NAN when unknown */
    double learned[VL_PLAN_LANES_MAX + 1];
    double base_bps;            /* raw rate of the base path; 0 unknown */
    VlMigrateBaseSource base_source;
    /* the job's setup + resume learned from the history
     * (vl_history_learned_job_overhead()); NAN unknown */
    double overhead_s;
} VlMigratePeerLinks;

/**
 * vl_migrate_peer_links_new:
 * @peer: (transfer none): must outlive the result
 * @unavailable: (nullable): lanes that cannot come up
 *   (vl_migrate_unavailable_lanes()), left out
 * @history: (nullable): earlier migrations; NULL = nothing learned
 *
 * The base path's rate: the peer's base_bandwidth_mbit, else the
 * learned one-link rate (as a raw rate), else the first lane's
 * bandwidth_mbit, else unknown.  The job's learned overhead comes from
 * @history too.
 */
VlMigratePeerLinks *vl_migrate_peer_links_new(const VlPeerConfig *peer,
                                              GHashTable *unavailable,
                                              const VlHistory *history);
void vl_migrate_peer_links_free(VlMigratePeerLinks *links);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlMigratePeerLinks, vl_migrate_peer_links_free)

/**
 * vl_migrate_plan_input_from_policy:
 * @input: (out caller-allocates): initialised here
 * @links: (transfer none): must outlive @input
 * @max_links: from vl_migrate_max_links()
 *
 * vl_migrate_plan_input_init(), then the policy's threshold_s,
 * lane_up_max_s, max_downtime_ms and channels_per_lane and @links'
 * rates and learned overhead; the guest's memory, zero pages and dirty
 * rate are the caller's, as are the CLI's overrides.
 */
void vl_migrate_plan_input_from_policy(VlMigratePlanInput *input,
                                       const VlMigrationPolicy *migration,
                                       const VlMigratePeerLinks *links,
                                       guint max_links);

/**
 * vl_migrate_guess_zero_bytes:
 * RAM the guest has never written is zero, and QEMU's resident size
 * (virDomainMemoryStats RSS) bounds what is not: @memory_bytes - RSS,
 * 0 when unknown.  Blocks on libvirt.
 */
double vl_migrate_guess_zero_bytes(virDomainPtr dom, double memory_bytes);

/* ---- the daemon's lanes ------------------------------------------------ */

/**
 * vl_migrate_estimate_inputs:
 * @reply: (nullable): the daemon's reply to {"type": "estimate",
 *     "domain": NAME} (daemons that sample dirty rates in the
 *     background, docs/estimator.md)
 * @dirty_bps: (out): set when the reply holds a fresh sampled rate
 * @zero_bytes: (out): set when the reply holds measured zero RAM
 *
 * Returns: which were set: VL_MIGRATE_INPUT_DIRTY | VL_MIGRATE_INPUT_ZERO;
 * 0 for a daemon without the request, an error, or stale or assumed
 * values (the caller then measures itself).
 */
#define VL_MIGRATE_INPUT_DIRTY (1 << 0)
#define VL_MIGRATE_INPUT_ZERO (1 << 1)
guint vl_migrate_estimate_inputs(json_object *reply, double *dirty_bps,
                                 double *zero_bytes);

/*
 * One request to the local daemon and its reply (vl_ipc_call() in the
 * real one).  Returns: (transfer full): the reply envelope, or NULL with
 * VL_ERROR_IPC or VL_ERROR_TIMEOUT when the daemon could not be asked.
 */
typedef json_object *(*VlMigrateDaemonCall)(gpointer data,
                                            json_object *request,
                                            guint timeout_ms,
                                            GError **error);

/* The real VlMigrateDaemonCall: @data is the socket path (a string). */
json_object *vl_migrate_daemon_call_socket(gpointer data,
                                           json_object *request,
                                           guint timeout_ms,
                                           GError **error);

/* The daemon's own VlMigrateDaemonCall, for its worker threads: @data is
 * a VlIpcLocal (ipc.h); the request goes to the daemon's handlers on its
 * main loop without a socket. */
json_object *vl_migrate_daemon_call_local(gpointer data,
                                          json_object *request,
                                          guint timeout_ms,
                                          GError **error);

/**
 * vl_migrate_unavailable_lanes:
 * @reply: (nullable): the daemon's reply to "lanes"
 * @peer: the peer the migration goes to
 *
 * Which of @peer's lanes cannot come up for a new plan: those the
 * daemon holds for another peer and those it lists as failed (still in
 * its journal).  Anything unexpected in @reply is ignored (nothing is
 * then known to be unavailable).
 * Returns: (transfer full): interface name -> reason (both strings).
 */
GHashTable *vl_migrate_unavailable_lanes(json_object *reply,
                                         const VlPeerConfig *peer);

/* What "lanes-up" brought. */
typedef struct {
    char *interface;
    char *error;                /* NULL when up */
} VlMigrateLaneOutcome;

typedef struct {
    char *plan_id;
    GPtrArray *up;              /* VlLaneConfig* borrowed from the peer,
                                 * in the peer's order */
    GPtrArray *outcomes;        /* VlMigrateLaneOutcome*, request order */
    char *steering_error;       /* nullable: up but not steered to */
} VlMigrateLanes;

void vl_migrate_lanes_free(VlMigrateLanes *lanes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlMigrateLanes, vl_migrate_lanes_free)

/* The links usable by channels: 1 + lanes up, or 1 when steering
 * failed (the lanes are up but no connection is sent over them). */
guint vl_migrate_lanes_get_links(const VlMigrateLanes *lanes);

/**
 * vl_migrate_lanes_parse_reply:
 * @reply: the daemon's reply to "lanes-up" (outside input: checked)
 * @peer: (transfer none): the lanes in "up" are looked up here; the
 *        result borrows them
 * @requested: (array zero-terminated=1): the interfaces asked for
 *
 * An "ok": false reply is VL_ERROR_IPC with the daemon's message; a
 * report that is malformed, names another plan or an interface that
 * was not asked for is VL_ERROR_IPC too.  A requested lane missing from
 * the report counts as not up.
 */
VlMigrateLanes *vl_migrate_lanes_parse_reply(json_object *reply,
                                             const char *plan_id,
                                             const VlPeerConfig *peer,
                                             const char *const *requested,
                                             GError **error);

/**
 * vl_migrate_lanes_up:
 * @count: lanes wanted besides the base path (1..peer's lanes)
 * @unavailable: (nullable): interfaces not to ask for
 * @timeout_ms: for the whole request (the daemon answers once every
 *              lane has settled)
 *
 * Asks for the first @count lanes of @peer not in @unavailable.
 * Returns: (transfer full): what came up (possibly none), or NULL with
 * VL_ERROR_IPC/VL_ERROR_TIMEOUT when the daemon could not be asked or
 * refused the request.
 */
VlMigrateLanes *vl_migrate_lanes_up(VlMigrateDaemonCall call,
                                    gpointer call_data,
                                    const char *plan_id,
                                    const VlPeerConfig *peer,
                                    guint count,
                                    GHashTable *unavailable,
                                    guint timeout_ms,
                                    GError **error);

typedef enum {
    VL_MIGRATE_LANES_UNKNOWN,   /* no valid answer: nothing is known */
    VL_MIGRATE_LANES_HELD,      /* every lane of the plan is up for it */
    VL_MIGRATE_LANES_LOST,      /* the daemon lost some (a restart's
                                 * recovery took them down) */
} VlMigrateLanesCheck;

/**
 * vl_migrate_lanes_check:
 * @reply: (nullable): the daemon's reply to "lanes"
 * @lanes: what "lanes-up" brought for the plan
 *
 * Whether the daemon still holds the plan's lanes.  A daemon killed and
 * started again during a migration tears down the lanes its journal
 * names; the connections steered onto them then stall (QEMU 7.2 cannot
 * even abort such a migration), and asking for the lanes again with the
 * same plan id brings the paths back.
 */
VlMigrateLanesCheck vl_migrate_lanes_check(json_object *reply,
                                           const VlMigrateLanes *lanes);

/* How long the announcement may take: the daemon answers at once. */
#define VL_MIGRATE_ANNOUNCE_TIMEOUT_MS 2000

/**
 * vl_migrate_announce:
 * @links: links the migration will use (the base path counts)
 * @channels: multifd channels; 0 = none
 * @predicted_s: the prediction for that plan; NAN = none
 *
 * Tells the source's virt-lanesd how the migration about to start is
 * carried ("migration-plan"), so that its monitor and history line say
 * what was used rather than guess.  Best effort: the caller only warns.
 */
gboolean vl_migrate_announce(VlMigrateDaemonCall call, gpointer call_data,
                             const char *domain, guint links, guint channels,
                             double predicted_s, GError **error);

/* "lanes-down" for @plan_id; @n_down: (out) (optional). */
gboolean vl_migrate_lanes_down(VlMigrateDaemonCall call,
                               gpointer call_data,
                               const char *plan_id,
                               guint timeout_ms,
                               guint *n_down,
                               GError **error);

/* Bound for "lanes-up": the daemon runs lane-up (in parallel), perhaps
 * lane-down for a lane that failed, then lane-steer, each bounded by
 * @lane_up_max_s; plus slack for the socket. */
guint vl_migrate_lanes_timeout_ms(double lane_up_max_s);

/* ---- the plan for the destination -------------------------------------- */

/**
 * vl_migrate_plan_id_new:
 * @domain: any name (spaces, quotes, non-ASCII...)
 *
 * A plan id (vl_metadata_plan_id_is_valid()): the characters of
 * @domain allowed in an id (others become '_', at most 40), '.', @time
 * in seconds and '.', @pid, so that two runs never share one.
 */
char *vl_migrate_plan_id_new(const char *domain, gint64 time, guint pid);

/* This host's name as a plan's source label: [A-Za-z0-9_.-], others
 * replaced by '-', at most 64 characters; "localhost" for none. */
char *vl_migrate_host_label(const char *hostname);

/**
 * vl_migrate_build_plan:
 * @source_host: this host's name for itself (a label)
 * @source_migration_address: the policy's migration_address: where the
 *     destination's daemon sees the connections come from
 * @lanes: (nullable): what "lanes-up" brought; NULL = none; none when
 *     steering failed (no connection uses them)
 * @channels: multifd channels, 0 = not parallel
 */
VlMigrationPlan *vl_migrate_build_plan(const char *plan_id,
                                       const char *source_host,
                                       const char *source_migration_address,
                                       const VlMigrateLanes *lanes,
                                       guint channels);

/* The destination XML: @xml (the migratable XML) with @plan in its
 * metadata (vl_migration_plan_insert_into_domain_xml()). */
char *vl_migrate_build_dest_xml(const char *xml, const VlMigrationPlan *plan,
                                GError **error);

/* ---- migration parameters ---------------------------------------------- */

typedef struct {
    gboolean live;              /* VIR_MIGRATE_LIVE (default TRUE) */
    gboolean persistent;        /* VIR_MIGRATE_PERSIST_DEST */
    gboolean auto_converge;
    gboolean postcopy;          /* VIR_MIGRATE_POSTCOPY (switch is later) */
    guint64 bandwidth_mib;      /* MiB/s, 0 = unlimited */
} VlMigrateSettings;

void vl_migrate_settings_init(VlMigrateSettings *settings);

/**
 * vl_migrate_build_params:
 * @migration_uri: (nullable): "tcp://ADDRESS" (VIR_MIGRATE_PARAM_URI;
 *     IPv6 addresses are bracketed)
 * @dest_xml: (nullable): VIR_MIGRATE_PARAM_DEST_XML
 * @persist_xml: (nullable): VIR_MIGRATE_PARAM_PERSIST_XML (with
 *     settings->persistent: the definition kept on the destination, so
 *     that the plan stays out of it)
 * @channels: VIR_MIGRATE_PARALLEL with this many connections; 0 = no
 * @params, @nparams: (out): free with virTypedParamsFree()
 * @flags: (out): PEER2PEER always, LIVE, PERSIST_DEST, AUTO_CONVERGE,
 *     POSTCOPY, PARALLEL as asked
 */
gboolean vl_migrate_build_params(const VlMigrateSettings *settings,
                                 const char *migration_uri,
                                 const char *dest_xml,
                                 const char *persist_xml,
                                 guint channels,
                                 virTypedParameterPtr *params,
                                 int *nparams,
                                 unsigned int *flags,
                                 GError **error);

/**
 * vl_migrate_build_attempt:
 * @xml: the migratable XML; also the persistent XML with
 *   settings->persistent, so that the plan stays out of the
 *   destination's definition
 * @lanes: (nullable): what "lanes-up" brought
 * @links: links this attempt uses; with @lanes and @links > 1 the
 *   destination XML carries a plan (vl_migrate_build_plan(): @plan_id,
 *   @source_host, @source_migration_address, @channels) so that the
 *   destination's daemon brings its side of the lanes up
 * @with_plan: (out) (optional): whether it does
 *
 * The parameters of one migration attempt (vl_migrate_build_params()).
 */
gboolean vl_migrate_build_attempt(const VlMigrateSettings *settings,
                                  const char *xml,
                                  const char *plan_id,
                                  const char *source_host,
                                  const char *source_migration_address,
                                  const VlMigrateLanes *lanes,
                                  guint links, guint channels,
                                  const char *migration_uri,
                                  gboolean *with_plan,
                                  virTypedParameterPtr *params,
                                  int *nparams,
                                  unsigned int *flags,
                                  GError **error);

/* "tcp://198.19.0.2" or "tcp://[fd00::2]"; NULL for a bad address. */
char *vl_migrate_uri_for_address(const char *address);

/* ---- job statistics ----------------------------------------------------- */

typedef struct {
    int type;                   /* virDomainJobType */
    gboolean has_memory;        /* memory_total was reported */
    VlEtaSample sample;         /* libvirt's names and units */
    double downtime_ms;         /* NAN when not reported */
    guint64 data_total;         /* bytes (RAM and the rest) */
    guint64 data_processed;
} VlMigrateJobStats;

/**
 * vl_migrate_job_stats_parse:
 * Unknown fields are ignored; a known one of the wrong type is
 * VL_ERROR_INVALID naming it.  A missing page size is 4096.
 */
gboolean vl_migrate_job_stats_parse(int type, const virTypedParameter *params,
                                    int nparams, VlMigrateJobStats *stats,
                                    GError **error);

/* ---- the job ------------------------------------------------------------ */

typedef struct {
    /* On the job's thread: run the migration to its end. */
    gboolean (*migrate)(gpointer data, GError **error);
    /* On any thread: the running job's statistics, or with @completed
     * those of the job that just ended (kept for others to read). */
    gboolean (*job_stats)(gpointer data, gboolean completed,
                          VlMigrateJobStats *stats, GError **error);
    /* On the main context: abort the running job. */
    gboolean (*abort_job)(gpointer data, GError **error);
    /* On the main context, once the job runs: QEMU's downtime limit. */
    gboolean (*set_max_downtime)(gpointer data, guint ms, GError **error);
    /* On the main context: switch to post-copy (nullable member). */
    gboolean (*start_postcopy)(gpointer data, GError **error);
} VlMigrateJobOps;

/**
 * vl_migrate_libvirt_new:
 * @dom: (transfer none): a reference is taken
 * @params: (transfer full): freed with the data
 *
 * The real VlMigrateJobOps data: virDomainMigrateToURI3(@dom,
 * @dest_uri, @params, @flags) and the job calls on @dom.  Free with
 * vl_migrate_libvirt_free().
 */
gpointer vl_migrate_libvirt_new(virDomainPtr dom, const char *dest_uri,
                                virTypedParameterPtr params, int nparams,
                                unsigned int flags);
void vl_migrate_libvirt_free(gpointer data);
const VlMigrateJobOps *vl_migrate_libvirt_ops(void);

/* Makes the job's ops data for one attempt: the seam in front of
 * vl_migrate_libvirt_new() (same arguments); @params: (transfer full). */
typedef gpointer (*VlMigrateJobDataNew)(gpointer user_data, virDomainPtr dom,
                                        const char *dest_uri,
                                        virTypedParameterPtr params,
                                        int nparams, unsigned int flags);

typedef struct {
    double elapsed_s;
    guint64 total_bytes;        /* memory_total */
    guint64 processed_bytes;
    guint64 remaining_bytes;
    double percent;             /* 0..100, of RAM sent vs still to send */
    double bandwidth_bps;       /* smoothed (VlEta); NAN until known */
    double eta_s;               /* NAN unknown, INFINITY never */
    double dirty_rate_bps;      /* NAN until known */
    guint64 iteration;
    VlEtaVerdict verdict;
    const char *reason;         /* static */
    gboolean postcopy;          /* switched to post-copy */
} VlMigrateProgress;

typedef enum {
    VL_MIGRATE_OUTCOME_COMPLETED,
    VL_MIGRATE_OUTCOME_FAILED,
    VL_MIGRATE_OUTCOME_CANCELLED,   /* aborted by vl_migrate_job_cancel() */
} VlMigrateOutcome;

const char *vl_migrate_outcome_to_string(VlMigrateOutcome outcome);

typedef struct {
    VlMigrateOutcome outcome;
    GError *error;              /* why it failed or was cancelled */
    gboolean has_completed;     /* @completed holds the final stats */
    VlMigrateJobStats completed;
    gboolean has_last;          /* @last holds the last polled sample */
    VlMigrateJobStats last;
    VlMigrateProgress progress; /* the last progress reported */
    double wall_s;              /* start to end, measured here */
    gboolean cancel_requested;  /* also when the cancel came too late */
    gboolean stalled;           /* aborted by stall_abort_s (FAILED) */
} VlMigrateResult;

typedef struct _VlMigrateJob VlMigrateJob;

typedef void (*VlMigrateProgressFunc)(VlMigrateJob *job,
                                      const VlMigrateProgress *progress,
                                      gpointer user_data);
typedef void (*VlMigrateDoneFunc)(VlMigrateJob *job,
                                  const VlMigrateResult *result,
                                  gpointer user_data);

typedef struct {
    guint poll_ms;              /* VL_MIGRATE_POLL_MS */
    double prior_dirty_rate_bps; /* for the ETA until QEMU reports one */
    guint max_downtime_ms;      /* set once the job runs; 0 = leave it */
    double time_cap_s;          /* for the ETA's verdict; 0 = none */
    /* With postcopy: switch once iteration >= 2 and the ETA says the
     * job will not end within this many seconds (0 = never switch). */
    double postcopy_after_s;
    /* Abort the job when its processed bytes have not grown for this
     * long (0 = never): a connection steered onto a lane that is not up
     * on the destination hangs without an error (docs/lanes.md, "The
     * destination path"). */
    double stall_abort_s;
} VlMigrateJobConfig;

void vl_migrate_job_config_init(VlMigrateJobConfig *config);

/**
 * vl_migrate_job_new:
 * @ops: (transfer none): static
 * @ops_data: (transfer none): must outlive the job
 * @config: (nullable): copied; NULL = defaults
 */
VlMigrateJob *vl_migrate_job_new(const VlMigrateJobOps *ops, gpointer ops_data,
                                 const VlMigrateJobConfig *config);
/* Must not be called while the job runs (wait for @done). */
void vl_migrate_job_free(VlMigrateJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlMigrateJob, vl_migrate_job_free)

/**
 * vl_migrate_job_start:
 *
 * Starts ops->migrate on a thread and polls ops->job_stats on the
 * thread-default main context every poll_ms; @progress is called after
 * every accepted sample, @done once, from the main context, after the
 * thread has ended.
 */
void vl_migrate_job_start(VlMigrateJob *job, VlMigrateProgressFunc progress,
                          VlMigrateDoneFunc done, gpointer user_data);

/**
 * vl_migrate_job_cancel:
 *
 * Aborts the libvirt job (the guest keeps running on the source); if
 * there is no job to abort yet, tries again at every poll until the
 * migration thread ends.  Returns FALSE with @error when the abort call
 * failed for another reason (it is still retried).
 */
gboolean vl_migrate_job_cancel(VlMigrateJob *job, GError **error);

gboolean vl_migrate_job_is_running(VlMigrateJob *job);

/* ---- afterwards ---------------------------------------------------------- */

/**
 * vl_migrate_clear_dest_plan:
 * @dest_uri: the destination's libvirt URI (a connection is opened)
 * @uuid: the domain's UUID (VIR_UUID_BUFLEN bytes)
 *
 * Removes the plan from the migrated domain's live metadata on the
 * destination: a later migration from there that does not go through
 * virt-lanes would otherwise carry this plan along.
 */
gboolean vl_migrate_clear_dest_plan(const char *dest_uri,
                                    const unsigned char *uuid,
                                    GError **error);

/**
 * vl_migrate_history_record_new:
 * @stats: the completed job's statistics
 * @dirty_rate_bps: the guest's dirty rate (measured or QEMU's), >= 0
 * @links: the paths it ran over (1 = the base path); the record counts
 *   the lanes besides the base path, @links - 1
 * @predicted_s: the model's job time, NAN when none
 *
 * Returns: (transfer full): the history line for this migration, with
 * the host's load average when getloadavg() tells it.
 */
VlHistoryRecord *vl_migrate_history_record_new(const char *domain,
                                               gint64 time,
                                               const VlMigrateJobStats *stats,
                                               double dirty_rate_bps,
                                               guint links, guint channels,
                                               double predicted_s);

/**
 * vl_migrate_history_has_record:
 *
 * Whether @history holds a record of @domain completed at or after
 * @since (seconds since the epoch): a daemon that records completed
 * migrations itself has written it, and a second line would count
 * the run twice.
 */
gboolean vl_migrate_history_has_record(const VlHistory *history,
                                       const char *domain, gint64 since);

G_END_DECLS
