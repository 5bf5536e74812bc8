/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <math.h>
#include <string.h>

#include "json-reader.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* Values quoted in messages are cut here, so one line stays readable. */
#define QUOTE_MAX_CHARS 64

/* ---- messages ------------------------------------------------------- */

void
vl_json_offset_to_line(const char *data, gsize length, gsize offset,
                       guint *line, guint *column)
{
    guint l = 1;
    guint c = 1;
    gsize i;

    if (offset > length)
        offset = length;

    for (i = 0; i < offset; i++) {
        guchar b = data[i];

        if (b == '\n') {
            l++;
            c = 1;
        } else if ((b & 0xC0) != 0x80) {
            /* Count characters, not bytes: continuation bytes of a UTF-8
             * sequence do not move an editor's cursor. */
            c++;
        }
    }
    *line = l;
    *column = c;
}

static void
append_printable(GString *out, const char *value, gsize length)
{
    guint chars = 0;
    gsize i = 0;

    while (i < length) {
        guchar b = value[i];
        gunichar ch;
        gint n;

        if (chars++ == QUOTE_MAX_CHARS) {
            g_string_append(out, "...");
            return;
        }
        if (b == '\n') {
            g_string_append(out, "\\n");
        } else if (b == '\t') {
            g_string_append(out, "\\t");
        } else if (b == '\r') {
            g_string_append(out, "\\r");
        } else if (b < 0x20 || b == 0x7F) {
            g_string_append_printf(out, "\\x%02x", b);
        } else if (b < 0x80) {
            g_string_append_c(out, b);
        } else {
            ch = g_utf8_get_char_validated(value + i, length - i);
            if (ch == (gunichar) -1 || ch == (gunichar) -2) {
                g_string_append_printf(out, "\\x%02x", b);
            } else {
                n = g_utf8_skip[b];
                g_string_append_len(out, value + i, n);
                i += n;
                continue;
            }
        }
        i++;
    }
}

char *
vl_json_quote(const char *value)
{
    GString *out = g_string_new(NULL);

    if (value)
        append_printable(out, value, strlen(value));
    return g_string_free(out, FALSE);
}

/* Appends ".key", or ["key"] when the key is not a plain identifier. */
static void
path_append_key(GString *path, const char *key)
{
    gboolean plain = g_ascii_isalpha(key[0]) || key[0] == '_';
    const char *p;

    for (p = key; *p && plain; p++) {
        if (!g_ascii_isalnum(*p) && *p != '_')
            plain = FALSE;
    }
    if (plain) {
        g_string_append_c(path, '.');
        g_string_append(path, key);
    } else {
        g_string_append(path, "[\"");
        append_printable(path, key, strlen(key));
        g_string_append(path, "\"]");
    }
}

/* ---- the strict scanner ------------------------------------------- */

typedef struct {
    const char *name;
    const char *data;
    gsize length;
    gsize pos;
    guint depth;
    GString *path;
} VlJsonScanner;

static gboolean scan_value(VlJsonScanner *s, GError **error);

static gboolean G_GNUC_PRINTF(4, 5)
scan_fail(VlJsonScanner *s, gsize offset, GError **error, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    guint line = 0;
    guint column = 0;
    va_list args;

    va_start(args, fmt);
    msg = g_strdup_vprintf(fmt, args);
    va_end(args);

    vl_json_offset_to_line(s->data, s->length, offset, &line, &column);
    g_set_error(error, VL_ERROR, VL_ERROR_POLICY, "%s:%u:%u: %s",
                s->name, line, column, msg);
    return FALSE;
}

/* The character at @offset, printable, for "found 'x'" messages. */
static char *
describe_char(VlJsonScanner *s, gsize offset)
{
    GString *out = g_string_new(NULL);
    guchar b;
    gunichar ch;

    if (offset >= s->length)
        return g_string_free(out, FALSE);

    b = s->data[offset];
    if (b < 0x80) {
        append_printable(out, s->data + offset, 1);
    } else {
        ch = g_utf8_get_char_validated(s->data + offset, s->length - offset);
        if (ch == (gunichar) -1 || ch == (gunichar) -2)
            g_string_append_printf(out, "\\x%02x", b);
        else
            g_string_append_len(out, s->data + offset, g_utf8_skip[b]);
    }
    return g_string_free(out, FALSE);
}

static void
skip_ws(VlJsonScanner *s)
{
    while (s->pos < s->length) {
        char c = s->data[s->pos];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        s->pos++;
    }
}

static gboolean
at_end(VlJsonScanner *s, GError **error)
{
    if (s->pos < s->length)
        return FALSE;
    scan_fail(s, s->length, error, "unexpected end of file");
    return TRUE;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of a \u escape that starts at @offset. */
static gboolean
read_u_escape(VlJsonScanner *s, gsize offset, gunichar *out, GError **error)
{
    gunichar cp = 0;
    int i;

    if (offset + 6 > s->length)
        return scan_fail(s, offset, error,
                         "invalid '\\u' escape (4 hex digits must follow)");
    for (i = 2; i < 6; i++) {
        int h = hex_value(s->data[offset + i]);

        if (h < 0)
            return scan_fail(s, offset, error,
                             "invalid '\\u' escape (4 hex digits must follow)");
        cp = cp * 16 + h;
    }
    *out = cp;
    return TRUE;
}

/* Scans the string at s->pos; appends its decoded value to @out if
 * given. */
static gboolean
scan_string(VlJsonScanner *s, GString *out, GError **error)
{
    gsize start = s->pos;

    s->pos++;
    for (;;) {
        guchar c;

        if (s->pos >= s->length)
            return scan_fail(s, start, error, "unterminated string");

        c = s->data[s->pos];
        if (c == '"') {
            s->pos++;
            return TRUE;
        }

        if (c == '\\') {
            gsize esc = s->pos;
            char e;
            gunichar cp = 0;
            gunichar low = 0;

            if (esc + 1 >= s->length)
                return scan_fail(s, start, error, "unterminated string");
            e = s->data[esc + 1];
            switch (e) {
            case '"': case '\\': case '/':
                cp = e;
                break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (!read_u_escape(s, esc, &cp, error))
                    return FALSE;
                if (cp == 0) {
                    /* Every string ends up as a C string. */
                    return scan_fail(s, esc, error,
                                     "'\\u0000' is not allowed in a string");
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return scan_fail(s, esc, error,
                                     "unpaired surrogate '\\u%04x' in a string",
                                     cp);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (esc + 12 > s->length ||
                        s->data[esc + 6] != '\\' || s->data[esc + 7] != 'u' ||
                        !read_u_escape(s, esc + 6, &low, NULL) ||
                        low < 0xDC00 || low > 0xDFFF)
                        return scan_fail(s, esc, error,
                                         "unpaired surrogate '\\u%04x' in a string",
                                         cp);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    s->pos += 6;
                }
                s->pos += 4;
                break;
            default: {
                g_autofree char *what = describe_char(s, esc + 1);

                return scan_fail(s, esc, error,
                                 "invalid escape '\\%s' in a string", what);
            }
            }
            s->pos += 2;
            if (out)
                g_string_append_unichar(out, cp);
            continue;
        }

        if (c == '\n')
            return scan_fail(s, start, error,
                             "unterminated string (a newline inside a string must be written '\\n')");
        if (c < 0x20)
            return scan_fail(s, s->pos, error,
                             "control character U+%04X must be escaped in a string",
                             c);

        if (c >= 0x80) {
            gunichar ch = g_utf8_get_char_validated(s->data + s->pos,
                                                    s->length - s->pos);

            if (ch == (gunichar) -1 || ch == (gunichar) -2)
                return scan_fail(s, s->pos, error, "invalid UTF-8 in a string");
            if (out)
                g_string_append_len(out, s->data + s->pos, g_utf8_skip[c]);
            s->pos += g_utf8_skip[c];
            continue;
        }

        if (out)
            g_string_append_c(out, c);
        s->pos++;
    }
}

static gboolean
is_digit(VlJsonScanner *s, gsize offset)
{
    return offset < s->length && g_ascii_isdigit(s->data[offset]);
}

static gboolean
scan_number(VlJsonScanner *s, GError **error)
{
    gsize start = s->pos;
    gboolean integer = TRUE;

    if (s->data[s->pos] == '-')
        s->pos++;

    if (is_digit(s, s->pos) && s->data[s->pos] == '0') {
        s->pos++;
        if (is_digit(s, s->pos))
            return scan_fail(s, start, error,
                             "invalid number (no leading zeros in JSON)");
    } else if (is_digit(s, s->pos)) {
        while (is_digit(s, s->pos))
            s->pos++;
    } else {
        return scan_fail(s, start, error, "invalid number (a digit must follow '-')");
    }

    if (s->pos < s->length && s->data[s->pos] == '.') {
        integer = FALSE;
        s->pos++;
        if (!is_digit(s, s->pos))
            return scan_fail(s, start, error,
                             "invalid number (a digit must follow '.')");
        while (is_digit(s, s->pos))
            s->pos++;
    }

    if (s->pos < s->length && (s->data[s->pos] == 'e' || s->data[s->pos] == 'E')) {
        integer = FALSE;
        s->pos++;
        if (s->pos < s->length && (s->data[s->pos] == '+' || s->data[s->pos] == '-'))
            s->pos++;
        if (!is_digit(s, s->pos))
            return scan_fail(s, start, error,
                             "invalid number (the exponent has no digits)");
        while (is_digit(s, s->pos))
            s->pos++;
    }

    if (integer) {
        /* json-c would saturate silently; an integer that large is a
         * mistake in any policy. */
        g_autofree char *text = g_strndup(s->data + start, s->pos - start);
        gint64 v = 0;

        if (!g_ascii_string_to_signed(text, 10, G_MININT64, G_MAXINT64, &v, NULL))
            return scan_fail(s, start, error,
                             "integer %s does not fit in 64 bits", text);
    }
    return TRUE;
}

/* A bare word where a value belongs: true, false, null or a mistake. */
static gboolean
scan_word(VlJsonScanner *s, GError **error)
{
    gsize start = s->pos;
    g_autofree char *word = NULL;

    while (s->pos < s->length &&
           (g_ascii_isalnum(s->data[s->pos]) || s->data[s->pos] == '_'))
        s->pos++;

    word = g_strndup(s->data + start, s->pos - start);
    if (g_str_equal(word, "true") || g_str_equal(word, "false") ||
        g_str_equal(word, "null"))
        return TRUE;
    return scan_fail(s, start, error,
                     "'%s' is not a JSON value (strings need double quotes; true, false and null are lower case)",
                     word);
}

/* A comment where a separator belongs, as in "1, // why". */
static gboolean
is_comment(VlJsonScanner *s, GError **error)
{
    if (s->data[s->pos] != '/')
        return FALSE;
    scan_fail(s, s->pos, error, "comments are not allowed in JSON");
    return TRUE;
}

static gboolean
unexpected_value(VlJsonScanner *s, GError **error)
{
    char c = s->data[s->pos];
    g_autofree char *what = describe_char(s, s->pos);

    if (c == '\'')
        return scan_fail(s, s->pos, error, "strings must be in double quotes");
    if (c == '/')
        return scan_fail(s, s->pos, error, "comments are not allowed in JSON");
    return scan_fail(s, s->pos, error, "expected a value, found '%s'", what);
}

static gboolean
scan_object(VlJsonScanner *s, GError **error)
{
    g_autoptr(GHashTable) keys = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                       g_free, NULL);
    gsize comma = 0;
    gboolean after_comma = FALSE;

    s->pos++;
    skip_ws(s);
    if (s->pos < s->length && s->data[s->pos] == '}') {
        s->pos++;
        return TRUE;
    }

    for (;;) {
        g_autoptr(GString) key = g_string_new(NULL);
        gsize key_start;
        gsize path_len = s->path->len;

        skip_ws(s);
        if (at_end(s, error))
            return FALSE;
        if (s->data[s->pos] != '"') {
            g_autofree char *what = describe_char(s, s->pos);

            if (after_comma && s->data[s->pos] == '}')
                return scan_fail(s, comma, error, "trailing comma before '}'");
            if (is_comment(s, error))
                return FALSE;
            if (s->data[s->pos] == '\'')
                return scan_fail(s, s->pos, error, "keys must be in double quotes");
            return scan_fail(s, s->pos, error,
                             "expected a key in double quotes, found '%s'", what);
        }

        key_start = s->pos;
        if (!scan_string(s, key, error))
            return FALSE;
        if (g_hash_table_contains(keys, key->str)) {
            g_autofree char *q = vl_json_quote(key->str);

            return scan_fail(s, key_start, error, "duplicate key '%s' in %s", q,
                             s->path->len ? s->path->str : "the top-level object");
        }
        g_hash_table_add(keys, g_strdup(key->str));

        skip_ws(s);
        if (at_end(s, error))
            return FALSE;
        if (is_comment(s, error))
            return FALSE;
        if (s->data[s->pos] != ':') {
            g_autofree char *q = vl_json_quote(key->str);
            g_autofree char *what = describe_char(s, s->pos);

            return scan_fail(s, s->pos, error,
                             "expected ':' after key '%s', found '%s'", q, what);
        }
        s->pos++;

        path_append_key(s->path, key->str);
        if (!scan_value(s, error))
            return FALSE;
        g_string_truncate(s->path, path_len);

        skip_ws(s);
        if (at_end(s, error))
            return FALSE;
        if (s->data[s->pos] == '}') {
            s->pos++;
            return TRUE;
        }
        if (is_comment(s, error))
            return FALSE;
        if (s->data[s->pos] != ',') {
            g_autofree char *q = vl_json_quote(key->str);
            g_autofree char *what = describe_char(s, s->pos);

            return scan_fail(s, s->pos, error,
                             "expected ',' or '}' after the value of '%s', found '%s'",
                             q, what);
        }
        comma = s->pos++;
        after_comma = TRUE;
    }
}

static gboolean
scan_array(VlJsonScanner *s, GError **error)
{
    gsize index = 0;
    gsize comma = 0;
    gboolean after_comma = FALSE;

    s->pos++;
    skip_ws(s);
    if (s->pos < s->length && s->data[s->pos] == ']') {
        s->pos++;
        return TRUE;
    }

    for (;;) {
        gsize path_len = s->path->len;

        skip_ws(s);
        if (at_end(s, error))
            return FALSE;
        if (after_comma && s->data[s->pos] == ']')
            return scan_fail(s, comma, error, "trailing comma before ']'");

        g_string_append_printf(s->path, "[%" G_GSIZE_FORMAT "]", index++);
        if (!scan_value(s, error))
            return FALSE;
        g_string_truncate(s->path, path_len);

        skip_ws(s);
        if (at_end(s, error))
            return FALSE;
        if (s->data[s->pos] == ']') {
            s->pos++;
            return TRUE;
        }
        if (is_comment(s, error))
            return FALSE;
        if (s->data[s->pos] != ',') {
            g_autofree char *what = describe_char(s, s->pos);

            return scan_fail(s, s->pos, error,
                             "expected ',' or ']' after an array element, found '%s'",
                             what);
        }
        comma = s->pos++;
        after_comma = TRUE;
    }
}

static gboolean
scan_value(VlJsonScanner *s, GError **error)
{
    char c;
    gboolean ok;

    skip_ws(s);
    if (at_end(s, error))
        return FALSE;

    c = s->data[s->pos];
    if (c == '{' || c == '[') {
        if (s->depth >= VL_JSON_MAX_DEPTH)
            return scan_fail(s, s->pos, error,
                             "nesting deeper than %d levels", VL_JSON_MAX_DEPTH);
        s->depth++;
        ok = c == '{' ? scan_object(s, error) : scan_array(s, error);
        s->depth--;
        return ok;
    }
    if (c == '"')
        return scan_string(s, NULL, error);
    if (c == '-' || g_ascii_isdigit(c))
        return scan_number(s, error);
    if (g_ascii_isalpha(c))
        return scan_word(s, error);
    return unexpected_value(s, error);
}

json_object *
vl_json_parse(const char *name, const char *data, gsize length, GError **error)
{
    g_autoptr(GString) path = g_string_new(NULL);
    VlJsonScanner s = { name, data, length, 0, 0, path };
    g_autoptr(json_tokener) tok = NULL;
    g_autoptr(json_object) root = NULL;
    enum json_tokener_error jerr;

    g_return_val_if_fail(name != NULL, NULL);
    g_return_val_if_fail(data != NULL || length == 0, NULL);

    if (length >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        scan_fail(&s, 0, error,
                  "the file starts with a byte-order mark, which strict JSON does not allow");
        return NULL;
    }

    skip_ws(&s);
    if (s.pos >= length) {
        scan_fail(&s, s.pos, error, "no JSON value (the file is empty)");
        return NULL;
    }
    if (!scan_value(&s, error))
        return NULL;
    skip_ws(&s);
    if (s.pos < length && is_comment(&s, error))
        return NULL;
    if (s.pos < length) {
        scan_fail(&s, s.pos, error, "unexpected data after the top-level value");
        return NULL;
    }

    /* The text is valid strict JSON now; json-c builds the tree.  Its
     * own strict mode stays on as a second opinion. */
    if (length > G_MAXINT) {
        scan_fail(&s, 0, error, "the file is too large");
        return NULL;
    }
    tok = json_tokener_new_ex(VL_JSON_MAX_DEPTH + 1);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, data, (int) length);
    jerr = json_tokener_get_error(tok);
    if (!root && jerr == json_tokener_continue) {
        /* A number at the very end may go on as far as json-c knows. */
        root = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
    }
    if (jerr != json_tokener_success) {
        scan_fail(&s, json_tokener_get_parse_end(tok), error,
                  "invalid JSON: %s", json_tokener_error_desc(jerr));
        return NULL;
    }
    if (!root) {
        /* json-c's null is a NULL pointer, which we cannot return. */
        g_set_error(error, VL_ERROR, VL_ERROR_POLICY,
                    "%s: the top-level value must not be null", name);
        return NULL;
    }
    return g_steal_pointer(&root);
}

/* ---- the tree reader ------------------------------------------------ */

struct _VlJsonReader {
    char *name;
    GString *path;
    GArray *marks;      /* gsize: path lengths to return to */
};

VlJsonReader *
vl_json_reader_new(const char *name)
{
    VlJsonReader *reader = g_new0(VlJsonReader, 1);

    reader->name = g_strdup(name);
    reader->path = g_string_new(NULL);
    reader->marks = g_array_new(FALSE, FALSE, sizeof(gsize));
    return reader;
}

void
vl_json_reader_free(VlJsonReader *reader)
{
    if (!reader)
        return;
    g_free(reader->name);
    if (reader->path)
        g_string_free(reader->path, TRUE);
    if (reader->marks)
        g_array_unref(reader->marks);
    g_free(reader);
}

void
vl_json_reader_push_key(VlJsonReader *reader, const char *key)
{
    gsize len = reader->path->len;

    g_array_append_val(reader->marks, len);
    path_append_key(reader->path, key);
}

void
vl_json_reader_push_index(VlJsonReader *reader, gsize index)
{
    gsize len = reader->path->len;

    g_array_append_val(reader->marks, len);
    g_string_append_printf(reader->path, "[%" G_GSIZE_FORMAT "]", index);
}

void
vl_json_reader_pop(VlJsonReader *reader)
{
    gsize len;

    g_return_if_fail(reader->marks->len > 0);
    len = g_array_index(reader->marks, gsize, reader->marks->len - 1);
    g_array_set_size(reader->marks, reader->marks->len - 1);
    g_string_truncate(reader->path, len);
}

const char *
vl_json_reader_get_path(VlJsonReader *reader)
{
    return reader->path->str;
}

static void
reader_error_va(VlJsonReader *reader, GError **error, const char *fmt,
                va_list args)
{
    g_autofree char *msg = g_strdup_vprintf(fmt, args);

    if (reader->path->len > 0)
        g_set_error(error, VL_ERROR, VL_ERROR_POLICY, "%s: %s: %s",
                    reader->name, reader->path->str, msg);
    else
        g_set_error(error, VL_ERROR, VL_ERROR_POLICY, "%s: %s",
                    reader->name, msg);
}

gboolean
vl_json_reader_error(VlJsonReader *reader, GError **error, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    reader_error_va(reader, error, fmt, args);
    va_end(args);
    return FALSE;
}

gboolean
vl_json_reader_error_at(VlJsonReader *reader, const char *key, GError **error,
                        const char *fmt, ...)
{
    va_list args;

    vl_json_reader_push_key(reader, key);
    va_start(args, fmt);
    reader_error_va(reader, error, fmt, args);
    va_end(args);
    vl_json_reader_pop(reader);
    return FALSE;
}

const char *
vl_json_type_describe(json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_int:
    case json_type_double:
        return "a number";
    case json_type_string:
        return "a string";
    case json_type_array:
        return "an array";
    case json_type_object:
        return "an object";
    }
    return "an unknown value";
}

/* The value as written in the file (json-c keeps the text of parsed
 * doubles), for "not 1.50" messages.  Borrowed from @value. */
static const char *
number_text(json_object *value)
{
    return json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN);
}

/* Bounds as an admin writes them: 1000000, not 1e+06. */
static char *
format_bound(double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        return g_strdup_printf("%.0f", v);
    return g_strdup_printf("%g", v);
}

static guint
edit_distance(const char *a, const char *b)
{
    gsize la = strlen(a);
    gsize lb = strlen(b);
    g_autofree guint *row = g_new(guint, lb + 1);
    gsize i;
    gsize j;

    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        guint diag = row[0];

        row[0] = i;
        for (j = 1; j <= lb; j++) {
            guint up = row[j];
            guint best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);

            best = MIN(best, up + 1);
            best = MIN(best, row[j - 1] + 1);
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* A known key within two edits of @key, to suggest for a typo. */
static const char *
closest_key(const char *key, const char *const *keys)
{
    const char *best = NULL;
    guint best_dist = 3;
    guint dist;

    for (; keys && *keys; keys++) {
        dist = edit_distance(key, *keys);
        if (dist < best_dist) {
            best_dist = dist;
            best = *keys;
        }
    }
    dist = edit_distance(key, "description");
    if (dist < best_dist) {
        best_dist = dist;
        best = "description";
    }
    if (best && best_dist >= strlen(key))
        return NULL;
    return best;
}

gboolean
vl_json_reader_check_object(VlJsonReader *reader, json_object *value,
                            const char *const *keys, GError **error)
{
    if (!json_object_is_type(value, json_type_object)) {
        if (reader->path->len == 0)
            return vl_json_reader_error(reader, error,
                                        "the top-level value must be an object, not %s",
                                        vl_json_type_describe(value));
        return vl_json_reader_error(reader, error, "must be an object, not %s",
                                    vl_json_type_describe(value));
    }

    json_object_object_foreach(value, key, member) {
        g_autofree char *q = NULL;
        const char *hint;

        if (g_str_equal(key, "description")) {
            if (!json_object_is_type(member, json_type_string))
                return vl_json_reader_error_at(reader, key, error,
                                               "must be a string, not %s",
                                               vl_json_type_describe(member));
            continue;
        }
        if (keys && g_strv_contains(keys, key))
            continue;

        q = vl_json_quote(key);
        hint = closest_key(key, keys);
        if (hint)
            return vl_json_reader_error(reader, error,
                                        "unknown key '%s' (did you mean '%s'?)",
                                        q, hint);
        return vl_json_reader_error(reader, error, "unknown key '%s'", q);
    }
    return TRUE;
}

/* Looks @key up; FALSE with @error when it is required and absent,
 * FALSE without error when it is optional and absent. */
static gboolean
lookup(VlJsonReader *reader, json_object *object, const char *key,
       VlJsonFlags flags, json_object **value, GError **error)
{
    *value = NULL;
    if (json_object_object_get_ex(object, key, value))
        return TRUE;
    if (flags & VL_JSON_REQUIRED)
        vl_json_reader_error(reader, error, "missing key '%s'", key);
    return FALSE;
}

#define LOOKUP_OR_RETURN(reader, object, key, flags, value, error) \
    do { \
        GError *lookup_err = NULL; \
        if (!lookup(reader, object, key, flags, &value, &lookup_err)) { \
            if (!lookup_err) \
                return TRUE; \
            g_propagate_error(error, lookup_err); \
            return FALSE; \
        } \
    } while (0)

gboolean
vl_json_reader_get_bool(VlJsonReader *reader, json_object *object,
                        const char *key, VlJsonFlags flags, gboolean *out,
                        GError **error)
{
    json_object *value = NULL;

    LOOKUP_OR_RETURN(reader, object, key, flags, value, error);
    if (!json_object_is_type(value, json_type_boolean))
        return vl_json_reader_error_at(reader, key, error,
                                       "must be true or false, not %s",
                                       vl_json_type_describe(value));
    *out = json_object_get_boolean(value);
    return TRUE;
}

gboolean
vl_json_reader_get_uint(VlJsonReader *reader, json_object *object,
                        const char *key, VlJsonFlags flags, guint min,
                        guint max, guint *out, GError **error)
{
    json_object *value = NULL;
    gint64 v;

    LOOKUP_OR_RETURN(reader, object, key, flags, value, error);
    if (json_object_is_type(value, json_type_double))
        return vl_json_reader_error_at(reader, key, error,
                                       "must be an integer, not %s",
                                       number_text(value));
    if (!json_object_is_type(value, json_type_int))
        return vl_json_reader_error_at(reader, key, error,
                                       "must be an integer, not %s",
                                       vl_json_type_describe(value));
    v = json_object_get_int64(value);
    if (v < (gint64) min || v > (gint64) max)
        return vl_json_reader_error_at(reader, key, error,
                                       "must be between %u and %u, not %s",
                                       min, max, number_text(value));
    *out = (guint) v;
    return TRUE;
}

gboolean
vl_json_reader_get_double(VlJsonReader *reader, json_object *object,
                          const char *key, VlJsonFlags flags, double min,
                          double max, double *out, GError **error)
{
    json_object *value = NULL;
    g_autofree char *lo = NULL;
    g_autofree char *hi = NULL;
    double v;
    gboolean ok;

    LOOKUP_OR_RETURN(reader, object, key, flags, value, error);
    if (!json_object_is_type(value, json_type_int) &&
        !json_object_is_type(value, json_type_double))
        return vl_json_reader_error_at(reader, key, error,
                                       "must be a number, not %s",
                                       vl_json_type_describe(value));
    v = json_object_get_double(value);
    /* Written so that NaN and the infinities of 1e999 fail too. */
    if (flags & VL_JSON_MIN_EXCLUSIVE)
        ok = v > min && v <= max;
    else
        ok = v >= min && v <= max;
    if (!ok) {
        lo = format_bound(min);
        hi = format_bound(max);
        if (flags & VL_JSON_MIN_EXCLUSIVE)
            return vl_json_reader_error_at(reader, key, error,
                                           "must be above %s and at most %s, not %s",
                                           lo, hi, number_text(value));
        return vl_json_reader_error_at(reader, key, error,
                                       "must be between %s and %s, not %s",
                                       lo, hi, number_text(value));
    }
    *out = v;
    return TRUE;
}

static gboolean
check_string_value(VlJsonReader *reader, json_object *value,
                   VlJsonCheckFunc check, GError **error)
{
    g_autofree char *why = NULL;

    if (!json_object_is_type(value, json_type_string))
        return vl_json_reader_error(reader, error, "must be a string, not %s",
                                    vl_json_type_describe(value));
    if (check && (why = check(json_object_get_string(value))))
        return vl_json_reader_error(reader, error, "%s", why);
    return TRUE;
}

gboolean
vl_json_reader_get_string(VlJsonReader *reader, json_object *object,
                          const char *key, VlJsonFlags flags,
                          VlJsonCheckFunc check, char **out, GError **error)
{
    json_object *value = NULL;
    gboolean ok;

    LOOKUP_OR_RETURN(reader, object, key, flags, value, error);
    vl_json_reader_push_key(reader, key);
    ok = check_string_value(reader, value, check, error);
    vl_json_reader_pop(reader);
    if (!ok)
        return FALSE;
    g_free(*out);
    *out = g_strdup(json_object_get_string(value));
    return TRUE;
}

gboolean
vl_json_reader_get_enum(VlJsonReader *reader, json_object *object,
                        const char *key, VlJsonFlags flags,
                        const char *const *names, guint *out, GError **error)
{
    json_object *value = NULL;
    g_autoptr(GString) choices = g_string_new(NULL);
    g_autofree char *q = NULL;
    guint n = g_strv_length((char **) names);
    guint i;

    LOOKUP_OR_RETURN(reader, object, key, flags, value, error);
    if (json_object_is_type(value, json_type_string)) {
        for (i = 0; i < n; i++) {
            if (g_str_equal(json_object_get_string(value), names[i])) {
                *out = i;
                return TRUE;
            }
        }
    }

    for (i = 0; i < n; i++) {
        if (i > 0)
            g_string_append(choices, i + 1 == n ? " or " : ", ");
        g_string_append_printf(choices, "'%s'", names[i]);
    }
    if (!json_object_is_type(value, json_type_string))
        return vl_json_reader_error_at(reader, key, error, "must be %s, not %s",
                                       choices->str,
                                       vl_json_type_describe(value));
    q = vl_json_quote(json_object_get_string(value));
    return vl_json_reader_error_at(reader, key, error, "must be %s, not '%s'",
                                   choices->str, q);
}

gboolean
vl_json_reader_get_array(VlJsonReader *reader, json_object *object,
                         const char *key, VlJsonFlags flags, guint max_length,
                         json_object **out, GError **error)
{
    json_object *value = NULL;
    gsize n;

    LOOKUP_OR_RETURN(reader, object, key, flags, value, error);
    if (!json_object_is_type(value, json_type_array))
        return vl_json_reader_error_at(reader, key, error,
                                       "must be an array, not %s",
                                       vl_json_type_describe(value));
    n = json_object_array_length(value);
    if (n > max_length)
        return vl_json_reader_error_at(reader, key, error,
                                       "must have at most %u elements, not %" G_GSIZE_FORMAT,
                                       max_length, n);
    *out = value;
    return TRUE;
}

gboolean
vl_json_reader_get_strv(VlJsonReader *reader, json_object *object,
                        const char *key, VlJsonFlags flags, guint max_length,
                        VlJsonCheckFunc check, GStrv *out, GError **error)
{
    json_object *array = NULL;
    g_autoptr(GPtrArray) values = NULL;
    gsize n;
    gsize i;
    gsize j;

    if (!json_object_object_get_ex(object, key, NULL) &&
        !(flags & VL_JSON_REQUIRED))
        return TRUE;
    if (!vl_json_reader_get_array(reader, object, key, flags, max_length,
                                  &array, error))
        return FALSE;

    n = json_object_array_length(array);
    values = g_ptr_array_new_full(n + 1, g_free);
    vl_json_reader_push_key(reader, key);
    for (i = 0; i < n; i++) {
        json_object *element = json_object_array_get_idx(array, i);
        const char *s;

        vl_json_reader_push_index(reader, i);
        if (!check_string_value(reader, element, check, error)) {
            vl_json_reader_pop(reader);
            vl_json_reader_pop(reader);
            return FALSE;
        }
        s = json_object_get_string(element);
        if (flags & VL_JSON_UNIQUE) {
            for (j = 0; j < values->len; j++) {
                if (g_str_equal(s, g_ptr_array_index(values, j))) {
                    g_autofree char *q = vl_json_quote(s);

                    vl_json_reader_error(reader, error,
                                         "'%s' is already listed at [%" G_GSIZE_FORMAT "]",
                                         q, j);
                    vl_json_reader_pop(reader);
                    vl_json_reader_pop(reader);
                    return FALSE;
                }
            }
        }
        g_ptr_array_add(values, g_strdup(s));
        vl_json_reader_pop(reader);
    }
    vl_json_reader_pop(reader);

    g_ptr_array_add(values, NULL);
    g_strfreev(*out);
    *out = (GStrv) g_ptr_array_free(g_steal_pointer(&values), FALSE);
    return TRUE;
}
