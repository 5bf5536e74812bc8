/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vl-config.h: the daemon's configuration file, virt-lanesd.conf
 *
 * A GKeyFile read strictly: unknown groups and keys, keys set twice,
 * malformed lines and values out of their documented range are errors
 * that name the file and the line.  Precedence is command line > file >
 * compiled defaults; the file layer is built here, the command line is
 * laid on top with vl_config_apply_overrides().  Every key is documented
 * in docs/architecture.md.  (Named vl-config.h so that it cannot shadow
 * the generated <config.h>.)
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Documented bounds of the numeric keys (inclusive). */
#define VL_CONFIG_KEEPALIVE_INTERVAL_MAX 600
#define VL_CONFIG_KEEPALIVE_COUNT_MAX 100
#define VL_CONFIG_RECONNECT_MIN 1
#define VL_CONFIG_RECONNECT_MAX 3600
/* [lanes] table_base: lanes use table_base+1.., which must stay clear of
 * the kernel's 253-255 (see lanes.h). */
#define VL_CONFIG_TABLE_BASE_MIN 256
#define VL_CONFIG_TABLE_BASE_MAX 2000000000
#define VL_CONFIG_TABLE_BASE_DEFAULT 7600
#define VL_CONFIG_TICK_MIN 1
#define VL_CONFIG_TICK_MAX 3600
#define VL_CONFIG_SAMPLE_PERIOD_MAX 86400
#define VL_CONFIG_MAX_SAMPLE_PERIODS 8
#define VL_CONFIG_DIRTYRATE_PERIOD_MIN 1    /* virDomainStartDirtyRateCalc */
#define VL_CONFIG_DIRTYRATE_PERIOD_MAX 60

typedef struct {
    char *uri;              /* [daemon] uri: libvirt URI */
    char *socket_path;      /* [daemon] socket: the IPC socket */
    char *pid_file;         /* [daemon] pid_file: nullable, no pid file */
    char *log_file;         /* [daemon] log_file: nullable, stderr */
    gboolean verbose;       /* [daemon] verbose: debug messages too */
    guint keepalive_interval; /* [libvirt] keepalive_interval (s), 0 = off */
    guint keepalive_count;  /* [libvirt] keepalive_count */
    guint reconnect_min_s;  /* [libvirt] reconnect_min: first retry delay */
    guint reconnect_max_s;  /* [libvirt] reconnect_max: retry delay cap */
    char *policy_dir;       /* [daemon] policy_dir: the policies.d directory */
    char *lane_journal;     /* [lanes] journal: lanes this daemon brought up */
    char *script_dir;       /* [lanes] script_dir: lane-up, lane-down, lane-steer */
    char *lane_state_dir;   /* [lanes] state_dir: the scripts' notes (under /run) */
    guint lane_table_base;  /* [lanes] table_base: first routing table / fwmark */
    guint tick_s;           /* [containers] tick_s: the sampling cycle */
    char *audit_log;        /* [containers] audit_log: the audit file */
    gboolean dry_run;       /* [containers] dry_run: decide, never act */
    char *home_uri;         /* [containers] home_uri: nullable; this host
                             * as peers reach it (bring_back) */
    char *stats_replay;     /* [containers] stats_replay: nullable; TEST
                             * ONLY: replay recorded statistics */
    char *container_state;  /* [containers] state_file: burst members and
                             * cooldowns across restarts */
    guint sample_period_s;  /* [estimator] sample_period_s, 0 = no sampling */
    /* [estimator] sample_periods: dirty-rate measurement lengths (s) */
    guint sample_periods[VL_CONFIG_MAX_SAMPLE_PERIODS];
    guint n_sample_periods;
    char *history_file;     /* [estimator] history_file */
} VlConfig;

/* What the command line gave; NULL/FALSE means "not given". Borrowed. */
typedef struct {
    const char *uri;
    const char *socket_path;
    const char *pid_file;
    const char *log_file;
    gboolean verbose;
    const char *policy_dir;
    const char *lane_journal;
    const char *script_dir;
    gboolean dry_run;
} VlConfigOverrides;

/* The compiled defaults.  Caller owns the result. */
VlConfig *vl_config_new(void);
VlConfig *vl_config_copy(const VlConfig *config);
void vl_config_free(VlConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlConfig, vl_config_free)

/**
 * vl_config_load_file:
 * @path: the file to read
 * @missing_ok: a missing file yields the defaults instead of an error
 * @error: (out) (optional): VL_ERROR_INVALID naming @path and the line,
 *         or VL_ERROR_IO when the file cannot be read
 *
 * All or nothing: returns a new configuration (defaults overlaid by the
 * file) or NULL, never a partly applied one.
 * Returns: (transfer full): the configuration, or NULL
 */
VlConfig *vl_config_load_file(const char *path,
                              gboolean missing_ok,
                              GError **error);

/**
 * vl_config_load_data:
 * @data: the file's bytes; need not be NUL-terminated
 * @len: number of bytes in @data
 * @name: what to call the file in error messages
 * @error: (out) (optional): VL_ERROR_INVALID naming @name and the line
 *
 * Like vl_config_load_file() on bytes already read.
 * Returns: (transfer full): the configuration, or NULL
 */
VlConfig *vl_config_load_data(const char *data,
                              gsize len,
                              const char *name,
                              GError **error);

/* Lays the command line (@overrides, borrowed) over @config. */
void vl_config_apply_overrides(VlConfig *config,
                               const VlConfigOverrides *overrides);

G_END_DECLS
