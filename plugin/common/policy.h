/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.h: the admin's policy, as read from /etc/virt-lanes/policies.d
 *
 * Policy files are strict JSON (json-c, JSON_TOKENER_STRICT).  Every
 * object may carry a "description" string; any other unknown key is an
 * error naming it.  Syntax errors name the file and line; semantic ones
 * the file and JSON path, e.g.
 *   "web.json: .containers[0].indicators.cpu.overloaded: must be above under_loaded (80 <= 90)"
 * The schema and every key's bounds are documented in docs/policy.md.
 *
 * All files of the directory are merged into one VlPolicy: at most one
 * file may set "migration"; container names must be unique across files.
 * Loading is all-or-nothing: on any error nothing is returned.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* ---- migration and lanes (issue: lanes) ---------------------------- */

typedef struct {
    char *interface;        /* local NIC name, e.g. "lane1" */
    char *address;          /* local address with prefix, "198.18.11.1/30" */
    char *peer_address;     /* the peer's end, "198.18.11.2" */
    double bandwidth_mbit;  /* declared usable rate, Mbit/s (> 0) */
} VlLaneConfig;

typedef struct {
    char *name;             /* a short label used in logs and the CLI */
    char *uri;              /* libvirt URI of the peer host */
    char *migration_address; /* the peer's migration address */
    double base_bandwidth_mbit; /* usable rate of the base path, Mbit/s;
                                 * 0 = not declared */
    GPtrArray *lanes;       /* VlLaneConfig*, in bring-up order */
} VlPeerConfig;

typedef struct {
    guint after_iteration;  /* QEMU iteration number (>= 1) */
    guint downtime_ms;
} VlDowntimeStep;

typedef enum {
    VL_HOPELESS_CONTINUE,   /* keep migrating, log the verdict */
    VL_HOPELESS_ABORT,      /* abort the job, the guest keeps running */
} VlHopelessAction;

typedef struct {
    double threshold_s;     /* wanted upper bound on total migration time */
    double lane_up_max_s;   /* the longest a lane may take to come up */
    char *migration_address; /* this host's migration address (nullable) */
    guint max_lanes;        /* 1..16 */
    guint channels_per_lane; /* multifd channels per lane, 1..16 */
    guint max_downtime_ms;  /* 1..60000 */
    GArray *downtime_ladder; /* VlDowntimeStep, sorted by after_iteration */
    gboolean allow_auto_converge;
    gboolean allow_postcopy;
    gboolean incoming_lanes; /* the destination may bring lanes up */
    VlHopelessAction when_hopeless;
    double max_bandwidth_mbit; /* cap on every outgoing migration, Mbit/s;
                                * 0 = none (libvirt's, or the admin's) */
    GPtrArray *peers;       /* VlPeerConfig* */
} VlMigrationPolicy;

/* ---- virtual containers (issue: containers) ------------------------ */

typedef enum {
    VL_INDICATOR_CPU,       /* % of the domain's vCPUs, 0..100 */
    VL_INDICATOR_NET_RX,    /* Mbit/s received */
    VL_INDICATOR_NET_TX,    /* Mbit/s sent */
    VL_INDICATOR_BLOCK_IO,  /* MiB/s read + written */
    VL_INDICATOR_MEMORY,    /* % of the domain's memory in use, 0..100 */
    VL_INDICATOR_LAST
} VlIndicator;

/* The JSON key of an indicator ("cpu", "net_rx", ...). */
const char *vl_indicator_to_string(VlIndicator indicator);

typedef struct {
    gboolean enabled;       /* the indicator appears in the policy */
    /* substantially_under < under < over < substantially_over */
    double substantially_under_loaded;
    double under_loaded;
    double overloaded;
    double substantially_overloaded;
    guint hold_s;           /* a crossing counts once held this long */
} VlIndicatorThresholds;

typedef enum {
    VL_CONTAINER_MODE_ENFORCE,
    VL_CONTAINER_MODE_ADVISE, /* decide and log, never act */
} VlContainerMode;

typedef struct {
    char *a;
    char *b;
    double weight;          /* relative traffic, > 0 */
} VlAffinity;

/* The host's own load, judged per container (docs/containers.md,
 * "Host load"). */
typedef enum {
    VL_HOST_INDICATOR_CPU,      /* % of the host's CPU time busy, 0..100 */
    VL_HOST_INDICATOR_MEMORY,   /* % of the host's memory in use, 0..100 */
    VL_HOST_INDICATOR_LAST
} VlHostIndicator;

/* The JSON key of a host indicator ("cpu", "memory"). */
const char *vl_host_indicator_to_string(VlHostIndicator indicator);

typedef struct {
    gboolean enabled;       /* the indicator appears in host_load */
    double under_loaded;    /* below it: burst members may come back */
    double overloaded;      /* above it: members leave; > under_loaded */
} VlHostThresholds;

typedef struct {
    gboolean enabled;       /* "host_load" appears in the container */
    VlHostThresholds indicators[VL_HOST_INDICATOR_LAST];
    guint hold_s;           /* over/under counts once held this long */
} VlHostLoadPolicy;

typedef struct {
    char *name;             /* unique; matches our <metadata> tag */
    char *description;      /* nullable */
    VlContainerMode mode;
    GStrv member_globs;     /* domain-name globs, besides tagged domains */
    guint min_active;
    guint max_active;       /* >= min_active */
    GStrv standby;          /* domains that may be started */
    char *template_domain;  /* nullable: define new members from it */
    GStrv peers;            /* libvirt URIs members may move or burst to */
    double active_standby_ratio; /* 0 = not kept */
    VlIndicatorThresholds indicators[VL_INDICATOR_LAST];
    guint cooldown_s;       /* after every action */
    guint shutdown_timeout_s; /* graceful shutdown before giving up */
    gboolean destroy_on_timeout;
    GPtrArray *affinities;  /* VlAffinity* (communication graph hints) */
    VlHostLoadPolicy host_load; /* when to move members to peers[0] and
                                 * bring them back */
} VlContainerPolicy;

typedef struct {
    GStrv files;            /* the files it was read from */
    VlMigrationPolicy *migration; /* defaults when no file sets it */
    GPtrArray *containers;  /* VlContainerPolicy* */
    char *migration_file;   /* the file that set "migration", NULL for defaults */
} VlPolicy;

/* ---- construction ---------------------------------------------------
 *
 * Every *_new() returns the documented defaults (docs/policy.md), with
 * empty, never NULL, arrays and string vectors; every *_free() accepts
 * NULL and half-filled objects.  The GPtrArrays own their elements
 * (their free function is the element type's *_free()).
 */

VlLaneConfig *vl_lane_config_new(void);
void vl_lane_config_free(VlLaneConfig *lane);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlLaneConfig, vl_lane_config_free)

VlPeerConfig *vl_peer_config_new(void);
void vl_peer_config_free(VlPeerConfig *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlPeerConfig, vl_peer_config_free)

VlMigrationPolicy *vl_migration_policy_new(void);
void vl_migration_policy_free(VlMigrationPolicy *migration);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlMigrationPolicy, vl_migration_policy_free)
/* A deep copy (transfer full), for a thread that outlives a reload. */
VlMigrationPolicy *vl_migration_policy_copy(const VlMigrationPolicy *migration);

VlAffinity *vl_affinity_new(void);
void vl_affinity_free(VlAffinity *affinity);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlAffinity, vl_affinity_free)

VlContainerPolicy *vl_container_policy_new(void);
void vl_container_policy_free(VlContainerPolicy *container);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlContainerPolicy, vl_container_policy_free)

VlPolicy *vl_policy_new(void);
void vl_policy_free(VlPolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlPolicy, vl_policy_free)

/* ---- loading -------------------------------------------------------- */

/* Reads one file (all-or-nothing).  Unlike vl_policy_load_dir() it does
 * not check who owns the file: it is for "virt-lanes policy check" and
 * tests; the daemon reads its directory. */
VlPolicy *vl_policy_load_file(const char *path, GError **error);

/* Reads every *.json of @dir in name order and merges them.  Refuses a
 * directory or file that is group- or world-writable or owned by anyone
 * but root or the effective user. */
VlPolicy *vl_policy_load_dir(const char *dir, GError **error);

/* Parses @length bytes of @data as if read from the file @name (which
 * only names it in messages). */
VlPolicy *vl_policy_load_data(const char *name, const char *data, gsize length,
                              GError **error);

/* ---- queries ------------------------------------------------------- */

/* Finds a container by name (borrowed), or NULL. */
VlContainerPolicy *vl_policy_find_container(VlPolicy *policy, const char *name);

/* Whether @domain matches one of @container's member_globs ('*' and '?'
 * as in g_pattern_match_simple(); no brackets). */
gboolean vl_container_policy_match_domain(const VlContainerPolicy *container,
                                          const char *domain);

/* The JSON spelling: "enforce"/"advise", "continue"/"abort". */
const char *vl_container_mode_to_string(VlContainerMode mode);
const char *vl_hopeless_action_to_string(VlHopelessAction action);

/* The indicator whose JSON key is @name; FALSE if there is none. */
gboolean vl_indicator_from_string(const char *name, VlIndicator *indicator);

/* The checks the policy applies to names and addresses, shared with
 * modules that take the same values from elsewhere (the lane journal):
 * NULL when @value is fine, else an allocated reason (the message tail
 * that follows "FILE: PATH: "). */
char *vl_policy_check_container_name(const char *value);
char *vl_policy_check_domain_name(const char *value);
char *vl_policy_check_glob(const char *value);
char *vl_policy_check_uri(const char *value);
char *vl_policy_check_interface_name(const char *value);
char *vl_policy_check_address(const char *value);
char *vl_policy_check_address_prefix(const char *value);

G_END_DECLS
