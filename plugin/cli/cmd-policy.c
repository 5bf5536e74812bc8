/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmd-policy.c: "virt-lanes policy check FILE|DIR..."
 *
 * Validates policy files and directories exactly as the daemon would
 * read them: a directory goes through vl_policy_load_dir() (merge,
 * ownership and permission checks), a file through
 * vl_policy_load_file() (content only).  Needs no daemon and no
 * libvirt connection.
 */
#include <config.h>

#include <stdio.h>
#include <sys/stat.h>

#include "commands.h"
#include "policy.h"
#include "vl-autoptr.h"

#define EXIT_USAGE 2

/* Output goes through stdio, not g_print(): g_print() converts to the
 * locale's character set, which under LC_ALL=C would turn every
 * non-ASCII character of a path, message or JSON document into '?'. */

static const char summary[] =
    "Sub-commands:\n"
    "  check FILE|DIR...   validate policy files, or policy directories as the\n"
    "                      daemon reads them (merged, permissions checked)\n"
    "\n"
    "Exit status: 0 if every policy is valid, 1 if one is not, 2 on usage errors.";

static int
usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int
usage_error(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list args;

    va_start(args, fmt);
    msg = g_strdup_vprintf(fmt, args);
    va_end(args);

    fprintf(stderr, "virt-lanes policy: %s\n", msg);
    fputs("Try 'virt-lanes policy --help' for more information.\n", stderr);
    return EXIT_USAGE;
}

/* Reads @path the way the daemon would: as a directory when it is one. */
static VlPolicy *
load_path(const char *path, GError **error)
{
    struct stat st;

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return vl_policy_load_dir(path, error);
    return vl_policy_load_file(path, error);
}

/* JSON strings must be UTF-8; a path need not be. */
static json_object *
new_utf8_string(const char *s)
{
    g_autofree char *valid = g_utf8_make_valid(s, -1);

    return json_object_new_string(valid);
}

static json_object *
result_to_json(const char *path, const VlPolicy *policy, const GError *error)
{
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "path", new_utf8_string(path));
    json_object_object_add(obj, "ok", json_object_new_boolean(policy != NULL));
    if (policy) {
        json_object *files = json_object_new_array();
        GStrv f;

        json_object_object_add(obj, "containers",
                               json_object_new_int(policy->containers->len));
        json_object_object_add(obj, "migration_policy",
                               json_object_new_boolean(policy->migration_file != NULL));
        for (f = policy->files; f && *f; f++)
            json_object_array_add(files, new_utf8_string(*f));
        json_object_object_add(obj, "files", files);
    } else {
        json_object_object_add(obj, "error", new_utf8_string(error->message));
    }
    return obj;
}

static int
cmd_check(const VlCliOptions *opts, char **paths)
{
    g_autoptr(json_object) results = json_object_new_array();
    gboolean json = opts && opts->json;
    int ret = 0;
    char **p;

    for (p = paths; *p; p++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VlPolicy) policy = load_path(*p, &error);

        if (!policy)
            ret = 1;

        if (json) {
            json_object_array_add(results, result_to_json(*p, policy, error));
        } else if (policy) {
            guint n = policy->containers->len;

            printf("%s: OK (%u %s, migration policy: %s)\n", *p, n,
                   n == 1 ? "container" : "containers",
                   policy->migration_file ? "yes" : "no");
        } else {
            fprintf(stderr, "%s\n", error->message);
        }
    }

    if (json)
        printf("%s\n", json_object_to_json_string_ext(results,
                                                      JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(stdout);
    return ret;
}

int
vl_cmd_policy(const VlCliOptions *opts, int argc, char **argv)
{
    g_autoptr(GOptionContext) context = NULL;
    g_auto(GStrv) args = NULL;
    g_auto(GStrv) rest = NULL;
    g_autoptr(GError) error = NULL;
    GOptionEntry entries[] = {
        { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL,
          NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    int i;

    context = g_option_context_new("check FILE|DIR... - validate virt-lanes policies");
    g_option_context_add_main_entries(context, entries, NULL);
    g_option_context_set_description(context, summary);

    /* g_option_context_parse_strv() edits its vector: work on a copy so
     * the caller's argv stays as it was. */
    args = g_new0(char *, argc + 1);
    for (i = 0; i < argc; i++)
        args[i] = g_strdup(argv[i]);
    if (argc == 0)
        return usage_error("no sub-command given");

    if (!g_option_context_parse_strv(context, &args, &error))
        return usage_error("%s", error->message);

    if (!rest || !rest[0])
        return usage_error("no sub-command given (expected 'check')");
    if (!g_str_equal(rest[0], "check")) {
        g_autofree char *shown = g_strescape(rest[0], NULL);

        return usage_error("unknown sub-command '%s' (expected 'check')", shown);
    }
    if (!rest[1])
        return usage_error("'check' needs at least one FILE or DIR");

    return cmd_check(opts, rest + 1);
}
