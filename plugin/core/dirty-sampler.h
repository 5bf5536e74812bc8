/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dirty-sampler.h: background dirty-rate sampling of running domains
 *
 * So that an estimate is there the moment an admin or the lanes logic
 * asks, the daemon keeps measuring its running domains: one page-sampling
 * measurement at a time (bounded load: QEMU samples 512 pages per GiB),
 * each domain again once its last measurement is sample_period_s old,
 * cycling through the configured lengths (1, 5, 10 s) so that the f(t)
 * curve of dirtyrate.h fills in.  A domain with a missing length is due
 * at once, so a new domain has its curve within a few measurements.
 *
 * Never while the domain is migrating: virDomainStartDirtyRateCalc()
 * then blocks for up to 30 s and fails.  A domain is skipped when the
 * owner's busy function says it migrates (the monitor knows first) or
 * when libvirt shows a job on it.  The libvirt calls (listing, job
 * check, start, the wait, the read-back) run in a GTask thread; the
 * results come back to the main loop, which alone touches the store.
 *
 * Seam: VlDirtySamplerOps, the libvirt side and the clock, so tests drive
 * the sampler with scripted results and no sleeps.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "conn.h"
#include "dirtyrate.h"
#include "estimate.h"
#include "vl-error.h"

G_BEGIN_DECLS

#define VL_DIRTY_SAMPLER_MAX_PERIODS 8
/* How often a domain with nothing due is looked for, at most. */
#define VL_DIRTY_SAMPLER_IDLE_CHECK_S 10

/* One running domain, as the ops see it (in the worker thread). */
typedef struct {
    char *name;
    int id;                     /* libvirt's domain id: a new id is a new boot */
    double memory_bytes;        /* current guest RAM */
    double nonzero_bytes;       /* touched guest RAM, NAN when unknown */
    gboolean job_active;        /* libvirt shows a job (e.g. a migration) */
} VlDirtySamplerTarget;

VlDirtySamplerTarget *vl_dirty_sampler_target_new(void);
void vl_dirty_sampler_target_free(VlDirtySamplerTarget *target);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlDirtySamplerTarget, vl_dirty_sampler_target_free)

/*
 * The libvirt side.  Everything but now_us runs in a worker thread, one
 * call at a time; @vconn is the daemon's connection (NULL in tests that
 * have none).  Errors are VlError, naming the domain.
 */
typedef struct {
    /* Appends a VlDirtySamplerTarget per running domain to @out. */
    gboolean (*list)(gpointer ops_data, virConnectPtr vconn, GPtrArray *out,
                     GError **error);
    gboolean (*start)(gpointer ops_data, virConnectPtr vconn, const char *name,
                      int period_s, GError **error);
    gboolean (*query)(gpointer ops_data, virConnectPtr vconn, const char *name,
                      VlDirtyRateSample *sample, GError **error);
    /* Waits @seconds unless cancelled; FALSE when cancelled. */
    gboolean (*wait)(gpointer ops_data, double seconds,
                     GCancellable *cancellable);
    /* Monotonic clock, microseconds (main thread). */
    gint64 (*now_us)(gpointer ops_data);
    /* Schedules the next background step (main thread); returns a
     * source id for g_source_remove(), or 0 when there is none to
     * remove.  NULL = g_timeout_add_seconds(). */
    guint (*timeout_add)(gpointer ops_data, guint seconds, GSourceFunc func,
                         gpointer data);
    /* Touched guest RAM of @name now (main thread, must be quick: a read
     * of /proc, no libvirt call); FALSE = unknown.  The listing's figure
     * may be seconds old, and a guest filling its memory right after boot
     * changes it by hundreds of MiB.  NULL = use the listing's. */
    gboolean (*nonzero_now)(gpointer ops_data, const char *name,
                            double memory_bytes, double *nonzero_bytes);
} VlDirtySamplerOps;

/* The real ops: libvirt calls on @vconn, g_get_monotonic_time(). */
const VlDirtySamplerOps *vl_dirty_sampler_ops_libvirt(void);

/*
 * Reads the resident size of the guest RAM mapping of QEMU process @pid
 * from /proc/PID/smaps: the mapping whose size is closest to
 * @memory_bytes (within 1 %).  Untouched guest pages are not resident,
 * and they are the zero pages QEMU sends as headers only.  Exposed for
 * the ops and tests; @smaps_path overrides /proc/PID/smaps (nullable).
 */
gboolean vl_dirty_sampler_read_guest_rss(int pid, const char *smaps_path,
                                   double memory_bytes, double *rss_bytes,
                                   GError **error);

/* Returns TRUE when @name arrived by an incoming migration: it is not
 * booting, so it is measured at once rather than after the boot delay. */
typedef gboolean (*VlDirtySamplerArrivedFunc)(const char *name, gpointer user_data);

/* Returns TRUE when @name migrates (or is otherwise busy) now. */
typedef gboolean (*VlDirtySamplerBusyFunc)(const char *name, gpointer user_data);

/* A snapshot of what is known about one domain (owned by the caller). */
typedef struct {
    char *name;
    double memory_bytes;
    double nonzero_bytes;       /* NAN when unknown */
    VlEstimateDirtySample curve[VL_DIRTY_SAMPLER_MAX_PERIODS];
    gsize n_curve;              /* 0 before the first measurement */
    guint measurements;         /* since the domain (re)started */
    double age_s;               /* since the last measurement ended; NAN */
    int last_period_s;          /* of the last measurement, 0 = none */
    double last_rate_bps;       /* its rate, NAN */
    char *last_error;           /* of the last attempt, nullable */
} VlDirtySamplerStats;

void vl_dirty_sampler_stats_free(VlDirtySamplerStats *stats);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlDirtySamplerStats, vl_dirty_sampler_stats_free)

/*
 * The linear rate the estimator uses: sum of f(t) over sum of t across
 * the curve's points.  Page sampling counts changed pages among 512 per
 * GiB, so a point's relative error shrinks with the bytes it saw; pooling
 * weighs each length by what it saw, and the noisy 1 s point hardly
 * counts.  NAN before any measurement.
 */
double vl_dirty_sampler_stats_rate_bps(const VlDirtySamplerStats *stats);

typedef struct _VlDirtySampler VlDirtySampler;

/**
 * vl_dirty_sampler_new:
 * @ops: (nullable): NULL = vl_dirty_sampler_ops_libvirt(); static, borrowed
 * @ops_data: passed to @ops
 * @conn: (nullable): the daemon's connection (borrowed, must outlive the
 *   sampler); without one the ops get a NULL connection
 *
 * Does nothing until vl_dirty_sampler_configure() sets a period.
 */
VlDirtySampler *vl_dirty_sampler_new(const VlDirtySamplerOps *ops, gpointer ops_data,
                          VlConn *conn);
/* Cancels a measurement in flight (its result is dropped). */
void vl_dirty_sampler_free(VlDirtySampler *sampler);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlDirtySampler, vl_dirty_sampler_free)

/**
 * vl_dirty_sampler_configure:
 * @period_s: each domain is measured again after this long; 0 = no
 *   background sampling (on-demand measurements still work)
 * @periods: (array length=n_periods): measurement lengths, 1..60 s
 *
 * Applies at once; domains keep their measurements unless the lengths
 * changed.  Fails (changing nothing) on a bad length.
 */
gboolean vl_dirty_sampler_configure(VlDirtySampler *sampler, guint period_s,
                              const guint *periods, gsize n_periods,
                              GError **error);

void vl_dirty_sampler_set_busy_func(VlDirtySampler *sampler, VlDirtySamplerBusyFunc func,
                              gpointer user_data);
void vl_dirty_sampler_set_arrived_func(VlDirtySampler *sampler,
                                       VlDirtySamplerArrivedFunc func,
                                       gpointer user_data);

/*
 * One background step now (tests; the timer calls the same): starts the
 * measurement of the most overdue domain unless one is in flight.
 * Returns TRUE when a step was started.
 */
gboolean vl_dirty_sampler_step(VlDirtySampler *sampler);

/* TRUE while a background step or an on-demand measurement runs. */
gboolean vl_dirty_sampler_is_busy(VlDirtySampler *sampler);

/* Forgets @name's measurements (it rebooted, or left this host). */
void vl_dirty_sampler_forget(VlDirtySampler *sampler, const char *name);

/* (transfer full) (nullable): NULL when nothing is known about @name. */
VlDirtySamplerStats *vl_dirty_sampler_get_stats(VlDirtySampler *sampler, const char *name);

/**
 * vl_dirty_sampler_measure_async:
 * @period_s: 1..60
 *
 * Measures @name now, over @period_s, waiting for a background step in
 * flight to finish first; the result is recorded like a background one.
 * Fails with VL_ERROR_INVALID for a bad length or a domain that is not
 * running or is migrating, VL_ERROR_LIBVIRT when libvirt refuses.
 */
void vl_dirty_sampler_measure_async(VlDirtySampler *sampler, const char *name,
                              int period_s, GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
/* @sample: (out) (optional): the measurement */
gboolean vl_dirty_sampler_measure_finish(VlDirtySampler *sampler, GAsyncResult *result,
                                   VlDirtyRateSample *sample, GError **error);

/* Lists the running domains now (sizes, new boots) without measuring. */
void vl_dirty_sampler_refresh_async(VlDirtySampler *sampler, GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean vl_dirty_sampler_refresh_finish(VlDirtySampler *sampler, GAsyncResult *result,
                                   GError **error);

/* {"memory_bytes", "nonzero_bytes", "measurements", "age_s",
 *  "curve": [{"seconds", "bytes"}], "last_error"}; caller owns it. */
json_object *vl_dirty_sampler_stats_to_json(const VlDirtySamplerStats *stats);

G_END_DECLS
