/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <string.h>

#include <glib/gstdio.h>

#include "test-util.h"
#include "vl-config.h"
#include "vl-error.h"

static VlConfig *
load(const char *text, GError **error)
{
    return vl_config_load_data(text, strlen(text), "test.conf", error);
}

START_TEST(test_defaults)
{
    g_autoptr(VlConfig) config = vl_config_new();

    ck_assert_str_eq(config->uri, VL_DEFAULT_URI);
    ck_assert_str_eq(config->socket_path, VL_SOCKET_PATH);
    ck_assert_ptr_null(config->pid_file);
    ck_assert_ptr_null(config->log_file);
    ck_assert(!config->verbose);
    ck_assert_uint_eq(config->keepalive_interval, 5);
    ck_assert_uint_eq(config->keepalive_count, 3);
    ck_assert_uint_eq(config->reconnect_min_s, 1);
    ck_assert_uint_eq(config->reconnect_max_s, 30);
    ck_assert_str_eq(config->policy_dir, VL_POLICYDIR);
    ck_assert_uint_eq(config->tick_s, 60);
    ck_assert_str_eq(config->audit_log, VL_LOGDIR "/containers-audit.jsonl");
    ck_assert(!config->dry_run);
    ck_assert_ptr_null(config->home_uri);
    ck_assert_ptr_null(config->stats_replay);
    ck_assert_str_eq(config->container_state, VL_STATEDIR "/containers-state.json");
    ck_assert_uint_eq(config->sample_period_s, 60);
    ck_assert_uint_eq(config->n_sample_periods, 3);
    ck_assert_uint_eq(config->sample_periods[0], 1);
    ck_assert_uint_eq(config->sample_periods[1], 5);
    ck_assert_uint_eq(config->sample_periods[2], 10);
    ck_assert_str_eq(config->history_file, VL_STATEDIR "/history.jsonl");
}
END_TEST

START_TEST(test_containers_keys)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;
    g_autoptr(VlConfig) copy = NULL;

    config = load("[daemon]\n"
                  "policy_dir = /etc/x/policies.d\n"
                  "[containers]\n"
                  "tick_s = 3600\n"
                  "audit_log = /var/log/x/audit.jsonl\n"
                  "dry_run = true\n"
                  "home_uri = qemu+tcp://198.19.0.1/system\n"
                  "stats_replay = /tmp/stats.rec\n"
                  "state_file = /tmp/cs.json\n", &error);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(config->policy_dir, "/etc/x/policies.d");
    ck_assert_uint_eq(config->tick_s, 3600);
    ck_assert_str_eq(config->audit_log, "/var/log/x/audit.jsonl");
    ck_assert(config->dry_run);
    ck_assert_str_eq(config->home_uri, "qemu+tcp://198.19.0.1/system");
    ck_assert_str_eq(config->stats_replay, "/tmp/stats.rec");
    ck_assert_str_eq(config->container_state, "/tmp/cs.json");

    copy = vl_config_copy(config);
    ck_assert_ptr_ne(copy->stats_replay, config->stats_replay);
    ck_assert_str_eq(copy->stats_replay, "/tmp/stats.rec");
    ck_assert_str_eq(copy->home_uri, config->home_uri);
    ck_assert_str_eq(copy->audit_log, config->audit_log);
    ck_assert_str_eq(copy->policy_dir, config->policy_dir);
    ck_assert_uint_eq(copy->tick_s, 3600);
    ck_assert(copy->dry_run);
}
END_TEST

START_TEST(test_estimator_keys)
{
    static const char text[] =
        "[daemon]\npolicy_dir = /etc/vl/p.d\n"
        "[estimator]\nsample_period_s = 0\nsample_periods = 20, 5,10 ,60\n"
        "history_file = /var/tmp/h.jsonl\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = vl_config_load_data(text, strlen(text),
                                                     "test.conf", &error);
    g_autoptr(VlConfig) copy = NULL;

    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(config->policy_dir, "/etc/vl/p.d");
    ck_assert_uint_eq(config->sample_period_s, 0);
    ck_assert_uint_eq(config->n_sample_periods, 4);
    ck_assert_uint_eq(config->sample_periods[0], 20);
    ck_assert_uint_eq(config->sample_periods[3], 60);
    copy = vl_config_copy(config);
    ck_assert_str_eq(copy->history_file, "/var/tmp/h.jsonl");
    ck_assert_ptr_ne(copy->history_file, config->history_file);
    ck_assert_uint_eq(copy->sample_periods[2], 10);
}
END_TEST

START_TEST(test_empty_file_gives_defaults)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = load("# nothing but a comment\n\n", &error);

    ck_assert_ptr_nonnull(config);
    ck_assert_ptr_null(error);
    ck_assert_str_eq(config->uri, VL_DEFAULT_URI);
    ck_assert_uint_eq(config->reconnect_max_s, 30);
}
END_TEST

START_TEST(test_full_file)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;

    config = load("# virt-lanesd.conf\n"
                  "[daemon]\n"
                  "uri = qemu+ssh://host/system\n"
                  "  socket=/tmp/vl\\stest.sock\n"
                  "pid_file = /run/x.pid\n"
                  "log_file = /var/log/virt-lanes/d.log\n"
                  "verbose = true\n"
                  "\n"
                  "[libvirt]\n"
                  "keepalive_interval = 0\n"
                  "keepalive_count = 100\n"
                  "reconnect_min = 2\n"
                  "reconnect_max = 3600\n", &error);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(config->uri, "qemu+ssh://host/system");
    /* GKeyFile escapes still work: \s is a space. */
    ck_assert_str_eq(config->socket_path, "/tmp/vl test.sock");
    ck_assert_str_eq(config->pid_file, "/run/x.pid");
    ck_assert_str_eq(config->log_file, "/var/log/virt-lanes/d.log");
    ck_assert(config->verbose);
    ck_assert_uint_eq(config->keepalive_interval, 0);
    ck_assert_uint_eq(config->keepalive_count, 100);
    ck_assert_uint_eq(config->reconnect_min_s, 2);
    ck_assert_uint_eq(config->reconnect_max_s, 3600);
}
END_TEST

START_TEST(test_group_may_repeat)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;

    config = load("[libvirt]\nreconnect_min = 3\n"
                  "[daemon]\nverbose = false\n"
                  "[libvirt]\nreconnect_max = 4\n", &error);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(config->reconnect_min_s, 3);
    ck_assert_uint_eq(config->reconnect_max_s, 4);
}
END_TEST

typedef struct {
    const char *text;
    const char *message;
} BadCase;

static const BadCase bad_cases[] = {
    /* [estimator] */
    { "[estimator]\nsample_periods = 1,5,5\n",
      "test.conf:2: Value '1,5,5' of key 'sample_periods' in group 'estimator' lists '5' twice" },
    { "[estimator]\nsample_periods = 0\n",
      "test.conf:2: Value '0' of key 'sample_periods' in group 'estimator' must be 1 to 8 comma-separated integers from 1 to 60" },
    { "[estimator]\nsample_periods = 61\n",
      "test.conf:2: Value '61' of key 'sample_periods' in group 'estimator' must be 1 to 8 comma-separated integers from 1 to 60" },
    { "[estimator]\nsample_periods = 1,,2\n",
      "test.conf:2: Value '1,,2' of key 'sample_periods' in group 'estimator' must be 1 to 8 comma-separated integers from 1 to 60" },
    { "[estimator]\nsample_periods =\n",
      "test.conf:2: Value '' of key 'sample_periods' in group 'estimator' must be 1 to 8 comma-separated integers from 1 to 60" },
    { "[estimator]\nsample_periods = 1,2,3,4,5,6,7,8,9\n",
      "test.conf:2: Value '1,2,3,4,5,6,7,8,9' of key 'sample_periods' in group 'estimator' must be 1 to 8 comma-separated integers from 1 to 60" },
    { "[estimator]\nsample_period_s = 86401\n",
      "test.conf:2: Value '86401' of key 'sample_period_s' in group 'estimator' must be an integer from 0 to 86400" },
    { "[estimator]\nhistory_file = history.jsonl\n",
      "test.conf:2: Value 'history.jsonl' of key 'history_file' in group 'estimator' must be an absolute path" },
    { "[daemon]\npolicy_dir = rel/p.d\n",
      "test.conf:2: Value 'rel/p.d' of key 'policy_dir' in group 'daemon' must be an absolute path" },
    /* unknown names */
    { "[daemon]\nuri = test:///default\nfoo = 1\n",
      "test.conf:3: Unknown key 'foo' in group 'daemon'" },
    { "[libvirt]\nuri = test:///default\n",
      "test.conf:2: Unknown key 'uri' in group 'libvirt'" },
    { "\n[deamon]\n",
      "test.conf:2: Unknown group 'deamon'" },
    { "[daemon]\nuri[de] = test:///default\n",
      "test.conf:2: Unknown key 'uri[de]' in group 'daemon'" },
    /* syntax */
    { "[daemon]\n# fine\nthis is not a key value pair\n",
      "test.conf:3: Expected 'key = value', got 'this is not a key value pair'" },
    { "[daemon]\n= value\n",
      "test.conf:2: Expected 'key = value', got '= value'" },
    { "[daemon\nuri = test:///default\n",
      "test.conf:1: Malformed group header '[daemon'" },
    { "[]\n",
      "test.conf:1: Malformed group header '[]'" },
    { "[daemon] trailing\n",
      "test.conf:1: Malformed group header '[daemon] trailing'" },
    { "uri = test:///default\n",
      "test.conf:1: Key 'uri' is outside of any group" },
    { "[daemon]\nuri = test:///a\nverbose = true\nuri = test:///b\n",
      "test.conf:4: Key 'uri' in group 'daemon' is already set on line 2" },
    { "[daemon]\nuri = caf\xc3\n",
      "test.conf:2: Line is not valid UTF-8 text" },
    /* ranges and types */
    { "[libvirt]\nkeepalive_interval = 601\n",
      "test.conf:2: Value '601' of key 'keepalive_interval' in group 'libvirt' must be an integer from 0 to 600" },
    { "[libvirt]\nkeepalive_count = -1\n",
      "test.conf:2: Value '-1' of key 'keepalive_count' in group 'libvirt' must be an integer from 0 to 100" },
    { "[libvirt]\nreconnect_min = 0\n",
      "test.conf:2: Value '0' of key 'reconnect_min' in group 'libvirt' must be an integer from 1 to 3600" },
    { "[libvirt]\nreconnect_max = 5s\n",
      "test.conf:2: Value '5s' of key 'reconnect_max' in group 'libvirt' must be an integer from 1 to 3600" },
    { "[libvirt]\nreconnect_max = 99999999999999999999\n",
      "test.conf:2: Value '99999999999999999999' of key 'reconnect_max' in group 'libvirt' must be an integer from 1 to 3600" },
    { "[libvirt]\nreconnect_max =\n",
      "test.conf:2: Value '' of key 'reconnect_max' in group 'libvirt' must be an integer from 1 to 3600" },
    { "[libvirt]\nreconnect_min = 10\nreconnect_max = 5\n",
      "test.conf:3: Key 'reconnect_max' in group 'libvirt' must not be below 'reconnect_min' (5 < 10)" },
    { "[libvirt]\nreconnect_min = 60\n",
      "test.conf:2: Key 'reconnect_max' in group 'libvirt' must not be below 'reconnect_min' (30 < 60)" },
    { "[daemon]\nverbose = yes\n",
      "test.conf:2: Value 'yes' of key 'verbose' in group 'daemon' must be 'true' or 'false'" },
    { "[daemon]\nsocket = run/x.sock\n",
      "test.conf:2: Value 'run/x.sock' of key 'socket' in group 'daemon' must be an absolute path" },
    { "[daemon]\nlog_file = /tmp/a\\nb\n",
      "test.conf:2: Value '/tmp/a\\\\nb' of key 'log_file' in group 'daemon' must be an absolute path" },
    { "[daemon]\nuri = not a uri\n",
      "test.conf:2: Value 'not a uri' of key 'uri' in group 'daemon' is not a libvirt URI" },
    { "[daemon]\nuri =\n",
      "test.conf:2: Value '' of key 'uri' in group 'daemon' is not a libvirt URI" },
    /* lanes */
    { "[lanes]\ntable_base = 255\n",
      "test.conf:2: Value '255' of key 'table_base' in group 'lanes' must be an integer from 256 to 2000000000" },
    { "[lanes]\njournal = lanes.json\n",
      "test.conf:2: Value 'lanes.json' of key 'journal' in group 'lanes' must be an absolute path" },
    { "[lanes]\nscript_dir = \n",
      "test.conf:2: Value '' of key 'script_dir' in group 'lanes' must be an absolute path" },
    { "[daemon]\npolicy_dir = policies.d\n",
      "test.conf:2: Value 'policies.d' of key 'policy_dir' in group 'daemon' must be an absolute path" },
    /* containers */
    { "[containers]\ntick_s = 0\n",
      "test.conf:2: Value '0' of key 'tick_s' in group 'containers' must be an integer from 1 to 3600" },
    { "[containers]\ntick_s = 3601\n",
      "test.conf:2: Value '3601' of key 'tick_s' in group 'containers' must be an integer from 1 to 3600" },
    { "[containers]\naudit_log = audit.jsonl\n",
      "test.conf:2: Value 'audit.jsonl' of key 'audit_log' in group 'containers' must be an absolute path" },
    { "[containers]\ndry_run = 1\n",
      "test.conf:2: Value '1' of key 'dry_run' in group 'containers' must be 'true' or 'false'" },
    { "[containers]\nhome_uri = host b\n",
      "test.conf:2: Value 'host b' of key 'home_uri' in group 'containers' is not a libvirt URI" },
    { "[containers]\nstats_replay = stats.rec\n",
      "test.conf:2: Value 'stats.rec' of key 'stats_replay' in group 'containers' must be an absolute path" },
    { "[containers]\ntick = 5\n",
      "test.conf:2: Unknown key 'tick' in group 'containers'" },
};

START_TEST(test_bad)
{
    const BadCase *c = &bad_cases[_i];
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = load(c->text, &error);

    ck_assert_ptr_null(config);
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_str_eq(error->message, c->message);
}
END_TEST

START_TEST(test_nul_byte)
{
    static const char text[] = "[daemon]\nverbose = true\0\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;

    config = vl_config_load_data(text, sizeof(text) - 1, "test.conf", &error);
    ck_assert_ptr_null(config);
    ck_assert_str_eq(error->message, "test.conf:2: Line is not valid UTF-8 text");
}
END_TEST

static char *
write_tmp(const char *dir, const char *name, const char *text)
{
    char *path = g_build_filename(dir, name, NULL);

    ck_assert(g_file_set_contents(path, text, -1, NULL));
    return path;
}

START_TEST(test_file_errors_name_the_path)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("vl-config-XXXXXX", NULL);
    g_autofree char *path = NULL;
    g_autofree char *expected = NULL;
    g_autoptr(VlConfig) config = NULL;

    ck_assert_ptr_nonnull(dir);
    path = write_tmp(dir, "virt-lanesd.conf", "[daemon]\n\nbogus = 1\n");
    config = vl_config_load_file(path, FALSE, &error);
    ck_assert_ptr_null(config);
    expected = g_strdup_printf("%s:3: Unknown key 'bogus' in group 'daemon'",
                               path);
    ck_assert_str_eq(error->message, expected);

    g_unlink(path);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_file_good)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("vl-config-XXXXXX", NULL);
    g_autofree char *path = NULL;
    g_autoptr(VlConfig) config = NULL;

    path = write_tmp(dir, "virt-lanesd.conf", "[daemon]\nuri = test:///default\n");
    config = vl_config_load_file(path, FALSE, &error);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(config->uri, "test:///default");

    g_unlink(path);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_missing_file)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;
    g_autofree char *dir = g_dir_make_tmp("vl-config-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "absent.conf", NULL);

    /* The compiled-in default file may be absent... */
    config = vl_config_load_file(path, TRUE, &error);
    ck_assert_ptr_nonnull(config);
    ck_assert_str_eq(config->uri, VL_DEFAULT_URI);
    g_clear_pointer(&config, vl_config_free);

    /* ...one named on the command line may not. */
    config = vl_config_load_file(path, FALSE, &error);
    ck_assert_ptr_null(config);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert_ptr_nonnull(strstr(error->message, path));
    g_rmdir(dir);
}
END_TEST

START_TEST(test_directory_is_not_a_file)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("vl-config-XXXXXX", NULL);
    g_autoptr(VlConfig) config = vl_config_load_file(dir, TRUE, &error);
    g_autofree char *expected = NULL;

    ck_assert_ptr_null(config);
    expected = g_strdup_printf("Configuration file '%s' is not a regular file", dir);
    ck_assert_str_eq(error->message, expected);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_overrides_win)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;
    VlConfigOverrides overrides = {
        .uri = "test:///default",
        .socket_path = "/tmp/cli.sock",
        .verbose = TRUE,
        .dry_run = TRUE,
    };

    config = load("[daemon]\nuri = qemu:///system\nsocket = /tmp/file.sock\n"
                  "log_file = /tmp/file.log\nverbose = false\n", &error);
    ck_assert_ptr_nonnull(config);
    vl_config_apply_overrides(config, &overrides);
    ck_assert_str_eq(config->uri, "test:///default");
    ck_assert_str_eq(config->socket_path, "/tmp/cli.sock");
    /* Not given on the command line: the file's value stays. */
    ck_assert_str_eq(config->log_file, "/tmp/file.log");
    ck_assert_ptr_null(config->pid_file);
    ck_assert(config->verbose);
    ck_assert(config->dry_run);
}
END_TEST

START_TEST(test_lane_keys)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) defaults = vl_config_new();
    g_autoptr(VlConfig) config = NULL;
    g_autoptr(VlConfig) copy = NULL;
    VlConfigOverrides overrides = {
        .policy_dir = "/cli/policies.d",
        .script_dir = "/cli/scripts",
    };

    ck_assert_str_eq(defaults->policy_dir, VL_POLICYDIR);
    ck_assert_str_eq(defaults->lane_journal, VL_STATEDIR "/lanes.json");
    ck_assert_str_eq(defaults->script_dir, VL_SCRIPTDIR);
    ck_assert_str_eq(defaults->lane_state_dir, VL_RUNSTATEDIR "/lanes");
    ck_assert_uint_eq(defaults->lane_table_base, 7600);

    config = load("[daemon]\npolicy_dir = /etc/p\n[lanes]\njournal = /var/j.json\n"
                  "script_dir = /usr/s\nstate_dir = /run/s\ntable_base = 256\n", &error);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(config->policy_dir, "/etc/p");
    ck_assert_str_eq(config->lane_journal, "/var/j.json");
    ck_assert_str_eq(config->script_dir, "/usr/s");
    ck_assert_str_eq(config->lane_state_dir, "/run/s");
    ck_assert_uint_eq(config->lane_table_base, 256);

    vl_config_apply_overrides(config, &overrides);
    ck_assert_str_eq(config->policy_dir, "/cli/policies.d");
    ck_assert_str_eq(config->script_dir, "/cli/scripts");
    ck_assert_str_eq(config->lane_journal, "/var/j.json");

    copy = vl_config_copy(config);
    ck_assert_ptr_ne(copy->lane_journal, config->lane_journal);
    ck_assert_str_eq(copy->lane_state_dir, "/run/s");
    ck_assert_uint_eq(copy->lane_table_base, 256);
}
END_TEST

START_TEST(test_copy)
{
    g_autoptr(VlConfig) config = vl_config_new();
    g_autoptr(VlConfig) copy = NULL;

    config->log_file = g_strdup("/tmp/x.log");
    copy = vl_config_copy(config);
    ck_assert_ptr_ne(copy->uri, config->uri);
    ck_assert_str_eq(copy->uri, config->uri);
    ck_assert_str_eq(copy->log_file, "/tmp/x.log");
    ck_assert_ptr_null(copy->pid_file);
    ck_assert_uint_eq(copy->reconnect_max_s, config->reconnect_max_s);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc;

    tc = tcase_create("good");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_empty_file_gives_defaults);
    tcase_add_test(tc, test_full_file);
    tcase_add_test(tc, test_containers_keys);
    tcase_add_test(tc, test_group_may_repeat);
    tcase_add_test(tc, test_file_good);
    tcase_add_test(tc, test_copy);
    tcase_add_test(tc, test_lane_keys);
    tcase_add_test(tc, test_estimator_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad");
    tcase_add_loop_test(tc, test_bad, 0, G_N_ELEMENTS(bad_cases));
    tcase_add_test(tc, test_nul_byte);
    tcase_add_test(tc, test_file_errors_name_the_path);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_directory_is_not_a_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("precedence");
    tcase_add_test(tc, test_overrides_win);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(config_suite());
}
