/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-reader.h: strict JSON for admin-written files, with errors that
 * name the place
 *
 * vl_json_parse() accepts RFC 8259 JSON only and reports syntax errors
 * as "NAME:LINE:COLUMN: message".  json-c's JSON_TOKENER_STRICT alone
 * is not enough for that: json-c 0.16 still takes 'single quotes',
 * NaN and Infinity, raw control characters inside strings and "1.",
 * silently saturates integers that do not fit in 64 bits and keeps the
 * last of two equal keys.  So a small scanner checks the text first
 * (and finds duplicate keys), then json-c builds the tree.
 *
 * VlJsonReader walks the tree and keeps the JSON path of the value at
 * hand (".containers[0].indicators.cpu"), so that semantic errors read
 * "NAME: PATH: message".  Its getters type-check and range-check one
 * member each; an absent optional member leaves the output untouched,
 * so callers store the default first.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

/* Deeper nesting is refused (json-c's own limit is 32). */
#define VL_JSON_MAX_DEPTH 20

/**
 * vl_json_parse:
 * @name: the file name used in messages (borrowed)
 * @data: the text, not necessarily NUL-terminated (borrowed)
 * @length: its length in bytes
 *
 * Returns: (transfer full): the parsed value, or NULL with
 * VL_ERROR_POLICY set.  A top-level null is refused: json-c represents
 * null as NULL.  (Nested nulls are NULL members; json_object_get_type()
 * reports them as json_type_null.)
 */
json_object *vl_json_parse(const char *name, const char *data, gsize length,
                           GError **error);

/* Line and column (both from 1; the column counts UTF-8 characters) of
 * byte @offset of @data. */
void vl_json_offset_to_line(const char *data, gsize length, gsize offset,
                            guint *line, guint *column);

/* Quotes @value for a message: control characters are escaped and a
 * long value is cut at 64 characters.  The result never contains a
 * newline.  Caller frees. */
char *vl_json_quote(const char *value);

typedef struct _VlJsonReader VlJsonReader;

typedef enum {
    VL_JSON_OPTIONAL = 0,
    VL_JSON_REQUIRED = 1 << 0,
    VL_JSON_MIN_EXCLUSIVE = 1 << 1, /* doubles: the minimum itself is refused */
    VL_JSON_UNIQUE = 1 << 2,        /* string arrays: no value twice */
} VlJsonFlags;

/* Checks a string; returns NULL when it is fine, or an allocated reason
 * that the reader prefixes with the file name and path. */
typedef char *(*VlJsonCheckFunc)(const char *value);

/* @name (copied) is the file name used in messages. */
VlJsonReader *vl_json_reader_new(const char *name);
void vl_json_reader_free(VlJsonReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlJsonReader, vl_json_reader_free)

/* Path handling: every push is undone by exactly one pop. */
void vl_json_reader_push_key(VlJsonReader *reader, const char *key);
void vl_json_reader_push_index(VlJsonReader *reader, gsize index);
void vl_json_reader_pop(VlJsonReader *reader);

/* The current path, "" at the top (borrowed, valid until the next push
 * or pop). */
const char *vl_json_reader_get_path(VlJsonReader *reader);

/* Sets "NAME: PATH: message" (or "NAME: message" at the top) in
 * VL_ERROR_POLICY.  Always returns FALSE, for "return ...;". */
gboolean vl_json_reader_error(VlJsonReader *reader, GError **error,
                              const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Same, for the member @key of the current object. */
gboolean vl_json_reader_error_at(VlJsonReader *reader, const char *key,
                                 GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* "a string", "an integer", ... for messages. */
const char *vl_json_type_describe(json_object *value);

/**
 * vl_json_reader_check_object:
 * @value: the value at the current path (borrowed)
 * @keys: NULL-terminated list of the keys it may hold besides
 *   "description", which is always allowed and must be a string
 *
 * Fails unless @value is an object with only known keys.
 */
gboolean vl_json_reader_check_object(VlJsonReader *reader, json_object *value,
                                     const char *const *keys, GError **error);

/* Member getters.  @object is the current object (borrowed).  When @key
 * is absent they fail with VL_JSON_REQUIRED and otherwise return TRUE
 * without touching the output.  On failure the output is untouched. */
gboolean vl_json_reader_get_bool(VlJsonReader *reader, json_object *object,
                                 const char *key, VlJsonFlags flags,
                                 gboolean *out, GError **error);
gboolean vl_json_reader_get_uint(VlJsonReader *reader, json_object *object,
                                 const char *key, VlJsonFlags flags,
                                 guint min, guint max, guint *out,
                                 GError **error);
gboolean vl_json_reader_get_double(VlJsonReader *reader, json_object *object,
                                   const char *key, VlJsonFlags flags,
                                   double min, double max, double *out,
                                   GError **error);
/* *@out is freed and replaced on success.  @check may be NULL. */
gboolean vl_json_reader_get_string(VlJsonReader *reader, json_object *object,
                                   const char *key, VlJsonFlags flags,
                                   VlJsonCheckFunc check, char **out,
                                   GError **error);
/* @names is NULL-terminated; *@out becomes the index of the match. */
gboolean vl_json_reader_get_enum(VlJsonReader *reader, json_object *object,
                                 const char *key, VlJsonFlags flags,
                                 const char *const *names, guint *out,
                                 GError **error);
/* An array of at most @max_length strings; *@out is freed and replaced. */
gboolean vl_json_reader_get_strv(VlJsonReader *reader, json_object *object,
                                 const char *key, VlJsonFlags flags,
                                 guint max_length, VlJsonCheckFunc check,
                                 GStrv *out, GError **error);
/* An array of at most @max_length elements; *@out is borrowed from
 * @object, NULL when absent. */
gboolean vl_json_reader_get_array(VlJsonReader *reader, json_object *object,
                                  const char *key, VlJsonFlags flags,
                                  guint max_length, json_object **out,
                                  GError **error);

G_END_DECLS
