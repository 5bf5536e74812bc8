/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * audit.c: the container audit log, one JSON object per line
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "vl-autoptr.h"
#include "vl-error.h"

struct _VlAudit {
    char *path;
    int fd;
};

VlAuditRecord *
vl_audit_record_new(void)
{
    VlAuditRecord *record = g_new0(VlAuditRecord, 1);
    int i;

    for (i = 0; i < VL_INDICATOR_LAST; i++)
        record->values[i] = NAN;
    record->indicator = VL_INDICATOR_LAST;
    record->limit = NAN;
    return record;
}

void
vl_audit_record_free(VlAuditRecord *record)
{
    if (!record)
        return;
    g_free(record->container);
    g_free(record->member);
    g_strfreev(record->members);
    g_free(record->start);
    g_free(record->crossed);
    g_free(record->action);
    g_free(record->reason);
    g_free(record->outcome);
    g_free(record);
}

static int
open_log(const char *path, GError **error)
{
    g_auto(VlFd) fd = -1;
    struct stat st;
    int flags;

    /* O_NONBLOCK so that a FIFO planted at the path cannot hang us. */
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
              O_NONBLOCK, 0640);
    if (fd < 0) {
        vl_error_set_from_errno(error, errno, "Cannot open audit log '%s'",
                                path);
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot stat audit log '%s'",
                                path);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IO,
                    "Audit log '%s' is not a regular file", path);
        return -1;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        vl_error_set_from_errno(error, errno,
                                "Cannot set up audit log '%s'", path);
        return -1;
    }
    return g_steal_fd(&fd);
}

VlAudit *
vl_audit_open(const char *path, GError **error)
{
    VlAudit *audit;
    int fd;

    g_return_val_if_fail(path != NULL, NULL);

    fd = open_log(path, error);
    if (fd < 0)
        return NULL;
    audit = g_new0(VlAudit, 1);
    audit->path = g_strdup(path);
    audit->fd = fd;
    return audit;
}

void
vl_audit_free(VlAudit *audit)
{
    if (!audit)
        return;
    if (audit->fd >= 0)
        close(audit->fd);
    g_free(audit->path);
    g_free(audit);
}

gboolean
vl_audit_reopen(VlAudit *audit, GError **error)
{
    int fd;

    g_return_val_if_fail(audit != NULL, FALSE);

    fd = open_log(audit->path, error);
    if (fd < 0)
        return FALSE;
    if (audit->fd >= 0)
        close(audit->fd);
    audit->fd = fd;
    return TRUE;
}

static const char *
mode_to_string(VlContainerMode mode)
{
    return mode == VL_CONTAINER_MODE_ADVISE ? "advise" : "enforce";
}

/* A string that is valid UTF-8 whatever the bytes were. */
static json_object *
new_utf8_string(const char *s)
{
    g_autofree char *valid = NULL;

    if (!s)
        return NULL;
    if (g_utf8_validate(s, -1, NULL))
        return json_object_new_string(s);
    valid = g_utf8_make_valid(s, -1);
    return json_object_new_string(valid);
}

/* Ten significant digits: readable, and NaN/inf become null. */
static json_object *
new_number(double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    if (!isfinite(v))
        return NULL;
    g_ascii_formatd(buf, sizeof(buf), "%.10g", v);
    return json_object_new_double_s(v, buf);
}

static char *
format_time(gint64 time_us)
{
    g_autoptr(GDateTime) base = NULL;
    g_autoptr(GDateTime) dt = NULL;
    gint64 secs = time_us / G_USEC_PER_SEC;
    gint64 usecs = time_us % G_USEC_PER_SEC;

    if (usecs < 0) {
        secs--;
        usecs += G_USEC_PER_SEC;
    }
    base = g_date_time_new_from_unix_utc(secs);
    if (!base)
        return g_strdup("1970-01-01T00:00:00.000000Z");
    dt = g_date_time_add(base, usecs);
    return g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S.%fZ");
}

char *
vl_audit_record_to_json(const VlAuditRecord *record)
{
    g_autoptr(json_object) obj = json_object_new_object();
    json_object *indicators = json_object_new_object();
    json_object *members = NULL;
    g_autofree char *time = format_time(record->time_us);
    int i;

    json_object_object_add(obj, "time", json_object_new_string(time));
    json_object_object_add(obj, "container",
                           new_utf8_string(record->container ?
                                           record->container : ""));
    json_object_object_add(obj, "member", new_utf8_string(record->member));
    if (record->members) {
        members = json_object_new_array();
        for (i = 0; record->members[i]; i++)
            json_object_array_add(members,
                                  new_utf8_string(record->members[i]));
    }
    json_object_object_add(obj, "members", members);
    json_object_object_add(obj, "start", new_utf8_string(record->start));

    for (i = 0; i < VL_INDICATOR_LAST; i++)
        json_object_object_add(indicators, vl_indicator_to_string(i),
                               new_number(record->values[i]));
    json_object_object_add(obj, "indicators", indicators);

    if (record->indicator < VL_INDICATOR_LAST && record->crossed) {
        json_object *threshold = json_object_new_object();

        json_object_object_add(threshold, "indicator",
                               json_object_new_string(
                                   vl_indicator_to_string(record->indicator)));
        json_object_object_add(threshold, "crossed",
                               new_utf8_string(record->crossed));
        json_object_object_add(threshold, "limit", new_number(record->limit));
        json_object_object_add(obj, "threshold", threshold);
    } else {
        json_object_object_add(obj, "threshold", NULL);
    }

    json_object_object_add(obj, "action",
                           new_utf8_string(record->action ?
                                           record->action : "none"));
    json_object_object_add(obj, "reason", new_utf8_string(record->reason));
    json_object_object_add(obj, "mode",
                           json_object_new_string(mode_to_string(record->mode)));
    json_object_object_add(obj, "outcome", new_utf8_string(record->outcome));

    return g_strdup(json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

gboolean
vl_audit_append(VlAudit *audit, const VlAuditRecord *record, GError **error)
{
    g_autofree char *json = NULL;
    g_autofree char *line = NULL;
    gsize len;
    gsize done = 0;

    g_return_val_if_fail(audit != NULL && record != NULL, FALSE);

    json = vl_audit_record_to_json(record);
    line = g_strconcat(json, "\n", NULL);
    len = strlen(line);

    /*
     * One write() per line: with O_APPEND the kernel places it at the end
     * atomically, so concurrent writers never interleave within a line.
     * The loop only matters for a short write (a full disk).
     */
    while (done < len) {
        ssize_t n = write(audit->fd, line + done, len - done);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            vl_error_set_from_errno(error, errno,
                                    "Cannot write to audit log '%s'",
                                    audit->path);
            return FALSE;
        }
        done += (gsize) n;
    }
    return TRUE;
}

/* ---- reader -------------------------------------------------------- */

static gboolean
get_string(json_object *obj, const char *key, gboolean required, char **out,
           const char **why)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v) || !v) {
        if (required) {
            *why = key;
            return FALSE;
        }
        return TRUE;
    }
    if (!json_object_is_type(v, json_type_string)) {
        *why = key;
        return FALSE;
    }
    *out = g_strdup(json_object_get_string(v));
    return TRUE;
}

static gboolean
get_number(json_object *v, double *out)
{
    if (!v) {
        *out = NAN;
        return TRUE;
    }
    if (!json_object_is_type(v, json_type_double) &&
        !json_object_is_type(v, json_type_int))
        return FALSE;
    *out = json_object_get_double(v);
    return TRUE;
}

static gboolean
parse_time(const char *s, gint64 *out)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(s, NULL);

    if (!dt)
        return FALSE;
    *out = g_date_time_to_unix(dt) * G_USEC_PER_SEC +
           g_date_time_get_microsecond(dt);
    return TRUE;
}

static VlAuditRecord *
record_from_json(json_object *obj, const char **why)
{
    g_autoptr(VlAuditRecord) record = vl_audit_record_new();
    g_autofree char *time = NULL;
    g_autofree char *mode = NULL;
    json_object *v = NULL;
    int i;

    if (!get_string(obj, "time", TRUE, &time, why) ||
        !get_string(obj, "container", TRUE, &record->container, why) ||
        !get_string(obj, "member", FALSE, &record->member, why) ||
        !get_string(obj, "start", FALSE, &record->start, why) ||
        !get_string(obj, "action", TRUE, &record->action, why) ||
        !get_string(obj, "reason", FALSE, &record->reason, why) ||
        !get_string(obj, "mode", TRUE, &mode, why) ||
        !get_string(obj, "outcome", TRUE, &record->outcome, why))
        return NULL;
    if (!parse_time(time, &record->time_us)) {
        *why = "time";
        return NULL;
    }
    if (strcmp(mode, "advise") == 0) {
        record->mode = VL_CONTAINER_MODE_ADVISE;
    } else if (strcmp(mode, "enforce") == 0) {
        record->mode = VL_CONTAINER_MODE_ENFORCE;
    } else {
        *why = "mode";
        return NULL;
    }

    if (json_object_object_get_ex(obj, "members", &v) && v) {
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        size_t n;
        size_t j;

        if (!json_object_is_type(v, json_type_array)) {
            *why = "members";
            return NULL;
        }
        n = json_object_array_length(v);
        for (j = 0; j < n; j++) {
            json_object *e = json_object_array_get_idx(v, j);

            if (!json_object_is_type(e, json_type_string)) {
                *why = "members";
                return NULL;
            }
            g_ptr_array_add(names, g_strdup(json_object_get_string(e)));
        }
        g_ptr_array_add(names, NULL);
        record->members = (GStrv) g_ptr_array_steal(names, NULL);
    }

    if (!json_object_object_get_ex(obj, "indicators", &v) ||
        !json_object_is_type(v, json_type_object)) {
        *why = "indicators";
        return NULL;
    }
    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        json_object *n = NULL;

        json_object_object_get_ex(v, vl_indicator_to_string(i), &n);
        if (!get_number(n, &record->values[i])) {
            *why = "indicators";
            return NULL;
        }
    }

    if (json_object_object_get_ex(obj, "threshold", &v) && v) {
        g_autofree char *indicator = NULL;
        json_object *limit = NULL;

        if (!json_object_is_type(v, json_type_object) ||
            !get_string(v, "indicator", TRUE, &indicator, why) ||
            !get_string(v, "crossed", TRUE, &record->crossed, why)) {
            *why = "threshold";
            return NULL;
        }
        for (i = 0; i < VL_INDICATOR_LAST; i++) {
            if (strcmp(indicator, vl_indicator_to_string(i)) == 0)
                record->indicator = i;
        }
        json_object_object_get_ex(v, "limit", &limit);
        if (record->indicator == VL_INDICATOR_LAST ||
            !get_number(limit, &record->limit)) {
            *why = "threshold";
            return NULL;
        }
    }
    return g_steal_pointer(&record);
}

GPtrArray *
vl_audit_read_file(const char *path, GError **error)
{
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(json_tokener) tok = NULL;
    g_autofree char *contents = NULL;
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) lines = NULL;
    gsize len = 0;
    guint i;

    g_return_val_if_fail(path != NULL, NULL);

    if (!g_file_get_contents(path, &contents, &len, &local)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IO,
                    "Cannot read audit log '%s': %s", path, local->message);
        return NULL;
    }
    if (memchr(contents, '\0', len)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Audit log '%s' contains a NUL byte", path);
        return NULL;
    }

    records = g_ptr_array_new_with_free_func(
        (GDestroyNotify) vl_audit_record_free);
    tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                           JSON_TOKENER_VALIDATE_UTF8);
    lines = g_strsplit(contents, "\n", -1);
    for (i = 0; lines[i]; i++) {
        g_autoptr(json_object) obj = NULL;
        const char *why = NULL;
        VlAuditRecord *record;

        /* The last element is what follows the final newline. */
        if (!lines[i + 1] && lines[i][0] == '\0')
            break;

        json_tokener_reset(tok);
        obj = json_tokener_parse_ex(tok, lines[i], (int) strlen(lines[i]));
        if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != strlen(lines[i]) ||
            !json_object_is_type(obj, json_type_object)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Invalid audit log '%s' line %u: not one JSON object",
                        path, i + 1);
            return NULL;
        }
        record = record_from_json(obj, &why);
        if (!record) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Invalid audit log '%s' line %u: bad '%s'",
                        path, i + 1, why);
            return NULL;
        }
        g_ptr_array_add(records, record);
    }
    return g_steal_pointer(&records);
}
