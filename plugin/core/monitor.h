/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitor.h: watching running migrations and re-estimating them
 *
 * The first sign of a migration is QEMU's "MIGRATION" monitor event (or,
 * without it, libvirt's migration-iteration event).  From then on the
 * monitor polls virDomainGetJobStats() every second in a GTask thread,
 * tells an outgoing migration (the source) from an incoming one (the
 * destination: libvirt keeps the stats on the source only), feeds each
 * sample to a VlEta and keeps the ETA and the convergence verdict per
 * domain, for "virt-lanes status" and for whoever registered an "ETA
 * updated" listener (the lanes logic acts on it).  When the source sees
 * the job-completed event, the completed job's statistics become one
 * line of the history file (history.h), with the prediction made when
 * the migration began, so that later estimates learn the throughput.
 *
 * Runs on the main loop; only the libvirt calls go to threads.  Seam:
 * VlMonitorOps (the job-stats call) and the poll interval, so that tests
 * replay job-stats sequences without sleeping.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "conn.h"
#include "eta.h"
#include "vl-error.h"

G_BEGIN_DECLS

#define VL_MONITOR_POLL_MS 1000
/* Consecutive failed polls after which a migration is given up on. */
#define VL_MONITOR_MAX_POLL_ERRORS 5

typedef enum {
    VL_MONITOR_DIRECTION_UNKNOWN,   /* not polled yet */
    VL_MONITOR_DIRECTION_OUT,       /* this host is the source */
    VL_MONITOR_DIRECTION_IN,        /* this host is the destination */
} VlMonitorDirection;

/* "unknown", "out", "in" (static strings). */
const char *vl_monitor_direction_to_string(VlMonitorDirection direction);

/* One virDomainGetJobStats() answer, reduced to what the monitor uses. */
typedef struct {
    int type;                   /* virDomainJobType */
    int operation;              /* virDomainJobOperation; 0 = not given */
    gboolean has_memory;        /* memory_total was reported */
    VlEtaSample sample;         /* libvirt's names and units */
    double downtime_ms;         /* NAN when not reported */
} VlMonitorJobStats;

/**
 * vl_monitor_parse_job_stats:
 * @type: the job type virDomainGetJobStats() returned
 * @params: (array length=nparams): its typed parameters
 * @stats: (out): filled only on success
 *
 * Unknown fields are ignored; a known field of the wrong type or out of
 * range is VL_ERROR_INVALID naming it.  A missing page size is 4096.
 */
gboolean vl_monitor_parse_job_stats(int type, const virTypedParameter *params,
                                    int nparams, VlMonitorJobStats *stats,
                                    GError **error);

/**
 * vl_monitor_error_is_incoming:
 * @code: a virErrorNumber from virDomainGetJobStats()
 * @message: (nullable): its message
 *
 * Whether the error is libvirt's way of saying "this is the destination
 * of a migration": it keeps the statistics on the source and answers a
 * query on the destination with an error (VIR_ERR_OPERATION_UNSUPPORTED
 * in libvirt 9.0, VIR_ERR_OPERATION_INVALID in some older releases).
 */
gboolean vl_monitor_error_is_incoming(int code, const char *message);

typedef struct {
    /* In a worker thread.  @completed: the last completed job's stats
     * (VIR_DOMAIN_JOB_STATS_COMPLETED) instead of the running one.  On the
     * destination of a migration libvirt refuses the call; the real op
     * then reports type UNBOUNDED with operation MIGRATION_IN. */
    gboolean (*job_stats)(gpointer ops_data, virConnectPtr vconn,
                          const char *name, gboolean completed,
                          VlMonitorJobStats *stats, GError **error);
} VlMonitorOps;

const VlMonitorOps *vl_monitor_ops_libvirt(void);

/* What the owner knows when a migration begins (see VlMonitorBeginFunc). */
typedef struct {
    guint lanes;                /* lanes carrying it besides the base
                                 * path (0: the base path alone) */
    guint channels;             /* multifd channels; 0 = none or unknown */
    double predicted_total_s;   /* NAN = no prediction */
    double prior_dirty_rate_bps;    /* measured before; 0 = none */
    double time_cap_s;          /* the job's budget; 0 = none */
} VlMonitorPlan;

/* A snapshot of one domain's migration (owned by the caller). */
typedef struct {
    char *domain;
    VlMonitorDirection direction;
    gboolean active;            /* still running */
    char *outcome;              /* "completed", "failed", "ended"; NULL while active */
    double elapsed_s;           /* job time; NAN before the first sample */
    double remaining_bytes;     /* NAN before the first sample */
    guint64 iteration;
    guint samples;              /* job-stats samples accepted */
    VlEtaResult eta;            /* eta.reason is a static string */
    VlMonitorPlan plan;
    gboolean postcopy;          /* QEMU reported a post-copy state */
    guint downtime_limit_ms;    /* what the ETA assumes; 0 = QEMU's 300 */
} VlMonitorMigration;

void vl_monitor_migration_free(VlMonitorMigration *migration);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlMonitorMigration, vl_monitor_migration_free)

/*
 * {"direction", "elapsed_s", "eta_s", "verdict", "bandwidth_bps",
 *  "dirty_rate_bps", "iteration", "remaining_bytes", "active", "outcome",
 *  "reason", "predicted_total_s", "lanes", "links", "postcopy"}; numbers
 * that are not known (or infinite, as the ETA of a migration that does not
 * converge) are null.  Caller owns the result.
 */
json_object *vl_monitor_migration_to_json(const VlMonitorMigration *migration);

typedef struct _VlMonitor VlMonitor;

/* "ETA updated": after every accepted sample and when a migration ends.
 * @migration is borrowed for the call. */
typedef void (*VlMonitorEtaFunc)(VlMonitor *monitor,
                                 const VlMonitorMigration *migration,
                                 gpointer user_data);

/* Called when a migration begins; fills @plan (preset to zeros / NAN). */
typedef void (*VlMonitorBeginFunc)(VlMonitor *monitor, const char *domain,
                                   VlMonitorPlan *plan, gpointer user_data);

/**
 * vl_monitor_new:
 * @ops: (nullable): NULL = vl_monitor_ops_libvirt(); static, borrowed
 * @conn: (nullable): the daemon's connection, borrowed, must outlive it
 */
VlMonitor *vl_monitor_new(const VlMonitorOps *ops, gpointer ops_data,
                          VlConn *conn);
void vl_monitor_free(VlMonitor *monitor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlMonitor, vl_monitor_free)

/* @path: (nullable): where completed outgoing migrations are appended;
 * NULL = nowhere (copied). */
void vl_monitor_set_history(VlMonitor *monitor, const char *path);
void vl_monitor_set_poll_interval(VlMonitor *monitor, guint ms);
void vl_monitor_set_begin_func(VlMonitor *monitor, VlMonitorBeginFunc func,
                               gpointer user_data);

/* Returns an id for vl_monitor_remove_eta_listener() (never 0). */
guint vl_monitor_add_eta_listener(VlMonitor *monitor, VlMonitorEtaFunc func,
                                  gpointer user_data);
void vl_monitor_remove_eta_listener(VlMonitor *monitor, guint id);

/**
 * vl_monitor_attach:
 * @vconn: (transfer none): a reference is kept until vl_monitor_detach()
 *
 * Registers for QEMU's MIGRATION monitor event (optional: not every
 * driver has it), migration-iteration, job-completed and lifecycle events.
 */
gboolean vl_monitor_attach(VlMonitor *monitor, virConnectPtr vconn,
                           GError **error);
void vl_monitor_detach(VlMonitor *monitor);

/*
 * What the event callbacks call (and tests).  @status is QEMU's
 * migration status ("setup", "active", "completed", "failed", ...).
 */
void vl_monitor_handle_qemu_migration(VlMonitor *monitor, const char *domain,
                                      const char *status);
void vl_monitor_handle_iteration(VlMonitor *monitor, const char *domain);
/* @stats: (nullable): the event's statistics; NULL = ask libvirt */
void vl_monitor_handle_job_completed(VlMonitor *monitor, const char *domain,
                                     const VlMonitorJobStats *stats);
/* A libvirt lifecycle event (virDomainEventType and detail). */
void vl_monitor_handle_lifecycle(VlMonitor *monitor, const char *domain,
                                 int event, int detail);

/* TRUE while an incoming or outgoing migration of @domain runs. */
gboolean vl_monitor_is_migrating(VlMonitor *monitor, const char *domain);

/* Whoever changes a running migration's downtime limit says so, so that
 * the ETA's model uses it from the next sample on (the job statistics do
 * not report it).  Ignored when @domain is not migrating. */
void vl_monitor_set_downtime_limit(VlMonitor *monitor, const char *domain,
                                   guint ms);

/* The lanes logic tells how a running migration is carried. */
void vl_monitor_set_lanes(VlMonitor *monitor, const char *domain, guint lanes,
                          guint channels);

/**
 * vl_monitor_expect:
 * @links: links carrying it (the base path counts as one); recorded as
 *   @links - 1 lanes besides the base path
 * @channels: multifd channels; 0 = none
 * @predicted_total_s: the driver's prediction; NAN = none
 *
 * The driver of an outgoing migration ("virt-lanes migrate", evacuate)
 * announces how it will carry it, just before starting it: the begin
 * function can only guess, and the history line must say what was used.
 * Applies to the next migration of @domain that begins within 10 minutes,
 * or at once to one already running.
 */
void vl_monitor_expect(VlMonitor *monitor, const char *domain, guint links,
                       guint channels, double predicted_total_s);

/* (transfer full) (nullable): the last or current migration of @domain. */
VlMonitorMigration *vl_monitor_get(VlMonitor *monitor, const char *domain);

G_END_DECLS
