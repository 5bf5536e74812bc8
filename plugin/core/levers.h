/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * levers.h: what the daemon does to an outgoing migration it did not start
 *
 * A plain "virsh migrate" (or any other client) has fixed, at its start,
 * everything but a few settings that libvirt lets anyone change while the
 * job runs on the source: the bandwidth cap, the downtime limit, the
 * switch to post-copy (only if the job was started with
 * VIR_MIGRATE_POSTCOPY) and the abort.  VlLevers listens to the
 * migration monitor's "ETA updated" (monitor.h) and pulls those levers,
 * and only those the policy allows, on outgoing migrations (direction
 * OUT; never on incoming ones):
 *
 *   bandwidth  max_bandwidth_mbit: once, on the first sample; only lowers
 *              the running cap, never raises it.
 *   downtime   downtime_ladder: while the migration is late (its ETA is
 *              over threshold_s, or the verdict is at risk or not
 *              converging), the highest step whose after_iteration QEMU
 *              has reached and that was not applied yet; each step once,
 *              and never below the running limit.
 *   post-copy  allow_postcopy: once, after VL_LEVERS_POSTCOPY_SAMPLES
 *              hopeless samples in a row (below).  libvirt refuses it for
 *              a job started without the flag; that is logged once and
 *              never retried.
 *   abort      when_hopeless = abort: once, when the migration is
 *              hopeless (below); never once post-copy runs.
 *
 * A sample is "hopeless" when QEMU is past its first pass (iteration
 * >= 2) and the estimator says the migration will not converge, or not
 * in any useful time: the stall detector fired (verdict not-converging),
 * or the verdict is at-risk and the model, with the measured bandwidth,
 * dirty rate and the downtime limit in force, predicts no convergence
 * (infinite ETA) or an end beyond VL_LEVERS_HOPELESS_FACTOR x threshold_s,
 * or the verdict is converging and what is left (the ETA, past the first
 * pass only the dirtied pages) still takes more than that.
 * A migration is "hopeless" after VL_LEVERS_HOPELESS_SAMPLES hopeless
 * samples in a row with no lever applied meanwhile (a raised downtime
 * limit or a new cap starts the count again) and no post-copy switch
 * possible (not allowed, or refused).  During the first pass nothing
 * counts, however long its ETA.
 *
 * Every decision is kept per migration (for the status reply) and told
 * to the log function with its numbers.  The libvirt calls go through
 * VlLeversOps in a GTask thread, one at a time per migration, so the
 * main loop never blocks.  The library does not log beyond g_debug.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "conn.h"
#include "monitor.h"
#include "policy.h"
#include "vl-error.h"

G_BEGIN_DECLS

/* Consecutive hopeless samples (1 s apart) before acting. */
#define VL_LEVERS_POSTCOPY_SAMPLES 3
#define VL_LEVERS_HOPELESS_SAMPLES 5
/* A migration past its first pass that is predicted to end beyond this
 * many thresholds (at risk), or still to need that long (converging), is
 * as good as not converging. */
#define VL_LEVERS_HOPELESS_FACTOR 4

typedef enum {
    VL_LEVER_BANDWIDTH,
    VL_LEVER_DOWNTIME,
    VL_LEVER_POSTCOPY,
    VL_LEVER_ABORT,
} VlLever;

/* "bandwidth", "downtime", "postcopy", "abort" (static strings). */
const char *vl_lever_to_string(VlLever lever);

typedef enum {
    VL_LEVER_OUTCOME_PENDING,   /* the call is under way */
    VL_LEVER_OUTCOME_APPLIED,
    VL_LEVER_OUTCOME_KEPT,      /* the running value was already at least
                                 * as strong: nothing changed */
    VL_LEVER_OUTCOME_FAILED,    /* libvirt refused or failed; not retried */
} VlLeverOutcome;

/* "pending", "applied", "kept", "failed" (static strings). */
const char *vl_lever_outcome_to_string(VlLeverOutcome outcome);

/*
 * The libvirt calls, each in a worker thread.  @vconn is a reference the
 * caller holds for the call (NULL when the daemon is not connected, and
 * in tests); @domain the domain's name.  A "get" that fails is not fatal:
 * the setter is called anyway.
 */
typedef struct {
    gboolean (*get_max_downtime)(gpointer ops_data, virConnectPtr vconn,
                                 const char *domain, guint64 *ms,
                                 GError **error);
    gboolean (*set_max_downtime)(gpointer ops_data, virConnectPtr vconn,
                                 const char *domain, guint64 ms,
                                 GError **error);
    /* MiB/s, libvirt's unit */
    gboolean (*get_max_speed)(gpointer ops_data, virConnectPtr vconn,
                              const char *domain, guint64 *mib_s,
                              GError **error);
    gboolean (*set_max_speed)(gpointer ops_data, virConnectPtr vconn,
                              const char *domain, guint64 mib_s,
                              GError **error);
    gboolean (*start_postcopy)(gpointer ops_data, virConnectPtr vconn,
                               const char *domain, GError **error);
    gboolean (*abort_job)(gpointer ops_data, virConnectPtr vconn,
                          const char *domain, GError **error);
} VlLeversOps;

const VlLeversOps *vl_levers_ops_libvirt(void);

/* One decision about one migration (owned by the VlLevers). */
typedef struct {
    VlLever lever;
    guint64 value;              /* ms (downtime), MiB/s (bandwidth), else 0 */
    guint64 previous;           /* the running value read before; 0 = unknown */
    VlLeverOutcome outcome;
    char *error;                /* why it failed; NULL otherwise */
    char *why;                  /* the rule that fired, e.g. "ladder step
                                 * after_iteration 3" */
    /* the numbers it was decided on */
    guint64 iteration;
    double elapsed_s;
    double eta_s;               /* INFINITY = never, NAN = unknown */
    double threshold_s;
    double bandwidth_bps;
    double dirty_rate_bps;
    double remaining_bytes;
    const char *verdict;        /* static */
    guint streak;               /* hopeless samples in a row */
} VlLeverDecision;

/* One log line for @d, naming @domain: what, why, the numbers, outcome. */
char *vl_lever_decision_describe(const VlLeverDecision *d, const char *domain);

/* {"lever", "value", "previous", "outcome", "error", "why", "iteration",
 *  "elapsed_s", "eta_s", "threshold_s", "bandwidth_bps", "dirty_rate_bps",
 *  "remaining_bytes", "verdict", "streak"}; unknown numbers are null. */
json_object *vl_lever_decision_to_json(const VlLeverDecision *d);

/* @level is G_LOG_LEVEL_MESSAGE (applied, kept) or _WARNING (failed). */
typedef void (*VlLeversLogFunc)(GLogLevelFlags level, const char *message,
                                gpointer user_data);

typedef struct _VlLevers VlLevers;

/**
 * vl_levers_new:
 * @ops: (nullable): NULL = vl_levers_ops_libvirt(); static, borrowed
 * @conn: (nullable): the daemon's connection, borrowed, must outlive it
 * @log_func: (nullable): told every decision once it has an outcome
 */
VlLevers *vl_levers_new(const VlLeversOps *ops, gpointer ops_data,
                        VlConn *conn, VlLeversLogFunc log_func,
                        gpointer log_data);
/* Detaches; calls still running finish unseen. */
void vl_levers_free(VlLevers *levers);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlLevers, vl_levers_free)

/* @policy: (nullable) (transfer none): must stay valid until replaced;
 * NULL = pull no lever.  A reload applies from the next sample on. */
void vl_levers_set_policy(VlLevers *levers, const VlMigrationPolicy *policy);

/* Registers as @monitor's ETA listener (borrowed; must outlive the
 * attachment) and tells it the downtime limits set. */
void vl_levers_attach(VlLevers *levers, VlMonitor *monitor);
void vl_levers_detach(VlLevers *levers);

/* What the listener does with each update (and tests). */
void vl_levers_handle_migration(VlLevers *levers,
                                const VlMonitorMigration *migration);

/* TRUE when no call is under way. */
gboolean vl_levers_is_idle(VlLevers *levers);

/* (transfer none) (nullable): the decisions about @domain's last
 * outgoing migration, in order (VlLeverDecision*). */
GPtrArray *vl_levers_get_decisions(VlLevers *levers, const char *domain);

/* Adds "levers" (an array of decisions) to the "migration" object, when
 * there is one, of each {"name", ...} of the status reply's "domains". */
void vl_levers_add_status(VlLevers *levers, json_object *domains);

G_END_DECLS
