/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * burst-state.c: the containers' state file
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-c/json.h>

#include "burst-state.h"
#include "json-reader.h"
#include "policy.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* Far beyond any real time, below what a double holds exactly. */
#define TIME_MAX 1e12

static const char *const top_keys[] = { "version", "members", "containers", NULL };
static const char *const member_keys[] = { "name", "container", "peer", "since", NULL };
static const char *const container_keys[] = {
    "name", "cooldown_until", "last_action", "last_action_time", NULL
};

static void
member_free(VlBurstMember *m)
{
    if (!m)
        return;
    g_free(m->member);
    g_free(m->container);
    g_free(m->peer);
    g_free(m);
}

static void
container_free(VlBurstContainer *c)
{
    if (!c)
        return;
    g_free(c->name);
    g_free(c->last_action);
    g_free(c);
}

VlBurstState *
vl_burst_state_new(void)
{
    VlBurstState *state = g_new0(VlBurstState, 1);

    state->members = g_ptr_array_new_with_free_func((GDestroyNotify)member_free);
    state->containers = g_ptr_array_new_with_free_func((GDestroyNotify)container_free);
    return state;
}

void
vl_burst_state_free(VlBurstState *state)
{
    if (!state)
        return;
    if (state->members)
        g_ptr_array_unref(state->members);
    if (state->containers)
        g_ptr_array_unref(state->containers);
    g_free(state);
}

void
vl_burst_state_add_member(VlBurstState *state, const char *member,
                          const char *container, const char *peer, gint64 since)
{
    VlBurstMember *m = g_new0(VlBurstMember, 1);

    m->member = g_strdup(member);
    m->container = g_strdup(container);
    m->peer = g_strdup(peer);
    m->since = since;
    g_ptr_array_add(state->members, m);
}

void
vl_burst_state_add_container(VlBurstState *state, const char *name,
                             gint64 cooldown_until, const char *last_action,
                             gint64 last_action_time)
{
    VlBurstContainer *c = g_new0(VlBurstContainer, 1);

    c->name = g_strdup(name);
    c->cooldown_until = cooldown_until;
    c->last_action = g_strdup(last_action);
    c->last_action_time = last_action_time;
    g_ptr_array_add(state->containers, c);
}

static gboolean
get_time(VlJsonReader *r, json_object *obj, const char *key, VlJsonFlags flags,
         gint64 *out, GError **error)
{
    double value = -1;

    if (!vl_json_reader_get_double(r, obj, key, flags, 0, TIME_MAX, &value, error))
        return FALSE;
    if (value >= 0)
        *out = (gint64)value;
    return TRUE;
}

static gboolean
parse_member(VlJsonReader *r, json_object *obj, VlBurstState *state,
             GHashTable *seen, GError **error)
{
    g_autofree char *name = NULL;
    g_autofree char *container = NULL;
    g_autofree char *peer = NULL;
    gint64 since = 0;

    if (!vl_json_reader_check_object(r, obj, member_keys, error) ||
        !vl_json_reader_get_string(r, obj, "name", VL_JSON_REQUIRED,
                                   vl_policy_check_domain_name, &name, error) ||
        !vl_json_reader_get_string(r, obj, "container", VL_JSON_REQUIRED,
                                   vl_policy_check_container_name, &container,
                                   error) ||
        !vl_json_reader_get_string(r, obj, "peer", VL_JSON_REQUIRED,
                                   vl_policy_check_uri, &peer, error) ||
        !get_time(r, obj, "since", VL_JSON_OPTIONAL, &since, error))
        return FALSE;
    if (g_hash_table_contains(seen, name)) {
        g_autofree char *q = vl_json_quote(name);

        return vl_json_reader_error_at(r, "name", error,
                                       "member '%s' is listed twice", q);
    }
    g_hash_table_add(seen, g_strdup(name));
    vl_burst_state_add_member(state, name, container, peer, since);
    return TRUE;
}

static gboolean
parse_container(VlJsonReader *r, json_object *obj, VlBurstState *state,
                GError **error)
{
    g_autofree char *name = NULL;
    g_autofree char *last_action = NULL;
    gint64 cooldown_until = 0;
    gint64 last_action_time = 0;

    if (!vl_json_reader_check_object(r, obj, container_keys, error) ||
        !vl_json_reader_get_string(r, obj, "name", VL_JSON_REQUIRED,
                                   vl_policy_check_container_name, &name, error) ||
        !get_time(r, obj, "cooldown_until", VL_JSON_OPTIONAL, &cooldown_until,
                  error) ||
        !vl_json_reader_get_string(r, obj, "last_action", VL_JSON_OPTIONAL,
                                   vl_policy_check_container_name, &last_action,
                                   error) ||
        !get_time(r, obj, "last_action_time", VL_JSON_OPTIONAL,
                  &last_action_time, error))
        return FALSE;
    vl_burst_state_add_container(state, name, cooldown_until, last_action,
                                 last_action_time);
    return TRUE;
}

/* Calls @parse on every element of the array @key (absent = empty). */
static gboolean
parse_array(VlJsonReader *r, json_object *root, const char *key,
            gboolean (*parse)(VlJsonReader *, json_object *, VlBurstState *,
                              GHashTable *, GError **),
            VlBurstState *state, GHashTable *seen, GError **error)
{
    json_object *array = NULL;
    gsize i;

    if (!vl_json_reader_get_array(r, root, key, VL_JSON_OPTIONAL, 100000,
                                  &array, error))
        return FALSE;
    if (!array)
        return TRUE;
    vl_json_reader_push_key(r, key);
    for (i = 0; i < json_object_array_length(array); i++) {
        gboolean ok;

        vl_json_reader_push_index(r, i);
        ok = parse(r, json_object_array_get_idx(array, i), state, seen, error);
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
parse_container_seen(VlJsonReader *r, json_object *obj, VlBurstState *state,
                     GHashTable *seen, GError **error)
{
    g_autofree char *name = NULL;

    if (json_object_is_type(obj, json_type_object)) {
        json_object *n = NULL;

        if (json_object_object_get_ex(obj, "name", &n) &&
            json_object_is_type(n, json_type_string)) {
            if (g_hash_table_contains(seen, json_object_get_string(n))) {
                g_autofree char *q = vl_json_quote(json_object_get_string(n));

                return vl_json_reader_error_at(r, "name", error,
                                               "container '%s' is listed twice", q);
            }
            g_hash_table_add(seen, g_strdup(json_object_get_string(n)));
        }
    }
    return parse_container(r, obj, state, error);
}

VlBurstState *
vl_burst_state_parse(const char *name, const char *data, gsize length,
                     GError **error)
{
    g_autoptr(json_object) root = NULL;
    g_autoptr(VlJsonReader) r = vl_json_reader_new(name);
    g_autoptr(VlBurstState) state = vl_burst_state_new();
    g_autoptr(GHashTable) members = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                          g_free, NULL);
    g_autoptr(GHashTable) containers = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                             g_free, NULL);
    guint version = 0;

    root = vl_json_parse(name, data, length, error);
    if (!root)
        return NULL;
    if (!vl_json_reader_check_object(r, root, top_keys, error) ||
        !vl_json_reader_get_uint(r, root, "version", VL_JSON_REQUIRED,
                                 VL_BURST_STATE_VERSION, VL_BURST_STATE_VERSION,
                                 &version, error) ||
        !parse_array(r, root, "members", parse_member, state, members, error) ||
        !parse_array(r, root, "containers", parse_container_seen, state,
                     containers, error))
        return NULL;
    return g_steal_pointer(&state);
}

VlBurstState *
vl_burst_state_load(const char *path, GError **error)
{
    g_auto(VlFd) fd = -1;
    g_autofree char *data = NULL;
    struct stat st;
    gsize len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT)
        return vl_burst_state_new();
    if (fd < 0) {
        vl_error_set_from_errno(error, errno, "Cannot open state file '%s'", path);
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot stat state file '%s'", path);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IO,
                    "State file '%s' is not a regular file", path);
        return NULL;
    }
    if (st.st_size > VL_BURST_STATE_MAX_SIZE) {
        g_set_error(error, VL_ERROR, VL_ERROR_POLICY,
                    "%s: State file is larger than %d bytes", path,
                    VL_BURST_STATE_MAX_SIZE);
        return NULL;
    }
    data = g_malloc((gsize)st.st_size + 1);
    while (len < (gsize)st.st_size) {
        ssize_t got = read(fd, data + len, (gsize)st.st_size - len);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            vl_error_set_from_errno(error, errno, "Cannot read state file '%s'",
                                    path);
            return NULL;
        }
        if (got == 0)
            break;
        len += (gsize)got;
    }
    data[len] = '\0';
    return vl_burst_state_parse(path, data, len, error);
}

char *
vl_burst_state_to_string(const VlBurstState *state)
{
    g_autoptr(json_object) root = json_object_new_object();
    json_object *members = json_object_new_array();
    json_object *containers = json_object_new_array();
    guint i;

    json_object_object_add(root, "version",
                           json_object_new_int(VL_BURST_STATE_VERSION));
    for (i = 0; i < state->members->len; i++) {
        const VlBurstMember *m = g_ptr_array_index(state->members, i);
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(m->member));
        json_object_object_add(o, "container", json_object_new_string(m->container));
        json_object_object_add(o, "peer", json_object_new_string(m->peer));
        json_object_object_add(o, "since", json_object_new_int64(m->since));
        json_object_array_add(members, o);
    }
    for (i = 0; i < state->containers->len; i++) {
        const VlBurstContainer *c = g_ptr_array_index(state->containers, i);
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(c->name));
        json_object_object_add(o, "cooldown_until",
                               json_object_new_int64(c->cooldown_until));
        if (c->last_action) {
            json_object_object_add(o, "last_action",
                                   json_object_new_string(c->last_action));
            json_object_object_add(o, "last_action_time",
                                   json_object_new_int64(c->last_action_time));
        }
        json_object_array_add(containers, o);
    }
    json_object_object_add(root, "members", members);
    json_object_object_add(root, "containers", containers);
    return g_strconcat(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE),
                       "\n", NULL);
}

gboolean
vl_burst_state_save(const VlBurstState *state, const char *path, GError **error)
{
    g_autofree char *text = vl_burst_state_to_string(state);
    g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    g_auto(VlFd) fd = -1;
    g_auto(VlFd) dfd = -1;
    gsize len = strlen(text);
    gsize done = 0;

    if (g_mkdir_with_parents(dir, 0750) < 0) {
        vl_error_set_from_errno(error, errno,
                                "Cannot create the state directory '%s'", dir);
        return FALSE;
    }
    /* O_NOFOLLOW: a link planted as the temporary file is not followed. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        vl_error_set_from_errno(error, errno, "Cannot create '%s'", tmp);
        return FALSE;
    }
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            vl_error_set_from_errno(error, errno, "Cannot write '%s'", tmp);
            g_unlink(tmp);
            return FALSE;
        }
        done += (gsize)n;
    }
    if (fsync(fd) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot write '%s'", tmp);
        g_unlink(tmp);
        return FALSE;
    }
    if (rename(tmp, path) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot rename '%s' to '%s'", tmp, path);
        g_unlink(tmp);
        return FALSE;
    }
    /* The rename itself is durable only once the directory is synced. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd);
    return TRUE;
}

gboolean
vl_burst_state_set_aside(const char *path, char **moved_to, GError **error)
{
    g_autofree char *target = g_strconcat(path, ".corrupt", NULL);

    if (rename(path, target) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot rename '%s' to '%s'",
                                path, target);
        return FALSE;
    }
    if (moved_to)
        *moved_to = g_steal_pointer(&target);
    return TRUE;
}
