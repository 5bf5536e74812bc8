/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lanes.h"
#include "metadata.h"
#include "policy-priv.h"
#include "script-run.h"
#include "vl-autoptr.h"
#include "vl-error.h"

#define JOURNAL_VERSION 1
/* A journal holds at most VL_LANES_MAX lanes: a few KiB. */
#define JOURNAL_MAX_BYTES (1024 * 1024)

/* ---- small helpers --------------------------------------------------- */

static const char *const state_names[] = {
    [VL_LANE_STATE_COMING_UP] = "coming-up",
    [VL_LANE_STATE_UP] = "up",
    [VL_LANE_STATE_GOING_DOWN] = "going-down",
    [VL_LANE_STATE_FAILED] = "failed",
};

const char *
vl_lane_state_to_string(VlLaneState state)
{
    if ((guint) state < G_N_ELEMENTS(state_names))
        return state_names[state];
    return "unknown";
}

static gboolean
lane_state_from_string(const char *name, VlLaneState *state)
{
    guint i;

    for (i = 0; i < G_N_ELEMENTS(state_names); i++) {
        if (g_str_equal(state_names[i], name)) {
            *state = i;
            return TRUE;
        }
    }
    return FALSE;
}

/* The canonical spelling of an address (so that scripts and the kernel
 * agree on it), or NULL when @text is not one. */
static char *
canonical_address(const char *text)
{
    g_autoptr(GInetAddress) addr = NULL;

    if (!text || !(addr = g_inet_address_new_from_string(text)))
        return NULL;
    return g_inet_address_to_string(addr);
}

/* "ADDR/PLEN" with ADDR canonical, or NULL. */
static char *
canonical_address_prefix(const char *text)
{
    g_autofree char *reason = NULL;
    g_autofree char *host = NULL;
    g_autofree char *canon = NULL;
    const char *slash;

    if (!text || (reason = vl_policy_check_address_prefix(text)))
        return NULL;
    slash = strchr(text, '/');
    host = g_strndup(text, slash - text);
    if (!(canon = canonical_address(host)))
        return NULL;
    return g_strconcat(canon, slash, NULL);
}

/* ---- VlLaneSpec -------------------------------------------------------- */

VlLaneSpec *
vl_lane_spec_new(void)
{
    return g_new0(VlLaneSpec, 1);
}

VlLaneSpec *
vl_lane_spec_copy(const VlLaneSpec *spec)
{
    VlLaneSpec *copy = vl_lane_spec_new();

    copy->interface = g_strdup(spec->interface);
    copy->address = g_strdup(spec->address);
    copy->peer_address = g_strdup(spec->peer_address);
    copy->peer_migration_address = g_strdup(spec->peer_migration_address);
    copy->table = spec->table;
    copy->mark = spec->mark;
    return copy;
}

void
vl_lane_spec_free(VlLaneSpec *spec)
{
    if (!spec)
        return;
    g_free(spec->interface);
    g_free(spec->address);
    g_free(spec->peer_address);
    g_free(spec->peer_migration_address);
    g_free(spec);
}

/* ---- VlLaneBackend ------------------------------------------------------- */

VlLaneBackend *
vl_lane_backend_new(const VlLaneBackendOps *ops, gpointer data)
{
    VlLaneBackend *backend = g_new0(VlLaneBackend, 1);

    backend->ops = ops;
    backend->data = data;
    return backend;
}

void
vl_lane_backend_free(VlLaneBackend *backend)
{
    if (!backend)
        return;
    if (backend->ops && backend->ops->free && backend->data)
        backend->ops->free(backend->data);
    g_free(backend);
}

/* ---- the script back end ------------------------------------------------- */

typedef struct {
    VlScriptRunner *runner;
    char *state_dir;
} ScriptsBackend;

typedef struct {
    VlLaneBackendDone done;
    gpointer user_data;
} ScriptsCall;

static void
scripts_backend_free(gpointer data)
{
    ScriptsBackend *backend = data;

    vl_script_runner_free(backend->runner);
    g_free(backend->state_dir);
    g_free(backend);
}

static void
scripts_on_done(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
                gpointer user_data)
{
    ScriptsCall *call = user_data;
    GError *error = NULL;

    /* The runner is not needed to finish (it may be gone by now). */
    vl_script_runner_run_finish(NULL, result, NULL, &error);
    call->done(error, call->user_data);
    g_free(call);
}

static void
scripts_run(ScriptsBackend *backend, const char *script, const char *subject,
            GPtrArray *args, guint timeout_ms, VlLaneBackendDone done,
            gpointer user_data)
{
    ScriptsCall *call = g_new0(ScriptsCall, 1);

    call->done = done;
    call->user_data = user_data;
    g_ptr_array_add(args, NULL);
    vl_script_runner_run_async(backend->runner, script, subject,
                               (const char *const *) args->pdata, timeout_ms,
                               NULL, scripts_on_done, call);
}

/* lane-up and lane-down take the same arguments. */
static GPtrArray *
scripts_lane_args(ScriptsBackend *backend, const VlLaneSpec *lane)
{
    GPtrArray *args = g_ptr_array_new_with_free_func(g_free);

    g_ptr_array_add(args, g_strdup("--interface"));
    g_ptr_array_add(args, g_strdup(lane->interface));
    g_ptr_array_add(args, g_strdup("--address"));
    g_ptr_array_add(args, g_strdup(lane->address));
    g_ptr_array_add(args, g_strdup("--peer"));
    g_ptr_array_add(args, g_strdup(lane->peer_address));
    g_ptr_array_add(args, g_strdup("--peer-migration-address"));
    g_ptr_array_add(args, g_strdup(lane->peer_migration_address));
    g_ptr_array_add(args, g_strdup("--table"));
    g_ptr_array_add(args, g_strdup_printf("%u", lane->table));
    g_ptr_array_add(args, g_strdup("--mark"));
    g_ptr_array_add(args, g_strdup_printf("%u", lane->mark));
    g_ptr_array_add(args, g_strdup("--state-dir"));
    g_ptr_array_add(args, g_strdup(backend->state_dir));
    return args;
}

static void
scripts_up(gpointer data, const VlLaneSpec *lane, guint timeout_ms,
           VlLaneBackendDone done, gpointer user_data)
{
    g_autoptr(GPtrArray) args = scripts_lane_args(data, lane);

    scripts_run(data, "lane-up", lane->interface, args, timeout_ms, done, user_data);
}

static void
scripts_down(gpointer data, const VlLaneSpec *lane, guint timeout_ms,
             VlLaneBackendDone done, gpointer user_data)
{
    g_autoptr(GPtrArray) args = scripts_lane_args(data, lane);

    scripts_run(data, "lane-down", lane->interface, args, timeout_ms, done, user_data);
}

static void
scripts_steer(gpointer data, const char *peer_migration_address,
              guint base_mark, const VlLaneSpec *const *lanes, guint n_lanes,
              guint timeout_ms, VlLaneBackendDone done, gpointer user_data)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
    guint i;

    g_ptr_array_add(args, g_strdup("--peer-migration-address"));
    g_ptr_array_add(args, g_strdup(peer_migration_address));
    g_ptr_array_add(args, g_strdup("--base-mark"));
    g_ptr_array_add(args, g_strdup_printf("%u", base_mark));
    for (i = 0; i < n_lanes; i++) {
        g_ptr_array_add(args, g_strdup("--lane"));
        g_ptr_array_add(args, g_strdup_printf("%s:%u", lanes[i]->interface,
                                              lanes[i]->mark));
    }
    scripts_run(data, "lane-steer", peer_migration_address, args, timeout_ms,
                done, user_data);
}

static const VlLaneBackendOps scripts_ops = {
    .up = scripts_up,
    .down = scripts_down,
    .steer = scripts_steer,
    .free = scripts_backend_free,
};

VlLaneBackend *
vl_lane_backend_new_scripts(const char *script_dir, const char *state_dir)
{
    ScriptsBackend *backend = g_new0(ScriptsBackend, 1);

    backend->runner = vl_script_runner_new(script_dir);
    backend->state_dir = g_strdup(state_dir);
    return vl_lane_backend_new(&scripts_ops, backend);
}

/* ---- the manager's data ---------------------------------------------------- */

typedef struct {
    VlLaneSpec *spec;
    char *peer_name;
    VlLaneState state;
    GPtrArray *plans;       /* char*, the plans holding it */
    GError *error;          /* the last failure, nullable */
} Lane;

typedef enum {
    OP_RECOVER,
    OP_ACQUIRE,
    OP_RELEASE,
    OP_RELEASE_ALL,
} OpKind;

typedef struct _Op Op;
typedef void (*OpStage)(Op *op);

struct _Op {
    VlLaneManager *manager;
    OpKind kind;
    GTask *task;
    guint timeout_ms;
    guint outstanding;      /* backend calls running */
    OpStage next;           /* run when outstanding drops to 0 */

    /* acquire */
    char *plan_id;
    char *peer_name;
    char *peer_migration_address;
    GPtrArray *wanted;      /* VlLaneConfig*, copies, request order */
    VlLaneReport *report;
    GPtrArray *coming_up;   /* Lane*, borrowed */
    GPtrArray *results_of;  /* VlLaneResult* parallel to coming_up (borrowed) */

    /* acquire (failed lanes), release, recover */
    GPtrArray *going_down;  /* Lane*, borrowed */
    GPtrArray *steer_peers; /* char* peer migration addresses to re-steer */
    guint n_down;
    GString *failures;      /* lanes that did not come down */
    guint n_failed;
    GError *error;          /* fatal error of the operation */
};

struct _VlLaneManager {
    char *journal_path;
    guint table_base;
    VlLaneBackend *backend;
    VlLaneLogFunc log_func;
    gpointer log_data;

    GPtrArray *lanes;       /* Lane*, owned */
    GQueue queue;           /* Op* not started yet */
    Op *current;
};

typedef struct {
    Op *op;
    Lane *lane;             /* nullable (steer) */
    VlLaneResult *result;   /* nullable */
} Call;

static void G_GNUC_PRINTF(3, 4)
manager_log(VlLaneManager *manager, GLogLevelFlags level, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    va_list args;

    va_start(args, fmt);
    message = g_strdup_vprintf(fmt, args);
    va_end(args);
    if (manager->log_func)
        manager->log_func(level, message, manager->log_data);
    else
        g_debug("%s", message);
}

static void
lane_free(Lane *lane)
{
    if (!lane)
        return;
    vl_lane_spec_free(lane->spec);
    g_free(lane->peer_name);
    g_ptr_array_unref(lane->plans);
    g_clear_error(&lane->error);
    g_free(lane);
}

static Lane *
lane_new(VlLaneSpec *spec, const char *peer_name, VlLaneState state)
{
    Lane *lane = g_new0(Lane, 1);

    lane->spec = spec;
    lane->peer_name = g_strdup(peer_name);
    lane->state = state;
    lane->plans = g_ptr_array_new_with_free_func(g_free);
    return lane;
}

static gboolean
lane_has_plan(Lane *lane, const char *plan_id)
{
    guint i;

    for (i = 0; i < lane->plans->len; i++) {
        if (g_str_equal(g_ptr_array_index(lane->plans, i), plan_id))
            return TRUE;
    }
    return FALSE;
}

static void
lane_drop_plan(Lane *lane, const char *plan_id)
{
    guint i;

    for (i = 0; i < lane->plans->len; i++) {
        if (g_str_equal(g_ptr_array_index(lane->plans, i), plan_id)) {
            g_ptr_array_remove_index(lane->plans, i);
            return;
        }
    }
}

static void
lane_set_error(Lane *lane, const GError *error)
{
    g_clear_error(&lane->error);
    if (error)
        lane->error = g_error_copy(error);
}

static Lane *
manager_find(VlLaneManager *manager, const char *interface)
{
    guint i;

    for (i = 0; i < manager->lanes->len; i++) {
        Lane *lane = g_ptr_array_index(manager->lanes, i);

        if (g_str_equal(lane->spec->interface, interface))
            return lane;
    }
    return NULL;
}

static void
manager_remove(VlLaneManager *manager, Lane *lane)
{
    g_ptr_array_remove(manager->lanes, lane);
}

/* The lowest free table in table_base + 1 .. + VL_LANES_MAX, or 0. */
static guint
manager_alloc_table(VlLaneManager *manager)
{
    guint t;
    guint i;

    for (t = manager->table_base + 1; t <= manager->table_base + VL_LANES_MAX; t++) {
        gboolean used = FALSE;

        for (i = 0; i < manager->lanes->len && !used; i++) {
            Lane *lane = g_ptr_array_index(manager->lanes, i);

            used = lane->spec->table == t || lane->spec->mark == t;
        }
        if (!used)
            return t;
    }
    return 0;
}

/* The peer's lanes that are up, in table order (stable steering). */
static GPtrArray *
manager_up_lanes_of(VlLaneManager *manager, const char *peer_migration_address)
{
    GPtrArray *specs = g_ptr_array_new();
    guint i;

    for (i = 0; i < manager->lanes->len; i++) {
        Lane *lane = g_ptr_array_index(manager->lanes, i);

        if (lane->state == VL_LANE_STATE_UP &&
            g_str_equal(lane->spec->peer_migration_address, peer_migration_address))
            g_ptr_array_add(specs, lane->spec);
    }
    return specs;
}

/* ---- the journal ------------------------------------------------------------- */

static json_object *
lane_to_journal(Lane *lane)
{
    json_object *obj = json_object_new_object();
    json_object *plans = json_object_new_array();
    guint i;

    json_object_object_add(obj, "interface", json_object_new_string(lane->spec->interface));
    json_object_object_add(obj, "peer", json_object_new_string(lane->peer_name));
    json_object_object_add(obj, "address", json_object_new_string(lane->spec->address));
    json_object_object_add(obj, "peer_address",
                           json_object_new_string(lane->spec->peer_address));
    json_object_object_add(obj, "peer_migration_address",
                           json_object_new_string(lane->spec->peer_migration_address));
    json_object_object_add(obj, "table", json_object_new_int64(lane->spec->table));
    json_object_object_add(obj, "mark", json_object_new_int64(lane->spec->mark));
    json_object_object_add(obj, "state",
                           json_object_new_string(vl_lane_state_to_string(lane->state)));
    for (i = 0; i < lane->plans->len; i++)
        json_object_array_add(plans, json_object_new_string(g_ptr_array_index(lane->plans, i)));
    json_object_object_add(obj, "plans", plans);
    return obj;
}

static gboolean
write_all(int fd, const char *buf, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        buf += n;
        len -= n;
    }
    return TRUE;
}

/*
 * Replaces the journal atomically: a temporary file in the same
 * directory, fsync'ed, renamed over the journal, then the directory
 * fsync'ed, so that after a crash the journal is either the old or the
 * new one, never a torn one.
 */
static gboolean
manager_write_journal(VlLaneManager *manager, GError **error)
{
    g_autoptr(json_object) root = json_object_new_object();
    json_object *lanes = json_object_new_array();
    g_autofree char *dir = g_path_get_dirname(manager->journal_path);
    g_autofree char *tmp = g_strconcat(manager->journal_path, ".tmp", NULL);
    g_auto(VlFd) fd = -1;
    g_auto(VlFd) dfd = -1;
    const char *text;
    guint i;

    json_object_object_add(root, "version", json_object_new_int(JOURNAL_VERSION));
    for (i = 0; i < manager->lanes->len; i++)
        json_object_array_add(lanes, lane_to_journal(g_ptr_array_index(manager->lanes, i)));
    json_object_object_add(root, "lanes", lanes);
    text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                          JSON_C_TO_STRING_NOSLASHESCAPE);

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot create journal directory '%s'", dir);
        return FALSE;
    }
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot write lane journal '%s'", tmp);
        return FALSE;
    }
    if (!write_all(fd, text, strlen(text)) || !write_all(fd, "\n", 1) ||
        fsync(fd) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot write lane journal '%s'", tmp);
        unlink(tmp);
        return FALSE;
    }
    if (close(fd) < 0) {
        fd = -1;
        vl_error_set_from_errno(error, errno, "Cannot write lane journal '%s'", tmp);
        unlink(tmp);
        return FALSE;
    }
    fd = -1;
    if (rename(tmp, manager->journal_path) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot replace lane journal '%s'",
                                manager->journal_path);
        unlink(tmp);
        return FALSE;
    }
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
        fsync(dfd);
    return TRUE;
}

static gboolean G_GNUC_PRINTF(3, 4)
journal_invalid(const char *path, GError **error, const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list args;

    va_start(args, fmt);
    what = g_strdup_vprintf(fmt, args);
    va_end(args);
    g_set_error(error, VL_ERROR, VL_ERROR_INVALID, "Lane journal '%s': %s", path, what);
    return FALSE;
}

static const char *
journal_string(json_object *obj, const char *key)
{
    json_object *value = NULL;

    if (!json_object_object_get_ex(obj, key, &value) ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

static gboolean
journal_uint(json_object *obj, const char *key, guint *out)
{
    json_object *value = NULL;
    gint64 v;

    if (!json_object_object_get_ex(obj, key, &value) ||
        !json_object_is_type(value, json_type_int))
        return FALSE;
    v = json_object_get_int64(value);
    if (v < 1 || v > G_MAXUINT32 || (v >= 253 && v <= 255))
        return FALSE;
    *out = (guint) v;
    return TRUE;
}

/* One record; every field is checked, since the file is handed to
 * scripts as arguments. */
static Lane *
journal_lane(const char *path, json_object *obj, guint index, GError **error)
{
    g_autoptr(VlLaneSpec) spec = vl_lane_spec_new();
    g_autofree char *reason = NULL;
    const char *interface = journal_string(obj, "interface");
    const char *peer = journal_string(obj, "peer");
    const char *address = journal_string(obj, "address");
    const char *peer_address = journal_string(obj, "peer_address");
    const char *mig = journal_string(obj, "peer_migration_address");
    const char *state_name = journal_string(obj, "state");
    VlLaneState state;
    json_object *plans = NULL;
    Lane *lane;
    gsize i;

    if (!json_object_is_type(obj, json_type_object)) {
        journal_invalid(path, error, ".lanes[%u] is not an object", index);
        return NULL;
    }
    if (!interface || (reason = vl_policy_check_interface_name(interface))) {
        journal_invalid(path, error, ".lanes[%u].interface is missing or invalid", index);
        return NULL;
    }
    if (!peer || strlen(peer) > 64) {
        journal_invalid(path, error, ".lanes[%u].peer is missing or invalid", index);
        return NULL;
    }
    if (!(spec->address = canonical_address_prefix(address)) ||
        !(spec->peer_address = canonical_address(peer_address)) ||
        !(spec->peer_migration_address = canonical_address(mig))) {
        journal_invalid(path, error, ".lanes[%u] has an invalid address", index);
        return NULL;
    }
    if (!journal_uint(obj, "table", &spec->table) ||
        !journal_uint(obj, "mark", &spec->mark)) {
        journal_invalid(path, error, ".lanes[%u] has an invalid table or mark", index);
        return NULL;
    }
    if (!state_name || !lane_state_from_string(state_name, &state)) {
        journal_invalid(path, error, ".lanes[%u].state is missing or invalid", index);
        return NULL;
    }
    if (!json_object_object_get_ex(obj, "plans", &plans) ||
        !json_object_is_type(plans, json_type_array)) {
        journal_invalid(path, error, ".lanes[%u].plans is missing or not an array", index);
        return NULL;
    }
    for (i = 0; i < json_object_array_length(plans); i++) {
        json_object *p = json_object_array_get_idx(plans, i);

        if (!json_object_is_type(p, json_type_string) ||
            !vl_metadata_plan_id_is_valid(json_object_get_string(p))) {
            journal_invalid(path, error, ".lanes[%u].plans[%zu] is not a plan id", index, i);
            return NULL;
        }
    }
    spec->interface = g_strdup(interface);
    lane = lane_new(g_steal_pointer(&spec), peer, state);
    return lane;
}

/*
 * Reads the journal into @out (Lane*).  A missing file is an empty
 * journal.  Anything else that is wrong fails the whole read.
 */
static gboolean
manager_read_journal(VlLaneManager *manager, GPtrArray *out, GError **error)
{
    const char *path = manager->journal_path;
    g_autoptr(json_tokener) tok = NULL;
    g_autoptr(json_object) root = NULL;
    g_autoptr(GPtrArray) lanes = g_ptr_array_new_with_free_func((GDestroyNotify) lane_free);
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    json_object *version = NULL;
    json_object *array = NULL;
    gsize len = 0;
    gsize i;
    guint j;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE;
        g_set_error(error, VL_ERROR, VL_ERROR_IO, "Cannot read lane journal '%s': %s",
                    path, local->message);
        return FALSE;
    }
    if (len > JOURNAL_MAX_BYTES)
        return journal_invalid(path, error, "larger than %d bytes", JOURNAL_MAX_BYTES);
    if (len == 0)
        return journal_invalid(path, error, "empty file");

    tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, data, (int) len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        return journal_invalid(path, error, "not JSON (%s at byte %zu)",
                               json_tokener_error_desc(json_tokener_get_error(tok)),
                               json_tokener_get_parse_end(tok));
    }
    if (json_tokener_get_parse_end(tok) < len) {
        gsize k;

        for (k = json_tokener_get_parse_end(tok); k < len; k++) {
            if (!g_ascii_isspace(data[k]))
                return journal_invalid(path, error, "trailing data at byte %zu", k);
        }
    }
    if (!json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "version", &version) ||
        !json_object_is_type(version, json_type_int))
        return journal_invalid(path, error, "no \"version\"");
    if (json_object_get_int64(version) != JOURNAL_VERSION)
        return journal_invalid(path, error, "unknown version %" G_GINT64_FORMAT,
                               json_object_get_int64(version));
    if (!json_object_object_get_ex(root, "lanes", &array) ||
        !json_object_is_type(array, json_type_array))
        return journal_invalid(path, error, "no \"lanes\" array");
    if (json_object_array_length(array) > VL_LANES_MAX * 4)
        return journal_invalid(path, error, "too many lanes (%zu)",
                               json_object_array_length(array));

    for (i = 0; i < json_object_array_length(array); i++) {
        Lane *lane = journal_lane(path, json_object_array_get_idx(array, i), i, error);

        if (!lane)
            return FALSE;
        for (j = 0; j < lanes->len; j++) {
            Lane *other = g_ptr_array_index(lanes, j);

            if (g_str_equal(other->spec->interface, lane->spec->interface) ||
                other->spec->table == lane->spec->table ||
                other->spec->mark == lane->spec->mark) {
                g_autofree char *name = g_strdup(lane->spec->interface);

                lane_free(lane);
                return journal_invalid(path, error,
                                       ".lanes[%zu]: interface '%s', table or mark used twice",
                                       i, name);
            }
        }
        g_ptr_array_add(lanes, lane);
    }
    while (lanes->len > 0)
        g_ptr_array_add(out, g_ptr_array_steal_index(lanes, 0));
    return TRUE;
}

/* A journal that could not be written is worth a warning, not a failure,
 * once lanes exist: the older record still names every lane. */
static void
manager_sync_journal(VlLaneManager *manager)
{
    g_autoptr(GError) error = NULL;

    if (!manager_write_journal(manager, &error))
        manager_log(manager, G_LOG_LEVEL_WARNING, "%s", error->message);
}

/* ---- results ---------------------------------------------------------------- */

static VlLaneResult *
lane_result_new(const char *interface)
{
    VlLaneResult *result = g_new0(VlLaneResult, 1);

    result->interface = g_strdup(interface);
    return result;
}

static void
lane_result_free(VlLaneResult *result)
{
    if (!result)
        return;
    g_free(result->interface);
    g_clear_error(&result->error);
    g_free(result);
}

void
vl_lane_report_free(VlLaneReport *report)
{
    if (!report)
        return;
    g_free(report->plan_id);
    g_free(report->peer_name);
    g_free(report->peer_migration_address);
    if (report->lanes)
        g_ptr_array_unref(report->lanes);
    g_clear_error(&report->steer_error);
    g_free(report);
}

json_object *
vl_lane_report_to_json(const VlLaneReport *report)
{
    json_object *obj = json_object_new_object();
    json_object *lanes = json_object_new_array();
    json_object *up = json_object_new_array();
    json_object *failed = json_object_new_array();
    guint i;

    json_object_object_add(obj, "plan_id", json_object_new_string(report->plan_id));
    json_object_object_add(obj, "peer", json_object_new_string(report->peer_name));
    json_object_object_add(obj, "peer_migration_address",
                           json_object_new_string(report->peer_migration_address));
    json_object_object_add(obj, "base_mark", json_object_new_int64(report->base_mark));
    for (i = 0; i < report->lanes->len; i++) {
        VlLaneResult *r = g_ptr_array_index(report->lanes, i);
        json_object *l = json_object_new_object();

        json_object_object_add(l, "interface", json_object_new_string(r->interface));
        json_object_object_add(l, "up", json_object_new_boolean(r->up));
        json_object_object_add(l, "reused", json_object_new_boolean(r->reused));
        json_object_object_add(l, "table", json_object_new_int64(r->table));
        json_object_object_add(l, "mark", json_object_new_int64(r->mark));
        json_object_object_add(l, "error",
                               r->error ? json_object_new_string(r->error->message) : NULL);
        json_object_array_add(lanes, l);
        json_object_array_add(r->up ? up : failed, json_object_new_string(r->interface));
    }
    json_object_object_add(obj, "lanes", lanes);
    json_object_object_add(obj, "up", up);
    json_object_object_add(obj, "failed", failed);
    json_object_object_add(obj, "steering_error",
                           report->steer_error ?
                           json_object_new_string(report->steer_error->message) : NULL);
    return obj;
}

/* ---- operations: one at a time ------------------------------------------------ */

static void manager_run_next(VlLaneManager *manager);

static void
op_free(Op *op)
{
    if (!op)
        return;
    g_clear_object(&op->task);
    g_free(op->plan_id);
    g_free(op->peer_name);
    g_free(op->peer_migration_address);
    if (op->wanted)
        g_ptr_array_unref(op->wanted);
    vl_lane_report_free(op->report);
    if (op->coming_up)
        g_ptr_array_unref(op->coming_up);
    if (op->results_of)
        g_ptr_array_unref(op->results_of);
    if (op->going_down)
        g_ptr_array_unref(op->going_down);
    if (op->steer_peers)
        g_ptr_array_unref(op->steer_peers);
    if (op->failures)
        g_string_free(op->failures, TRUE);
    g_clear_error(&op->error);
    g_free(op);
}

static Op *
op_new(VlLaneManager *manager, OpKind kind, guint timeout_ms, gpointer source_tag,
       GAsyncReadyCallback callback, gpointer user_data)
{
    Op *op = g_new0(Op, 1);

    op->manager = manager;
    op->kind = kind;
    op->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    op->task = g_task_new(NULL, NULL, callback, user_data);
    g_task_set_source_tag(op->task, source_tag);
    op->coming_up = g_ptr_array_new();
    op->results_of = g_ptr_array_new();
    op->going_down = g_ptr_array_new();
    op->steer_peers = g_ptr_array_new_with_free_func(g_free);
    op->failures = g_string_new(NULL);
    return op;
}

/* Ends the current operation (its task was returned) and starts the next. */
static void
op_end(Op *op)
{
    VlLaneManager *manager = op->manager;

    g_assert(manager->current == op);
    manager->current = NULL;
    op_free(op);
    manager_run_next(manager);
}

static void
op_add_steer_peer(Op *op, const char *peer_migration_address)
{
    guint i;

    for (i = 0; i < op->steer_peers->len; i++) {
        if (g_str_equal(g_ptr_array_index(op->steer_peers, i), peer_migration_address))
            return;
    }
    g_ptr_array_add(op->steer_peers, g_strdup(peer_migration_address));
}

static void
op_call_begin(Op *op)
{
    op->outstanding++;
}

/* One backend call finished: when the last one does, go on. */
static void
op_call_end(Op *op)
{
    g_assert(op->outstanding > 0);
    if (--op->outstanding == 0) {
        OpStage next = op->next;

        op->next = NULL;
        next(op);
    }
}

/* -- steering -- */

static void
on_steered(GError *error, gpointer user_data)
{
    g_autofree Call *call = user_data;
    g_autoptr(GError) err = error;
    Op *op = call->op;

    if (err) {
        manager_log(op->manager, G_LOG_LEVEL_WARNING, "%s", err->message);
        if (op->report && !op->report->steer_error)
            op->report->steer_error = g_error_copy(err);
    }
    op_call_end(op);
}

/* Re-steers every peer in op->steer_peers over its up lanes; then @next. */
static void
op_steer_then(Op *op, OpStage next)
{
    VlLaneManager *manager = op->manager;
    guint i;

    op->next = next;
    op_call_begin(op);
    for (i = 0; i < op->steer_peers->len; i++) {
        const char *peer = g_ptr_array_index(op->steer_peers, i);
        g_autoptr(GPtrArray) specs = manager_up_lanes_of(manager, peer);
        Call *call = g_new0(Call, 1);

        call->op = op;
        op_call_begin(op);
        manager->backend->ops->steer(manager->backend->data, peer,
                                     manager->table_base,
                                     (const VlLaneSpec *const *) specs->pdata,
                                     specs->len, op->timeout_ms, on_steered, call);
    }
    g_ptr_array_set_size(op->steer_peers, 0);
    op_call_end(op);
}

/* -- taking lanes down -- */

static void
on_lane_down(GError *error, gpointer user_data)
{
    g_autofree Call *call = user_data;
    g_autoptr(GError) err = error;
    Op *op = call->op;
    Lane *lane = call->lane;

    if (err) {
        lane->state = VL_LANE_STATE_FAILED;
        lane_set_error(lane, err);
        op->n_failed++;
        g_string_append_printf(op->failures, "%s%s", op->failures->len ? "; " : "",
                               err->message);
        manager_log(op->manager, G_LOG_LEVEL_WARNING,
                    "Lane '%s' did not come down and stays in the journal: %s",
                    lane->spec->interface, err->message);
    } else {
        /* Still GOING_DOWN: op_forget_downed() removes it once all are done. */
        lane_set_error(lane, NULL);
        op->n_down++;
        manager_log(op->manager, G_LOG_LEVEL_MESSAGE, "Lane '%s' towards '%s' is down",
                    lane->spec->interface, lane->peer_name);
    }
    op_call_end(op);
}

/* Downs every lane in op->going_down in parallel; then @next. */
static void
op_down_then(Op *op, OpStage next)
{
    VlLaneManager *manager = op->manager;
    guint i;

    op->next = next;
    op_call_begin(op);
    for (i = 0; i < op->going_down->len; i++) {
        Lane *lane = g_ptr_array_index(op->going_down, i);
        Call *call = g_new0(Call, 1);

        lane->state = VL_LANE_STATE_GOING_DOWN;
        call->op = op;
        call->lane = lane;
        op_call_begin(op);
        manager->backend->ops->down(manager->backend->data, lane->spec, op->timeout_ms,
                                    on_lane_down, call);
    }
    op_call_end(op);
}

/* Forgets the lanes that came down (GOING_DOWN without error). */
static void
op_forget_downed(Op *op)
{
    guint i;

    for (i = 0; i < op->going_down->len; i++) {
        Lane *lane = g_ptr_array_index(op->going_down, i);

        if (lane->state == VL_LANE_STATE_GOING_DOWN)
            manager_remove(op->manager, lane);
    }
    g_ptr_array_set_size(op->going_down, 0);
}

/* -- acquire -- */

static gboolean
spec_same_target(const VlLaneSpec *a, const VlLaneSpec *b)
{
    return g_str_equal(a->address, b->address) &&
        g_str_equal(a->peer_address, b->peer_address) &&
        g_str_equal(a->peer_migration_address, b->peer_migration_address);
}

static void acquire_ups_done(Op *op);
static void acquire_steered(Op *op);
static void acquire_cleaned(Op *op);

static void
on_lane_up(GError *error, gpointer user_data)
{
    g_autofree Call *call = user_data;
    g_autoptr(GError) err = error;
    Op *op = call->op;
    Lane *lane = call->lane;

    if (err) {
        call->result->error = g_error_copy(err);
        lane_set_error(lane, err);
        lane_drop_plan(lane, op->plan_id);
        manager_log(op->manager, G_LOG_LEVEL_WARNING,
                    "Lane '%s' towards '%s' did not come up for plan '%s': %s",
                    lane->spec->interface, lane->peer_name, op->plan_id, err->message);
        /* A half-up lane must not linger: take it down again. */
        if (lane->plans->len == 0)
            g_ptr_array_add(op->going_down, lane);
    } else {
        lane->state = VL_LANE_STATE_UP;
        lane_set_error(lane, NULL);
        call->result->up = TRUE;
        op_add_steer_peer(op, lane->spec->peer_migration_address);
        manager_log(op->manager, G_LOG_LEVEL_MESSAGE,
                    "Lane '%s' is up towards '%s' (table %u) for plan '%s'",
                    lane->spec->interface, lane->peer_name, lane->spec->table,
                    op->plan_id);
    }
    op_call_end(op);
}

static void
acquire_start(Op *op)
{
    VlLaneManager *manager = op->manager;
    g_autoptr(GPtrArray) created = g_ptr_array_new();
    g_autoptr(GPtrArray) planned = g_ptr_array_new();
    g_autoptr(GPtrArray) revived = g_ptr_array_new();
    g_autoptr(GError) error = NULL;
    guint i;

    op->report = g_new0(VlLaneReport, 1);
    op->report->plan_id = g_strdup(op->plan_id);
    op->report->peer_name = g_strdup(op->peer_name);
    op->report->peer_migration_address = g_strdup(op->peer_migration_address);
    op->report->base_mark = manager->table_base;
    op->report->lanes = g_ptr_array_new_with_free_func((GDestroyNotify) lane_result_free);

    for (i = 0; i < op->wanted->len; i++) {
        VlLaneConfig *config = g_ptr_array_index(op->wanted, i);
        VlLaneResult *result = lane_result_new(config->interface);
        g_autoptr(VlLaneSpec) spec = vl_lane_spec_new();
        Lane *lane;

        g_ptr_array_add(op->report->lanes, result);
        spec->interface = g_strdup(config->interface);
        spec->address = canonical_address_prefix(config->address);
        spec->peer_address = canonical_address(config->peer_address);
        spec->peer_migration_address = g_strdup(op->peer_migration_address);
        if (!spec->address || !spec->peer_address) {
            result->error = g_error_new(VL_ERROR, VL_ERROR_INVALID,
                                        "Lane '%s' has an invalid address", config->interface);
            continue;
        }

        lane = manager_find(manager, config->interface);
        if (lane) {
            result->table = lane->spec->table;
            result->mark = lane->spec->mark;
            if (!spec_same_target(lane->spec, spec)) {
                result->error = g_error_new(VL_ERROR, VL_ERROR_INVALID,
                                            "Lane '%s' is in use towards '%s' with address '%s'",
                                            config->interface,
                                            lane->spec->peer_migration_address,
                                            lane->spec->address);
                continue;
            }
            if (lane_has_plan(lane, op->plan_id)) {
                result->up = lane->state == VL_LANE_STATE_UP;
                result->reused = lane->plans->len > 1;
                continue;
            }
            if (lane->state == VL_LANE_STATE_UP) {
                result->up = TRUE;
                result->reused = lane->plans->len > 0;
                g_ptr_array_add(lane->plans, g_strdup(op->plan_id));
                g_ptr_array_add(planned, lane);
                continue;
            }
            /* FAILED (a down that failed): up is idempotent, try again. */
            lane->state = VL_LANE_STATE_COMING_UP;
            g_ptr_array_add(lane->plans, g_strdup(op->plan_id));
            g_ptr_array_add(revived, lane);
        } else {
            guint table = manager_alloc_table(manager);

            if (!table) {
                result->error = g_error_new(VL_ERROR, VL_ERROR_FAILED,
                                            "No free routing table for lane '%s' (%d lanes are held)",
                                            config->interface, VL_LANES_MAX);
                continue;
            }
            spec->table = table;
            spec->mark = table;
            result->table = table;
            result->mark = table;
            lane = lane_new(g_steal_pointer(&spec), op->peer_name, VL_LANE_STATE_COMING_UP);
            g_ptr_array_add(lane->plans, g_strdup(op->plan_id));
            g_ptr_array_add(manager->lanes, lane);
            g_ptr_array_add(created, lane);
        }
        g_ptr_array_add(op->coming_up, lane);
        g_ptr_array_add(op->results_of, result);
    }

    /* The journal names every lane before anything touches it. */
    if ((created->len || planned->len || revived->len) &&
        !manager_write_journal(manager, &error)) {
        for (i = 0; i < created->len; i++)
            manager_remove(manager, g_ptr_array_index(created, i));
        for (i = 0; i < planned->len; i++)
            lane_drop_plan(g_ptr_array_index(planned, i), op->plan_id);
        for (i = 0; i < revived->len; i++) {
            Lane *lane = g_ptr_array_index(revived, i);

            lane_drop_plan(lane, op->plan_id);
            lane->state = VL_LANE_STATE_FAILED;
        }
        g_task_return_error(op->task, g_steal_pointer(&error));
        op_end(op);
        return;
    }

    op->next = acquire_ups_done;
    op_call_begin(op);
    for (i = 0; i < op->coming_up->len; i++) {
        Call *call = g_new0(Call, 1);

        call->op = op;
        call->lane = g_ptr_array_index(op->coming_up, i);
        call->result = g_ptr_array_index(op->results_of, i);
        op_call_begin(op);
        manager->backend->ops->up(manager->backend->data, call->lane->spec,
                                  op->timeout_ms, on_lane_up, call);
    }
    op_call_end(op);
}

static void
acquire_ups_done(Op *op)
{
    op_steer_then(op, acquire_steered);
}

static void
acquire_steered(Op *op)
{
    op_down_then(op, acquire_cleaned);
}

static void
acquire_cleaned(Op *op)
{
    VlLaneReport *report = op->report;
    guint i;

    op_forget_downed(op);
    manager_sync_journal(op->manager);
    for (i = 0; i < report->lanes->len; i++) {
        VlLaneResult *r = g_ptr_array_index(report->lanes, i);

        if (r->up)
            report->n_up++;
    }
    g_task_return_pointer(op->task, g_steal_pointer(&op->report),
                          (GDestroyNotify) vl_lane_report_free);
    op_end(op);
}

/* -- release, release all, recover -- */

static void release_steered(Op *op);
static void release_downed(Op *op);

static void
release_start(Op *op)
{
    VlLaneManager *manager = op->manager;
    gboolean found = FALSE;
    guint i;

    for (i = 0; i < manager->lanes->len; i++) {
        Lane *lane = g_ptr_array_index(manager->lanes, i);

        if (op->kind == OP_RELEASE_ALL) {
            if (lane->plans->len == 0 && lane->state != VL_LANE_STATE_FAILED)
                continue;
            g_ptr_array_set_size(lane->plans, 0);
        } else {
            if (!lane_has_plan(lane, op->plan_id))
                continue;
            lane_drop_plan(lane, op->plan_id);
        }
        found = TRUE;
        if (lane->plans->len == 0) {
            lane->state = VL_LANE_STATE_GOING_DOWN;
            g_ptr_array_add(op->going_down, lane);
            op_add_steer_peer(op, lane->spec->peer_migration_address);
        }
    }
    if (!found && op->kind == OP_RELEASE) {
        g_task_return_new_error(op->task, VL_ERROR, VL_ERROR_INVALID,
                                "No lanes are held for plan '%s'", op->plan_id);
        op_end(op);
        return;
    }
    if (found)
        manager_sync_journal(manager);
    /* Unsteer first: no new connection may pick a lane going down. */
    op_steer_then(op, release_steered);
}

static void
release_steered(Op *op)
{
    op_down_then(op, release_downed);
}

static void
release_downed(Op *op)
{
    gboolean changed = op->going_down->len > 0;

    op_forget_downed(op);
    if (changed)
        manager_sync_journal(op->manager);
    if (op->n_failed > 0) {
        g_task_return_new_error(op->task, VL_ERROR, VL_ERROR_SCRIPT,
                                "%u lane(s) did not come down and stay in the journal: %s",
                                op->n_failed, op->failures->str);
    } else {
        g_task_return_int(op->task, op->n_down);
    }
    op_end(op);
}

static void
recover_start(Op *op)
{
    VlLaneManager *manager = op->manager;
    g_autoptr(GPtrArray) loaded = g_ptr_array_new_with_free_func((GDestroyNotify) lane_free);
    g_autoptr(GError) error = NULL;

    if (!manager_read_journal(manager, loaded, &error)) {
        if (g_error_matches(error, VL_ERROR, VL_ERROR_INVALID)) {
            g_autofree char *aside = g_strconcat(manager->journal_path, ".corrupt", NULL);

            /* Keep it for the admin, out of the way of the next write. */
            if (rename(manager->journal_path, aside) == 0)
                g_prefix_error(&error, "Tearing down nothing, kept as '%s': ", aside);
            else
                g_prefix_error(&error, "Tearing down nothing: ");
        }
        g_task_return_error(op->task, g_steal_pointer(&error));
        op_end(op);
        return;
    }

    while (loaded->len > 0) {
        Lane *lane = g_ptr_array_steal_index(loaded, 0);

        if (manager_find(manager, lane->spec->interface)) {
            lane_free(lane);
            continue;
        }
        manager_log(manager, G_LOG_LEVEL_MESSAGE,
                    "Tearing down lane '%s' towards '%s' (table %u, was %s) left by a previous run",
                    lane->spec->interface, lane->peer_name, lane->spec->table,
                    vl_lane_state_to_string(lane->state));
        g_ptr_array_set_size(lane->plans, 0);
        lane->state = VL_LANE_STATE_GOING_DOWN;
        g_ptr_array_add(manager->lanes, lane);
        g_ptr_array_add(op->going_down, lane);
        op_add_steer_peer(op, lane->spec->peer_migration_address);
    }
    op_steer_then(op, release_steered);
}

static void
manager_run_next(VlLaneManager *manager)
{
    Op *op;

    if (manager->current || g_queue_is_empty(&manager->queue))
        return;
    op = g_queue_pop_head(&manager->queue);
    manager->current = op;
    switch (op->kind) {
    case OP_RECOVER:
        recover_start(op);
        break;
    case OP_ACQUIRE:
        acquire_start(op);
        break;
    case OP_RELEASE:
    case OP_RELEASE_ALL:
        release_start(op);
        break;
    }
}

static void
manager_enqueue(VlLaneManager *manager, Op *op)
{
    g_queue_push_tail(&manager->queue, op);
    manager_run_next(manager);
}

/* ---- the public API ---------------------------------------------------------- */

VlLaneManager *
vl_lane_manager_new(const char *journal_path,
                    guint table_base,
                    VlLaneBackend *backend,
                    VlLaneLogFunc log_func,
                    gpointer log_data)
{
    VlLaneManager *manager;

    g_return_val_if_fail(journal_path != NULL, NULL);
    g_return_val_if_fail(backend != NULL && backend->ops != NULL, NULL);
    g_return_val_if_fail(table_base >= VL_LANE_TABLE_BASE_MIN &&
                         table_base <= VL_LANE_TABLE_BASE_MAX, NULL);

    manager = g_new0(VlLaneManager, 1);
    manager->journal_path = g_strdup(journal_path);
    manager->table_base = table_base;
    manager->backend = backend;
    manager->log_func = log_func;
    manager->log_data = log_data;
    manager->lanes = g_ptr_array_new_with_free_func((GDestroyNotify) lane_free);
    g_queue_init(&manager->queue);
    return manager;
}

void
vl_lane_manager_free(VlLaneManager *manager)
{
    if (!manager)
        return;
    if (!vl_lane_manager_is_idle(manager)) {
        /* Backend calls still hold pointers into it: leaking is the
         * lesser evil, and a caller bug. */
        g_critical("Freeing a lane manager while lanes are being brought up or down");
        return;
    }
    g_ptr_array_unref(manager->lanes);
    vl_lane_backend_free(manager->backend);
    g_free(manager->journal_path);
    g_free(manager);
}

const char *
vl_lane_manager_get_journal_path(VlLaneManager *manager)
{
    return manager->journal_path;
}

guint
vl_lane_manager_get_base_mark(VlLaneManager *manager)
{
    return manager->table_base;
}

void
vl_lane_manager_recover_async(VlLaneManager *manager,
                              guint timeout_ms,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
    Op *op = op_new(manager, OP_RECOVER, timeout_ms, vl_lane_manager_recover_async,
                    callback, user_data);

    manager_enqueue(manager, op);
}

static gboolean
finish_count(GAsyncResult *result, gpointer tag, guint *n_down, GError **error)
{
    GError *local = NULL;
    gssize n;

    g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
    g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == tag, FALSE);
    n = g_task_propagate_int(G_TASK(result), &local);
    if (local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (n_down)
        *n_down = (guint) n;
    return TRUE;
}

gboolean
vl_lane_manager_recover_finish(VlLaneManager *manager G_GNUC_UNUSED,
                               GAsyncResult *result,
                               guint *n_down,
                               GError **error)
{
    return finish_count(result, vl_lane_manager_recover_async, n_down, error);
}

/* A deep copy of the parts of a lane configuration we keep. */
static VlLaneConfig *
lane_config_copy(const VlLaneConfig *config)
{
    VlLaneConfig *copy = vl_lane_config_new();

    copy->interface = g_strdup(config->interface);
    copy->address = g_strdup(config->address);
    copy->peer_address = g_strdup(config->peer_address);
    copy->bandwidth_mbit = config->bandwidth_mbit;
    return copy;
}

static const VlLaneConfig *
peer_find_lane(const VlPeerConfig *peer, const char *interface)
{
    guint i;

    for (i = 0; i < peer->lanes->len; i++) {
        const VlLaneConfig *config = g_ptr_array_index(peer->lanes, i);

        if (g_str_equal(config->interface, interface))
            return config;
    }
    return NULL;
}

void
vl_lane_manager_acquire_async(VlLaneManager *manager,
                              const char *plan_id,
                              const VlPeerConfig *peer,
                              const char *const *interfaces,
                              guint count,
                              guint timeout_ms,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
    Op *op = op_new(manager, OP_ACQUIRE, timeout_ms, vl_lane_manager_acquire_async,
                    callback, user_data);
    g_autoptr(GError) error = NULL;
    guint i;

    op->wanted = g_ptr_array_new_with_free_func((GDestroyNotify) vl_lane_config_free);
    if (!plan_id || !vl_metadata_plan_id_is_valid(plan_id)) {
        g_autofree char *shown = g_strescape(plan_id ? plan_id : "", NULL);

        error = g_error_new(VL_ERROR, VL_ERROR_INVALID,
                            "Invalid plan id '%s' (1 to %d characters of A-Z a-z 0-9 . _ : -)",
                            shown, VL_PLAN_ID_MAX);
        goto fail;
    }
    op->plan_id = g_strdup(plan_id);
    if (!peer || !peer->name) {
        error = g_error_new(VL_ERROR, VL_ERROR_INVALID, "No peer given");
        goto fail;
    }
    op->peer_name = g_strdup(peer->name);
    if (!(op->peer_migration_address = canonical_address(peer->migration_address))) {
        error = g_error_new(VL_ERROR, VL_ERROR_INVALID,
                            "Peer '%s' has no migration address in the policy", peer->name);
        goto fail;
    }
    if (interfaces) {
        for (i = 0; interfaces[i]; i++) {
            const VlLaneConfig *config = peer_find_lane(peer, interfaces[i]);
            guint j;

            if (!config) {
                g_autofree char *shown = g_strescape(interfaces[i], NULL);

                error = g_error_new(VL_ERROR, VL_ERROR_INVALID,
                                    "Peer '%s' has no lane '%s'", peer->name, shown);
                goto fail;
            }
            for (j = 0; j < i; j++) {
                if (g_str_equal(interfaces[j], interfaces[i])) {
                    error = g_error_new(VL_ERROR, VL_ERROR_INVALID,
                                        "Lane '%s' is asked for twice", interfaces[i]);
                    goto fail;
                }
            }
            g_ptr_array_add(op->wanted, lane_config_copy(config));
        }
        if (i == 0) {
            error = g_error_new(VL_ERROR, VL_ERROR_INVALID, "No lanes asked for");
            goto fail;
        }
    } else {
        if (count == 0 || count > peer->lanes->len) {
            error = g_error_new(VL_ERROR, VL_ERROR_INVALID,
                                "Peer '%s' has %u lane(s), cannot bring up %u",
                                peer->name, peer->lanes->len, count);
            goto fail;
        }
        for (i = 0; i < count; i++)
            g_ptr_array_add(op->wanted, lane_config_copy(g_ptr_array_index(peer->lanes, i)));
    }
    manager_enqueue(manager, op);
    return;

 fail:
    g_task_return_error(op->task, g_steal_pointer(&error));
    op_free(op);
}

VlLaneReport *
vl_lane_manager_acquire_finish(VlLaneManager *manager G_GNUC_UNUSED,
                               GAsyncResult *result,
                               GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
    g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) ==
                         vl_lane_manager_acquire_async, NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

void
vl_lane_manager_release_async(VlLaneManager *manager,
                              const char *plan_id,
                              guint timeout_ms,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
    Op *op = op_new(manager, OP_RELEASE, timeout_ms, vl_lane_manager_release_async,
                    callback, user_data);

    if (!plan_id || !vl_metadata_plan_id_is_valid(plan_id)) {
        g_autofree char *shown = g_strescape(plan_id ? plan_id : "", NULL);

        g_task_return_new_error(op->task, VL_ERROR, VL_ERROR_INVALID,
                                "Invalid plan id '%s' (1 to %d characters of A-Z a-z 0-9 . _ : -)",
                                shown, VL_PLAN_ID_MAX);
        op_free(op);
        return;
    }
    op->plan_id = g_strdup(plan_id);
    manager_enqueue(manager, op);
}

gboolean
vl_lane_manager_release_finish(VlLaneManager *manager G_GNUC_UNUSED,
                               GAsyncResult *result,
                               guint *n_down,
                               GError **error)
{
    return finish_count(result, vl_lane_manager_release_async, n_down, error);
}

void
vl_lane_manager_release_all_async(VlLaneManager *manager,
                                  guint timeout_ms,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
    Op *op = op_new(manager, OP_RELEASE_ALL, timeout_ms,
                    vl_lane_manager_release_all_async, callback, user_data);

    manager_enqueue(manager, op);
}

gboolean
vl_lane_manager_release_all_finish(VlLaneManager *manager G_GNUC_UNUSED,
                                   GAsyncResult *result,
                                   guint *n_down,
                                   GError **error)
{
    return finish_count(result, vl_lane_manager_release_all_async, n_down, error);
}

guint
vl_lane_manager_get_n_lanes(VlLaneManager *manager)
{
    return manager->lanes->len;
}

gboolean
vl_lane_manager_has_plan(VlLaneManager *manager, const char *plan_id)
{
    guint i;

    for (i = 0; i < manager->lanes->len; i++) {
        if (lane_has_plan(g_ptr_array_index(manager->lanes, i), plan_id))
            return TRUE;
    }
    return FALSE;
}

gboolean
vl_lane_manager_is_idle(VlLaneManager *manager)
{
    return manager->current == NULL && g_queue_is_empty(&manager->queue);
}

static gint
compare_lanes(gconstpointer a, gconstpointer b)
{
    const Lane *la = *(Lane *const *) a;
    const Lane *lb = *(Lane *const *) b;

    return strcmp(la->spec->interface, lb->spec->interface);
}

json_object *
vl_lane_manager_to_json(VlLaneManager *manager)
{
    g_autoptr(GPtrArray) sorted = g_ptr_array_copy(manager->lanes, NULL, NULL);
    json_object *array = json_object_new_array();
    guint i;

    /* The copy borrows the lanes (g_ptr_array_copy keeps the free func). */
    g_ptr_array_set_free_func(sorted, NULL);
    g_ptr_array_sort(sorted, compare_lanes);
    for (i = 0; i < sorted->len; i++) {
        Lane *lane = g_ptr_array_index(sorted, i);
        json_object *obj = lane_to_journal(lane);

        json_object_object_add(obj, "error",
                               lane->error ? json_object_new_string(lane->error->message) : NULL);
        json_object_array_add(array, obj);
    }
    return array;
}
