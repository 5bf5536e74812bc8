/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vl-config.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* The file is admin input: bound what we read (it is a dozen lines). */
#define CONFIG_MAX_SIZE (1024 * 1024)

typedef enum {
    KEY_URI,
    KEY_PATH,
    KEY_BOOL,
    KEY_UINT,
    KEY_PERIODS,
} KeyKind;

typedef struct {
    const char *group;
    const char *key;
    KeyKind kind;
    gsize offset;
    guint min;
    guint max;
} KeySpec;

static const KeySpec key_specs[] = {
    { "daemon", "uri", KEY_URI, G_STRUCT_OFFSET(VlConfig, uri), 0, 0 },
    { "daemon", "socket", KEY_PATH, G_STRUCT_OFFSET(VlConfig, socket_path), 0, 0 },
    { "daemon", "pid_file", KEY_PATH, G_STRUCT_OFFSET(VlConfig, pid_file), 0, 0 },
    { "daemon", "log_file", KEY_PATH, G_STRUCT_OFFSET(VlConfig, log_file), 0, 0 },
    { "daemon", "verbose", KEY_BOOL, G_STRUCT_OFFSET(VlConfig, verbose), 0, 0 },
    { "libvirt", "keepalive_interval", KEY_UINT,
      G_STRUCT_OFFSET(VlConfig, keepalive_interval),
      0, VL_CONFIG_KEEPALIVE_INTERVAL_MAX },
    { "libvirt", "keepalive_count", KEY_UINT,
      G_STRUCT_OFFSET(VlConfig, keepalive_count),
      0, VL_CONFIG_KEEPALIVE_COUNT_MAX },
    { "libvirt", "reconnect_min", KEY_UINT,
      G_STRUCT_OFFSET(VlConfig, reconnect_min_s),
      VL_CONFIG_RECONNECT_MIN, VL_CONFIG_RECONNECT_MAX },
    { "libvirt", "reconnect_max", KEY_UINT,
      G_STRUCT_OFFSET(VlConfig, reconnect_max_s),
      VL_CONFIG_RECONNECT_MIN, VL_CONFIG_RECONNECT_MAX },
    { "lanes", "journal", KEY_PATH, G_STRUCT_OFFSET(VlConfig, lane_journal), 0, 0 },
    { "lanes", "script_dir", KEY_PATH, G_STRUCT_OFFSET(VlConfig, script_dir), 0, 0 },
    { "lanes", "state_dir", KEY_PATH, G_STRUCT_OFFSET(VlConfig, lane_state_dir), 0, 0 },
    { "lanes", "table_base", KEY_UINT, G_STRUCT_OFFSET(VlConfig, lane_table_base),
      VL_CONFIG_TABLE_BASE_MIN, VL_CONFIG_TABLE_BASE_MAX },
    { "daemon", "policy_dir", KEY_PATH, G_STRUCT_OFFSET(VlConfig, policy_dir), 0, 0 },
    { "containers", "tick_s", KEY_UINT, G_STRUCT_OFFSET(VlConfig, tick_s),
      VL_CONFIG_TICK_MIN, VL_CONFIG_TICK_MAX },
    { "containers", "audit_log", KEY_PATH, G_STRUCT_OFFSET(VlConfig, audit_log), 0, 0 },
    { "containers", "dry_run", KEY_BOOL, G_STRUCT_OFFSET(VlConfig, dry_run), 0, 0 },
    { "containers", "home_uri", KEY_URI, G_STRUCT_OFFSET(VlConfig, home_uri), 0, 0 },
    { "containers", "state_file", KEY_PATH,
      G_STRUCT_OFFSET(VlConfig, container_state), 0, 0 },
    { "containers", "stats_replay", KEY_PATH,
      G_STRUCT_OFFSET(VlConfig, stats_replay), 0, 0 },
    { "estimator", "sample_period_s", KEY_UINT,
      G_STRUCT_OFFSET(VlConfig, sample_period_s),
      0, VL_CONFIG_SAMPLE_PERIOD_MAX },
    { "estimator", "sample_periods", KEY_PERIODS,
      G_STRUCT_OFFSET(VlConfig, sample_periods),
      VL_CONFIG_DIRTYRATE_PERIOD_MIN, VL_CONFIG_DIRTYRATE_PERIOD_MAX },
    { "estimator", "history_file", KEY_PATH,
      G_STRUCT_OFFSET(VlConfig, history_file), 0, 0 },
};

VlConfig *
vl_config_new(void)
{
    VlConfig *config = g_new0(VlConfig, 1);

    config->uri = g_strdup(VL_DEFAULT_URI);
    config->socket_path = g_strdup(VL_SOCKET_PATH);
    config->pid_file = NULL;
    config->log_file = NULL;
    config->verbose = FALSE;
    config->keepalive_interval = 5;
    config->keepalive_count = 3;
    config->reconnect_min_s = 1;
    config->reconnect_max_s = 30;
    config->policy_dir = g_strdup(VL_POLICYDIR);
    config->lane_journal = g_strdup(VL_STATEDIR "/lanes.json");
    config->script_dir = g_strdup(VL_SCRIPTDIR);
    config->lane_state_dir = g_strdup(VL_RUNSTATEDIR "/lanes");
    config->lane_table_base = VL_CONFIG_TABLE_BASE_DEFAULT;
    config->tick_s = 60;
    config->audit_log = g_build_filename(VL_LOGDIR, "containers-audit.jsonl", NULL);
    config->dry_run = FALSE;
    config->home_uri = NULL;
    config->stats_replay = NULL;
    config->container_state = g_strdup(VL_STATEDIR "/containers-state.json");
    config->sample_period_s = 60;
    config->sample_periods[0] = 1;
    config->sample_periods[1] = 5;
    config->sample_periods[2] = 10;
    config->n_sample_periods = 3;
    config->history_file = g_build_filename(VL_STATEDIR, "history.jsonl", NULL);
    return config;
}

VlConfig *
vl_config_copy(const VlConfig *config)
{
    VlConfig *copy = g_new0(VlConfig, 1);

    *copy = *config;
    copy->uri = g_strdup(config->uri);
    copy->socket_path = g_strdup(config->socket_path);
    copy->pid_file = g_strdup(config->pid_file);
    copy->log_file = g_strdup(config->log_file);
    copy->policy_dir = g_strdup(config->policy_dir);
    copy->lane_journal = g_strdup(config->lane_journal);
    copy->script_dir = g_strdup(config->script_dir);
    copy->lane_state_dir = g_strdup(config->lane_state_dir);
    copy->audit_log = g_strdup(config->audit_log);
    copy->home_uri = g_strdup(config->home_uri);
    copy->stats_replay = g_strdup(config->stats_replay);
    copy->container_state = g_strdup(config->container_state);
    copy->history_file = g_strdup(config->history_file);
    return copy;
}

void
vl_config_free(VlConfig *config)
{
    if (!config)
        return;
    g_free(config->uri);
    g_free(config->socket_path);
    g_free(config->pid_file);
    g_free(config->log_file);
    g_free(config->policy_dir);
    g_free(config->lane_journal);
    g_free(config->script_dir);
    g_free(config->lane_state_dir);
    g_free(config->audit_log);
    g_free(config->home_uri);
    g_free(config->stats_replay);
    g_free(config->container_state);
    g_free(config->history_file);
    g_free(config);
}

void
vl_config_apply_overrides(VlConfig *config, const VlConfigOverrides *overrides)
{
    if (overrides->uri) {
        g_free(config->uri);
        config->uri = g_strdup(overrides->uri);
    }
    if (overrides->socket_path) {
        g_free(config->socket_path);
        config->socket_path = g_strdup(overrides->socket_path);
    }
    if (overrides->pid_file) {
        g_free(config->pid_file);
        config->pid_file = g_strdup(overrides->pid_file);
    }
    if (overrides->log_file) {
        g_free(config->log_file);
        config->log_file = g_strdup(overrides->log_file);
    }
    if (overrides->verbose)
        config->verbose = TRUE;
    if (overrides->policy_dir) {
        g_free(config->policy_dir);
        config->policy_dir = g_strdup(overrides->policy_dir);
    }
    if (overrides->lane_journal) {
        g_free(config->lane_journal);
        config->lane_journal = g_strdup(overrides->lane_journal);
    }
    if (overrides->script_dir) {
        g_free(config->script_dir);
        config->script_dir = g_strdup(overrides->script_dir);
    }
    if (overrides->dry_run)
        config->dry_run = TRUE;
}

static const KeySpec *
find_spec(const char *group, const char *key)
{
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(key_specs); i++) {
        if (g_str_equal(key_specs[i].group, group) &&
            g_str_equal(key_specs[i].key, key))
            return &key_specs[i];
    }
    return NULL;
}

static gboolean
is_known_group(const char *group)
{
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(key_specs); i++) {
        if (g_str_equal(key_specs[i].group, group))
            return TRUE;
    }
    return FALSE;
}

/* A printable rendering of admin input for error messages. */
static char *
display(const char *text)
{
    return g_strescape(text, NULL);
}

static char *
line_key(const char *group, const char *key)
{
    return g_strdup_printf("%s\n%s", group, key);
}

/*
 * GKeyFile reports neither the line of a syntax error nor the line of a
 * key, and silently lets a later duplicate win.  So a first pass walks
 * the lines the way GKeyFile's parser does, checks the structure, and
 * records where each key is set; GKeyFile then does the value parsing
 * (escapes, booleans) on input already known to be well-formed.
 */
static GHashTable *
scan_lines(const char *data, gsize len, const char *name, GError **error)
{
    g_autoptr(GHashTable) lines = NULL;
    g_autofree char *group = NULL;
    const char *p = data;
    const char *end = data + len;
    guint lineno = 0;

    lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    while (p < end) {
        const char *eol = memchr(p, '\n', end - p);
        gsize n = eol ? (gsize)(eol - p) : (gsize)(end - p);
        g_autofree char *line = NULL;
        char *s;

        lineno++;
        if (!g_utf8_validate(p, n, NULL)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Line is not valid UTF-8 text", name, lineno);
            return NULL;
        }
        line = g_strndup(p, n);
        p += n + (eol ? 1 : 0);

        s = g_strstrip(line);
        if (*s == '\0' || *s == '#')
            continue;

        if (*s == '[') {
            char *close = strchr(s, ']');
            g_autofree char *shown = NULL;

            if (!close || close[1] != '\0' || close == s + 1) {
                shown = display(s);
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "%s:%u: Malformed group header '%s'",
                            name, lineno, shown);
                return NULL;
            }
            *close = '\0';
            if (!is_known_group(s + 1)) {
                shown = display(s + 1);
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "%s:%u: Unknown group '%s'", name, lineno, shown);
                return NULL;
            }
            g_free(group);
            group = g_strdup(s + 1);
            continue;
        }

        {
            char *eq = strchr(s, '=');
            g_autofree char *shown = NULL;
            g_autofree char *where = NULL;
            gpointer first;

            if (!eq || eq == s) {
                shown = display(s);
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "%s:%u: Expected 'key = value', got '%s'",
                            name, lineno, shown);
                return NULL;
            }
            *eq = '\0';
            g_strchomp(s);
            shown = display(s);
            if (!group) {
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "%s:%u: Key '%s' is outside of any group",
                            name, lineno, shown);
                return NULL;
            }
            if (!find_spec(group, s)) {
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "%s:%u: Unknown key '%s' in group '%s'",
                            name, lineno, shown, group);
                return NULL;
            }
            where = line_key(group, s);
            first = g_hash_table_lookup(lines, where);
            if (first) {
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "%s:%u: Key '%s' in group '%s' is already set on line %u",
                            name, lineno, shown, group, GPOINTER_TO_UINT(first));
                return NULL;
            }
            g_hash_table_insert(lines, g_steal_pointer(&where),
                                GUINT_TO_POINTER(lineno));
        }
    }

    return g_steal_pointer(&lines);
}

static gboolean
has_control_chars(const char *s)
{
    for (; *s; s++) {
        if ((guchar)*s < 0x20 || *s == 0x7f)
            return TRUE;
    }
    return FALSE;
}

/* "1,5,10": distinct whole seconds within the spec's bounds. */
static gboolean
parse_periods(VlConfig *config, const char *value, const KeySpec *spec,
              const char *name, guint lineno, const char *shown,
              GError **error)
{
    g_auto(GStrv) parts = NULL;
    guint periods[VL_CONFIG_MAX_SAMPLE_PERIODS];
    guint n = 0;
    guint i;
    guint j;

    if (value)
        parts = g_strsplit(value, ",", -1);
    for (i = 0; parts && parts[i]; i++) {
        guint64 number = 0;
        char *part = g_strstrip(parts[i]);

        if (n == VL_CONFIG_MAX_SAMPLE_PERIODS ||
            !g_ascii_string_to_unsigned(part, 10, spec->min, spec->max,
                                        &number, NULL)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Value '%s' of key '%s' in group '%s' must be 1 to %d comma-separated integers from %u to %u",
                        name, lineno, shown, spec->key, spec->group,
                        VL_CONFIG_MAX_SAMPLE_PERIODS, spec->min, spec->max);
            return FALSE;
        }
        for (j = 0; j < n; j++) {
            if (periods[j] == number) {
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "%s:%u: Value '%s' of key '%s' in group '%s' lists '%u' twice",
                            name, lineno, shown, spec->key, spec->group,
                            (guint)number);
                return FALSE;
            }
        }
        periods[n++] = (guint)number;
    }
    if (n == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "%s:%u: Value '%s' of key '%s' in group '%s' must be 1 to %d comma-separated integers from %u to %u",
                    name, lineno, shown, spec->key, spec->group,
                    VL_CONFIG_MAX_SAMPLE_PERIODS, spec->min, spec->max);
        return FALSE;
    }
    memcpy(config->sample_periods, periods, n * sizeof(guint));
    config->n_sample_periods = n;
    return TRUE;
}

static gboolean
parse_value(VlConfig *config,
            GKeyFile *kf,
            const KeySpec *spec,
            const char *name,
            guint lineno,
            GError **error)
{
    g_autofree char *raw = NULL;
    g_autofree char *value = NULL;
    g_autofree char *shown = NULL;
    gpointer field = G_STRUCT_MEMBER_P(config, spec->offset);

    raw = g_key_file_get_value(kf, spec->group, spec->key, NULL);
    value = g_key_file_get_string(kf, spec->group, spec->key, NULL);
    shown = display(raw ? raw : "");

    switch (spec->kind) {
    case KEY_URI:
        /* libvirt checks the URI itself; we only keep junk out of logs. */
        if (!value || !*value || has_control_chars(value) ||
            strpbrk(value, " \t") || !strchr(value, ':')) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Value '%s' of key '%s' in group '%s' is not a libvirt URI",
                        name, lineno, shown, spec->key, spec->group);
            return FALSE;
        }
        g_free(*(char **)field);
        *(char **)field = g_steal_pointer(&value);
        return TRUE;

    case KEY_PATH:
        if (!value || !g_path_is_absolute(value) || has_control_chars(value)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Value '%s' of key '%s' in group '%s' must be an absolute path",
                        name, lineno, shown, spec->key, spec->group);
            return FALSE;
        }
        g_free(*(char **)field);
        *(char **)field = g_steal_pointer(&value);
        return TRUE;

    case KEY_BOOL:
        if (value && g_str_equal(value, "true")) {
            *(gboolean *)field = TRUE;
            return TRUE;
        }
        if (value && g_str_equal(value, "false")) {
            *(gboolean *)field = FALSE;
            return TRUE;
        }
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "%s:%u: Value '%s' of key '%s' in group '%s' must be 'true' or 'false'",
                    name, lineno, shown, spec->key, spec->group);
        return FALSE;

    case KEY_UINT: {
        guint64 number = 0;

        if (!value ||
            !g_ascii_string_to_unsigned(value, 10, spec->min, spec->max,
                                        &number, NULL)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Value '%s' of key '%s' in group '%s' must be an integer from %u to %u",
                        name, lineno, shown, spec->key, spec->group,
                        spec->min, spec->max);
            return FALSE;
        }
        *(guint *)field = (guint)number;
        return TRUE;
    }

    case KEY_PERIODS:
        return parse_periods(config, value, spec, name, lineno, shown, error);
    }

    g_return_val_if_reached(FALSE);
}

VlConfig *
vl_config_load_data(const char *data,
                    gsize len,
                    const char *name,
                    GError **error)
{
    g_autoptr(VlConfig) config = NULL;
    g_autoptr(GHashTable) lines = NULL;
    g_autoptr(GKeyFile) kf = NULL;
    g_autoptr(GError) local = NULL;
    gsize i;

    if (len > CONFIG_MAX_SIZE) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "%s: File is larger than %d bytes", name, CONFIG_MAX_SIZE);
        return NULL;
    }

    lines = scan_lines(data, len, name, error);
    if (!lines)
        return NULL;

    kf = g_key_file_new();
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
        /* Only what the scan above does not catch can end up here. */
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID, "%s: %s", name,
                    local->message);
        return NULL;
    }

    config = vl_config_new();
    for (i = 0; i < G_N_ELEMENTS(key_specs); i++) {
        const KeySpec *spec = &key_specs[i];
        g_autofree char *where = line_key(spec->group, spec->key);
        guint lineno = GPOINTER_TO_UINT(g_hash_table_lookup(lines, where));

        if (!lineno)
            continue;
        if (!parse_value(config, kf, spec, name, lineno, error))
            return NULL;
    }

    if (config->reconnect_max_s < config->reconnect_min_s) {
        g_autofree char *kmax = line_key("libvirt", "reconnect_max");
        g_autofree char *kmin = line_key("libvirt", "reconnect_min");
        guint lineno = GPOINTER_TO_UINT(g_hash_table_lookup(lines, kmax));

        if (!lineno)
            lineno = GPOINTER_TO_UINT(g_hash_table_lookup(lines, kmin));
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "%s:%u: Key 'reconnect_max' in group 'libvirt' must not be below 'reconnect_min' (%u < %u)",
                    name, lineno, config->reconnect_max_s,
                    config->reconnect_min_s);
        return NULL;
    }

    return g_steal_pointer(&config);
}

VlConfig *
vl_config_load_file(const char *path, gboolean missing_ok, GError **error)
{
    g_auto(VlFd) fd = -1;
    g_autofree char *data = NULL;
    struct stat st;
    gsize len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (missing_ok && errno == ENOENT)
            return vl_config_new();
        vl_error_set_from_errno(error, errno,
                                "Cannot open configuration file '%s'", path);
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        vl_error_set_from_errno(error, errno,
                                "Cannot stat configuration file '%s'", path);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Configuration file '%s' is not a regular file", path);
        return NULL;
    }
    if (st.st_size > CONFIG_MAX_SIZE) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "%s: File is larger than %d bytes", path, CONFIG_MAX_SIZE);
        return NULL;
    }

    /* One byte more than allowed, to notice a file that grew meanwhile. */
    data = g_malloc(CONFIG_MAX_SIZE + 1);
    while (len <= CONFIG_MAX_SIZE) {
        ssize_t got = read(fd, data + len, CONFIG_MAX_SIZE + 1 - len);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            vl_error_set_from_errno(error, errno,
                                    "Cannot read configuration file '%s'",
                                    path);
            return NULL;
        }
        if (got == 0)
            break;
        len += got;
    }

    return vl_config_load_data(data, len, path, error);
}
