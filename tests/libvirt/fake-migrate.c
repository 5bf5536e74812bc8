/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <check.h>
#include <math.h>
#include <string.h>

#include "fake-migrate.h"
#include "ipc.h"

void
vl_fake_daemon_init(VlFakeDaemon *f)
{
    memset(f, 0, sizeof(*f));
    g_mutex_init(&f->lock);
    g_cond_init(&f->cond);
    f->requests = g_ptr_array_new_with_free_func(g_free);
    f->queries = g_ptr_array_new_with_free_func(g_free);
    f->job_log = g_ptr_array_new_with_free_func(g_free);
    f->dest_plans = g_ptr_array_new_with_free_func(g_free);
    f->dest_lanes = g_ptr_array_new_with_free_func(g_free);
    f->announced = g_ptr_array_new_with_free_func(g_free);
    f->sampled_bps = -1;
    f->measured_bps = 1048576;
}

void
vl_fake_daemon_clear(VlFakeDaemon *f)
{
    g_clear_pointer(&f->requests, g_ptr_array_unref);
    g_clear_pointer(&f->queries, g_ptr_array_unref);
    g_clear_pointer(&f->job_log, g_ptr_array_unref);
    g_clear_pointer(&f->dest_plans, g_ptr_array_unref);
    g_clear_pointer(&f->dest_lanes, g_ptr_array_unref);
    g_clear_pointer(&f->announced, g_ptr_array_unref);
    g_clear_pointer(&f->fail_domain, g_free);
    g_clear_pointer(&f->fail_lane, g_free);
    g_mutex_clear(&f->lock);
    g_cond_clear(&f->cond);
}

static const char *
string_of(json_object *request, const char *key)
{
    json_object *v = NULL;

    ck_assert_msg(json_object_object_get_ex(request, key, &v), "no '%s'", key);
    return json_object_get_string(v);
}

/* Everything but the lane requests; the lock is held. */
static json_object *
answer_query(VlFakeDaemon *f, const char *type, json_object *request)
{
    json_object *reply = vl_ipc_reply_new_ok();
    json_object *v = NULL;

    if (g_str_equal(type, "migration-plan")) {
        json_object *links = NULL;
        json_object *channels = NULL;

        ck_assert(json_object_object_get_ex(request, "links", &links));
        ck_assert(json_object_object_get_ex(request, "channels", &channels));
        g_ptr_array_add(f->announced, g_strdup_printf("%s links=%d channels=%d",
                                                      string_of(request, "domain"),
                                                      json_object_get_int(links),
                                                      json_object_get_int(channels)));
    } else if (g_str_equal(type, "estimate")) {
        json_object *inputs = json_object_new_object();

        g_ptr_array_add(f->queries, g_strdup_printf("estimate %s",
                                                    string_of(request, "domain")));
        json_object_object_add(inputs, "dirty_source",
                               json_object_new_string(f->sampled_bps >= 0 ? "sampled" :
                                                      "assumed"));
        json_object_object_add(inputs, "dirty_fresh",
                               json_object_new_boolean(f->sampled_bps >= 0));
        json_object_object_add(inputs, "dirty_rate_bps",
                               json_object_new_double(MAX(f->sampled_bps, 0)));
        json_object_object_add(reply, "inputs", inputs);
    } else if (g_str_equal(type, "measure")) {
        json_object *sample = json_object_new_object();

        ck_assert(json_object_object_get_ex(request, "period_s", &v));
        g_ptr_array_add(f->queries, g_strdup_printf("measure %s %d",
                                                    string_of(request, "domain"),
                                                    json_object_get_int(v)));
        if (f->measured_bps < 0) {
            json_object_put(sample);
            json_object_put(reply);
            return vl_ipc_reply_new_error("Domain is not running");
        }
        json_object_object_add(sample, "period_s", json_object_get(v));
        json_object_object_add(sample, "bytes_per_second",
                               json_object_new_double(f->measured_bps));
        json_object_object_add(reply, "sample", sample);
    } else {
        ck_assert_str_eq(type, "lanes");
        g_ptr_array_add(f->queries, g_strdup("lanes"));
        json_object_object_add(reply, "lanes", json_object_new_array());
    }
    return reply;
}

json_object *
vl_fake_daemon_call(gpointer data, json_object *request, guint timeout_ms G_GNUC_UNUSED,
                    GError **error G_GNUC_UNUSED)
{
    VlFakeDaemon *f = data;
    const char *type = string_of(request, "type");
    const char *plan = NULL;
    json_object *reply = NULL;

    g_mutex_lock(&f->lock);
    if (!g_str_equal(type, "lanes-up") && !g_str_equal(type, "lanes-down")) {
        reply = answer_query(f, type, request);
        g_mutex_unlock(&f->lock);
        return reply;
    }
    plan = string_of(request, "plan_id");
    if (g_str_equal(type, "lanes-up")) {
        json_object *lanes = NULL;
        json_object *report = json_object_new_object();
        json_object *out = json_object_new_array();
        g_autoptr(GString) names = g_string_new(NULL);
        size_t i;

        while (f->hold_lanes_up)
            g_cond_wait(&f->cond, &f->lock);
        ck_assert(json_object_object_get_ex(request, "lanes", &lanes));
        for (i = 0; i < json_object_array_length(lanes); i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(lanes, i));
            gboolean fails = g_strcmp0(name, f->fail_lane) == 0;
            json_object *o = json_object_new_object();

            g_string_append_printf(names, "%s%s", i ? "," : "", name);
            json_object_object_add(o, "interface", json_object_new_string(name));
            json_object_object_add(o, "up", json_object_new_boolean(!fails));
            if (fails)
                json_object_object_add(o, "error",
                                       json_object_new_string("Script 'lane-up' failed"));
            json_object_array_add(out, o);
        }
        g_ptr_array_add(f->requests, g_strdup_printf("lanes-up %s %s", plan, names->str));
        f->lanes_up_jobs = f->jobs_ended;
        json_object_object_add(report, "plan_id", json_object_new_string(plan));
        json_object_object_add(report, "lanes", out);
        if (f->refuse_lanes_up) {
            json_object_put(report);
            reply = vl_ipc_reply_new_error("The journal '/var/lib/x' is not writable");
        } else {
            reply = vl_ipc_reply_new_ok();
            json_object_object_add(reply, "report", report);
        }
    } else {
        g_ptr_array_add(f->requests, g_strdup_printf("lanes-down %s", plan));
        f->lanes_down_jobs = f->jobs_ended;
        reply = vl_ipc_reply_new_ok();
        json_object_object_add(reply, "down", json_object_new_int(2));
    }
    g_mutex_unlock(&f->lock);
    return reply;
}

gboolean
vl_fake_daemon_release_lanes(gpointer data)
{
    VlFakeDaemon *f = data;

    g_mutex_lock(&f->lock);
    f->hold_lanes_up = FALSE;
    g_cond_broadcast(&f->cond);
    g_mutex_unlock(&f->lock);
    return G_SOURCE_REMOVE;
}

typedef struct {
    VlFakeDaemon *f;
    virTypedParameterPtr params;
    int nparams;
    gboolean fail;
    gboolean hold;
    gboolean aborted;
    gboolean running;
} FakeJob;

/* The value of every @attr="..." in @xml, comma-separated. */
static char *
attr_values(const char *xml, const char *attr)
{
    g_autofree char *needle = g_strdup_printf("%s=\"", attr);
    g_autoptr(GString) out = g_string_new(NULL);
    const char *p = xml;

    while ((p = strstr(p, needle))) {
        const char *start = p + strlen(needle);
        const char *end = strchr(start, '"');

        if (!end)
            break;
        g_string_append_printf(out, "%s%.*s", out->len ? "," : "", (int)(end - start),
                               start);
        p = end;
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

gpointer
vl_fake_job_new(gpointer user_data, virDomainPtr dom, const char *dest_uri G_GNUC_UNUSED,
                virTypedParameterPtr params, int nparams, unsigned int flags)
{
    VlFakeDaemon *f = user_data;
    FakeJob *j = g_new0(FakeJob, 1);
    const char *xml = NULL;
    const char *uri = NULL;
    int channels = 0;

    virTypedParamsGetString(params, nparams, VIR_MIGRATE_PARAM_DEST_XML, &xml);
    virTypedParamsGetString(params, nparams, VIR_MIGRATE_PARAM_URI, &uri);
    virTypedParamsGetInt(params, nparams, VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS, &channels);
    j->f = f;
    j->params = params;
    j->nparams = nparams;
    g_mutex_lock(&f->lock);
    f->jobs++;
    j->fail = (f->fail_with_lanes && xml != NULL) ||
        (f->fail_domain && g_str_equal(f->fail_domain, virDomainGetName(dom)));
    if (xml) {
        const char *id = strstr(xml, "plan/1.0\" id=\"");
        const char *end = NULL;

        id = id ? id + strlen("plan/1.0\" id=") : NULL;
        end = id ? strchr(id + 1, '"') : NULL;

        g_ptr_array_add(f->dest_plans, end ? g_strndup(id + 1, end - id - 1) :
                        g_strdup("?"));
        g_ptr_array_add(f->dest_lanes, attr_values(xml, "dest-address"));
    }
    j->hold = f->hold_jobs;
    g_ptr_array_add(f->job_log,
                    g_strdup_printf("channels=%d parallel=%s plan=%s uri=%s",
                                    channels, flags & VIR_MIGRATE_PARALLEL ? "yes" : "no",
                                    xml && strstr(xml, "https://virt-lanes.org/xmlns/plan/1.0") ?
                                    "yes" : "no", uri ? uri : "-"));
    g_mutex_unlock(&f->lock);
    /* A test waiting for vl_fake_job_running() looks again. */
    g_main_context_wakeup(NULL);
    return j;
}

void
vl_fake_job_free(gpointer data)
{
    FakeJob *j = data;

    virTypedParamsFree(j->params, j->nparams);
    g_free(j);
}

static gboolean
fake_migrate(gpointer data, GError **error)
{
    FakeJob *j = data;
    gboolean ok;

    g_mutex_lock(&j->f->lock);
    j->running = TRUE;
    while (j->hold && !j->aborted)
        g_cond_wait(&j->f->cond, &j->f->lock);
    j->running = FALSE;
    j->f->jobs_ended++;
    ok = !j->fail && !j->aborted;
    if (!ok)
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "%s",
                    j->aborted ? "operation aborted: canceled by client" :
                    "internal error: a lane is down on the destination");
    g_mutex_unlock(&j->f->lock);
    return ok;
}

static gboolean
fake_stats(gpointer data, gboolean completed, VlMigrateJobStats *stats,
           GError **error G_GNUC_UNUSED)
{
    FakeJob *j = data;
    VlMigrateJobStats s = { 0 };

    s.downtime_ms = NAN;
    s.sample.page_size = 4096;
    s.sample.memory_total = 1000 * 4096;
    s.has_memory = TRUE;
    s.sample.memory_processed = 100 * 4096;
    s.sample.memory_remaining = 900 * 4096;
    s.sample.time_elapsed_ms = 100;
    s.sample.memory_iteration = 1;
    g_mutex_lock(&j->f->lock);
    s.type = completed ? (j->fail || j->aborted ? VIR_DOMAIN_JOB_FAILED :
                          VIR_DOMAIN_JOB_COMPLETED) : VIR_DOMAIN_JOB_UNBOUNDED;
    g_mutex_unlock(&j->f->lock);
    *stats = s;
    return TRUE;
}

static gboolean
fake_abort(gpointer data, GError **error G_GNUC_UNUSED)
{
    FakeJob *j = data;

    g_mutex_lock(&j->f->lock);
    j->f->aborts++;
    j->aborted = TRUE;
    g_cond_broadcast(&j->f->cond);
    g_mutex_unlock(&j->f->lock);
    return TRUE;
}

static gboolean
fake_downtime(gpointer data G_GNUC_UNUSED, guint ms G_GNUC_UNUSED,
              GError **error G_GNUC_UNUSED)
{
    return TRUE;
}

const VlMigrateJobOps vl_fake_job_ops = {
    .migrate = fake_migrate,
    .job_stats = fake_stats,
    .abort_job = fake_abort,
    .set_max_downtime = fake_downtime,
};

guint
vl_fake_count_prefix(GPtrArray *list, const char *prefix)
{
    guint i, n = 0;

    for (i = 0; i < list->len; i++) {
        if (g_str_has_prefix(g_ptr_array_index(list, i), prefix))
            n++;
    }
    return n;
}

gboolean
vl_fake_job_running(gpointer data)
{
    VlFakeDaemon *f = data;
    gboolean running;

    g_mutex_lock(&f->lock);
    running = f->jobs > 0;
    g_mutex_unlock(&f->lock);
    return running;
}
