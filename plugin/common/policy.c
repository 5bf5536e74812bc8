/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "json-reader.h"
#include "policy-priv.h"
#include "policy.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/*
 * Bounds and defaults.  docs/policy.md and policies/README.md document
 * every one of them; change them together.
 */
#define MAX_FILE_SIZE (1024 * 1024)

#define THRESHOLD_S_MIN 1.0
#define THRESHOLD_S_MAX 86400.0
#define THRESHOLD_S_DEFAULT 60.0
#define LANE_UP_MAX_S_MAX 600.0     /* above 0 */
#define LANE_UP_MAX_S_DEFAULT 5.0
#define MAX_LANES_MAX 16
#define MAX_LANES_DEFAULT 4
#define CHANNELS_PER_LANE_MAX 16
#define CHANNELS_PER_LANE_DEFAULT 2
/* libvirt's "parallel.connections" takes 1..255. */
#define MAX_CONNECTIONS 255
#define DOWNTIME_MS_MAX 60000
#define MAX_DOWNTIME_MS_DEFAULT 300
#define LADDER_MAX_STEPS 32
#define AFTER_ITERATION_MAX 10000
#define PEERS_MAX 64
#define LANES_PER_PEER_MAX 16
#define BANDWIDTH_MBIT_MAX 1000000.0 /* above 0 */
/* libvirt caps in whole MiB/s: 10 Mbit/s is 1 MiB/s once rounded down. */
#define MAX_BANDWIDTH_MBIT_MIN 10.0

#define CONTAINERS_PER_FILE_MAX 1024
#define NAME_MAX_CHARS 64
#define GLOBS_MAX 256
#define ACTIVE_MAX 1024
#define MIN_ACTIVE_DEFAULT 1
#define STANDBY_MAX 1024
#define CONTAINER_PEERS_MAX 64
#define RATIO_MAX 1000.0
#define HOLD_S_MAX 86400
#define HOLD_S_DEFAULT 60
#define COOLDOWN_S_MAX 86400
#define COOLDOWN_S_DEFAULT 300
#define SHUTDOWN_TIMEOUT_S_MIN 1
#define SHUTDOWN_TIMEOUT_S_MAX 3600
#define SHUTDOWN_TIMEOUT_S_DEFAULT 120
#define AFFINITIES_MAX 4096
#define WEIGHT_MAX 1000000.0         /* above 0 */
#define WEIGHT_DEFAULT 1.0

/* The longest name the kernel takes: IFNAMSIZ - 1. */
#define IFNAME_MAX 15

/* ---- the schema ------------------------------------------------------ */

static const char *const top_keys[] = {
    "migration", "containers", NULL
};
static const char *const migration_keys[] = {
    "threshold_s", "lane_up_max_s", "migration_address", "max_lanes",
    "channels_per_lane", "max_downtime_ms", "downtime_ladder",
    "allow_auto_converge", "allow_postcopy", "incoming_lanes",
    "when_hopeless", "max_bandwidth_mbit", "peers", NULL
};
static const char *const step_keys[] = {
    "after_iteration", "downtime_ms", NULL
};
static const char *const peer_keys[] = {
    "name", "uri", "migration_address", "base_bandwidth_mbit", "lanes", NULL
};
static const char *const lane_keys[] = {
    "interface", "address", "peer_address", "bandwidth_mbit", NULL
};
static const char *const container_keys[] = {
    "name", "mode", "members", "min_active", "max_active", "standby",
    "template", "peers", "active_standby_ratio", "indicators", "cooldown_s",
    "shutdown_timeout_s", "destroy_on_timeout", "affinities", "host_load",
    NULL
};
/* Indexed by VlHostIndicator, then "hold_s". */
static const char *const host_load_keys[] = {
    "cpu", "memory", "hold_s", NULL
};
G_STATIC_ASSERT(G_N_ELEMENTS(host_load_keys) == VL_HOST_INDICATOR_LAST + 2);
static const char *const host_threshold_keys[] = {
    "under_loaded", "overloaded", NULL
};
static const char *const members_keys[] = {
    "name_globs", NULL
};
/* Indexed by VlIndicator. */
static const char *const indicator_keys[] = {
    "cpu", "net_rx", "net_tx", "block_io", "memory", NULL
};
static const double indicator_max[VL_INDICATOR_LAST] = {
    100.0, 1000000.0, 1000000.0, 1000000.0, 100.0
};
G_STATIC_ASSERT(G_N_ELEMENTS(indicator_keys) == VL_INDICATOR_LAST + 1);
/* In increasing order; each must be above the one before. */
static const char *const threshold_keys[] = {
    "substantially_under_loaded", "under_loaded", "overloaded",
    "substantially_overloaded", "hold_s", NULL
};
static const char *const affinity_keys[] = {
    "a", "b", "weight", NULL
};

/* Indexed by the enums. */
static const char *const hopeless_names[] = { "continue", "abort", NULL };
static const char *const mode_names[] = { "enforce", "advise", NULL };
G_STATIC_ASSERT(VL_HOPELESS_CONTINUE == 0 && VL_HOPELESS_ABORT == 1);
G_STATIC_ASSERT(VL_CONTAINER_MODE_ENFORCE == 0 && VL_CONTAINER_MODE_ADVISE == 1);

static const struct {
    const char *path;
    const char *const *keys;
} schema[] = {
    { "", top_keys },
    { ".migration", migration_keys },
    { ".migration.downtime_ladder[]", step_keys },
    { ".migration.peers[]", peer_keys },
    { ".migration.peers[].lanes[]", lane_keys },
    { ".containers[]", container_keys },
    { ".containers[].members", members_keys },
    { ".containers[].indicators", indicator_keys },
    { ".containers[].indicators.*", threshold_keys },
    { ".containers[].affinities[]", affinity_keys },
    { ".containers[].host_load", host_load_keys },
    { ".containers[].host_load.*", host_threshold_keys },
};

GStrv
vl_policy_schema_keys(void)
{
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    gsize i;
    const char *const *key;

    for (i = 0; i < G_N_ELEMENTS(schema); i++) {
        for (key = schema[i].keys; *key; key++)
            g_ptr_array_add(keys, g_strdup_printf("%s.%s", schema[i].path, *key));
    }
    g_ptr_array_add(keys, NULL);
    return (GStrv) g_ptr_array_free(g_steal_pointer(&keys), FALSE);
}

const char *
vl_indicator_to_string(VlIndicator indicator)
{
    g_return_val_if_fail(indicator < VL_INDICATOR_LAST, NULL);
    return indicator_keys[indicator];
}

gboolean
vl_indicator_from_string(const char *name, VlIndicator *indicator)
{
    guint i;

    for (i = 0; name && i < VL_INDICATOR_LAST; i++) {
        if (g_str_equal(name, indicator_keys[i])) {
            *indicator = i;
            return TRUE;
        }
    }
    return FALSE;
}

const char *
vl_host_indicator_to_string(VlHostIndicator indicator)
{
    g_return_val_if_fail(indicator < VL_HOST_INDICATOR_LAST, NULL);
    return host_load_keys[indicator];
}

const char *
vl_container_mode_to_string(VlContainerMode mode)
{
    g_return_val_if_fail(mode <= VL_CONTAINER_MODE_ADVISE, NULL);
    return mode_names[mode];
}

const char *
vl_hopeless_action_to_string(VlHopelessAction action)
{
    g_return_val_if_fail(action <= VL_HOPELESS_ABORT, NULL);
    return hopeless_names[action];
}

/* ---- construction ---------------------------------------------------- */

static GStrv
empty_strv(void)
{
    return g_new0(char *, 1);
}

VlLaneConfig *
vl_lane_config_new(void)
{
    return g_new0(VlLaneConfig, 1);
}

void
vl_lane_config_free(VlLaneConfig *lane)
{
    if (!lane)
        return;
    g_free(lane->interface);
    g_free(lane->address);
    g_free(lane->peer_address);
    g_free(lane);
}

VlPeerConfig *
vl_peer_config_new(void)
{
    VlPeerConfig *peer = g_new0(VlPeerConfig, 1);

    peer->lanes = g_ptr_array_new_with_free_func((GDestroyNotify) vl_lane_config_free);
    return peer;
}

void
vl_peer_config_free(VlPeerConfig *peer)
{
    if (!peer)
        return;
    g_free(peer->name);
    g_free(peer->uri);
    g_free(peer->migration_address);
    if (peer->lanes)
        g_ptr_array_unref(peer->lanes);
    g_free(peer);
}

VlMigrationPolicy *
vl_migration_policy_new(void)
{
    VlMigrationPolicy *m = g_new0(VlMigrationPolicy, 1);

    m->threshold_s = THRESHOLD_S_DEFAULT;
    m->lane_up_max_s = LANE_UP_MAX_S_DEFAULT;
    m->max_lanes = MAX_LANES_DEFAULT;
    m->channels_per_lane = CHANNELS_PER_LANE_DEFAULT;
    m->max_downtime_ms = MAX_DOWNTIME_MS_DEFAULT;
    m->downtime_ladder = g_array_new(FALSE, TRUE, sizeof(VlDowntimeStep));
    m->allow_auto_converge = FALSE;
    m->allow_postcopy = FALSE;
    m->incoming_lanes = TRUE;
    m->when_hopeless = VL_HOPELESS_CONTINUE;
    m->peers = g_ptr_array_new_with_free_func((GDestroyNotify) vl_peer_config_free);
    return m;
}

void
vl_migration_policy_free(VlMigrationPolicy *migration)
{
    if (!migration)
        return;
    g_free(migration->migration_address);
    if (migration->downtime_ladder)
        g_array_unref(migration->downtime_ladder);
    if (migration->peers)
        g_ptr_array_unref(migration->peers);
    g_free(migration);
}

static gpointer
lane_config_copy(gconstpointer src, gpointer data G_GNUC_UNUSED)
{
    const VlLaneConfig *lane = src;
    VlLaneConfig *copy = vl_lane_config_new();

    copy->interface = g_strdup(lane->interface);
    copy->address = g_strdup(lane->address);
    copy->peer_address = g_strdup(lane->peer_address);
    copy->bandwidth_mbit = lane->bandwidth_mbit;
    return copy;
}

static gpointer
peer_config_copy(gconstpointer src, gpointer data G_GNUC_UNUSED)
{
    const VlPeerConfig *peer = src;
    VlPeerConfig *copy = g_new0(VlPeerConfig, 1);

    copy->name = g_strdup(peer->name);
    copy->uri = g_strdup(peer->uri);
    copy->migration_address = g_strdup(peer->migration_address);
    copy->base_bandwidth_mbit = peer->base_bandwidth_mbit;
    copy->lanes = g_ptr_array_copy(peer->lanes, lane_config_copy, NULL);
    g_ptr_array_set_free_func(copy->lanes, (GDestroyNotify) vl_lane_config_free);
    return copy;
}

VlMigrationPolicy *
vl_migration_policy_copy(const VlMigrationPolicy *migration)
{
    VlMigrationPolicy *copy = NULL;

    g_return_val_if_fail(migration != NULL, NULL);

    copy = g_new0(VlMigrationPolicy, 1);
    *copy = *migration;
    copy->migration_address = g_strdup(migration->migration_address);
    copy->downtime_ladder = g_array_copy(migration->downtime_ladder);
    copy->peers = g_ptr_array_copy(migration->peers, peer_config_copy, NULL);
    g_ptr_array_set_free_func(copy->peers, (GDestroyNotify) vl_peer_config_free);
    return copy;
}

VlAffinity *
vl_affinity_new(void)
{
    VlAffinity *affinity = g_new0(VlAffinity, 1);

    affinity->weight = WEIGHT_DEFAULT;
    return affinity;
}

void
vl_affinity_free(VlAffinity *affinity)
{
    if (!affinity)
        return;
    g_free(affinity->a);
    g_free(affinity->b);
    g_free(affinity);
}

VlContainerPolicy *
vl_container_policy_new(void)
{
    VlContainerPolicy *c = g_new0(VlContainerPolicy, 1);

    c->mode = VL_CONTAINER_MODE_ENFORCE;
    c->member_globs = empty_strv();
    c->min_active = MIN_ACTIVE_DEFAULT;
    /* Grows into every standby by default: min_active + 0 standbys. */
    c->max_active = MIN_ACTIVE_DEFAULT;
    c->standby = empty_strv();
    c->peers = empty_strv();
    c->active_standby_ratio = 0;
    c->cooldown_s = COOLDOWN_S_DEFAULT;
    c->shutdown_timeout_s = SHUTDOWN_TIMEOUT_S_DEFAULT;
    c->destroy_on_timeout = FALSE;
    c->affinities = g_ptr_array_new_with_free_func((GDestroyNotify) vl_affinity_free);
    return c;
}

void
vl_container_policy_free(VlContainerPolicy *container)
{
    if (!container)
        return;
    g_free(container->name);
    g_free(container->description);
    g_strfreev(container->member_globs);
    g_strfreev(container->standby);
    g_free(container->template_domain);
    g_strfreev(container->peers);
    if (container->affinities)
        g_ptr_array_unref(container->affinities);
    g_free(container);
}

VlPolicy *
vl_policy_new(void)
{
    VlPolicy *policy = g_new0(VlPolicy, 1);

    policy->files = empty_strv();
    policy->migration = vl_migration_policy_new();
    policy->containers =
        g_ptr_array_new_with_free_func((GDestroyNotify) vl_container_policy_free);
    return policy;
}

void
vl_policy_free(VlPolicy *policy)
{
    if (!policy)
        return;
    g_strfreev(policy->files);
    vl_migration_policy_free(policy->migration);
    if (policy->containers)
        g_ptr_array_unref(policy->containers);
    g_free(policy->migration_file);
    g_free(policy);
}

VlContainerPolicy *
vl_policy_find_container(VlPolicy *policy, const char *name)
{
    guint i;

    if (!policy || !policy->containers || !name)
        return NULL;
    for (i = 0; i < policy->containers->len; i++) {
        VlContainerPolicy *c = g_ptr_array_index(policy->containers, i);

        if (g_strcmp0(c->name, name) == 0)
            return c;
    }
    return NULL;
}

gboolean
vl_container_policy_match_domain(const VlContainerPolicy *container,
                                 const char *domain)
{
    GStrv glob;

    if (!container || !container->member_globs || !domain)
        return FALSE;
    for (glob = container->member_globs; *glob; glob++) {
        if (g_pattern_match_simple(*glob, domain))
            return TRUE;
    }
    return FALSE;
}

/* ---- string checks ---------------------------------------------------- */

static gboolean
has_control_chars(const char *value)
{
    const char *p;

    for (p = value; *p; p++) {
        if ((guchar) *p < 0x20 || *p == 0x7F)
            return TRUE;
    }
    return FALSE;
}

char *
vl_policy_check_container_name(const char *value)
{
    g_autofree char *q = vl_json_quote(value);
    gsize len = strlen(value);
    const char *p;

    if (len == 0)
        return g_strdup("must not be empty");
    for (p = value; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '_' && *p != '.' && *p != '-')
            break;
    }
    if (*p || len > NAME_MAX_CHARS)
        return g_strdup_printf("'%s' must be 1 to %d characters among A-Z, a-z, 0-9, '_', '.' and '-'",
                               q, NAME_MAX_CHARS);
    return NULL;
}

char *
vl_policy_check_domain_name(const char *value)
{
    g_autofree char *q = vl_json_quote(value);

    if (!*value)
        return g_strdup("must not be empty");
    if (has_control_chars(value))
        return g_strdup_printf("'%s' must not contain newlines or other control characters",
                               q);
    return NULL;
}

char *
vl_policy_check_glob(const char *value)
{
    /* The same rules as names: a glob is matched against them. */
    return vl_policy_check_domain_name(value);
}

char *
vl_policy_check_uri(const char *value)
{
    g_autofree char *q = vl_json_quote(value);
    const char *p;

    if (!*value)
        return g_strdup("must not be empty");

    /* g_uri_is_valid() lets spaces through; libvirt does not. */
    for (p = value; *p; p++) {
        if (g_ascii_isspace(*p) || (guchar) *p < 0x20 || *p == 0x7F)
            break;
    }
    if (*p)
        return g_strdup_printf("'%s' is not a libvirt URI such as 'qemu+ssh://host-b/system'",
                               q);

    /* A scheme (RFC 3986: a letter, then letters, digits, '+', '-' or
     * '.'), a colon, and something after it: "qemu:" names no host. */
    for (p = value + 1; g_ascii_isalnum(*p) || *p == '+' || *p == '-' || *p == '.'; p++)
        ;
    if (!g_ascii_isalpha(value[0]) || *p != ':' || !p[1] ||
        !g_uri_is_valid(value, G_URI_FLAGS_NONE, NULL))
        return g_strdup_printf("'%s' is not a libvirt URI such as 'qemu+ssh://host-b/system'",
                               q);
    return NULL;
}

char *
vl_policy_check_interface_name(const char *value)
{
    g_autofree char *q = vl_json_quote(value);
    gsize len = strlen(value);
    const char *p;

    /* The kernel's dev_valid_name(), plus no control characters and no
     * leading '-', because lane scripts hand the name to ip(8). */
    for (p = value; *p; p++) {
        if (*p == '/' || *p == ':' || g_ascii_isspace(*p) ||
            (guchar) *p < 0x20 || *p == 0x7F)
            break;
    }
    if (len == 0 || len > IFNAME_MAX || *p || value[0] == '-' ||
        g_str_equal(value, ".") || g_str_equal(value, ".."))
        return g_strdup_printf("'%s' is not a valid interface name (1 to %d characters, no '/', ':' or whitespace, not '.' or '..', no leading '-')",
                               q, IFNAME_MAX);
    return NULL;
}

char *
vl_policy_check_address(const char *value)
{
    g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(value);
    g_autofree char *q = NULL;

    if (addr)
        return NULL;
    q = vl_json_quote(value);
    if (strchr(value, '/'))
        return g_strdup_printf("'%s' must be an address without a prefix length",
                               q);
    return g_strdup_printf("'%s' is not an IPv4 or IPv6 address", q);
}

/* "198.18.11.1/30" → the address and the prefix length. */
static gboolean
parse_address_prefix(const char *value, GInetAddress **address, guint *prefix)
{
    const char *slash = strchr(value, '/');
    g_autofree char *host = NULL;
    g_autoptr(GInetAddress) addr = NULL;
    guint max;
    guint p = 0;
    const char *c;

    if (!slash)
        return FALSE;
    host = g_strndup(value, slash - value);
    addr = g_inet_address_new_from_string(host);
    if (!addr)
        return FALSE;

    max = g_inet_address_get_family(addr) == G_SOCKET_FAMILY_IPV4 ? 32 : 128;
    if (!slash[1] || strlen(slash + 1) > 3)
        return FALSE;
    for (c = slash + 1; *c; c++) {
        if (!g_ascii_isdigit(*c))
            return FALSE;
        p = p * 10 + (*c - '0');
    }
    if (p < 1 || p > max)
        return FALSE;

    *address = g_steal_pointer(&addr);
    *prefix = p;
    return TRUE;
}

char *
vl_policy_check_address_prefix(const char *value)
{
    g_autoptr(GInetAddress) addr = NULL;
    g_autofree char *q = vl_json_quote(value);
    guint prefix = 0;

    if (parse_address_prefix(value, &addr, &prefix))
        return NULL;
    if (!strchr(value, '/'))
        return g_strdup_printf("'%s' needs a prefix length, as in '198.18.11.1/30'",
                               q);
    return g_strdup_printf("'%s' is not an address with a prefix length (1 to 32 for IPv4, 1 to 128 for IPv6)",
                           q);
}

/* The subnet of "198.18.11.1/30", as a mask GLib can match with. */
static GInetAddressMask *
subnet_of(const char *value)
{
    g_autoptr(GInetAddress) addr = NULL;
    g_autoptr(GInetAddress) network = NULL;
    guint8 bytes[16];
    gsize size;
    guint prefix = 0;
    guint i;

    if (!parse_address_prefix(value, &addr, &prefix))
        return NULL;

    /* GInetAddressMask refuses host bits ("198.18.11.1/30"), so clear
     * them first. */
    size = g_inet_address_get_native_size(addr);
    memcpy(bytes, g_inet_address_to_bytes(addr), size);
    for (i = 0; i < size; i++) {
        guint keep = prefix > i * 8 ? MIN(8, prefix - i * 8) : 0;

        bytes[i] &= (guint8) (0xFF00 >> keep);
    }
    network = g_inet_address_new_from_bytes(bytes, g_inet_address_get_family(addr));
    return g_inet_address_mask_new(network, prefix, NULL);
}

/* ---- parsing ---------------------------------------------------------- */

static gboolean
parse_ladder(VlJsonReader *r, json_object *obj, VlMigrationPolicy *m,
             GError **error)
{
    json_object *array = NULL;
    gsize i;

    if (!vl_json_reader_get_array(r, obj, "downtime_ladder", VL_JSON_OPTIONAL,
                                  LADDER_MAX_STEPS, &array, error))
        return FALSE;
    if (!array)
        return TRUE;

    vl_json_reader_push_key(r, "downtime_ladder");
    for (i = 0; i < json_object_array_length(array); i++) {
        json_object *item = json_object_array_get_idx(array, i);
        VlDowntimeStep step = { 0, 0 };
        const VlDowntimeStep *prev = NULL;

        if (i > 0)
            prev = &g_array_index(m->downtime_ladder, VlDowntimeStep, i - 1);

        vl_json_reader_push_index(r, i);
        if (!vl_json_reader_check_object(r, item, step_keys, error) ||
            !vl_json_reader_get_uint(r, item, "after_iteration", VL_JSON_REQUIRED,
                                     1, AFTER_ITERATION_MAX,
                                     &step.after_iteration, error) ||
            !vl_json_reader_get_uint(r, item, "downtime_ms", VL_JSON_REQUIRED,
                                     1, DOWNTIME_MS_MAX, &step.downtime_ms,
                                     error))
            goto fail;

        if (prev && step.after_iteration <= prev->after_iteration) {
            vl_json_reader_error_at(r, "after_iteration", error,
                                    "must be above the previous step's after_iteration (%u <= %u)",
                                    step.after_iteration, prev->after_iteration);
            goto fail;
        }
        if (prev && step.downtime_ms < prev->downtime_ms) {
            vl_json_reader_error_at(r, "downtime_ms", error,
                                    "must not be below the previous step's downtime_ms (%u < %u)",
                                    step.downtime_ms, prev->downtime_ms);
            goto fail;
        }
        g_array_append_val(m->downtime_ladder, step);
        vl_json_reader_pop(r);
    }
    vl_json_reader_pop(r);
    return TRUE;

 fail:
    vl_json_reader_pop(r);
    vl_json_reader_pop(r);
    return FALSE;
}

/* Where an interface or local address was first used, for messages. */
typedef struct {
    GHashTable *interfaces;     /* name → path (owned) */
    GHashTable *addresses;      /* address → path (owned) */
} LaneSeen;

static gboolean
parse_lane(VlJsonReader *r, json_object *obj, LaneSeen *seen,
           VlLaneConfig **out, GError **error)
{
    g_autoptr(VlLaneConfig) lane = vl_lane_config_new();
    g_autoptr(GInetAddressMask) subnet = NULL;
    g_autoptr(GInetAddress) peer = NULL;
    g_autoptr(GInetAddress) local = NULL;
    g_autofree char *local_text = NULL;
    const char *where;

    if (!vl_json_reader_check_object(r, obj, lane_keys, error) ||
        !vl_json_reader_get_string(r, obj, "interface", VL_JSON_REQUIRED,
                                   vl_policy_check_interface_name,
                                   &lane->interface, error) ||
        !vl_json_reader_get_string(r, obj, "address", VL_JSON_REQUIRED,
                                   vl_policy_check_address_prefix,
                                   &lane->address, error) ||
        !vl_json_reader_get_string(r, obj, "peer_address", VL_JSON_REQUIRED,
                                   vl_policy_check_address,
                                   &lane->peer_address, error) ||
        !vl_json_reader_get_double(r, obj, "bandwidth_mbit",
                                   VL_JSON_REQUIRED | VL_JSON_MIN_EXCLUSIVE,
                                   0, BANDWIDTH_MBIT_MAX,
                                   &lane->bandwidth_mbit, error))
        return FALSE;

    subnet = subnet_of(lane->address);
    peer = g_inet_address_new_from_string(lane->peer_address);
    local_text = g_strndup(lane->address, strcspn(lane->address, "/"));
    local = g_inet_address_new_from_string(local_text);
    if (!subnet || !peer || !local) {
        /* The checks above make this unreachable; admin input must
         * still never reach an assertion. */
        return vl_json_reader_error(r, error, "cannot parse the lane's addresses");
    }

    if (g_inet_address_get_family(peer) != g_inet_address_get_family(local))
        return vl_json_reader_error_at(r, "peer_address", error,
                                       "'%s' is not of the same address family as '%s'",
                                       lane->peer_address, lane->address);
    if (g_inet_address_equal(peer, local))
        return vl_json_reader_error_at(r, "peer_address", error,
                                       "'%s' is the lane's own address",
                                       lane->peer_address);
    if (!g_inet_address_mask_matches(subnet, peer))
        return vl_json_reader_error_at(r, "peer_address", error,
                                       "'%s' is not inside the lane's subnet '%s'",
                                       lane->peer_address, lane->address);

    /* Local NIC names and addresses belong to this host: no two lanes,
     * even towards different peers, may share one. */
    if ((where = g_hash_table_lookup(seen->interfaces, lane->interface)))
        return vl_json_reader_error_at(r, "interface", error,
                                       "'%s' is already used by %s",
                                       lane->interface, where);
    if ((where = g_hash_table_lookup(seen->addresses, local_text)))
        return vl_json_reader_error_at(r, "address", error,
                                       "'%s' is already used by %s",
                                       local_text, where);
    g_hash_table_insert(seen->interfaces, g_strdup(lane->interface),
                        g_strdup(vl_json_reader_get_path(r)));
    g_hash_table_insert(seen->addresses, g_steal_pointer(&local_text),
                        g_strdup(vl_json_reader_get_path(r)));

    *out = g_steal_pointer(&lane);
    return TRUE;
}

static gboolean
parse_peer(VlJsonReader *r, json_object *obj, LaneSeen *seen,
           VlPeerConfig **out, GError **error)
{
    g_autoptr(VlPeerConfig) peer = vl_peer_config_new();
    json_object *lanes = NULL;
    gsize i;

    if (!vl_json_reader_check_object(r, obj, peer_keys, error) ||
        !vl_json_reader_get_string(r, obj, "name", VL_JSON_REQUIRED,
                                   vl_policy_check_container_name,
                                   &peer->name, error) ||
        !vl_json_reader_get_string(r, obj, "uri", VL_JSON_REQUIRED,
                                   vl_policy_check_uri, &peer->uri, error) ||
        !vl_json_reader_get_string(r, obj, "migration_address",
                                   VL_JSON_OPTIONAL, vl_policy_check_address,
                                   &peer->migration_address, error) ||
        !vl_json_reader_get_double(r, obj, "base_bandwidth_mbit",
                                   VL_JSON_OPTIONAL | VL_JSON_MIN_EXCLUSIVE,
                                   0, BANDWIDTH_MBIT_MAX,
                                   &peer->base_bandwidth_mbit, error) ||
        !vl_json_reader_get_array(r, obj, "lanes", VL_JSON_OPTIONAL,
                                  LANES_PER_PEER_MAX, &lanes, error))
        return FALSE;

    if (lanes) {
        vl_json_reader_push_key(r, "lanes");
        for (i = 0; i < json_object_array_length(lanes); i++) {
            VlLaneConfig *lane = NULL;
            gboolean ok;

            vl_json_reader_push_index(r, i);
            ok = parse_lane(r, json_object_array_get_idx(lanes, i), seen, &lane,
                            error);
            vl_json_reader_pop(r);
            if (!ok) {
                vl_json_reader_pop(r);
                return FALSE;
            }
            g_ptr_array_add(peer->lanes, lane);
        }
        vl_json_reader_pop(r);
    }

    *out = g_steal_pointer(&peer);
    return TRUE;
}

static gboolean
parse_peers(VlJsonReader *r, json_object *obj, VlMigrationPolicy *m,
            GError **error)
{
    json_object *array = NULL;
    LaneSeen seen = {
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
    };
    gboolean ok = TRUE;
    gsize i;
    guint j;

    if (!vl_json_reader_get_array(r, obj, "peers", VL_JSON_OPTIONAL, PEERS_MAX,
                                  &array, error)) {
        ok = FALSE;
        goto out;
    }
    if (!array)
        goto out;

    vl_json_reader_push_key(r, "peers");
    for (i = 0; ok && i < json_object_array_length(array); i++) {
        VlPeerConfig *peer = NULL;

        vl_json_reader_push_index(r, i);
        ok = parse_peer(r, json_object_array_get_idx(array, i), &seen, &peer,
                        error);
        for (j = 0; ok && j < m->peers->len; j++) {
            VlPeerConfig *other = g_ptr_array_index(m->peers, j);

            if (g_str_equal(other->name, peer->name)) {
                ok = vl_json_reader_error_at(r, "name", error,
                                             "peer '%s' is already defined at .migration.peers[%u]",
                                             peer->name, j);
            } else if (g_str_equal(other->uri, peer->uri)) {
                g_autofree char *q = vl_json_quote(peer->uri);

                ok = vl_json_reader_error_at(r, "uri", error,
                                             "'%s' is already the URI of .migration.peers[%u]",
                                             q, j);
            }
        }
        if (ok)
            g_ptr_array_add(m->peers, peer);
        else
            vl_peer_config_free(peer);
        vl_json_reader_pop(r);
    }
    vl_json_reader_pop(r);

 out:
    g_hash_table_unref(seen.interfaces);
    g_hash_table_unref(seen.addresses);
    return ok;
}

static gboolean
parse_migration(VlJsonReader *r, json_object *obj, VlMigrationPolicy **out,
                GError **error)
{
    g_autoptr(VlMigrationPolicy) m = vl_migration_policy_new();
    guint hopeless = m->when_hopeless;

    if (!vl_json_reader_check_object(r, obj, migration_keys, error) ||
        !vl_json_reader_get_double(r, obj, "threshold_s", VL_JSON_OPTIONAL,
                                   THRESHOLD_S_MIN, THRESHOLD_S_MAX,
                                   &m->threshold_s, error) ||
        !vl_json_reader_get_double(r, obj, "lane_up_max_s",
                                   VL_JSON_MIN_EXCLUSIVE, 0, LANE_UP_MAX_S_MAX,
                                   &m->lane_up_max_s, error) ||
        !vl_json_reader_get_string(r, obj, "migration_address",
                                   VL_JSON_OPTIONAL, vl_policy_check_address,
                                   &m->migration_address, error) ||
        !vl_json_reader_get_uint(r, obj, "max_lanes", VL_JSON_OPTIONAL,
                                 1, MAX_LANES_MAX, &m->max_lanes, error) ||
        !vl_json_reader_get_uint(r, obj, "channels_per_lane", VL_JSON_OPTIONAL,
                                 1, CHANNELS_PER_LANE_MAX,
                                 &m->channels_per_lane, error))
        return FALSE;

    if (m->max_lanes * m->channels_per_lane > MAX_CONNECTIONS) {
        /* Blame the key that is written; channels_per_lane if both are. */
        const char *key = json_object_object_get_ex(obj, "channels_per_lane", NULL) ?
            "channels_per_lane" : "max_lanes";

        return vl_json_reader_error_at(r, key, error,
                                       "max_lanes times channels_per_lane must be at most %d, libvirt's limit on parallel connections (%u x %u = %u)",
                                       MAX_CONNECTIONS, m->max_lanes,
                                       m->channels_per_lane,
                                       m->max_lanes * m->channels_per_lane);
    }

    if (!vl_json_reader_get_uint(r, obj, "max_downtime_ms", VL_JSON_OPTIONAL,
                                 1, DOWNTIME_MS_MAX, &m->max_downtime_ms,
                                 error) ||
        !parse_ladder(r, obj, m, error) ||
        !vl_json_reader_get_bool(r, obj, "allow_auto_converge",
                                 VL_JSON_OPTIONAL, &m->allow_auto_converge,
                                 error) ||
        !vl_json_reader_get_bool(r, obj, "allow_postcopy", VL_JSON_OPTIONAL,
                                 &m->allow_postcopy, error) ||
        !vl_json_reader_get_bool(r, obj, "incoming_lanes", VL_JSON_OPTIONAL,
                                 &m->incoming_lanes, error) ||
        !vl_json_reader_get_enum(r, obj, "when_hopeless", VL_JSON_OPTIONAL,
                                 hopeless_names, &hopeless, error) ||
        !vl_json_reader_get_double(r, obj, "max_bandwidth_mbit",
                                   VL_JSON_OPTIONAL, MAX_BANDWIDTH_MBIT_MIN,
                                   BANDWIDTH_MBIT_MAX, &m->max_bandwidth_mbit,
                                   error) ||
        !parse_peers(r, obj, m, error))
        return FALSE;
    m->when_hopeless = hopeless;

    *out = g_steal_pointer(&m);
    return TRUE;
}

static gboolean
parse_thresholds(VlJsonReader *r, json_object *obj, VlIndicator indicator,
                 VlIndicatorThresholds *out, GError **error)
{
    VlIndicatorThresholds t = { 0 };
    double *levels[] = {
        &t.substantially_under_loaded, &t.under_loaded, &t.overloaded,
        &t.substantially_overloaded,
    };
    guint i;

    t.enabled = TRUE;
    t.hold_s = HOLD_S_DEFAULT;
    if (!vl_json_reader_check_object(r, obj, threshold_keys, error))
        return FALSE;
    for (i = 0; i < G_N_ELEMENTS(levels); i++) {
        if (!vl_json_reader_get_double(r, obj, threshold_keys[i],
                                       VL_JSON_REQUIRED, 0,
                                       indicator_max[indicator], levels[i],
                                       error))
            return FALSE;
        if (i > 0 && *levels[i] <= *levels[i - 1])
            return vl_json_reader_error_at(r, threshold_keys[i], error,
                                           "must be above %s (%.15g <= %.15g)",
                                           threshold_keys[i - 1], *levels[i],
                                           *levels[i - 1]);
    }
    if (!vl_json_reader_get_uint(r, obj, "hold_s", VL_JSON_OPTIONAL, 0,
                                 HOLD_S_MAX, &t.hold_s, error))
        return FALSE;

    *out = t;
    return TRUE;
}

static gboolean
parse_indicators(VlJsonReader *r, json_object *parent, VlContainerPolicy *c,
                 GError **error)
{
    json_object *obj = NULL;
    guint i;

    if (!json_object_object_get_ex(parent, "indicators", &obj))
        return TRUE;

    vl_json_reader_push_key(r, "indicators");
    if (!vl_json_reader_check_object(r, obj, indicator_keys, error))
        goto fail;
    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        json_object *member = NULL;
        gboolean ok;

        if (!json_object_object_get_ex(obj, indicator_keys[i], &member))
            continue;
        vl_json_reader_push_key(r, indicator_keys[i]);
        ok = parse_thresholds(r, member, i, &c->indicators[i], error);
        vl_json_reader_pop(r);
        if (!ok)
            goto fail;
    }
    vl_json_reader_pop(r);
    return TRUE;

 fail:
    vl_json_reader_pop(r);
    return FALSE;
}

static gboolean
parse_host_thresholds(VlJsonReader *r, json_object *obj, VlHostThresholds *out,
                      GError **error)
{
    VlHostThresholds t = { 0 };

    t.enabled = TRUE;
    if (!vl_json_reader_check_object(r, obj, host_threshold_keys, error) ||
        !vl_json_reader_get_double(r, obj, "under_loaded", VL_JSON_REQUIRED,
                                   0, 100, &t.under_loaded, error) ||
        !vl_json_reader_get_double(r, obj, "overloaded", VL_JSON_REQUIRED,
                                   0, 100, &t.overloaded, error))
        return FALSE;
    /* The band between the two keeps members from shuttling: they leave
     * above overloaded and come back only below under_loaded. */
    if (t.overloaded <= t.under_loaded)
        return vl_json_reader_error_at(r, "overloaded", error,
                                       "must be above under_loaded (%.15g <= %.15g)",
                                       t.overloaded, t.under_loaded);
    *out = t;
    return TRUE;
}

static gboolean
parse_host_load(VlJsonReader *r, json_object *parent, VlContainerPolicy *c,
                GError **error)
{
    VlHostLoadPolicy h = { 0 };
    json_object *obj = NULL;
    gboolean any = FALSE;
    guint i;

    if (!json_object_object_get_ex(parent, "host_load", &obj))
        return TRUE;

    vl_json_reader_push_key(r, "host_load");
    h.enabled = TRUE;
    h.hold_s = HOLD_S_DEFAULT;
    if (!vl_json_reader_check_object(r, obj, host_load_keys, error))
        goto fail;
    for (i = 0; i < VL_HOST_INDICATOR_LAST; i++) {
        json_object *member = NULL;
        gboolean ok;

        if (!json_object_object_get_ex(obj, host_load_keys[i], &member))
            continue;
        vl_json_reader_push_key(r, host_load_keys[i]);
        ok = parse_host_thresholds(r, member, &h.indicators[i], error);
        vl_json_reader_pop(r);
        if (!ok)
            goto fail;
        any = TRUE;
    }
    if (!vl_json_reader_get_uint(r, obj, "hold_s", VL_JSON_OPTIONAL, 0,
                                 HOLD_S_MAX, &h.hold_s, error))
        goto fail;
    if (!any) {
        vl_json_reader_error(r, error, "must set 'cpu' or 'memory' (or both)");
        goto fail;
    }
    vl_json_reader_pop(r);

    /* Without a peer the members have nowhere to go. */
    if (!c->peers || !c->peers[0])
        return vl_json_reader_error_at(r, "host_load", error,
                                       "needs 'peers': members move to peers[0] when the host is overloaded");
    c->host_load = h;
    return TRUE;

 fail:
    vl_json_reader_pop(r);
    return FALSE;
}

static gboolean
parse_members(VlJsonReader *r, json_object *parent, VlContainerPolicy *c,
              GError **error)
{
    json_object *obj = NULL;
    gboolean ok;

    if (!json_object_object_get_ex(parent, "members", &obj))
        return TRUE;

    vl_json_reader_push_key(r, "members");
    ok = vl_json_reader_check_object(r, obj, members_keys, error) &&
         vl_json_reader_get_strv(r, obj, "name_globs", VL_JSON_UNIQUE,
                                 GLOBS_MAX, vl_policy_check_glob,
                                 &c->member_globs, error);
    vl_json_reader_pop(r);
    return ok;
}

static gboolean
parse_affinity(VlJsonReader *r, json_object *obj, VlContainerPolicy *c,
               GError **error)
{
    g_autoptr(VlAffinity) affinity = vl_affinity_new();
    guint i;

    if (!vl_json_reader_check_object(r, obj, affinity_keys, error) ||
        !vl_json_reader_get_string(r, obj, "a", VL_JSON_REQUIRED,
                                   vl_policy_check_domain_name, &affinity->a,
                                   error) ||
        !vl_json_reader_get_string(r, obj, "b", VL_JSON_REQUIRED,
                                   vl_policy_check_domain_name, &affinity->b,
                                   error) ||
        !vl_json_reader_get_double(r, obj, "weight", VL_JSON_MIN_EXCLUSIVE,
                                   0, WEIGHT_MAX, &affinity->weight, error))
        return FALSE;

    if (g_str_equal(affinity->a, affinity->b)) {
        g_autofree char *q = vl_json_quote(affinity->a);

        return vl_json_reader_error_at(r, "b", error,
                                       "must differ from a (both are '%s')", q);
    }
    for (i = 0; i < c->affinities->len; i++) {
        VlAffinity *other = g_ptr_array_index(c->affinities, i);

        if ((g_str_equal(other->a, affinity->a) && g_str_equal(other->b, affinity->b)) ||
            (g_str_equal(other->a, affinity->b) && g_str_equal(other->b, affinity->a))) {
            g_autofree char *qa = vl_json_quote(affinity->a);
            g_autofree char *qb = vl_json_quote(affinity->b);

            return vl_json_reader_error(r, error,
                                        "the pair '%s' and '%s' is already listed at [%u]",
                                        qa, qb, i);
        }
    }
    g_ptr_array_add(c->affinities, g_steal_pointer(&affinity));
    return TRUE;
}

static gboolean
parse_affinities(VlJsonReader *r, json_object *parent, VlContainerPolicy *c,
                 GError **error)
{
    json_object *array = NULL;
    gsize i;

    if (!vl_json_reader_get_array(r, parent, "affinities", VL_JSON_OPTIONAL,
                                  AFFINITIES_MAX, &array, error))
        return FALSE;
    if (!array)
        return TRUE;

    vl_json_reader_push_key(r, "affinities");
    for (i = 0; i < json_object_array_length(array); i++) {
        gboolean ok;

        vl_json_reader_push_index(r, i);
        ok = parse_affinity(r, json_object_array_get_idx(array, i), c, error);
        vl_json_reader_pop(r);
        if (!ok) {
            vl_json_reader_pop(r);
            return FALSE;
        }
    }
    vl_json_reader_pop(r);
    return TRUE;
}

static gboolean
parse_container(VlJsonReader *r, json_object *obj, VlContainerPolicy **out,
                GError **error)
{
    g_autoptr(VlContainerPolicy) c = vl_container_policy_new();
    guint mode = c->mode;
    guint n_standby;

    if (!vl_json_reader_check_object(r, obj, container_keys, error) ||
        !vl_json_reader_get_string(r, obj, "name", VL_JSON_REQUIRED,
                                   vl_policy_check_container_name, &c->name,
                                   error) ||
        !vl_json_reader_get_string(r, obj, "description", VL_JSON_OPTIONAL,
                                   NULL, &c->description, error) ||
        !vl_json_reader_get_enum(r, obj, "mode", VL_JSON_OPTIONAL, mode_names,
                                 &mode, error) ||
        !parse_members(r, obj, c, error) ||
        !vl_json_reader_get_uint(r, obj, "min_active", VL_JSON_OPTIONAL, 0,
                                 ACTIVE_MAX, &c->min_active, error) ||
        !vl_json_reader_get_strv(r, obj, "standby", VL_JSON_UNIQUE,
                                 STANDBY_MAX, vl_policy_check_domain_name,
                                 &c->standby, error))
        return FALSE;
    c->mode = mode;

    /* By default the container may grow into every standby domain, and
     * no further: a template alone never starts new domains. */
    n_standby = g_strv_length(c->standby);
    c->max_active = MIN(c->min_active + n_standby, ACTIVE_MAX);
    if (!vl_json_reader_get_uint(r, obj, "max_active", VL_JSON_OPTIONAL, 0,
                                 ACTIVE_MAX, &c->max_active, error))
        return FALSE;
    if (c->max_active < c->min_active)
        return vl_json_reader_error_at(r, "max_active", error,
                                       "must not be below min_active (%u < %u)",
                                       c->max_active, c->min_active);

    if (!vl_json_reader_get_string(r, obj, "template", VL_JSON_OPTIONAL,
                                   vl_policy_check_domain_name,
                                   &c->template_domain, error))
        return FALSE;
    if (c->template_domain &&
        g_strv_contains((const char *const *) c->standby, c->template_domain)) {
        g_autofree char *q = vl_json_quote(c->template_domain);

        return vl_json_reader_error_at(r, "template", error,
                                       "'%s' is also a standby domain; a template is never started itself",
                                       q);
    }

    if (!vl_json_reader_get_strv(r, obj, "peers", VL_JSON_UNIQUE,
                                 CONTAINER_PEERS_MAX, vl_policy_check_uri,
                                 &c->peers, error) ||
        !vl_json_reader_get_double(r, obj, "active_standby_ratio",
                                   VL_JSON_OPTIONAL, 0, RATIO_MAX,
                                   &c->active_standby_ratio, error) ||
        !parse_indicators(r, obj, c, error) ||
        !vl_json_reader_get_uint(r, obj, "cooldown_s", VL_JSON_OPTIONAL, 0,
                                 COOLDOWN_S_MAX, &c->cooldown_s, error) ||
        !vl_json_reader_get_uint(r, obj, "shutdown_timeout_s", VL_JSON_OPTIONAL,
                                 SHUTDOWN_TIMEOUT_S_MIN, SHUTDOWN_TIMEOUT_S_MAX,
                                 &c->shutdown_timeout_s, error) ||
        !vl_json_reader_get_bool(r, obj, "destroy_on_timeout", VL_JSON_OPTIONAL,
                                 &c->destroy_on_timeout, error) ||
        !parse_affinities(r, obj, c, error) ||
        !parse_host_load(r, obj, c, error))
        return FALSE;

    *out = g_steal_pointer(&c);
    return TRUE;
}

static gboolean
parse_containers(VlJsonReader *r, json_object *root, VlPolicy *policy,
                 GError **error)
{
    json_object *array = NULL;
    gsize i;
    guint j;

    if (!vl_json_reader_get_array(r, root, "containers", VL_JSON_OPTIONAL,
                                  CONTAINERS_PER_FILE_MAX, &array, error))
        return FALSE;
    if (!array)
        return TRUE;

    vl_json_reader_push_key(r, "containers");
    for (i = 0; i < json_object_array_length(array); i++) {
        VlContainerPolicy *c = NULL;

        vl_json_reader_push_index(r, i);
        if (!parse_container(r, json_object_array_get_idx(array, i), &c, error))
            goto fail;
        for (j = 0; j < policy->containers->len; j++) {
            VlContainerPolicy *other = g_ptr_array_index(policy->containers, j);

            if (g_str_equal(other->name, c->name)) {
                vl_json_reader_error_at(r, "name", error,
                                        "container '%s' is already defined at .containers[%u]",
                                        c->name, j);
                vl_container_policy_free(c);
                goto fail;
            }
        }
        g_ptr_array_add(policy->containers, c);
        vl_json_reader_pop(r);
    }
    vl_json_reader_pop(r);
    return TRUE;

 fail:
    vl_json_reader_pop(r);
    vl_json_reader_pop(r);
    return FALSE;
}

VlPolicy *
vl_policy_load_data(const char *name, const char *data, gsize length,
                    GError **error)
{
    g_autoptr(json_object) root = NULL;
    g_autoptr(VlJsonReader) r = NULL;
    g_autoptr(VlPolicy) policy = NULL;
    json_object *migration = NULL;

    g_return_val_if_fail(name != NULL, NULL);
    g_return_val_if_fail(data != NULL || length == 0, NULL);

    if (!(root = vl_json_parse(name, data, length, error)))
        return NULL;

    r = vl_json_reader_new(name);
    policy = vl_policy_new();
    if (!vl_json_reader_check_object(r, root, top_keys, error))
        return NULL;

    if (json_object_object_get_ex(root, "migration", &migration)) {
        g_autoptr(VlMigrationPolicy) m = NULL;
        gboolean ok;

        vl_json_reader_push_key(r, "migration");
        ok = parse_migration(r, migration, &m, error);
        vl_json_reader_pop(r);
        if (!ok)
            return NULL;
        vl_migration_policy_free(policy->migration);
        policy->migration = g_steal_pointer(&m);
        policy->migration_file = g_strdup(name);
    }

    if (!parse_containers(r, root, policy, error))
        return NULL;

    g_strfreev(policy->files);
    policy->files = g_new0(char *, 2);
    policy->files[0] = g_strdup(name);
    return g_steal_pointer(&policy);
}

/* ---- files and directories ------------------------------------------ */

/* Reads all of @fd (a regular file, at most MAX_FILE_SIZE bytes).
 * Returns a NUL-terminated buffer and its length. */
static char *
read_fd(int fd, const char *name, const struct stat *st, gsize *length,
        GError **error)
{
    g_autofree char *buf = NULL;
    gsize used = 0;
    gsize size;

    if (!S_ISREG(st->st_mode)) {
        g_set_error(error, VL_ERROR, VL_ERROR_POLICY,
                    "%s: not a regular file", name);
        return NULL;
    }
    if (st->st_size > MAX_FILE_SIZE) {
        g_set_error(error, VL_ERROR, VL_ERROR_POLICY,
                    "%s: larger than %d bytes, too large for a policy",
                    name, MAX_FILE_SIZE);
        return NULL;
    }

    /* One byte more than allowed, to notice a file that grew. */
    size = MAX_FILE_SIZE + 1;
    buf = g_malloc(size + 1);
    for (;;) {
        ssize_t n = read(fd, buf + used, size - used);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            vl_error_set_from_errno(error, errno, "Cannot read '%s'", name);
            return NULL;
        }
        if (n == 0)
            break;
        used += n;
        if (used > MAX_FILE_SIZE) {
            g_set_error(error, VL_ERROR, VL_ERROR_POLICY,
                        "%s: larger than %d bytes, too large for a policy",
                        name, MAX_FILE_SIZE);
            return NULL;
        }
    }
    buf[used] = '\0';
    *length = used;
    return g_steal_pointer(&buf);
}

/* O_NONBLOCK: a FIFO named *.json must not hang the daemon; read_fd()
 * refuses anything but a regular file once it is open. */
#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

VlPolicy *
vl_policy_load_file(const char *path, GError **error)
{
    g_auto(VlFd) fd = -1;
    g_autofree char *data = NULL;
    struct stat st;
    gsize length = 0;

    g_return_val_if_fail(path != NULL, NULL);

    if ((fd = open(path, OPEN_FLAGS)) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot open policy file '%s'", path);
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot stat policy file '%s'", path);
        return NULL;
    }
    if (!(data = read_fd(fd, path, &st, &length, error)))
        return NULL;
    return vl_policy_load_data(path, data, length, error);
}

/*
 * A policy decides which domains the daemon starts, stops and migrates,
 * so whoever can write it controls them.  Only root or our own user may
 * own it, and neither its group nor others may write it.
 *
 * The checks look at the *opened* descriptor (fstat), never at the path
 * (stat, then open): between a stat and an open someone could rename a
 * file of their own into place, and we would then read a file we never
 * checked.  The descriptor we check is the one we read from.
 */
static gboolean
check_trusted(const struct stat *st, const char *name, const char *what,
              GError **error)
{
    uid_t euid = geteuid();

    if (st->st_uid != 0 && st->st_uid != euid) {
        if (euid == 0)
            g_set_error(error, VL_ERROR, VL_ERROR_POLICY,
                        "%s: refusing a policy %s owned by uid %u (only root may own it)",
                        name, what, (guint) st->st_uid);
        else
            g_set_error(error, VL_ERROR, VL_ERROR_POLICY,
                        "%s: refusing a policy %s owned by uid %u (only root or uid %u may own it)",
                        name, what, (guint) st->st_uid, (guint) euid);
        return FALSE;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        g_set_error(error, VL_ERROR, VL_ERROR_POLICY,
                    "%s: refusing a policy %s that is group- or world-writable (mode %04o)",
                    name, what, (guint) (st->st_mode & 07777));
        return FALSE;
    }
    return TRUE;
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The *.json names of the directory open at @dfd, sorted bytewise. */
static GPtrArray *
list_policy_names(int dfd, const char *dir, GError **error)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    DIR *d;
    struct dirent *ent;
    int copy;

    /* fdopendir() takes the descriptor it is given; keep ours. */
    if ((copy = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot read policy directory '%s'", dir);
        return NULL;
    }
    if (!(d = fdopendir(copy))) {
        vl_error_set_from_errno(error, errno, "Cannot read policy directory '%s'", dir);
        close(copy);
        return NULL;
    }
    for (;;) {
        errno = 0;
        if (!(ent = readdir(d)))
            break;
        /* Dot files are editors' and package managers' leftovers: Emacs
         * keeps a lock link named ".#web.json" next to the file. */
        if (ent->d_name[0] == '.')
            continue;
        if (!g_str_has_suffix(ent->d_name, ".json"))
            continue;
        g_ptr_array_add(names, g_strdup(ent->d_name));
    }
    if (errno != 0) {
        vl_error_set_from_errno(error, errno, "Cannot read policy directory '%s'", dir);
        closedir(d);
        return NULL;
    }
    closedir(d);

    /* The byte order of the names, whatever the locale. */
    g_ptr_array_sort(names, compare_names);
    return g_steal_pointer(&names);
}

/* Moves everything of @part (one file's policy) into @all; fails, and
 * leaves both to be freed, when they conflict. */
static gboolean
merge_into(VlPolicy *all, GHashTable *origin, VlPolicy *part, const char *name,
           GError **error)
{
    guint i;

    if (part->migration_file) {
        if (all->migration_file) {
            g_set_error(error, VL_ERROR, VL_ERROR_POLICY,
                        "%s: .migration: already set in '%s' (only one file may set it)",
                        name, all->migration_file);
            return FALSE;
        }
    }
    for (i = 0; i < part->containers->len; i++) {
        VlContainerPolicy *c = g_ptr_array_index(part->containers, i);
        const char *first = g_hash_table_lookup(origin, c->name);

        if (first) {
            g_set_error(error, VL_ERROR, VL_ERROR_POLICY,
                        "%s: .containers[%u].name: container '%s' is already defined in '%s'",
                        name, i, c->name, first);
            return FALSE;
        }
    }

    /* No conflict: nothing below can fail. */
    if (part->migration_file) {
        vl_migration_policy_free(all->migration);
        all->migration = g_steal_pointer(&part->migration);
        all->migration_file = g_steal_pointer(&part->migration_file);
    }
    for (i = 0; i < part->containers->len; i++) {
        VlContainerPolicy *c = g_ptr_array_index(part->containers, i);

        g_hash_table_insert(origin, c->name, (gpointer) name);
    }
    while (part->containers->len > 0)
        g_ptr_array_add(all->containers,
                        g_ptr_array_steal_index(part->containers, 0));
    return TRUE;
}

VlPolicy *
vl_policy_load_dir(const char *dir, GError **error)
{
    g_autoptr(VlPolicy) all = NULL;
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(GPtrArray) files = NULL;
    /* container name → the file that defined it; both borrowed */
    g_autoptr(GHashTable) origin = g_hash_table_new(g_str_hash, g_str_equal);
    g_auto(VlFd) dfd = -1;
    struct stat st;
    guint i;

    g_return_val_if_fail(dir != NULL, NULL);

    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot open policy directory '%s'", dir);
        return NULL;
    }
    if (fstat(dfd, &st) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot stat policy directory '%s'", dir);
        return NULL;
    }
    if (!check_trusted(&st, dir, "directory", error))
        return NULL;
    if (!(names = list_policy_names(dfd, dir, error)))
        return NULL;

    all = vl_policy_new();
    files = g_ptr_array_new_with_free_func(g_free);
    for (i = 0; i < names->len; i++) {
        const char *base = g_ptr_array_index(names, i);
        g_autofree char *path = g_build_filename(dir, base, NULL);
        g_autoptr(VlPolicy) part = NULL;
        g_autofree char *data = NULL;
        g_auto(VlFd) fd = -1;
        gsize length = 0;

        /* Relative to the directory we checked, not to its path, which
         * could have been swapped since. */
        if ((fd = openat(dfd, base, OPEN_FLAGS)) < 0) {
            vl_error_set_from_errno(error, errno, "Cannot open policy file '%s'", path);
            return NULL;
        }
        if (fstat(fd, &st) < 0) {
            vl_error_set_from_errno(error, errno, "Cannot stat policy file '%s'", path);
            return NULL;
        }
        if (!check_trusted(&st, path, "file", error) ||
            !(data = read_fd(fd, path, &st, &length, error)) ||
            !(part = vl_policy_load_data(path, data, length, error)))
            return NULL;

        g_ptr_array_add(files, g_strdup(path));
        if (!merge_into(all, origin, part, g_ptr_array_index(files, files->len - 1),
                        error))
            return NULL;
    }

    g_ptr_array_add(files, NULL);
    g_strfreev(all->files);
    all->files = (GStrv) g_ptr_array_free(g_steal_pointer(&files), FALSE);
    return g_steal_pointer(&all);
}
