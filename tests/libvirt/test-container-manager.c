/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VlContainerManager against test:///default: membership by tag, glob
 * and standby list, regrouping on metadata and lifecycle events, a cycle
 * fed through the statistics seam that really starts a standby, advise
 * mode and dry runs that change nothing but the audit log, and a bad
 * policy that changes nothing at all.
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libvirt/virterror.h>

#include "audit.h"
#include "burst-state.h"
#include "container-manager.h"
#include "metadata.h"
#include "virt-test.h"
#include "vl-autoptr.h"
#include "vl-error.h"
#include "vl-virt-autoptr.h"

/* A statistics source the test sets: CPU % per domain, 10 s a sample. */
typedef struct {
    GMutex lock;
    GHashTable *cpu;            /* name -> percent (double*) */
    GHashTable *cpu_time;       /* name -> accumulated ns (guint64*) */
    guint64 samples;
    double host_cpu;            /* % of the host's CPU, NaN = not read */
    guint64 host_busy_ns;
    guint64 host_total_ns;
} FakeStats;

static VlStatsBatch *
fake_collect(gpointer data, virConnectPtr conn G_GNUC_UNUSED,
             GError **error G_GNUC_UNUSED)
{
    FakeStats *fake = data;
    VlStatsBatch *batch = vl_stats_batch_new();
    GHashTableIter iter;
    gpointer key;
    gpointer value;

    g_mutex_lock(&fake->lock);
    fake->samples++;
    g_hash_table_iter_init(&iter, fake->cpu);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        guint64 *t = g_hash_table_lookup(fake->cpu_time, key);
        virTypedParameter params[3];

        if (!t) {
            t = g_new0(guint64, 1);
            g_hash_table_insert(fake->cpu_time, g_strdup(key), t);
        }
        *t += (guint64)(*(double *)value / 100.0 * 10e9);
        memset(params, 0, sizeof(params));
        g_strlcpy(params[0].field, "state.state", sizeof(params[0].field));
        params[0].type = VIR_TYPED_PARAM_INT;
        params[0].value.i = VIR_DOMAIN_RUNNING;
        g_strlcpy(params[1].field, "cpu.time", sizeof(params[1].field));
        params[1].type = VIR_TYPED_PARAM_ULLONG;
        params[1].value.ul = *t;
        g_strlcpy(params[2].field, "vcpu.current", sizeof(params[2].field));
        params[2].type = VIR_TYPED_PARAM_UINT;
        params[2].value.ui = 1;
        vl_stats_batch_add(batch, key, 1, params, 3,
                           (gint64)fake->samples * 10000000000);
    }
    if (!isnan(fake->host_cpu)) {
        /* 4 host CPUs, 10 s a sample. */
        fake->host_total_ns += 40000000000;
        fake->host_busy_ns += (guint64)(fake->host_cpu / 100.0 * 40e9);
        batch->host.cpu_known = TRUE;
        batch->host.cpu_busy_ns = fake->host_busy_ns;
        batch->host.cpu_total_ns = fake->host_total_ns;
    }
    g_mutex_unlock(&fake->lock);
    return batch;
}

static void
fake_set_host_cpu(FakeStats *fake, double cpu)
{
    g_mutex_lock(&fake->lock);
    fake->host_cpu = cpu;
    g_mutex_unlock(&fake->lock);
}

static void
fake_set_cpu(FakeStats *fake, const char *name, double cpu)
{
    double *v = g_new(double, 1);

    *v = cpu;
    g_mutex_lock(&fake->lock);
    g_hash_table_replace(fake->cpu, g_strdup(name), v);
    g_mutex_unlock(&fake->lock);
}

typedef struct {
    char *dir;
    char *policy_dir;
    VlPolicy *policy;           /* what the daemon would have read */
    char *audit_path;
    char *state_path;           /* the containers' state file */
    VlConfig *config;
    VlConn *conn;
    VlContainerManager *manager;
    FakeStats fake;
    VlStatsSource *source;
    virConnectPtr vconn;        /* the test's own connection */
    GPtrArray *log;
} Fixture;

static void
collect_log(GLogLevelFlags level, const char *message, gpointer user_data)
{
    Fixture *fx = user_data;

    g_ptr_array_add(fx->log, g_strdup_printf("%s %s",
                                             level == G_LOG_LEVEL_WARNING ? "warning" :
                                             level == G_LOG_LEVEL_MESSAGE ? "message" :
                                             "debug", message));
}

static void
on_connected(VlConn *conn G_GNUC_UNUSED, virConnectPtr vconn, gpointer data)
{
    vl_container_manager_attach(((Fixture *)data)->manager, vconn);
}

static void
on_disconnected(VlConn *conn G_GNUC_UNUSED, virConnectPtr vconn G_GNUC_UNUSED,
                const char *reason G_GNUC_UNUSED, gboolean lost G_GNUC_UNUSED,
                gpointer data)
{
    vl_container_manager_detach(((Fixture *)data)->manager);
}

static void
write_policy(Fixture *fx, const char *json)
{
    g_autofree char *path = g_build_filename(fx->policy_dir, "10-test.json", NULL);

    ck_assert(g_file_set_contents(path, json, -1, NULL));
    ck_assert_int_eq(g_chmod(path, 0600), 0);
}

/* Reads the policy as the daemon does. */
static VlPolicy *
read_policy(Fixture *fx)
{
    g_autoptr(GError) error = NULL;
    VlPolicy *policy = vl_policy_load_dir(fx->policy_dir, &error);

    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
    return policy;
}

static gboolean
scanned(gpointer data)
{
    return vl_container_manager_is_scanned(((Fixture *)data)->manager);
}

static void
define(Fixture *fx, const char *name, gboolean start)
{
    g_autofree char *esc = g_markup_escape_text(name, -1);
    g_autofree char *xml = g_strdup_printf(
        "<domain type='test'><name>%s</name><memory>8192</memory>"
        "<os><type>hvm</type></os></domain>", esc);
    g_autoptr(virDomain) dom = virDomainDefineXML(fx->vconn, xml);

    ck_assert_msg(dom != NULL, "%s", virGetLastErrorMessage());
    if (start)
        ck_assert_int_eq(virDomainCreate(dom), 0);
}

static void
set_tag(Fixture *fx, const char *name, const char *container)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(fx->vconn, name);
    g_autofree char *xml = container ?
        vl_container_tag_format(container, FALSE, NULL) : NULL;
    unsigned int flags = VIR_DOMAIN_AFFECT_CONFIG;

    ck_assert_ptr_nonnull(dom);
    if (virDomainIsActive(dom) == 1)
        flags |= VIR_DOMAIN_AFFECT_LIVE;
    ck_assert_int_eq(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml,
                                          container ? VL_METADATA_CONTAINER_PREFIX : NULL,
                                          VL_METADATA_CONTAINER_NS, flags), 0);
}

static const char web_policy[] =
    "{\"containers\": ["
    " {\"name\": \"web\", \"mode\": \"%s\","
    "  \"members\": {\"name_globs\": [\"web-*\"]},"
    "  \"min_active\": 1, \"max_active\": 3,"
    "  \"standby\": [\"sb 1; 'q'\"], \"template\": \"web-tmpl\","
    "  \"indicators\": {\"cpu\": {\"substantially_under_loaded\": 5,"
    "     \"under_loaded\": 10, \"overloaded\": 75,"
    "     \"substantially_overloaded\": 99, \"hold_s\": 0}},"
    "  \"cooldown_s\": 0},"
    " {\"name\": \"db\", \"members\": {\"name_globs\": [\"db-*\"]}}"
    "]}";

/* @state: (nullable): the containers' state file found at start. */
static Fixture *
fixture_new_full(const char *policy, gboolean dry_run, const char *state)
{
    Fixture *fx = g_new0(Fixture, 1);
    g_autoptr(GError) error = NULL;
    VlConnOptions options = { 0, 0, 100, 1000 };
    VlConnHandlers handlers = {
        .connected = on_connected,
        .disconnected = on_disconnected,
    };
    static const VlStatsSourceOps ops = {
        .collect = fake_collect,
        .free = NULL,
        .needs_connection = FALSE,
    };

    vl_virt_test_init();
    fx->log = g_ptr_array_new_with_free_func(g_free);
    fx->dir = g_dir_make_tmp("vl-manager-XXXXXX", NULL);
    fx->policy_dir = g_build_filename(fx->dir, "policies.d", NULL);
    ck_assert_int_eq(g_mkdir(fx->policy_dir, 0700), 0);
    fx->audit_path = g_build_filename(fx->dir, "audit.jsonl", NULL);
    write_policy(fx, policy);

    fx->vconn = virConnectOpen("test:///default");
    ck_assert_ptr_nonnull(fx->vconn);
    define(fx, "web-1", TRUE);
    define(fx, "web-tmpl", FALSE);
    define(fx, "sb 1; 'q'", FALSE);
    define(fx, "other", FALSE);
    define(fx, "tagged", TRUE);
    set_tag(fx, "tagged", "web");

    fx->config = vl_config_new();
    g_free(fx->config->policy_dir);
    fx->config->policy_dir = g_strdup(fx->policy_dir);
    g_free(fx->config->audit_log);
    fx->config->audit_log = g_strdup(fx->audit_path);
    fx->state_path = g_build_filename(fx->dir, "state.json", NULL);
    g_free(fx->config->container_state);
    fx->config->container_state = g_strdup(fx->state_path);
    if (state)
        ck_assert(g_file_set_contents(fx->state_path, state, -1, NULL));
    /* Peers and home are this very test:///default (bring_back). */
    fx->config->home_uri = g_strdup("test:///default");
    fx->config->tick_s = 3600;          /* cycles are run by hand */
    fx->config->dry_run = dry_run;

    g_mutex_init(&fx->fake.lock);
    fx->fake.cpu = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    fx->fake.cpu_time = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    fx->fake.host_cpu = NAN;
    fx->source = vl_stats_source_new("fake", &ops, &fx->fake);

    fx->conn = vl_conn_new("test:///default", &options, &handlers, fx);
    fx->manager = vl_container_manager_new(fx->conn, collect_log, fx);
    fx->policy = read_policy(fx);
    ck_assert_msg(vl_container_manager_configure(fx->manager, fx->config,
                                                 fx->policy, &error),
                  "%s", error ? error->message : "");
    vl_container_manager_set_stats_source(fx->manager, fx->source);
    vl_conn_start(fx->conn);
    ck_assert(vl_virt_test_wait(scanned, fx));
    return fx;
}

static Fixture *
fixture_new_with(const char *policy, gboolean dry_run)
{
    return fixture_new_full(policy, dry_run, NULL);
}

static Fixture *
fixture_new(const char *mode, gboolean dry_run)
{
    g_autofree char *policy = g_strdup_printf(web_policy, mode);

    return fixture_new_with(policy, dry_run);
}

/* Leaves test:///default as found: with CK_FORK=no (valgrind) its state
 * outlives a test while any connection (a worker's) still holds it. */
static void
remove_test_domains(virConnectPtr conn)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);
    int i;

    for (i = 0; i < n; i++) {
        if (!g_str_equal(virDomainGetName(doms[i]), "test")) {
            if (virDomainIsActive(doms[i]) == 1)
                virDomainDestroy(doms[i]);
            if (virDomainIsPersistent(doms[i]) == 1)
                virDomainUndefine(doms[i]);
        }
        virDomainFree(doms[i]);
    }
    free(doms);
}

static void
fixture_free(Fixture *fx)
{
    g_clear_pointer(&fx->manager, vl_container_manager_free);
    g_clear_pointer(&fx->conn, vl_conn_free);
    vl_policy_free(fx->policy);
    vl_stats_source_unref(fx->source);
    g_hash_table_unref(fx->fake.cpu);
    g_hash_table_unref(fx->fake.cpu_time);
    g_mutex_clear(&fx->fake.lock);
    vl_config_free(fx->config);
    remove_test_domains(fx->vconn);
    virConnectClose(fx->vconn);
    {
        g_autofree char *policy = g_build_filename(fx->policy_dir, "10-test.json", NULL);

        g_unlink(policy);
        g_rmdir(fx->policy_dir);
    }
    vl_virt_test_rmdir(fx->dir);
    g_free(fx->dir);
    g_free(fx->policy_dir);
    g_free(fx->audit_path);
    g_free(fx->state_path);
    g_ptr_array_unref(fx->log);
    g_free(fx);
}

/* ---- reading the reply -------------------------------------------------- */

static json_object *
get(json_object *obj, const char *key, json_type type)
{
    json_object *value = NULL;

    ck_assert_msg(json_object_object_get_ex(obj, key, &value), "no '%s' in %s",
                  key, json_object_to_json_string(obj));
    ck_assert_msg(json_object_is_type(value, type), "'%s' is a %s", key,
                  json_type_to_name(json_object_get_type(value)));
    return value;
}

static json_object *
container(Fixture *fx, const char *name)
{
    g_autoptr(json_object) reply = vl_container_manager_reply(fx->manager, NULL);
    json_object *array = get(reply, "containers", json_type_array);
    size_t i;

    for (i = 0; i < json_object_array_length(array); i++) {
        json_object *c = json_object_array_get_idx(array, i);

        if (g_str_equal(json_object_get_string(get(c, "name", json_type_string)),
                        name))
            return json_object_get(c);
    }
    ck_abort_msg("no container '%s'", name);
    return NULL;
}

/* "name:state" of every member, comma-separated, in name order. */
static char *
members(Fixture *fx, const char *name)
{
    g_autoptr(json_object) c = container(fx, name);
    json_object *array = get(c, "members", json_type_array);
    g_autoptr(GString) out = g_string_new(NULL);
    size_t i;

    for (i = 0; i < json_object_array_length(array); i++) {
        json_object *m = json_object_array_get_idx(array, i);

        g_string_append_printf(out, "%s%s:%s", i ? "," : "",
                               json_object_get_string(get(m, "name", json_type_string)),
                               json_object_get_string(get(m, "state", json_type_string)));
    }
    return g_strdup(out->str);
}

typedef struct {
    Fixture *fx;
    const char *container;
    const char *expected;
} MembersWait;

static gboolean
members_are(gpointer data)
{
    MembersWait *w = data;
    g_autofree char *got = members(w->fx, w->container);

    return g_str_equal(got, w->expected);
}

static void
wait_members(Fixture *fx, const char *name, const char *expected)
{
    MembersWait w = { fx, name, expected };

    if (!vl_virt_test_wait(members_are, &w)) {
        g_autofree char *got = members(fx, name);

        ck_abort_msg("members of '%s': '%s', expected '%s'", name, got, expected);
    }
}

static gboolean
never(gpointer data G_GNUC_UNUSED)
{
    return FALSE;
}

/* ---- membership ----------------------------------------------------------- */

START_TEST(test_membership)
{
    Fixture *fx = fixture_new("enforce", FALSE);

    /* Glob, standby list and tag; not the template, not "other". */
    wait_members(fx, "web", "sb 1; 'q':off,tagged:running,web-1:running");
    wait_members(fx, "db", "");
    fixture_free(fx);
}
END_TEST

/* The rule itself, as the CLI uses it (vl_container_manager_assign()). */
START_TEST(test_assign_rule)
{
    Fixture *fx = fixture_new("enforce", FALSE);
    const VlContainerPolicy *web = g_ptr_array_index(fx->policy->containers, 0);
    const VlContainerPolicy *db = g_ptr_array_index(fx->policy->containers, 1);

    ck_assert_str_eq(web->name, "web");
    ck_assert_str_eq(db->name, "db");
    /* untagged: globs and the standby list, in policy order */
    ck_assert_ptr_eq(vl_container_manager_assign(fx->policy, "web-9", NULL), web);
    ck_assert_ptr_eq(vl_container_manager_assign(fx->policy, "db-1", NULL), db);
    ck_assert_ptr_eq(vl_container_manager_assign(fx->policy, "sb 1; 'q'", NULL), web);
    ck_assert_ptr_null(vl_container_manager_assign(fx->policy, "other", NULL));
    /* a tag decides, whatever the globs say; a tag naming no container
     * puts it in none */
    ck_assert_ptr_eq(vl_container_manager_assign(fx->policy, "web-9", "db"), db);
    ck_assert_ptr_eq(vl_container_manager_assign(fx->policy, "other", "web"), web);
    ck_assert_ptr_null(vl_container_manager_assign(fx->policy, "web-9", "nope"));
    /* the template is never a member, tagged or not */
    ck_assert_ptr_null(vl_container_manager_assign(fx->policy, "web-tmpl", NULL));
    ck_assert_ptr_null(vl_container_manager_assign(fx->policy, "web-tmpl", "web"));
    ck_assert_ptr_null(vl_container_manager_assign(NULL, "web-9", NULL));
    fixture_free(fx);
}
END_TEST

START_TEST(test_regroup_on_events)
{
    Fixture *fx = fixture_new("enforce", FALSE);

    /* Tagged by someone (the CLI): joins. */
    set_tag(fx, "other", "web");
    wait_members(fx, "web", "other:off,sb 1; 'q':off,tagged:running,web-1:running");
    /* A tag overrides the globs: web-1 moves to db. */
    set_tag(fx, "web-1", "db");
    wait_members(fx, "db", "web-1:running");
    wait_members(fx, "web", "other:off,sb 1; 'q':off,tagged:running");
    /* Untagged: back to what its name says. */
    set_tag(fx, "web-1", NULL);
    wait_members(fx, "web", "other:off,sb 1; 'q':off,tagged:running,web-1:running");
    /* A template stays out, even tagged; a tag naming no container
     * puts a domain in none. */
    set_tag(fx, "web-tmpl", "web");
    set_tag(fx, "tagged", "nowhere");
    wait_members(fx, "web", "other:off,sb 1; 'q':off,web-1:running");
    /* Lookups run in parallel threads: give the template's its time. */
    vl_test_loop_run_until(never, NULL, 500);
    {
        g_autofree char *now = members(fx, "web");

        ck_assert_str_eq(now, "other:off,sb 1; 'q':off,web-1:running");
    }

    /* Defined later, started, stopped, undefined. */
    define(fx, "db-9", FALSE);
    wait_members(fx, "db", "db-9:off");
    {
        g_autoptr(virDomain) dom = virDomainLookupByName(fx->vconn, "db-9");

        ck_assert_int_eq(virDomainCreate(dom), 0);
        wait_members(fx, "db", "db-9:running");
        ck_assert_int_eq(virDomainDestroy(dom), 0);
        wait_members(fx, "db", "db-9:off");
        ck_assert_int_eq(virDomainUndefine(dom), 0);
        wait_members(fx, "db", "");
    }
    fixture_free(fx);
}
END_TEST

/* ---- cycles ------------------------------------------------------------- */

typedef struct {
    Fixture *fx;
    guint64 cycles;
} CycleWait;

static gboolean
cycles_reached(gpointer data)
{
    CycleWait *w = data;

    return vl_container_manager_get_cycles(w->fx->manager) >= w->cycles;
}

static void
run_cycle(Fixture *fx)
{
    CycleWait w = { fx, vl_container_manager_get_cycles(fx->manager) + 1 };

    ck_assert(vl_container_manager_run_cycle(fx->manager));
    ck_assert(vl_virt_test_wait(cycles_reached, &w));
}

static int
state_of(Fixture *fx, const char *name)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(fx->vconn, name);
    int state = -1;
    int reason = 0;

    ck_assert_ptr_nonnull(dom);
    ck_assert_int_eq(virDomainGetState(dom, &state, &reason, 0), 0);
    return state;
}

static GPtrArray *
audit_records(Fixture *fx)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *records = vl_audit_read_file(fx->audit_path, &error);

    ck_assert_msg(records != NULL, "%s", error ? error->message : "");
    return records;
}

typedef struct {
    Fixture *fx;
    guint n;
} AuditWait;

static gboolean
audit_has(gpointer data)
{
    AuditWait *w = data;
    g_autoptr(GPtrArray) records = vl_audit_read_file(w->fx->audit_path, NULL);

    return records && records->len >= w->n;
}

static void
overload(Fixture *fx)
{
    fake_set_cpu(&fx->fake, "web-1", 90);
    fake_set_cpu(&fx->fake, "tagged", 80);
    run_cycle(fx);          /* first sample: no rates yet */
    run_cycle(fx);          /* 85 % > 75 %, held 0 s: one more member */
}

START_TEST(test_overload_starts_standby)
{
    Fixture *fx = fixture_new("enforce", FALSE);
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(json_object) c = NULL;
    json_object *last;
    VlAuditRecord *r;
    AuditWait w = { fx, 2 };

    wait_members(fx, "web", "sb 1; 'q':off,tagged:running,web-1:running");
    overload(fx);
    ck_assert(vl_virt_test_wait(audit_has, &w));
    /* Really started, by libvirt's word. */
    ck_assert_int_eq(state_of(fx, "sb 1; 'q'"), VIR_DOMAIN_RUNNING);
    wait_members(fx, "web", "sb 1; 'q':running,tagged:running,web-1:running");

    records = audit_records(fx);
    ck_assert_uint_eq(records->len, 2);
    r = g_ptr_array_index(records, 0);
    ck_assert_str_eq(r->container, "web");
    ck_assert_str_eq(r->action, "start_standby");
    ck_assert_str_eq(r->reason, "overloaded");
    ck_assert_str_eq(r->start, "sb 1; 'q'");
    ck_assert_str_eq(r->outcome, "decided");
    ck_assert_int_eq(r->mode, VL_CONTAINER_MODE_ENFORCE);
    ck_assert_double_eq_tol(r->values[VL_INDICATOR_CPU], 85, 1e-6);
    ck_assert_str_eq(r->crossed, "overloaded");
    r = g_ptr_array_index(records, 1);
    ck_assert_str_eq(r->outcome, "success");
    ck_assert_ptr_null(r->error);

    c = container(fx, "web");
    last = get(c, "last", json_type_object);
    ck_assert_str_eq(json_object_get_string(get(last, "action", json_type_string)),
                     "start_standby");
    ck_assert_str_eq(json_object_get_string(get(last, "outcome", json_type_string)),
                     "success");
    get(c, "in_flight", json_type_null);
    fixture_free(fx);
}
END_TEST

/* Under-loaded: one member is really shut down. */
START_TEST(test_underload_shuts_down)
{
    Fixture *fx = fixture_new("enforce", FALSE);
    AuditWait w = { fx, 2 };
    g_autoptr(GPtrArray) records = NULL;
    VlAuditRecord *r;

    wait_members(fx, "web", "sb 1; 'q':off,tagged:running,web-1:running");
    fake_set_cpu(&fx->fake, "web-1", 2);
    fake_set_cpu(&fx->fake, "tagged", 3);
    run_cycle(fx);
    run_cycle(fx);
    ck_assert(vl_virt_test_wait(audit_has, &w));
    records = audit_records(fx);
    r = g_ptr_array_index(records, 1);
    ck_assert_str_eq(r->action, "shutdown_member");
    ck_assert_str_eq(r->outcome, "success");
    /* The least loaded one. */
    ck_assert_str_eq(r->members[0], "web-1");
    ck_assert_int_eq(state_of(fx, "web-1"), VIR_DOMAIN_SHUTOFF);
    ck_assert_int_eq(state_of(fx, "tagged"), VIR_DOMAIN_RUNNING);
    fixture_free(fx);
}
END_TEST

static void
assert_only_advised(Fixture *fx)
{
    AuditWait w = { fx, 1 };
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(json_object) c = NULL;
    guint i;

    ck_assert(vl_virt_test_wait(audit_has, &w));
    /* Two more cycles: advised again (cooldown_s is 0), never done. */
    run_cycle(fx);
    run_cycle(fx);
    ck_assert_int_eq(state_of(fx, "sb 1; 'q'"), VIR_DOMAIN_SHUTOFF);
    records = audit_records(fx);
    ck_assert_uint_eq(records->len, 3);
    for (i = 0; i < records->len; i++) {
        VlAuditRecord *r = g_ptr_array_index(records, i);

        ck_assert_str_eq(r->action, "start_standby");
        ck_assert_str_eq(r->start, "sb 1; 'q'");
        ck_assert_str_eq(r->outcome, "advised");
        ck_assert_int_eq(r->mode, VL_CONTAINER_MODE_ADVISE);
    }
    c = container(fx, "web");
    ck_assert_str_eq(json_object_get_string(get(c, "effective_mode", json_type_string)),
                     "advise");
    get(c, "in_flight", json_type_null);
    ck_assert_str_eq(json_object_get_string(get(get(c, "last", json_type_object),
                                                "outcome", json_type_string)),
                     "advised");
}

START_TEST(test_advise_mode)
{
    Fixture *fx = fixture_new("advise", FALSE);

    wait_members(fx, "web", "sb 1; 'q':off,tagged:running,web-1:running");
    overload(fx);
    assert_only_advised(fx);
    fixture_free(fx);
}
END_TEST

START_TEST(test_dry_run)
{
    Fixture *fx = fixture_new("enforce", TRUE);
    g_autoptr(json_object) c = NULL;

    wait_members(fx, "web", "sb 1; 'q':off,tagged:running,web-1:running");
    overload(fx);
    assert_only_advised(fx);
    c = container(fx, "web");
    ck_assert_str_eq(json_object_get_string(get(c, "mode", json_type_string)),
                     "enforce");
    fixture_free(fx);
}
END_TEST

/* A failed action: audited with its reason, the engine backs off. */
static const char missing_template_policy[] =
    "{\"containers\": ["
    " {\"name\": \"web\", \"members\": {\"name_globs\": [\"web-*\"]},"
    "  \"min_active\": 1, \"max_active\": 3, \"template\": \"missing-tmpl\","
    "  \"indicators\": {\"cpu\": {\"substantially_under_loaded\": 5,"
    "     \"under_loaded\": 10, \"overloaded\": 75,"
    "     \"substantially_overloaded\": 99, \"hold_s\": 0}},"
    "  \"cooldown_s\": 0}]}";

START_TEST(test_failure_audited)
{
    Fixture *fx = fixture_new_with(missing_template_policy, FALSE);
    AuditWait w = { fx, 2 };
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(json_object) c = NULL;
    VlAuditRecord *r;
    json_object *last;

    /* web-tmpl is no template here: a member like any "web-*". */
    wait_members(fx, "web", "tagged:running,web-1:running,web-tmpl:off");
    overload(fx);
    ck_assert(vl_virt_test_wait(audit_has, &w));
    records = audit_records(fx);
    ck_assert_uint_eq(records->len, 2);
    r = g_ptr_array_index(records, 0);
    ck_assert_str_eq(r->action, "define_from_template");
    ck_assert_str_eq(r->start, "web-2");
    r = g_ptr_array_index(records, 1);
    ck_assert_str_eq(r->outcome, "failure");
    ck_assert_msg(g_str_has_prefix(r->error, "Cannot find domain 'missing-tmpl'"),
                  "%s", r->error);

    c = container(fx, "web");
    last = get(c, "last", json_type_object);
    ck_assert_str_eq(json_object_get_string(get(last, "outcome", json_type_string)),
                     "failure");
    ck_assert_str_eq(json_object_get_string(get(last, "error", json_type_string)),
                     r->error);
    /* The first failure backs off twice the 60 s floor. */
    ck_assert_int_gt(json_object_get_int(get(c, "cooldown_s", json_type_int)), 100);
    fixture_free(fx);
}
END_TEST

/* ---- configuration ------------------------------------------------------ */

/* A reload that fails (a bad recording) changes nothing; a good one
 * drops "db", keeps "web" and regroups. */
START_TEST(test_reconfigure)
{
    Fixture *fx = fixture_new("enforce", FALSE);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autofree char *bad = g_build_filename(fx->dir, "bad.rec", NULL);
    VlPolicy *next = NULL;

    ck_assert(g_file_set_contents(bad, "@sample x\n", -1, NULL));
    write_policy(fx, "{\"containers\": [{\"name\": \"web\","
                     " \"members\": {\"name_globs\": [\"web-*\"]}}]}");
    next = read_policy(fx);
    fx->config->stats_replay = g_strdup(bad);
    ck_assert(!vl_container_manager_configure(fx->manager, fx->config, next,
                                              &error));
    ck_assert_msg(g_str_has_suffix(error->message,
                                   ":1: Sample time 'x' is not a number of seconds from 0 to 1000000000"),
                  "%s", error->message);
    wait_members(fx, "web", "sb 1; 'q':off,tagged:running,web-1:running");
    reply = vl_container_manager_reply(fx->manager, NULL);
    ck_assert_uint_eq(json_object_array_length(get(reply, "containers",
                                                   json_type_array)), 2);
    ck_assert_str_eq(json_object_get_string(get(reply, "stats_source", json_type_string)),
                     "fake");

    g_clear_pointer(&fx->config->stats_replay, g_free);
    ck_assert_msg(vl_container_manager_configure(fx->manager, fx->config, next,
                                                 &error),
                  "%s", error ? error->message : "");
    /* The manager now borrows @next; the old policy may go. */
    vl_policy_free(fx->policy);
    fx->policy = next;
    /* The standby list is gone; the tag and the glob stay. */
    wait_members(fx, "web", "tagged:running,web-1:running,web-tmpl:off");
    g_clear_pointer(&reply, json_object_put);
    reply = vl_container_manager_reply(fx->manager, NULL);
    ck_assert_uint_eq(json_object_array_length(get(reply, "containers",
                                                   json_type_array)), 1);
    /* The test's own statistics source stayed. */
    ck_assert_str_eq(json_object_get_string(get(reply, "stats_source", json_type_string)),
                     "fake");
    fixture_free(fx);
}
END_TEST

START_TEST(test_reply_shape)
{
    Fixture *fx = fixture_new("enforce", FALSE);
    g_autoptr(json_object) request = json_object_new_object();
    g_autoptr(json_object) reply = NULL;
    g_autoptr(json_object) bad = NULL;
    json_object *c;
    json_object *m;
    json_object *ind;
    json_object *cycle;

    wait_members(fx, "web", "sb 1; 'q':off,tagged:running,web-1:running");
    fake_set_cpu(&fx->fake, "web-1", 50);
    fake_set_cpu(&fx->fake, "tagged", 50);
    run_cycle(fx);
    run_cycle(fx);

    json_object_object_add(request, "name", json_object_new_string("web"));
    reply = vl_container_manager_reply(fx->manager, request);
    ck_assert(json_object_get_boolean(get(reply, "ok", json_type_boolean)));
    ck_assert_int_eq(json_object_get_int(get(reply, "tick_s", json_type_int)), 3600);
    get(reply, "next_cycle_s", json_type_int);
    ck_assert(!json_object_get_boolean(get(reply, "dry_run", json_type_boolean)));
    ck_assert_str_eq(json_object_get_string(get(reply, "stats_source", json_type_string)),
                     "fake");
    ck_assert_str_eq(json_object_get_string(get(reply, "audit_log", json_type_string)),
                     fx->audit_path);
    ck_assert_int_eq(json_object_get_int(get(reply, "cycles", json_type_int)), 2);
    cycle = get(reply, "last_cycle", json_type_object);
    ck_assert(vl_virt_test_is_timestamp(json_object_get_string(get(cycle, "time",
                                                                   json_type_string))));
    ck_assert_int_eq(json_object_get_int(get(cycle, "domains", json_type_int)), 2);
    get(cycle, "sample_ms", json_type_double);
    get(cycle, "sample_cpu_ms", json_type_double);
    get(cycle, "tick_cpu_ms", json_type_double);
    get(cycle, "error", json_type_null);
    ck_assert_uint_eq(json_object_array_length(get(reply, "containers",
                                                   json_type_array)), 1);

    c = json_object_array_get_idx(get(reply, "containers", json_type_array), 0);
    ck_assert_str_eq(json_object_get_string(get(c, "mode", json_type_string)), "enforce");
    ck_assert_int_eq(json_object_get_int(get(c, "active", json_type_int)), 2);
    ck_assert_int_eq(json_object_get_int(get(c, "min_active", json_type_int)), 1);
    ck_assert_int_eq(json_object_get_int(get(c, "max_active", json_type_int)), 3);
    ck_assert_int_eq(json_object_get_int(get(c, "cooldown_s", json_type_int)), 0);
    get(c, "description", json_type_null);
    ck_assert_str_eq(json_object_get_string(get(get(c, "last_tick", json_type_object),
                                                "reason", json_type_string)),
                     "in_band");
    get(c, "in_flight", json_type_null);
    get(c, "last", json_type_null);

    m = json_object_array_get_idx(get(c, "members", json_type_array), 2);
    ck_assert_str_eq(json_object_get_string(get(m, "name", json_type_string)), "web-1");
    get(m, "host", json_type_null);
    ck_assert(!json_object_get_boolean(get(m, "standby", json_type_boolean)));
    get(m, "state_s", json_type_int);
    ck_assert_double_eq_tol(json_object_get_double(get(get(m, "values", json_type_object),
                                                       "cpu", json_type_double)),
                            50, 1e-6);
    get(get(m, "crossings", json_type_object), "cpu", json_type_array);
    m = json_object_array_get_idx(get(c, "members", json_type_array), 0);
    ck_assert(json_object_get_boolean(get(m, "standby", json_type_boolean)));
    get(get(m, "values", json_type_object), "cpu", json_type_null);

    ind = json_object_array_get_idx(get(c, "indicators", json_type_array), 0);
    ck_assert_str_eq(json_object_get_string(get(ind, "indicator", json_type_string)), "cpu");
    ck_assert_double_eq_tol(json_object_get_double(get(ind, "value", json_type_double)),
                            50, 1e-6);
    ck_assert_double_eq(json_object_get_double(get(get(ind, "thresholds", json_type_object),
                                                   "overloaded", json_type_double)), 75);
    ck_assert_int_eq(json_object_get_int(get(ind, "hold_s", json_type_int)), 0);
    get(ind, "crossings", json_type_array);

    /* Bad requests. */
    json_object_object_add(request, "name", json_object_new_string("nope"));
    bad = vl_container_manager_reply(fx->manager, request);
    ck_assert(!json_object_get_boolean(get(bad, "ok", json_type_boolean)));
    ck_assert_str_eq(json_object_get_string(get(bad, "error", json_type_string)),
                     "No container 'nope' in the policy");
    g_clear_pointer(&bad, json_object_put);
    json_object_object_add(request, "name", json_object_new_int(3));
    bad = vl_container_manager_reply(fx->manager, request);
    ck_assert_str_eq(json_object_get_string(get(bad, "error", json_type_string)),
                     "The 'name' of a containers request must be a string");
    fixture_free(fx);
}
END_TEST

/* ---- the host's load: members burst to a peer and come back ------------ */

static const char host_policy[] =
    "{\"containers\": ["
    " {\"name\": \"web\", \"members\": {\"name_globs\": [\"web-*\"]},"
    "  \"template\": \"web-tmpl\", \"min_active\": 0, \"max_active\": 8,"
    "  \"peers\": [\"test:///default\"], \"cooldown_s\": %u,"
    "  \"affinities\": [{\"a\": \"web-1\", \"b\": \"web-3\", \"weight\": 10},"
    "                   {\"a\": \"web-3\", \"b\": \"tagged\"}],"
    "  \"host_load\": {\"cpu\": {\"under_loaded\": 30, \"overloaded\": 80},"
    "                \"hold_s\": 0}}"
    "]}";

/* The migration: away, the domain stops here; back, it starts here
 * (peer and home are one test:///default). */
typedef struct {
    GMutex lock;
    GPtrArray *calls;
} Migrations;

static gboolean
fake_migrate(virDomainPtr dom, const char *dest_uri, gpointer user_data,
             GError **error G_GNUC_UNUSED)
{
    Migrations *m = user_data;
    gboolean away = virDomainIsActive(dom) == 1;

    if (away)
        ck_assert_int_eq(virDomainDestroy(dom), 0);
    else
        ck_assert_int_eq(virDomainCreate(dom), 0);
    g_mutex_lock(&m->lock);
    g_ptr_array_add(m->calls, g_strdup_printf("%s %s %s", away ? "away" : "back",
                                              virDomainGetName(dom), dest_uri));
    g_mutex_unlock(&m->lock);
    return TRUE;
}

static VlBurstState *
read_state_file(Fixture *fx)
{
    g_autoptr(GError) error = NULL;
    VlBurstState *state = vl_burst_state_load(fx->state_path, &error);

    ck_assert_msg(state != NULL, "%s", error ? error->message : "");
    return state;
}

/* "name@peer,..." of the state file's members. */
static char *
burst_members(Fixture *fx)
{
    g_autoptr(VlBurstState) state = read_state_file(fx);
    g_autoptr(GString) out = g_string_new(NULL);
    guint i;

    for (i = 0; i < state->members->len; i++) {
        const VlBurstMember *m = g_ptr_array_index(state->members, i);

        g_string_append_printf(out, "%s%s@%s", i ? "," : "", m->member, m->peer);
    }
    return g_strdup(out->str);
}

static const char *
host_load_state(Fixture *fx)
{
    g_autoptr(json_object) c = container(fx, "web");
    json_object *h = get(c, "host_load", json_type_object);
    static char buf[32];

    g_strlcpy(buf, json_object_get_string(get(h, "state", json_type_string)),
              sizeof(buf));
    return buf;
}

START_TEST(test_host_overload_moves_and_brings_back)
{
    g_autofree char *policy = g_strdup_printf(host_policy, 0);
    Fixture *fx = fixture_new_with(policy, FALSE);
    Migrations m = { .calls = g_ptr_array_new_with_free_func(g_free) };
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autofree char *burst = NULL;
    AuditWait away = { fx, 2 };
    AuditWait back = { fx, 4 };
    VlAuditRecord *r;
    json_object *host;

    g_mutex_init(&m.lock);
    define(fx, "web-2", TRUE);
    define(fx, "web-3", TRUE);
    wait_members(fx, "web", "tagged:running,web-1:running,web-2:running,web-3:running");
    vl_executor_set_migrate_func(vl_container_manager_get_executor(fx->manager),
                                 fake_migrate, &m);

    /* One reading: no CPU rate yet, nothing decided. */
    fake_set_host_cpu(&fx->fake, 90);
    run_cycle(fx);
    ck_assert_str_eq(host_load_state(fx), "unknown");
    if (g_file_test(fx->audit_path, G_FILE_TEST_EXISTS)) {
        g_autoptr(GPtrArray) none = audit_records(fx);

        ck_assert_uint_eq(none->len, 0);
    }

    /* 90 % > 80 %: every member running here leaves for peers[0], in the
     * affinity order (web-3 between its two partners, the loner last). */
    run_cycle(fx);
    ck_assert(vl_virt_test_wait(audit_has, &away));
    records = audit_records(fx);
    r = g_ptr_array_index(records, 0);
    ck_assert_str_eq(r->action, "migrate_away");
    ck_assert_str_eq(r->reason, "host_overloaded");
    ck_assert_uint_eq(g_strv_length(r->members), 4);
    ck_assert_str_eq(r->members[1], "web-3");
    ck_assert_str_eq(r->members[3], "web-2");
    ck_assert(g_str_equal(r->members[0], "web-1") || g_str_equal(r->members[0], "tagged"));
    r = g_ptr_array_index(records, 1);
    ck_assert_str_eq(r->outcome, "success");
    ck_assert_uint_eq(m.calls->len, 4);
    ck_assert_str_eq(g_ptr_array_index(m.calls, 1), "away web-3 test:///default");
    ck_assert_str_eq(host_load_state(fx), "over");

    /* Recorded for a restart. */
    burst = burst_members(fx);
    ck_assert_str_eq(burst, "tagged@test:///default,web-1@test:///default,"
                     "web-2@test:///default,web-3@test:///default");
    reply = vl_container_manager_reply(fx->manager, NULL);
    host = get(get(reply, "last_cycle", json_type_object), "host", json_type_object);
    ck_assert_double_eq_tol(json_object_get_double(get(host, "cpu", json_type_double)),
                            90, 0.01);
    get(host, "memory", json_type_null);

    /* In band: they stay away. */
    fake_set_host_cpu(&fx->fake, 50);
    run_cycle(fx);
    ck_assert_str_eq(host_load_state(fx), "in_band");
    ck_assert_uint_eq(m.calls->len, 4);

    /* 10 % < 30 %: they come back, in the same order. */
    fake_set_host_cpu(&fx->fake, 10);
    run_cycle(fx);
    ck_assert(vl_virt_test_wait(audit_has, &back));
    g_ptr_array_unref(records);
    records = audit_records(fx);
    r = g_ptr_array_index(records, 2);
    ck_assert_str_eq(r->action, "bring_back");
    ck_assert_str_eq(r->reason, "host_under_loaded");
    ck_assert_str_eq(r->members[1], "web-3");
    r = g_ptr_array_index(records, 3);
    ck_assert_msg(g_str_equal(r->outcome, "success"), "%s", r->error);
    ck_assert_uint_eq(m.calls->len, 8);
    ck_assert_str_eq(g_ptr_array_index(m.calls, 5), "back web-3 test:///default");
    ck_assert_int_eq(state_of(fx, "web-2"), VIR_DOMAIN_RUNNING);
    wait_members(fx, "web", "tagged:running,web-1:running,web-2:running,web-3:running");
    g_free(burst);
    burst = burst_members(fx);
    ck_assert_str_eq(burst, "");
    {
        g_autoptr(VlBurstState) state = read_state_file(fx);
        const VlBurstContainer *c;

        ck_assert_uint_eq(state->containers->len, 1);
        c = g_ptr_array_index(state->containers, 0);
        ck_assert_str_eq(c->last_action, "bring_back");
    }

    fixture_free(fx);
    g_ptr_array_unref(m.calls);
    g_mutex_clear(&m.lock);
}
END_TEST

static gboolean
failing_migrate(virDomainPtr dom, const char *dest_uri, gpointer user_data G_GNUC_UNUSED,
                GError **error)
{
    g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "Cannot migrate domain '%s' to '%s': refused",
                virDomainGetName(dom), dest_uri);
    return FALSE;
}

/* A move that fails: recorded as going before it started, dropped once
 * the member is reported still here. */
START_TEST(test_host_overload_migration_fails)
{
    g_autofree char *policy = g_strdup_printf(host_policy, 0);
    Fixture *fx = fixture_new_with(policy, FALSE);
    g_autoptr(GPtrArray) records = NULL;
    g_autofree char *burst = NULL;
    AuditWait w = { fx, 2 };
    VlAuditRecord *r;

    wait_members(fx, "web", "tagged:running,web-1:running");
    vl_executor_set_migrate_func(vl_container_manager_get_executor(fx->manager),
                                 failing_migrate, NULL);
    fake_set_host_cpu(&fx->fake, 90);
    run_cycle(fx);
    run_cycle(fx);
    ck_assert(vl_virt_test_wait(audit_has, &w));
    records = audit_records(fx);
    r = g_ptr_array_index(records, 1);
    ck_assert_str_eq(r->action, "migrate_away");
    ck_assert_str_eq(r->outcome, "failure");
    ck_assert_ptr_nonnull(strstr(r->error, "refused"));
    wait_members(fx, "web", "tagged:running,web-1:running");
    ck_assert_int_eq(state_of(fx, "web-1"), VIR_DOMAIN_RUNNING);
    burst = burst_members(fx);
    ck_assert_str_eq(burst, "");
    fixture_free(fx);
}
END_TEST

/* The policy's migration addresses steer the default migration. */
START_TEST(test_migration_uris_from_policy)
{
    static const char policy[] =
        "{\"migration\": {\"migration_address\": \"198.19.0.1\","
        "  \"peers\": [{\"name\": \"b\", \"uri\": \"qemu+tcp://198.18.0.12/system\","
        "              \"migration_address\": \"198.19.0.2\"},"
        "             {\"name\": \"c\", \"uri\": \"qemu+tcp://198.18.0.13/system\"}]},"
        " \"containers\": [{\"name\": \"web\", \"members\": {\"name_globs\": [\"web-*\"]},"
        "  \"peers\": [\"qemu+tcp://198.18.0.12/system\"]}]}";
    Fixture *fx = fixture_new_with(policy, FALSE);
    VlExecutor *executor = vl_container_manager_get_executor(fx->manager);

    ck_assert_str_eq(vl_executor_get_migration_uri(executor, "qemu+tcp://198.18.0.12/system"),
                     "tcp://198.19.0.2");
    ck_assert_ptr_null(vl_executor_get_migration_uri(executor, "qemu+tcp://198.18.0.13/system"));
    /* bring_back: towards home_uri (the fixture's test:///default). */
    ck_assert_str_eq(vl_executor_get_migration_uri(executor, "test:///default"),
                     "tcp://198.19.0.1");
    fixture_free(fx);
}
END_TEST

/* Advise mode: the host decision is shown, nothing moves, nothing is
 * recorded as away. */
START_TEST(test_host_overload_advised)
{
    g_autofree char *policy = g_strdup_printf(host_policy, 0);
    Fixture *fx = fixture_new_with(policy, TRUE);
    AuditWait w = { fx, 1 };
    g_autoptr(GPtrArray) records = NULL;
    VlAuditRecord *r;

    wait_members(fx, "web", "tagged:running,web-1:running");
    fake_set_host_cpu(&fx->fake, 95);
    run_cycle(fx);
    run_cycle(fx);
    ck_assert(vl_virt_test_wait(audit_has, &w));
    records = audit_records(fx);
    r = g_ptr_array_index(records, 0);
    ck_assert_str_eq(r->action, "migrate_away");
    ck_assert_str_eq(r->outcome, "advised");
    ck_assert_int_eq(state_of(fx, "web-1"), VIR_DOMAIN_RUNNING);
    wait_members(fx, "web", "tagged:running,web-1:running");
    ck_assert(!g_file_test(fx->state_path, G_FILE_TEST_EXISTS));
    fixture_free(fx);
}
END_TEST

/* After a restart: web-4 (off here) is still away; web-2 runs here again
 * (brought back by hand) and is dropped from the file; the cooldown
 * resumes. */
START_TEST(test_restart_restores_burst)
{
    g_autofree char *policy = g_strdup_printf(host_policy, 600);
    gint64 wall = g_get_real_time() / G_USEC_PER_SEC;
    g_autofree char *state = g_strdup_printf(
        "{\"version\": 1, \"members\": ["
        " {\"name\": \"web-4\", \"container\": \"web\", \"peer\": \"qemu+tcp://b/system\", \"since\": %" G_GINT64_FORMAT "},"
        " {\"name\": \"web-2\", \"container\": \"web\", \"peer\": \"qemu+tcp://b/system\"}],"
        " \"containers\": [{\"name\": \"web\", \"cooldown_until\": %" G_GINT64_FORMAT ","
        "  \"last_action\": \"migrate_away\", \"last_action_time\": %" G_GINT64_FORMAT "}]}",
        wall - 10, wall + 500, wall - 10);
    Fixture *fx = NULL;
    g_autoptr(json_object) c = NULL;
    g_autofree char *burst = NULL;
    json_object *array;
    gboolean said = FALSE;
    guint i;

    Fixture early = { 0 };

    /* As libvirt has them when the daemon starts: web-4 shut off here
     * (it runs on the peer), web-2 running here.  The connection stays
     * open until the fixture has its own: test:///default forgets
     * everything when its last connection closes. */
    vl_virt_test_init();
    early.vconn = virConnectOpen("test:///default");
    define(&early, "web-4", FALSE);
    define(&early, "web-2", TRUE);
    fx = fixture_new_full(policy, FALSE, state);
    virConnectClose(early.vconn);
    wait_members(fx, "web", "tagged:running,web-1:running,web-2:running,web-4:running");

    c = container(fx, "web");
    array = get(c, "members", json_type_array);
    for (i = 0; i < json_object_array_length(array); i++) {
        json_object *mem = json_object_array_get_idx(array, i);
        const char *name = json_object_get_string(get(mem, "name", json_type_string));

        if (g_str_equal(name, "web-4"))
            ck_assert_str_eq(json_object_get_string(get(mem, "host", json_type_string)),
                             "qemu+tcp://b/system");
        else
            ck_assert_msg(json_object_object_get(mem, "host") == NULL,
                          "'%s' is away: %s", name, json_object_to_json_string(mem));
    }
    ck_assert_int_gt(json_object_get_int64(get(c, "cooldown_s", json_type_int)), 400);
    ck_assert_int_le(json_object_get_int64(get(c, "cooldown_s", json_type_int)), 500);

    burst = burst_members(fx);
    ck_assert_str_eq(burst, "web-4@qemu+tcp://b/system");
    for (i = 0; i < fx->log->len; i++)
        said |= strstr(g_ptr_array_index(fx->log, i),
                       "Domain 'web-2' runs on this host again") != NULL;
    ck_assert(said);
    fixture_free(fx);
}
END_TEST

/* A corrupt file: a warning naming it, set aside, the daemon goes on. */
START_TEST(test_corrupt_state_set_aside)
{
    g_autofree char *policy = g_strdup_printf(host_policy, 0);
    Fixture *fx = fixture_new_full(policy, FALSE, "{\"version\": 1, \"members\": [}");
    g_autofree char *aside = g_strconcat(fx->state_path, ".corrupt", NULL);
    g_autofree char *expected = g_strdup_printf(
        "warning Ignoring the corrupt containers' state file: %s:1:", fx->state_path);
    gboolean said = FALSE;
    guint i;

    wait_members(fx, "web", "tagged:running,web-1:running");
    ck_assert(g_file_test(aside, G_FILE_TEST_IS_REGULAR));
    ck_assert(!g_file_test(fx->state_path, G_FILE_TEST_EXISTS));
    for (i = 0; i < fx->log->len; i++) {
        const char *line = g_ptr_array_index(fx->log, i);

        if (g_str_has_prefix(line, expected) && strstr(line, aside))
            said = TRUE;
    }
    ck_assert_msg(said, "no warning naming '%s'", fx->state_path);
    run_cycle(fx);
    g_unlink(aside);
    fixture_free(fx);
}
END_TEST

static Suite *
manager_suite(void)
{
    Suite *s = suite_create("container-manager");
    TCase *tc;

    tc = tcase_create("membership");
    tcase_add_test(tc, test_membership);
    tcase_add_test(tc, test_assign_rule);
    tcase_add_test(tc, test_regroup_on_events);
    suite_add_tcase(s, tc);

    tc = tcase_create("cycle");
    tcase_add_test(tc, test_overload_starts_standby);
    tcase_add_test(tc, test_underload_shuts_down);
    tcase_add_test(tc, test_advise_mode);
    tcase_add_test(tc, test_dry_run);
    tcase_add_test(tc, test_failure_audited);
    suite_add_tcase(s, tc);

    tc = tcase_create("host");
    tcase_add_test(tc, test_host_overload_moves_and_brings_back);
    tcase_add_test(tc, test_host_overload_advised);
    tcase_add_test(tc, test_restart_restores_burst);
    tcase_add_test(tc, test_corrupt_state_set_aside);
    tcase_add_test(tc, test_migration_uris_from_policy);
    tcase_add_test(tc, test_host_overload_migration_fails);
    suite_add_tcase(s, tc);

    tc = tcase_create("status");
    tcase_add_test(tc, test_reconfigure);
    tcase_add_test(tc, test_reply_shape);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(manager_suite());
}
