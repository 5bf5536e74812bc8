/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * history.h: the migration history file
 *
 * One JSON object per line, one line per completed migration, appended
 * with O_APPEND.  When the file would grow past its size cap it is renamed
 * to "PATH.1" (replacing an older one) and a new file is started; loading
 * reads "PATH.1" then "PATH", skipping and counting lines that do not
 * parse (a crash can leave a truncated last line).  The daemon is the one
 * writer.
 *
 * Line format (keys in this order; "predicted_time_s" and "load1" only
 * when known):
 *   {"v":2,"time":1700000000,"domain":"web-1","memory_bytes":1073741824,
 *    "processed_bytes":894435328,"total_time_s":38.8,"memory_bps":23907532,
 *    "iterations":3,"downtime_ms":362,"dirty_rate_bps":0,"lanes":0,
 *    "channels":2,"predicted_time_s":39.1,"move_overhead_s":2.7,"load1":1.52}
 * "lanes" counts the lanes besides the base path, as the policy's
 * max_lanes and 'virt-lanes migrate' do (0: the base path alone; the
 * migration used lanes + 1 links).  Version 1 lines counted the base path
 * when the policy listed it and not otherwise, so their lane count is
 * read as unknown (VL_HISTORY_LANES_UNKNOWN): they still give the setup
 * time and the prediction error, never a throughput per lane count.
 * "move_overhead_s" (optional) is what the whole move took besides the
 * job and the lanes coming up (docs/estimator.md, "The fixed cost of a
 * move"); only "virt-lanes evacuate" writes it so far.
 * Unknown keys are ignored so that newer writers do not break older
 * readers; any other "v" makes the line count as bad.
 */
#pragma once

#include <glib.h>

#include "vl-error.h"

G_BEGIN_DECLS

#define VL_HISTORY_DEFAULT_MAX_BYTES (1024 * 1024)
#define VL_HISTORY_MAX_LINE 8192
#define VL_HISTORY_MAX_DOMAIN 1024
#define VL_HISTORY_MAX_LANES 64
#define VL_HISTORY_MAX_CHANNELS 255
/* A version 1 line's lane count, which cannot be trusted (see above). */
#define VL_HISTORY_LANES_UNKNOWN G_MAXUINT
#define VL_HISTORY_MAX_LOAD 10000

typedef struct {
    gint64 time;                /* completion, seconds since the epoch */
    char *domain;               /* owned; valid UTF-8 */
    guint64 memory_bytes;
    guint64 processed_bytes;
    double total_time_s;
    double memory_bps;
    guint iterations;
    double downtime_ms;
    double dirty_rate_bps;
    guint lanes;                /* besides the base path; or
                                 * VL_HISTORY_LANES_UNKNOWN (read only) */
    guint channels;             /* multifd channels; 0 = none */
    double predicted_time_s;    /* NAN when there was no prediction */
    double move_overhead_s;     /* NAN when not measured */
    double load1;               /* the host's 1-minute load average at the
                                 * end; NAN when not known */
} VlHistoryRecord;

VlHistoryRecord *vl_history_record_new(void);
void vl_history_record_free(VlHistoryRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlHistoryRecord, vl_history_record_free)

typedef struct {
    GPtrArray *records;         /* VlHistoryRecord *, oldest first */
    guint bad_lines;            /* lines skipped as unparseable */
} VlHistory;

VlHistory *vl_history_new(void);
void vl_history_free(VlHistory *history);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlHistory, vl_history_free)

/**
 * vl_history_append:
 * @path: the history file; created 0640 if missing, never followed if a
 *   symlink
 * @record: (not nullable): validated before anything is written
 * @max_bytes: size cap before rotation; 0 = VL_HISTORY_DEFAULT_MAX_BYTES
 *
 * Writes the record as one line in one write().  A record with bad
 * fields (non-UTF-8 domain, NaN times...) is refused with
 * VL_ERROR_INVALID and nothing is written.
 */
gboolean vl_history_append(const char *path, const VlHistoryRecord *record,
                           gsize max_bytes, GError **error);

/**
 * vl_history_load_average:
 * Returns: this host's 1-minute load average (getloadavg()), or NAN when
 * it cannot be read.  Recorded with every run: TCG guests and the
 * migration threads compete for the same CPUs, so a loaded host migrates
 * slower than its history says.
 */
double vl_history_load_average(void);

/**
 * vl_history_load:
 * Reads "@path.1" and @path.  Missing files give an empty history; an
 * unreadable one (permissions, a directory...) is an error.  Two lines of
 * one run (same domain, memory and processed bytes, job time to the
 * millisecond, stamped within 60 s of each other: virt-lanesd and the CLI
 * both recorded it) are one
 * record: the first, with what it lacks (predicted_time_s,
 * move_overhead_s) taken from the second.
 */
VlHistory *vl_history_load(const char *path, GError **error);

/**
 * vl_history_learned_bps:
 * @lanes: lanes besides the base path (0 = the base path alone)
 * @max_recent: look at this many most recent runs with @lanes lanes
 *   (0 = 10); lines whose lane count is unknown never match
 * @bps: (out): their median memory_bps
 *
 * Returns FALSE (and leaves @bps alone) when there is no such run.
 */
gboolean vl_history_learned_bps(const VlHistory *history, guint lanes,
                                guint max_recent, double *bps);

/**
 * vl_history_learned_job_overhead:
 * @max_recent: look at this many most recent runs with a rate and a time
 *   (0 = 10)
 * @overhead_s: (out): the median of what their jobs took beyond moving
 *   their bytes (total_time_s - processed_bytes / memory_bps: the setup
 *   until RAM flows and the resume), each within 0-60 s
 *
 * The one figure "virt-lanes estimate" and "virt-lanes migrate" both
 * plan with.  Returns FALSE (and leaves @overhead_s alone) when no run
 * gives one.
 */
gboolean vl_history_learned_job_overhead(const VlHistory *history,
                                         guint max_recent, double *overhead_s);

/**
 * vl_history_learned_overhead:
 * @max_recent: look at this many most recent runs that carry
 *   "move_overhead_s" (0 = 10)
 * @overhead_s: (out): their median
 * @count: (out) (optional): how many runs it came from
 *
 * Returns FALSE (and leaves the outs alone) when no run carries one.
 */
gboolean vl_history_learned_overhead(const VlHistory *history,
                                     guint max_recent, double *overhead_s,
                                     guint *count);

/**
 * vl_history_prediction_error:
 * Over the @max_recent (0 = all) most recent runs that carry a
 * prediction: mean absolute percentage error and its 90th percentile
 * (nearest rank), as fractions.  FALSE when there is none.
 */
gboolean vl_history_prediction_error(const VlHistory *history,
                                     guint max_recent, double *mape,
                                     double *p90, guint *count);

G_END_DECLS
