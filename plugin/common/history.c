/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * history.c: the migration history file (see history.h)
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "history.h"
#include "history-priv.h"
#include "vl-autoptr.h"

#define HISTORY_VERSION 2
/* Still read: the same fields, with a lane count of another meaning. */
#define HISTORY_VERSION_1 1
/* Read at most this much of a file: its tail, which holds the recent runs
 * (rotation keeps files far smaller; this guards against a stray one). */
#define MAX_READ_BYTES (16 * 1024 * 1024)
#define DEFAULT_RECENT 10

VlHistoryRecord *
vl_history_record_new(void)
{
    VlHistoryRecord *r = g_new0(VlHistoryRecord, 1);

    r->predicted_time_s = NAN;
    r->move_overhead_s = NAN;
    r->load1 = NAN;
    return r;
}

void
vl_history_record_free(VlHistoryRecord *record)
{
    if (!record)
        return;
    g_free(record->domain);
    g_free(record);
}

double
vl_history_load_average(void)
{
    double load[1];

    if (getloadavg(load, 1) != 1 || !isfinite(load[0]) || load[0] < 0 ||
        load[0] > VL_HISTORY_MAX_LOAD)
        return NAN;
    return load[0];
}

VlHistory *
vl_history_new(void)
{
    VlHistory *h = g_new0(VlHistory, 1);

    h->records = g_ptr_array_new_with_free_func(
        (GDestroyNotify)vl_history_record_free);
    return h;
}

void
vl_history_free(VlHistory *history)
{
    if (!history)
        return;
    g_clear_pointer(&history->records, g_ptr_array_unref);
    g_free(history);
}

/* --- the line codec ------------------------------------------------- */

static gboolean
check_double(double v, gboolean allow_nan, const char *field, GError **error)
{
    if ((allow_nan && isnan(v)) || (isfinite(v) && v >= 0 && v <= 1e15))
        return TRUE;
    g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                "History record field '%s' must be a number from 0 to 1e15, not '%g'",
                field, v);
    return FALSE;
}

static gboolean
check_load(double v, GError **error)
{
    if (isnan(v) || (isfinite(v) && v >= 0 && v <= VL_HISTORY_MAX_LOAD))
        return TRUE;
    g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                "History record field 'load1' must be a number from 0 to %d, not '%g'",
                VL_HISTORY_MAX_LOAD, v);
    return FALSE;
}

static gboolean
check_record(const VlHistoryRecord *r, GError **error)
{
    if (!r->domain || !*r->domain) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_INVALID,
                            "History record field 'domain' is empty");
        return FALSE;
    }
    if (strlen(r->domain) > VL_HISTORY_MAX_DOMAIN ||
        !g_utf8_validate(r->domain, -1, NULL)) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_INVALID,
                            "History record field 'domain' must be valid UTF-8 of at most 1024 bytes");
        return FALSE;
    }
    if (r->time < 0 || r->memory_bytes > G_MAXINT64 ||
        r->processed_bytes > G_MAXINT64) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_INVALID,
                            "History record fields 'time', 'memory_bytes' and 'processed_bytes' must be from 0 to 2^63-1");
        return FALSE;
    }
    if (r->lanes > VL_HISTORY_MAX_LANES || r->channels > VL_HISTORY_MAX_CHANNELS) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "History record fields 'lanes' ('%u') and 'channels' ('%u') must be at most %d and %d",
                    r->lanes, r->channels, VL_HISTORY_MAX_LANES,
                    VL_HISTORY_MAX_CHANNELS);
        return FALSE;
    }
    return check_double(r->total_time_s, FALSE, "total_time_s", error) &&
           check_double(r->memory_bps, FALSE, "memory_bps", error) &&
           check_double(r->downtime_ms, FALSE, "downtime_ms", error) &&
           check_double(r->dirty_rate_bps, FALSE, "dirty_rate_bps", error) &&
           check_double(r->predicted_time_s, TRUE, "predicted_time_s", error) &&
           check_double(r->move_overhead_s, TRUE, "move_overhead_s", error) &&
           check_load(r->load1, error);
}

static void
add_double(json_object *obj, const char *key, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    /* Nine significant digits are plenty and keep the file readable
     * (json-c would otherwise print 38.8 as 38.799999999999997). */
    g_ascii_formatd(buf, sizeof(buf), "%.9g", v);
    json_object_object_add(obj, key, json_object_new_double_s(v, buf));
}

char *
vl_history_record_to_line(const VlHistoryRecord *r, GError **error)
{
    g_autoptr(json_object) obj = NULL;

    g_return_val_if_fail(r != NULL, NULL);

    if (!check_record(r, error))
        return NULL;

    obj = json_object_new_object();
    json_object_object_add(obj, "v", json_object_new_int(HISTORY_VERSION));
    json_object_object_add(obj, "time", json_object_new_int64(r->time));
    json_object_object_add(obj, "domain", json_object_new_string(r->domain));
    json_object_object_add(obj, "memory_bytes",
                           json_object_new_int64((gint64)r->memory_bytes));
    json_object_object_add(obj, "processed_bytes",
                           json_object_new_int64((gint64)r->processed_bytes));
    add_double(obj, "total_time_s", r->total_time_s);
    add_double(obj, "memory_bps", r->memory_bps);
    json_object_object_add(obj, "iterations",
                           json_object_new_int64(r->iterations));
    add_double(obj, "downtime_ms", r->downtime_ms);
    add_double(obj, "dirty_rate_bps", r->dirty_rate_bps);
    json_object_object_add(obj, "lanes", json_object_new_int64(r->lanes));
    json_object_object_add(obj, "channels",
                           json_object_new_int64(r->channels));
    if (!isnan(r->predicted_time_s))
        add_double(obj, "predicted_time_s", r->predicted_time_s);
    if (!isnan(r->move_overhead_s))
        add_double(obj, "move_overhead_s", r->move_overhead_s);
    if (!isnan(r->load1))
        add_double(obj, "load1", r->load1);

    return g_strdup(json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static gboolean
get_int(json_object *obj, const char *key, gint64 max, gint64 *out,
        GError **error)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_int)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "History line lacks integer '%s'", key);
        return FALSE;
    }
    errno = 0;
    *out = json_object_get_int64(v);
    if (errno != 0 || *out < 0 || *out > max) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "History line field '%s' is out of range", key);
        return FALSE;
    }
    return TRUE;
}

static gboolean
get_double(json_object *obj, const char *key, gboolean optional, double *out,
           GError **error)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v)) {
        if (optional) {
            *out = NAN;
            return TRUE;
        }
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "History line lacks number '%s'", key);
        return FALSE;
    }
    if (!json_object_is_type(v, json_type_double) &&
        !json_object_is_type(v, json_type_int)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "History line field '%s' is not a number", key);
        return FALSE;
    }
    *out = json_object_get_double(v);
    return check_double(*out, FALSE, key, error);
}

VlHistoryRecord *
vl_history_record_from_line(const char *line, gsize len, GError **error)
{
    g_autoptr(json_tokener) tok = NULL;
    g_autoptr(json_object) obj = NULL;
    g_autoptr(VlHistoryRecord) r = NULL;
    json_object *v = NULL;
    gint64 n = 0;
    gint64 version = 0;

    g_return_val_if_fail(line != NULL, NULL);

    if (len > VL_HISTORY_MAX_LINE) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "History line is longer than %d bytes", VL_HISTORY_MAX_LINE);
        return NULL;
    }
    tok = json_tokener_new_ex(4);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, line, (int)len);
    if (!obj || json_tokener_get_parse_end(tok) != len ||
        !json_object_is_type(obj, json_type_object)) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_INVALID,
                            "History line is not one JSON object");
        return NULL;
    }

    if (!get_int(obj, "v", G_MAXINT, &version, error))
        return NULL;
    if (version != HISTORY_VERSION && version != HISTORY_VERSION_1) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "History line has unknown version '%" G_GINT64_FORMAT "'",
                    version);
        return NULL;
    }

    r = vl_history_record_new();
    if (!get_int(obj, "time", G_MAXINT64, &r->time, error))
        return NULL;
    if (!json_object_object_get_ex(obj, "domain", &v) ||
        !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0 ||
        json_object_get_string_len(v) > VL_HISTORY_MAX_DOMAIN ||
        strlen(json_object_get_string(v)) != (gsize)json_object_get_string_len(v)) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_INVALID,
                            "History line lacks a usable 'domain'");
        return NULL;
    }
    r->domain = g_strdup(json_object_get_string(v));

    if (!get_int(obj, "memory_bytes", G_MAXINT64, &n, error))
        return NULL;
    r->memory_bytes = n;
    if (!get_int(obj, "processed_bytes", G_MAXINT64, &n, error))
        return NULL;
    r->processed_bytes = n;
    if (!get_int(obj, "iterations", G_MAXUINT, &n, error))
        return NULL;
    r->iterations = n;
    if (!get_int(obj, "lanes", VL_HISTORY_MAX_LANES, &n, error))
        return NULL;
    /* Version 1 counted the base path only when the policy listed it. */
    r->lanes = version == HISTORY_VERSION_1 ? VL_HISTORY_LANES_UNKNOWN : n;
    if (!get_int(obj, "channels", VL_HISTORY_MAX_CHANNELS, &n, error))
        return NULL;
    r->channels = n;

    if (!get_double(obj, "total_time_s", FALSE, &r->total_time_s, error) ||
        !get_double(obj, "memory_bps", FALSE, &r->memory_bps, error) ||
        !get_double(obj, "downtime_ms", FALSE, &r->downtime_ms, error) ||
        !get_double(obj, "dirty_rate_bps", FALSE, &r->dirty_rate_bps, error) ||
        !get_double(obj, "predicted_time_s", TRUE, &r->predicted_time_s, error) ||
        !get_double(obj, "move_overhead_s", TRUE, &r->move_overhead_s, error) ||
        !get_double(obj, "load1", TRUE, &r->load1, error))
        return NULL;
    if (!check_load(r->load1, error))
        return NULL;

    return g_steal_pointer(&r);
}

/* --- the file ------------------------------------------------------- */

static int
open_append(const char *path, struct stat *st, GError **error)
{
    g_auto(VlFd) fd = -1;

    /* O_RDWR only to peek at the last byte; every write still appends. */
    fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
              0640);
    if (fd < 0) {
        vl_error_set_from_errno(error, errno,
                                "Cannot open history file '%s'", path);
        return -1;
    }
    if (fstat(fd, st) < 0) {
        vl_error_set_from_errno(error, errno,
                                "Cannot stat history file '%s'", path);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IO,
                    "History file '%s' is not a regular file", path);
        return -1;
    }
    return g_steal_fd(&fd);
}

static gboolean
write_all(int fd, const char *buf, gsize len, const char *path,
          GError **error)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            vl_error_set_from_errno(error, errno,
                                    "Cannot write history file '%s'", path);
            return FALSE;
        }
        buf += n;
        len -= n;
    }
    return TRUE;
}

gboolean
vl_history_append(const char *path, const VlHistoryRecord *record,
                  gsize max_bytes, GError **error)
{
    g_autofree char *line = NULL;
    g_autofree char *buf = NULL;
    g_auto(VlFd) fd = -1;
    struct stat st;
    gboolean torn = FALSE;
    char last = '\n';

    g_return_val_if_fail(path != NULL, FALSE);
    g_return_val_if_fail(record != NULL, FALSE);

    if (!(line = vl_history_record_to_line(record, error)))
        return FALSE;
    if (strlen(line) + 1 > VL_HISTORY_MAX_LINE) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "History record for '%s' is longer than %d bytes",
                    record->domain, VL_HISTORY_MAX_LINE);
        return FALSE;
    }
    if (max_bytes == 0)
        max_bytes = VL_HISTORY_DEFAULT_MAX_BYTES;

    if ((fd = open_append(path, &st, error)) < 0)
        return FALSE;

    if (st.st_size > 0 && (gsize)st.st_size + strlen(line) + 1 > max_bytes) {
        g_autofree char *old = g_strconcat(path, ".1", NULL);

        if (rename(path, old) < 0) {
            vl_error_set_from_errno(error, errno,
                                    "Cannot rotate history file '%s'", path);
            return FALSE;
        }
        vl_fd_close(fd);
        fd = -1;
        if ((fd = open_append(path, &st, error)) < 0)
            return FALSE;
    }

    /* A crash may have left a line without its newline: end it, so that
     * only the torn line is lost, not this record too. */
    if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 &&
        last != '\n')
        torn = TRUE;

    buf = g_strconcat(torn ? "\n" : "", line, "\n", NULL);
    return write_all(fd, buf, strlen(buf), path, error);
}

static gboolean
read_tail(const char *path, char **data, gsize *len, gboolean *partial,
          GError **error)
{
    g_auto(VlFd) fd = -1;
    g_autofree char *buf = NULL;
    struct stat st;
    off_t off = 0;
    gsize want;
    gsize got = 0;

    *data = NULL;
    *len = 0;
    *partial = FALSE;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return TRUE;
        vl_error_set_from_errno(error, errno,
                                "Cannot open history file '%s'", path);
        return FALSE;
    }
    if (fstat(fd, &st) < 0) {
        vl_error_set_from_errno(error, errno,
                                "Cannot stat history file '%s'", path);
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IO,
                    "History file '%s' is not a regular file", path);
        return FALSE;
    }
    if (st.st_size > MAX_READ_BYTES) {
        off = st.st_size - MAX_READ_BYTES;
        *partial = TRUE;
    }
    want = st.st_size - off;
    buf = g_malloc(want + 1);
    while (got < want) {
        ssize_t n = pread(fd, buf + got, want - got, off + got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            vl_error_set_from_errno(error, errno,
                                    "Cannot read history file '%s'", path);
            return FALSE;
        }
        if (n == 0)
            break;      /* shrank under us: use what we have */
        got += n;
    }
    buf[got] = '\0';
    *data = g_steal_pointer(&buf);
    *len = got;
    return TRUE;
}

/* Two writers may record one migration: virt-lanesd (on the job's
 * completion) and the CLI that drove it, which knows more (its fixed
 * cost).  Same domain, same bytes to the byte, the same job time to the
 * millisecond (QEMU's, which both read), within a minute: the same run. */
#define SAME_RUN_WINDOW_S 60
#define SAME_RUN_LOOKBACK 8

static gboolean
same_run(const VlHistoryRecord *a, const VlHistoryRecord *b)
{
    return g_str_equal(a->domain, b->domain) &&
           a->memory_bytes == b->memory_bytes &&
           a->processed_bytes == b->processed_bytes &&
           fabs(a->total_time_s - b->total_time_s) < 0.001 &&
           ABS(a->time - b->time) <= SAME_RUN_WINDOW_S;
}

/* Adds @r, or merges it into a recent record of the same run (what one
 * line lacks, the other gives); takes @r. */
static void
add_record(VlHistory *h, VlHistoryRecord *r)
{
    guint i;

    for (i = h->records->len; i > 0 && h->records->len - i < SAME_RUN_LOOKBACK; i--) {
        VlHistoryRecord *kept = g_ptr_array_index(h->records, i - 1);

        if (!same_run(kept, r))
            continue;
        if (isnan(kept->predicted_time_s))
            kept->predicted_time_s = r->predicted_time_s;
        if (isnan(kept->move_overhead_s))
            kept->move_overhead_s = r->move_overhead_s;
        vl_history_record_free(r);
        return;
    }
    g_ptr_array_add(h->records, r);
}

static gboolean
load_file(VlHistory *h, const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    gboolean partial = FALSE;
    gsize start = 0;

    if (!read_tail(path, &data, &len, &partial, error))
        return FALSE;
    if (!data)
        return TRUE;

    while (start < len) {
        const char *nl = memchr(data + start, '\n', len - start);
        gsize end = nl ? (gsize)(nl - data) : len;
        gsize line_len = end - start;

        /* A tail read starts mid-line: that fragment is not a bad line. */
        if (partial) {
            partial = FALSE;
        } else if (line_len > 0) {
            VlHistoryRecord *r =
                vl_history_record_from_line(data + start, line_len, NULL);

            if (r)
                add_record(h, r);
            else
                h->bad_lines++;
        }
        start = end + 1;
    }
    return TRUE;
}

VlHistory *
vl_history_load(const char *path, GError **error)
{
    g_autoptr(VlHistory) h = NULL;
    g_autofree char *old = NULL;

    g_return_val_if_fail(path != NULL, NULL);

    h = vl_history_new();
    old = g_strconcat(path, ".1", NULL);
    if (!load_file(h, old, error) || !load_file(h, path, error))
        return NULL;
    return g_steal_pointer(&h);
}

/* --- what the history teaches -------------------------------------- */

static int
compare_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static double
median_of(GArray *values)
{
    double *v = (double *)(void *)values->data;

    g_array_sort(values, compare_double);
    return values->len % 2 ? v[values->len / 2]
                           : (v[values->len / 2 - 1] + v[values->len / 2]) / 2;
}

/* What a record says of one learned figure: NAN when nothing. */
typedef double (*RecordValueFunc)(const VlHistoryRecord *r, gconstpointer data);

/* The median of @value over the @max_recent (0 = 10) most recent records
 * that have one; FALSE when none has. */
static gboolean
recent_median(const VlHistory *history, guint max_recent,
              RecordValueFunc value, gconstpointer data,
              double *median, guint *count)
{
    g_autoptr(GArray) values = g_array_new(FALSE, FALSE, sizeof(double));
    guint i;

    if (max_recent == 0)
        max_recent = DEFAULT_RECENT;
    for (i = history->records->len; i > 0 && values->len < max_recent; i--) {
        double v = value(g_ptr_array_index(history->records, i - 1), data);

        if (!isnan(v))
            g_array_append_val(values, v);
    }
    if (values->len == 0)
        return FALSE;
    if (count)
        *count = values->len;
    *median = median_of(values);
    return TRUE;
}

static double
record_bps(const VlHistoryRecord *r, gconstpointer data)
{
    guint lanes = *(const guint *)data;

    return lanes != VL_HISTORY_LANES_UNKNOWN && r->lanes == lanes &&
        r->memory_bps > 0 ? r->memory_bps : NAN;
}

gboolean
vl_history_learned_bps(const VlHistory *history, guint lanes,
                       guint max_recent, double *bps)
{
    g_return_val_if_fail(history != NULL, FALSE);
    g_return_val_if_fail(bps != NULL, FALSE);

    return recent_median(history, max_recent, record_bps, &lanes, bps, NULL);
}

static double
record_job_overhead(const VlHistoryRecord *r, gconstpointer data G_GNUC_UNUSED)
{
    double o;

    if (!(r->memory_bps > 0) || !(r->total_time_s > 0))
        return NAN;
    o = r->total_time_s - r->processed_bytes / r->memory_bps;
    return o >= 0 && o <= 60 ? o : NAN;
}

gboolean
vl_history_learned_job_overhead(const VlHistory *history, guint max_recent,
                                double *overhead_s)
{
    g_return_val_if_fail(history != NULL, FALSE);
    g_return_val_if_fail(overhead_s != NULL, FALSE);

    return recent_median(history, max_recent, record_job_overhead, NULL,
                         overhead_s, NULL);
}

static double
record_move_overhead(const VlHistoryRecord *r, gconstpointer data G_GNUC_UNUSED)
{
    return r->move_overhead_s;
}

gboolean
vl_history_learned_overhead(const VlHistory *history, guint max_recent,
                            double *overhead_s, guint *count)
{
    g_return_val_if_fail(history != NULL, FALSE);
    g_return_val_if_fail(overhead_s != NULL, FALSE);

    return recent_median(history, max_recent, record_move_overhead, NULL,
                         overhead_s, count);
}

gboolean
vl_history_prediction_error(const VlHistory *history, guint max_recent,
                            double *mape, double *p90, guint *count)
{
    g_autoptr(GArray) errors = NULL;
    double sum = 0;
    double *v;
    guint i;

    g_return_val_if_fail(history != NULL, FALSE);

    errors = g_array_new(FALSE, FALSE, sizeof(double));
    for (i = history->records->len; i > 0; i--) {
        const VlHistoryRecord *r = g_ptr_array_index(history->records, i - 1);
        double e;

        if (max_recent && errors->len >= max_recent)
            break;
        if (isnan(r->predicted_time_s) || r->total_time_s <= 0)
            continue;
        e = fabs(r->predicted_time_s - r->total_time_s) / r->total_time_s;
        g_array_append_val(errors, e);
        sum += e;
    }
    if (errors->len == 0)
        return FALSE;

    g_array_sort(errors, compare_double);
    v = (double *)(void *)errors->data;
    if (mape)
        *mape = sum / errors->len;
    if (p90)
        *p90 = v[(guint)ceil(0.9 * errors->len) - 1];
    if (count)
        *count = errors->len;
    return TRUE;
}
