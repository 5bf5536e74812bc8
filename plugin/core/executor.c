/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * executor.c: carrying out container decisions on libvirt
 *
 * A job is a list of steps run one after another on the main loop.  A
 * step hands its libvirt calls to a worker thread (a Call: everything the
 * thread needs, copied, and what it found out) and continues in the
 * completion callback.  Freeing a job cancels its GCancellable; every
 * callback checks it first and then touches nothing, so a thread that
 * outlives its job (libvirt calls cannot be interrupted) is harmless.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>

#include "executor.h"
#include "migrate.h"
#include "template.h"
#include "virt-error.h"
#include "vl-error.h"
#include "vl-virt-autoptr.h"

/* A start, define or state query that takes longer has hung. */
#define STEP_WATCHDOG_S 300

typedef enum {
    STEP_DEFINE,
    STEP_START,
    STEP_SHUTDOWN,
    STEP_MIGRATE_AWAY,
    STEP_BRING_BACK,
} StepKind;

typedef struct {
    StepKind kind;
    char *domain;
    char *peer;             /* migrate away: to; bring back: from */
} Step;

typedef enum {
    SHUTDOWN_IDLE,
    SHUTDOWN_CALLING,       /* virDomainShutdown() in the thread */
    SHUTDOWN_WAITING,       /* for the STOPPED event or the timeout */
    SHUTDOWN_CHECKING,      /* reading the state once more */
    SHUTDOWN_DESTROYING,
} ShutdownPhase;

typedef struct _Job Job;

struct _VlExecutor {
    VlExecutorHandlers handlers;
    gpointer user_data;
    GPtrArray *jobs;        /* Job*, running */
    char *qemu_img;
    char *home_uri;
    VlExecutorMigrateFunc migrate_func;
    gpointer migrate_data;
    GBoxedCopyFunc migrate_data_ref;    /* nullable: data is borrowed */
    GDestroyNotify migrate_data_unref;
    GHashTable *migration_uris;     /* libvirt URI -> QEMU migration URI */
};

struct _Job {
    VlExecutor *executor;
    VlContainerDecision *decision;
    char *template_name;
    guint shutdown_timeout_s;
    gboolean destroy_on_timeout;
    virConnectPtr conn;
    GPtrArray *steps;       /* Step* */
    guint current;
    char *status;           /* vl_executor_get_step() */
    char *failure;          /* the failed step's message */
    GCancellable *cancellable;
    guint start_id;
    guint watchdog_id;

    /* shutdown */
    ShutdownPhase phase;
    gboolean stopped_seen;
    guint timeout_id;

    /* define */
    VlTemplateInstance *instance;
    GPtrArray *reserved;    /* overlay files we created */
    guint disk_index;
    GSubprocess *qemu_img;
    guint qemu_img_timeout_id;
    gboolean qemu_img_timed_out;
};

/* What a worker thread needs, and what it found out. */
typedef struct {
    virConnectPtr conn;
    char *domain;
    char *peer;
    char *home_uri;
    VlExecutorMigrateFunc migrate_func;
    gpointer migrate_data;
    GDestroyNotify migrate_data_unref;  /* nullable: data is borrowed */
    char *migration_uri;            /* nullable: for the default migrate */
    char *template_name;
    char *container;
    VlTemplateInstance *instance;   /* define: out of prepare, into commit */
    GPtrArray *reserved;            /* define: files created */
    int state;                      /* after the call; -1 = no such domain */
} Call;

static void job_next(Job *job);
static void job_fail(Job *job, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* ---- bookkeeping --------------------------------------------------- */

static void
step_free(Step *step)
{
    if (!step)
        return;
    g_free(step->domain);
    g_free(step->peer);
    g_free(step);
}

static void
call_free(Call *call)
{
    if (!call)
        return;
    if (call->conn)
        virConnectClose(call->conn);
    g_free(call->domain);
    g_free(call->peer);
    g_free(call->home_uri);
    if (call->migrate_data_unref)
        call->migrate_data_unref(call->migrate_data);
    g_free(call->migration_uri);
    g_free(call->template_name);
    g_free(call->container);
    vl_template_instance_free(call->instance);
    if (call->reserved)
        g_ptr_array_unref(call->reserved);
    g_free(call);
}

static void
remove_files(GPtrArray *files)
{
    guint i;

    for (i = 0; files && i < files->len; i++)
        unlink(g_ptr_array_index(files, i));
    if (files)
        g_ptr_array_set_size(files, 0);
}

static void
job_free(Job *job)
{
    if (!job)
        return;
    g_cancellable_cancel(job->cancellable);
    g_clear_object(&job->cancellable);
    g_clear_handle_id(&job->start_id, g_source_remove);
    g_clear_handle_id(&job->watchdog_id, g_source_remove);
    g_clear_handle_id(&job->timeout_id, g_source_remove);
    g_clear_handle_id(&job->qemu_img_timeout_id, g_source_remove);
    if (job->qemu_img) {
        g_subprocess_force_exit(job->qemu_img);
        g_clear_object(&job->qemu_img);
    }
    vl_container_decision_free(job->decision);
    g_free(job->template_name);
    if (job->conn)
        virConnectClose(job->conn);
    g_ptr_array_unref(job->steps);
    g_free(job->status);
    g_free(job->failure);
    vl_template_instance_free(job->instance);
    if (job->reserved)
        g_ptr_array_unref(job->reserved);
    g_free(job);
}

static Step *
current_step(Job *job)
{
    return job->current < job->steps->len ?
        g_ptr_array_index(job->steps, job->current) : NULL;
}

static const char *
container_of(Job *job)
{
    return job->decision->container;
}

static void
report(Job *job, const char *member, VlContainerMemberState state,
       const char *host)
{
    VlExecutor *executor = job->executor;

    if (executor->handlers.member_state)
        executor->handlers.member_state(executor, container_of(job), member,
                                        state, host, executor->user_data);
}

/* The member state a libvirt state stands for; FALSE for "gone". */
static gboolean
member_state_of(int state, VlContainerMemberState *out)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
        *out = VL_CONTAINER_MEMBER_RUNNING;
        return TRUE;
    case VIR_DOMAIN_SHUTOFF:
        *out = VL_CONTAINER_MEMBER_OFF;
        return TRUE;
    case VIR_DOMAIN_SHUTDOWN:
        *out = VL_CONTAINER_MEMBER_STOPPING;
        return TRUE;
    case -1:
        return FALSE;
    default:
        *out = VL_CONTAINER_MEMBER_OTHER;
        return TRUE;
    }
}

static void
report_real(Job *job, const char *member, int state)
{
    VlContainerMemberState mstate;

    if (member_state_of(state, &mstate))
        report(job, member, mstate, NULL);
}

static void
job_finish(Job *job)
{
    VlExecutor *executor = job->executor;
    VlContainerOutcome outcome = job->failure ? VL_CONTAINER_OUTCOME_FAILURE
                                              : VL_CONTAINER_OUTCOME_SUCCESS;
    guint index = 0;

    /* Unlisted first: the handler may submit the next job at once. */
    if (g_ptr_array_find(executor->jobs, job, &index))
        g_ptr_array_steal_index_fast(executor->jobs, index);
    if (job->failure)
        remove_files(job->reserved);
    if (executor->handlers.finished)
        executor->handlers.finished(executor, job->decision, outcome,
                                    job->failure, executor->user_data);
    job_free(job);
}

static void
set_status(Job *job, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
set_status(Job *job, const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list args;

    va_start(args, fmt);
    what = g_strdup_vprintf(fmt, args);
    va_end(args);
    g_free(job->status);
    job->status = g_strdup_printf("step %u of %u: %s", job->current + 1,
                                  job->steps->len, what);
}

/* ---- worker threads ------------------------------------------------ */

typedef void (*CallFunc)(Call *call, GError **error);

static void
call_thread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
            GCancellable *cancellable G_GNUC_UNUSED)
{
    CallFunc func = g_task_get_source_tag(task);
    GError *error = NULL;

    func(task_data, &error);
    if (error)
        g_task_return_error(task, error);
    else
        g_task_return_boolean(task, TRUE);
}

static Call *
call_new(Job *job, const char *domain)
{
    Call *call = g_new0(Call, 1);

    if (job->conn) {
        virConnectRef(job->conn);
        call->conn = job->conn;
    }
    call->domain = g_strdup(domain);
    call->state = -1;
    return call;
}

/* Runs @func(@call) in a thread, then @done on the main loop. */
static void
run_call(Job *job, Call *call, CallFunc func, GAsyncReadyCallback done)
{
    g_autoptr(GTask) task = g_task_new(NULL, job->cancellable, done, job);

    g_task_set_source_tag(task, func);
    g_task_set_task_data(task, call, (GDestroyNotify)call_free);
    g_task_run_in_thread(task, call_thread);
}

/* In a completion callback: the job, or NULL when it was freed. */
static Job *
job_of(GAsyncResult *result, gpointer user_data, Call **call, GError **error)
{
    GTask *task = G_TASK(result);

    if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        return NULL;
    *call = g_task_get_task_data(task);
    g_task_propagate_boolean(task, error);
    return user_data;
}

static virDomainPtr
lookup(virConnectPtr conn, const char *name, GError **error)
{
    virDomainPtr dom;

    if (!conn) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "Not connected to libvirt");
        return NULL;
    }
    dom = virDomainLookupByName(conn, name);
    if (!dom)
        vl_error_set_from_virt(error, "Cannot find domain '%s'", name);
    return dom;
}

static int
read_state(virDomainPtr dom)
{
    int state = VIR_DOMAIN_NOSTATE;
    int reason = 0;

    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        return VIR_DOMAIN_NOSTATE;
    return state;
}

static void
do_state(Call *call, GError **error)
{
    virDomainPtr dom;

    if (!call->conn) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "Not connected to libvirt");
        return;
    }
    dom = virDomainLookupByName(call->conn, call->domain);
    if (!dom) {
        virErrorPtr err = virGetLastError();

        if (err && err->code == VIR_ERR_NO_DOMAIN) {
            call->state = -1;
            return;
        }
        vl_error_set_from_virt(error, "Cannot find domain '%s'", call->domain);
        return;
    }
    call->state = read_state(dom);
    virDomainFree(dom);
}

/*
 * One lifecycle step on @call's domain: nothing to do when it is already
 * in @done_state (checked first with @check_before), else @action; a failure of @action is
 * no failure when the domain ended up in @done_state anyway (a destroy
 * racing the guest's own shutdown).  The state is read back either way.
 * The errors read "Cannot start domain 'NAME'", "Cannot shut down
 * domain 'NAME'", "Cannot destroy domain 'NAME'".
 */
static void
lifecycle_step(Call *call, int done_state, int (*action)(virDomainPtr),
               gboolean check_before, const char *what, GError **error)
{
    g_autoptr(virDomain) dom = lookup(call->conn, call->domain, error);

    if (!dom)
        return;
    if (check_before) {
        call->state = read_state(dom);
        if (call->state == done_state)
            return;
    }
    if (action(dom) < 0 && (check_before || read_state(dom) != done_state)) {
        vl_error_set_from_virt(error, "Cannot %s domain '%s'", what, call->domain);
        call->state = read_state(dom);
        return;
    }
    call->state = read_state(dom);
}

static void
do_start(Call *call, GError **error)
{
    lifecycle_step(call, VIR_DOMAIN_RUNNING, virDomainCreate, TRUE, "start", error);
}

static void
do_shutdown(Call *call, GError **error)
{
    lifecycle_step(call, VIR_DOMAIN_SHUTOFF, virDomainShutdown, TRUE, "shut down",
                   error);
}

static void
do_destroy(Call *call, GError **error)
{
    lifecycle_step(call, VIR_DOMAIN_SHUTOFF, virDomainDestroy, FALSE, "destroy",
                   error);
}

/* Creates @path, which must not exist yet, so that nothing of anyone
 * else is ever overwritten by qemu-img. */
static gboolean
reserve_file(const char *path, GError **error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
                  0600);

    if (fd < 0) {
        vl_error_set_from_errno(error, errno, "Cannot create overlay '%s'",
                                path);
        return FALSE;
    }
    close(fd);
    return TRUE;
}

static void
do_define_prepare(Call *call, GError **error)
{
    g_autoptr(virDomain) tmpl = NULL;
    g_autoptr(virDomain) existing = NULL;
    g_autofree char *xml = NULL;
    char *raw;
    guint i;

    tmpl = lookup(call->conn, call->template_name, error);
    if (!tmpl)
        return;
    existing = virDomainLookupByName(call->conn, call->domain);
    if (existing) {
        g_set_error(error, VL_ERROR, VL_ERROR_FAILED,
                    "Cannot define '%s' from template '%s': a domain of that name exists",
                    call->domain, call->template_name);
        return;
    }
    /* SECURE: the new member needs the template's passwords too.  The
     * XML may hold secrets: it is never logged. */
    raw = virDomainGetXMLDesc(tmpl, VIR_DOMAIN_XML_INACTIVE |
                              VIR_DOMAIN_XML_SECURE);
    if (!raw) {
        vl_error_set_from_virt(error, "Cannot read the XML of template '%s'",
                               call->template_name);
        return;
    }
    xml = g_strdup(raw);
    free(raw);

    call->instance = vl_template_instantiate(xml, strlen(xml),
                                             call->template_name, call->domain,
                                             call->container, error);
    if (!call->instance)
        return;
    call->reserved = g_ptr_array_new_with_free_func(g_free);
    for (i = 0; i < call->instance->disks->len; i++) {
        VlTemplateDisk *disk = g_ptr_array_index(call->instance->disks, i);

        if (!reserve_file(disk->overlay, error)) {
            remove_files(call->reserved);
            return;
        }
        g_ptr_array_add(call->reserved, g_strdup(disk->overlay));
    }
}

static gboolean
verify_defined(Call *call, virDomainPtr dom, GError **error)
{
    VlTemplateInstance *instance = call->instance;
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    const char *name = virDomainGetName(dom);
    g_auto(GStrv) macs = NULL;
    g_autofree char *xml = NULL;
    char *raw;
    guint i;

    if (g_strcmp0(name, instance->name) != 0 ||
        virDomainGetUUIDString(dom, uuid) < 0 ||
        g_ascii_strcasecmp(uuid, instance->uuid) != 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_FAILED,
                    "Domain '%s' was defined with another name or UUID",
                    instance->name);
        return FALSE;
    }
    raw = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    if (!raw) {
        vl_error_set_from_virt(error, "Cannot read the XML of '%s'",
                               instance->name);
        return FALSE;
    }
    xml = g_strdup(raw);
    free(raw);
    macs = vl_template_list_macs(xml, strlen(xml), error);
    if (!macs)
        return FALSE;
    for (i = 0; macs[i]; i++) {
        if (g_strv_contains((const char *const *)instance->template_macs,
                            macs[i])) {
            g_set_error(error, VL_ERROR, VL_ERROR_FAILED,
                        "Domain '%s' was defined with the template's MAC address '%s'",
                        instance->name, macs[i]);
            return FALSE;
        }
    }
    return TRUE;
}

static void
do_define_commit(Call *call, GError **error)
{
    g_autoptr(virDomain) dom = NULL;

    if (!call->conn) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "Not connected to libvirt");
        return;
    }
    dom = virDomainDefineXML(call->conn, call->instance->xml);
    if (!dom) {
        vl_error_set_from_virt(error, "Cannot define domain '%s' from template '%s'",
                               call->domain, call->template_name);
        return;
    }
    if (!verify_defined(call, dom, error)) {
        /* Leave nothing half-right behind. */
        virDomainUndefine(dom);
        return;
    }
    call->state = read_state(dom);
}

/* @user_data: the QEMU migration URI (the call's copy), or NULL to let
 * the destination pick its hostname. */
static gboolean
default_migrate(virDomainPtr dom, const char *dest_uri, gpointer user_data,
                GError **error)
{
    virTypedParameter param;
    const char *migration_uri = user_data;

    memset(&param, 0, sizeof(param));
    if (migration_uri) {
        g_strlcpy(param.field, VIR_MIGRATE_PARAM_URI, sizeof(param.field));
        param.type = VIR_TYPED_PARAM_STRING;
        param.value.s = (char *)migration_uri;
    }
    if (virDomainMigrateToURI3(dom, dest_uri, migration_uri ? &param : NULL,
                               migration_uri ? 1 : 0,
                               VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_LIVE) < 0) {
        vl_error_set_from_virt(error, "Cannot migrate domain '%s' to '%s'",
                               virDomainGetName(dom), dest_uri);
        return FALSE;
    }
    return TRUE;
}

static void
do_migrate_away(Call *call, GError **error)
{
    g_autoptr(virDomain) dom = lookup(call->conn, call->domain, error);

    if (!dom)
        return;
    if (!call->migrate_func(dom, call->peer, call->migrate_data, error)) {
        call->state = read_state(dom);
        return;
    }
    /* A persistent domain stays defined here, shut off; a transient one
     * is gone. */
    do_state(call, error);
}

static void
do_bring_back(Call *call, GError **error)
{
    g_autoptr(virConnect) peer = NULL;
    g_autoptr(virDomain) dom = NULL;

    if (!call->home_uri) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Cannot bring '%s' back from '%s': '[containers] home_uri' is not set",
                    call->domain, call->peer);
        return;
    }
    peer = virConnectOpen(call->peer);
    if (!peer) {
        vl_error_set_from_virt(error, "Cannot connect to '%s'", call->peer);
        return;
    }
    dom = lookup(peer, call->domain, error);
    if (!dom)
        return;
    if (!call->migrate_func(dom, call->home_uri, call->migrate_data, error))
        return;
    do_state(call, error);
}

/* ---- steps --------------------------------------------------------- */

static void
job_fail(Job *job, const char *fmt, ...)
{
    va_list args;

    if (job->failure)
        return;
    va_start(args, fmt);
    job->failure = g_strdup_vprintf(fmt, args);
    va_end(args);
}

static void
step_done(Job *job)
{
    g_clear_handle_id(&job->watchdog_id, g_source_remove);
    g_clear_handle_id(&job->timeout_id, g_source_remove);
    job->phase = SHUTDOWN_IDLE;
    job->current++;
    job_next(job);
}

/* After a failure: report what the domain really is, then finish. */
static void
on_final_state(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
               gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    Call *call = NULL;
    Job *job = job_of(result, user_data, &call, &error);

    if (!job)
        return;
    if (!error) {
        Step *step = current_step(job);

        if (step && step->kind == STEP_BRING_BACK &&
            call->state != VIR_DOMAIN_RUNNING)
            /* Not back: as far as we know it still runs there. */
            report(job, call->domain, VL_CONTAINER_MEMBER_RUNNING, step->peer);
        else
            report_real(job, call->domain, call->state);
    }
    job_finish(job);
}

static void
step_failed(Job *job, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
step_failed(Job *job, const char *fmt, ...)
{
    Step *step = current_step(job);
    va_list args;

    g_clear_handle_id(&job->watchdog_id, g_source_remove);
    g_clear_handle_id(&job->timeout_id, g_source_remove);
    if (!job->failure) {
        va_start(args, fmt);
        job->failure = g_strdup_vprintf(fmt, args);
        va_end(args);
    }
    if (!step || step->kind == STEP_DEFINE) {
        job_finish(job);
        return;
    }
    run_call(job, call_new(job, step->domain), do_state, on_final_state);
}

/* In a completion callback: the job when its call succeeded; NULL when
 * the job was freed or the call failed (the step then fails with the
 * call's error). */
static Job *
job_succeeded(GAsyncResult *result, gpointer user_data, Call **call)
{
    g_autoptr(GError) error = NULL;
    Job *job = job_of(result, user_data, call, &error);

    if (job && error) {
        step_failed(job, "%s", error->message);
        return NULL;
    }
    return job;
}

static gboolean
on_watchdog(gpointer data)
{
    Job *job = data;

    job->watchdog_id = 0;
    step_failed(job, "%s did not finish within %d s", job->status,
                STEP_WATCHDOG_S);
    return G_SOURCE_REMOVE;
}

static void
arm_watchdog(Job *job)
{
    g_clear_handle_id(&job->watchdog_id, g_source_remove);
    job->watchdog_id = g_timeout_add_seconds(STEP_WATCHDOG_S, on_watchdog, job);
}

/* start */

static void
on_started(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
           gpointer user_data)
{
    Call *call = NULL;
    Job *job = job_succeeded(result, user_data, &call);

    if (!job)
        return;
    if (call->state != VIR_DOMAIN_RUNNING) {
        step_failed(job, "Domain '%s' is not running after it was started",
                    call->domain);
        return;
    }
    report(job, call->domain, VL_CONTAINER_MEMBER_RUNNING, NULL);
    step_done(job);
}

static void
step_start(Job *job, Step *step)
{
    set_status(job, "starting '%s'", step->domain);
    report(job, step->domain, VL_CONTAINER_MEMBER_STARTING, NULL);
    arm_watchdog(job);
    run_call(job, call_new(job, step->domain), do_start, on_started);
}

/* shutdown */

static void shutdown_check(Job *job);

static void
shutdown_is_off(Job *job, const char *domain)
{
    report(job, domain, VL_CONTAINER_MEMBER_OFF, NULL);
    step_done(job);
}

static void
on_destroyed(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
             gpointer user_data)
{
    Call *call = NULL;
    Job *job = job_succeeded(result, user_data, &call);

    if (!job)
        return;
    if (call->state != VIR_DOMAIN_SHUTOFF && call->state != -1) {
        step_failed(job, "Domain '%s' is still not off after it was destroyed",
                    call->domain);
        return;
    }
    shutdown_is_off(job, call->domain);
}

static void
on_shutdown_checked(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
                    gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    Call *call = NULL;
    Job *job = job_of(result, user_data, &call, &error);
    gboolean timed_out;

    if (!job)
        return;
    timed_out = job->timeout_id == 0;
    if (error) {
        step_failed(job, "%s", error->message);
        return;
    }
    if (call->state == VIR_DOMAIN_SHUTOFF || call->state == -1) {
        shutdown_is_off(job, call->domain);
        return;
    }
    if (!timed_out) {
        /* The STOPPED event came, yet it runs: started again meanwhile. */
        job->phase = SHUTDOWN_WAITING;
        return;
    }
    if (job->destroy_on_timeout) {
        job->phase = SHUTDOWN_DESTROYING;
        set_status(job, "destroying '%s' (no shutdown within %u s)",
                   call->domain, job->shutdown_timeout_s);
        arm_watchdog(job);
        run_call(job, call_new(job, call->domain), do_destroy, on_destroyed);
        return;
    }
    step_failed(job, "Domain '%s' did not shut down within %u s",
                call->domain, job->shutdown_timeout_s);
}

static void
shutdown_check(Job *job)
{
    Step *step = current_step(job);

    g_return_if_fail(step != NULL);
    job->phase = SHUTDOWN_CHECKING;
    run_call(job, call_new(job, step->domain), do_state, on_shutdown_checked);
}

static gboolean
on_shutdown_timeout(gpointer data)
{
    Job *job = data;

    job->timeout_id = 0;
    if (job->phase == SHUTDOWN_WAITING)
        shutdown_check(job);
    return G_SOURCE_REMOVE;
}

static void
on_shutdown_called(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
                   gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    Call *call = NULL;
    Job *job = job_of(result, user_data, &call, &error);

    if (!job)
        return;
    g_clear_handle_id(&job->watchdog_id, g_source_remove);
    if (error) {
        step_failed(job, "%s", error->message);
        return;
    }
    if (call->state == VIR_DOMAIN_SHUTOFF || call->state == -1) {
        shutdown_is_off(job, call->domain);
        return;
    }
    job->phase = SHUTDOWN_WAITING;
    set_status(job, "waiting up to %u s for '%s' to shut down",
               job->shutdown_timeout_s, call->domain);
    job->timeout_id = g_timeout_add_seconds(job->shutdown_timeout_s,
                                            on_shutdown_timeout, job);
    /* The event may have come while the call ran. */
    if (job->stopped_seen)
        shutdown_check(job);
}

static void
step_shutdown(Job *job, Step *step)
{
    set_status(job, "shutting down '%s'", step->domain);
    report(job, step->domain, VL_CONTAINER_MEMBER_STOPPING, NULL);
    job->phase = SHUTDOWN_CALLING;
    job->stopped_seen = FALSE;
    arm_watchdog(job);
    run_call(job, call_new(job, step->domain), do_shutdown, on_shutdown_called);
}

/* define */

static void qemu_img_next(Job *job);

static void
on_defined(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
           gpointer user_data)
{
    Call *call = NULL;
    Job *job = job_succeeded(result, user_data, &call);

    if (!job)
        return;
    /* The overlays belong to the new domain now. */
    g_ptr_array_set_size(job->reserved, 0);
    report_real(job, call->domain, call->state);
    step_done(job);
}

static void
define_commit(Job *job)
{
    Step *step = current_step(job);
    Call *call;

    g_return_if_fail(step != NULL);
    call = call_new(job, step->domain);
    set_status(job, "defining '%s' from '%s'", step->domain, job->template_name);
    call->template_name = g_strdup(job->template_name);
    call->instance = g_steal_pointer(&job->instance);
    run_call(job, call, do_define_commit, on_defined);
}

/* The last line of qemu-img's output, made fit for one line of message. */
static char *
last_line(const char *output)
{
    g_auto(GStrv) lines = NULL;
    const char *last = "";
    char *copy;
    char *p;
    guint i;

    if (!output)
        return g_strdup("(no output)");
    lines = g_strsplit(output, "\n", -1);
    for (i = 0; lines[i]; i++) {
        if (*g_strstrip(lines[i]))
            last = lines[i];
    }
    copy = g_utf8_make_valid(last, MIN(strlen(last), 300));
    for (p = copy; *p; p++) {
        if ((guchar)*p < 0x20)
            *p = '?';
    }
    return copy;
}

static void
on_qemu_img_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *output = NULL;
    GSubprocess *proc = G_SUBPROCESS(source);
    Job *job = user_data;
    VlTemplateDisk *disk;

    if (!g_subprocess_communicate_utf8_finish(proc, result, &output, NULL,
                                              &error) &&
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;     /* the job was freed */

    g_clear_handle_id(&job->qemu_img_timeout_id, g_source_remove);
    g_clear_object(&job->qemu_img);
    disk = g_ptr_array_index(job->instance->disks, job->disk_index);
    if (job->qemu_img_timed_out) {
        step_failed(job, "qemu-img did not create overlay '%s' within %d s",
                    disk->overlay, VL_EXECUTOR_QEMU_IMG_TIMEOUT_S);
        return;
    }
    if (error) {
        step_failed(job, "Cannot run qemu-img for overlay '%s': %s",
                    disk->overlay, error->message);
        return;
    }
    if (!g_subprocess_get_if_exited(proc) ||
        g_subprocess_get_exit_status(proc) != 0) {
        g_autofree char *line = last_line(output);

        step_failed(job, "qemu-img failed to create overlay '%s' of '%s': %s",
                    disk->overlay, disk->base, line);
        return;
    }
    job->disk_index++;
    qemu_img_next(job);
}

static gboolean
on_qemu_img_timeout(gpointer data)
{
    Job *job = data;

    job->qemu_img_timeout_id = 0;
    job->qemu_img_timed_out = TRUE;
    if (job->qemu_img)
        g_subprocess_force_exit(job->qemu_img);
    return G_SOURCE_REMOVE;
}

/* qemu-img create -f qcow2 -b BASE -F FMT NEW, for each disk in turn. */
static void
qemu_img_next(Job *job)
{
    static const char *const env[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL=C",
        NULL
    };
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *program = NULL;
    VlTemplateDisk *disk;
    const char *argv[10];

    if (job->disk_index >= job->instance->disks->len) {
        define_commit(job);
        return;
    }
    disk = g_ptr_array_index(job->instance->disks, job->disk_index);
    set_status(job, "creating overlay '%s'", disk->overlay);

    program = g_path_is_absolute(job->executor->qemu_img) ?
        g_strdup(job->executor->qemu_img) :
        g_find_program_in_path(job->executor->qemu_img);
    if (!program) {
        step_failed(job, "Cannot find '%s' to create overlay '%s'",
                    job->executor->qemu_img, disk->overlay);
        return;
    }
    argv[0] = program;
    argv[1] = "create";
    argv[2] = "-f";
    argv[3] = "qcow2";
    argv[4] = "-b";
    argv[5] = disk->base;
    argv[6] = "-F";
    argv[7] = disk->base_format;
    argv[8] = disk->overlay;
    argv[9] = NULL;

    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                         G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_subprocess_launcher_set_environ(launcher, (char **)env);
    job->qemu_img = g_subprocess_launcher_spawnv(launcher, argv, &error);
    if (!job->qemu_img) {
        step_failed(job, "Cannot run '%s' to create overlay '%s': %s",
                    program, disk->overlay, error->message);
        return;
    }
    job->qemu_img_timed_out = FALSE;
    job->qemu_img_timeout_id = g_timeout_add_seconds(VL_EXECUTOR_QEMU_IMG_TIMEOUT_S,
                                                     on_qemu_img_timeout, job);
    g_subprocess_communicate_utf8_async(job->qemu_img, NULL, job->cancellable,
                                        on_qemu_img_done, job);
}

static void
on_define_prepared(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
                   gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    Call *call = NULL;
    Job *job = job_of(result, user_data, &call, &error);

    if (!job)
        return;
    g_clear_handle_id(&job->watchdog_id, g_source_remove);
    /* Ours from now on: removed if anything below fails. */
    if (call->reserved) {
        guint i;

        for (i = 0; i < call->reserved->len; i++)
            g_ptr_array_add(job->reserved,
                            g_strdup(g_ptr_array_index(call->reserved, i)));
        g_ptr_array_set_size(call->reserved, 0);
    }
    if (error) {
        step_failed(job, "%s", error->message);
        return;
    }
    job->instance = g_steal_pointer(&call->instance);
    job->disk_index = 0;
    qemu_img_next(job);
}

static void
step_define(Job *job, Step *step)
{
    Call *call = call_new(job, step->domain);

    set_status(job, "reading template '%s'", job->template_name);
    if (!job->template_name) {
        step_failed(job, "Cannot define '%s': the container has no template",
                    step->domain);
        call_free(call);
        return;
    }
    call->template_name = g_strdup(job->template_name);
    call->container = g_strdup(container_of(job));
    arm_watchdog(job);
    run_call(job, call, do_define_prepare, on_define_prepared);
}

/* migrations */

static void
on_migrated(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
            gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    Call *call = NULL;
    Job *job = job_of(result, user_data, &call, &error);
    Step *step;

    if (!job)
        return;
    step = current_step(job);
    if (error) {
        step_failed(job, "%s", error->message);
        return;
    }
    if (step->kind == STEP_MIGRATE_AWAY) {
        if (call->state == VIR_DOMAIN_RUNNING || call->state == VIR_DOMAIN_PAUSED) {
            step_failed(job, "Domain '%s' is still active here after its migration to '%s'",
                        step->domain, step->peer);
            return;
        }
        report(job, step->domain, VL_CONTAINER_MEMBER_RUNNING, step->peer);
    } else {
        if (call->state != VIR_DOMAIN_RUNNING) {
            step_failed(job, "Domain '%s' is not running here after its migration back from '%s'",
                        step->domain, step->peer);
            return;
        }
        report(job, step->domain, VL_CONTAINER_MEMBER_RUNNING, NULL);
    }
    step_done(job);
}

static void
step_migrate(Job *job, Step *step)
{
    VlExecutor *executor = job->executor;
    Call *call = call_new(job, step->domain);

    if (step->kind == STEP_MIGRATE_AWAY) {
        set_status(job, "migrating '%s' to '%s'", step->domain, step->peer);
        report(job, step->domain, VL_CONTAINER_MEMBER_MIGRATING, NULL);
    } else {
        set_status(job, "migrating '%s' back from '%s'", step->domain,
                   step->peer);
        report(job, step->domain, VL_CONTAINER_MEMBER_MIGRATING, step->peer);
    }
    call->peer = g_strdup(step->peer);
    call->home_uri = g_strdup(executor->home_uri);
    call->migrate_func = executor->migrate_func;
    call->migrate_data = executor->migrate_data;
    if (executor->migrate_data_ref) {
        /* The thread may outlive the executor (vl_executor_free()). */
        call->migrate_data = executor->migrate_data_ref(executor->migrate_data);
        call->migrate_data_unref = executor->migrate_data_unref;
    }
    if (call->migrate_func == default_migrate) {
        /* The thread reads the call's own copy, never the table. */
        call->migration_uri =
            g_strdup(vl_executor_get_migration_uri(executor,
                                                   step->kind == STEP_MIGRATE_AWAY ?
                                                   step->peer : executor->home_uri));
        call->migrate_data = call->migration_uri;
    }
    /* No watchdog: a migration may rightly take hours. */
    run_call(job, call, step->kind == STEP_MIGRATE_AWAY ? do_migrate_away
                                                        : do_bring_back,
             on_migrated);
}

static void
job_next(Job *job)
{
    Step *step = current_step(job);

    if (!step) {
        job_finish(job);
        return;
    }
    switch (step->kind) {
    case STEP_DEFINE:
        step_define(job, step);
        return;
    case STEP_START:
        step_start(job, step);
        return;
    case STEP_SHUTDOWN:
        step_shutdown(job, step);
        return;
    case STEP_MIGRATE_AWAY:
    case STEP_BRING_BACK:
        step_migrate(job, step);
        return;
    }
}

static gboolean
on_job_start(gpointer data)
{
    Job *job = data;

    job->start_id = 0;
    if (job->failure)
        job_finish(job);
    else if (!job->conn)
        step_failed(job, "Not connected to libvirt");
    else
        job_next(job);
    return G_SOURCE_REMOVE;
}

/* ---- building jobs ------------------------------------------------- */

static void
add_step(Job *job, StepKind kind, const char *domain, const char *peer)
{
    Step *step = g_new0(Step, 1);

    step->kind = kind;
    step->domain = g_strdup(domain);
    step->peer = g_strdup(peer);
    g_ptr_array_add(job->steps, step);
}

static guint
n_members(const VlContainerDecision *d)
{
    return d->members ? g_strv_length(d->members) : 0;
}

/* The steps of @d, or FALSE when the decision is incomplete. */
static gboolean
plan(Job *job, const char *const *member_hosts)
{
    const VlContainerDecision *d = job->decision;
    guint n = n_members(d);
    guint i;

    switch (d->action) {
    case VL_CONTAINER_ACTION_START_STANDBY:
        if (!d->start)
            return FALSE;
        add_step(job, STEP_START, d->start, NULL);
        return TRUE;
    case VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE:
        if (!d->define)
            return FALSE;
        add_step(job, STEP_DEFINE, d->define, NULL);
        if (d->start)
            add_step(job, STEP_START, d->start, NULL);
        return TRUE;
    case VL_CONTAINER_ACTION_REPLACE:
    case VL_CONTAINER_ACTION_COMBINE:
        if (!d->start ||
            n < (d->action == VL_CONTAINER_ACTION_COMBINE ? 2u : 1u))
            return FALSE;
        if (d->define)
            add_step(job, STEP_DEFINE, d->define, NULL);
        add_step(job, STEP_START, d->start, NULL);
        add_step(job, STEP_SHUTDOWN, d->members[0], NULL);
        if (d->action == VL_CONTAINER_ACTION_COMBINE)
            add_step(job, STEP_SHUTDOWN, d->members[1], NULL);
        return TRUE;
    case VL_CONTAINER_ACTION_SHUTDOWN_MEMBER:
        if (n < 1)
            return FALSE;
        add_step(job, STEP_SHUTDOWN, d->members[0], NULL);
        return TRUE;
    case VL_CONTAINER_ACTION_MIGRATE_AWAY:
        if (n < 1 || !d->peer)
            return FALSE;
        for (i = 0; i < n; i++)
            add_step(job, STEP_MIGRATE_AWAY, d->members[i], d->peer);
        return TRUE;
    case VL_CONTAINER_ACTION_BRING_BACK:
        if (n < 1 || !member_hosts)
            return FALSE;
        for (i = 0; i < n; i++) {
            if (!member_hosts[i])
                return FALSE;
            add_step(job, STEP_BRING_BACK, d->members[i], member_hosts[i]);
        }
        return TRUE;
    case VL_CONTAINER_ACTION_NONE:
    case VL_CONTAINER_ACTION_LAST:
        break;
    }
    return FALSE;
}

void
vl_executor_submit(VlExecutor *executor, virConnectPtr conn,
                   const VlContainerPolicy *policy,
                   const VlContainerDecision *decision,
                   const char *const *member_hosts)
{
    Job *job;

    g_return_if_fail(executor != NULL && policy != NULL && decision != NULL);

    job = g_new0(Job, 1);
    job->executor = executor;
    job->decision = g_new0(VlContainerDecision, 1);
    *job->decision = *decision;
    job->decision->container = g_strdup(decision->container);
    job->decision->start = g_strdup(decision->start);
    job->decision->define = g_strdup(decision->define);
    job->decision->members = g_strdupv(decision->members);
    job->decision->peer = g_strdup(decision->peer);
    job->template_name = g_strdup(policy->template_domain);
    job->shutdown_timeout_s = MAX(policy->shutdown_timeout_s, 1);
    job->destroy_on_timeout = policy->destroy_on_timeout;
    if (conn) {
        virConnectRef(conn);
        job->conn = conn;
    }
    job->steps = g_ptr_array_new_with_free_func((GDestroyNotify)step_free);
    job->reserved = g_ptr_array_new_with_free_func(g_free);
    job->cancellable = g_cancellable_new();
    job->status = g_strdup("about to start");

    if (decision->advise)
        job_fail(job, "An advised decision is never executed");
    else if (!plan(job, member_hosts))
        job_fail(job, "Decision '%s' of container '%s' is incomplete",
                 vl_container_action_to_string(decision->action),
                 decision->container);

    g_ptr_array_add(executor->jobs, job);
    /* Never call a handler from inside submit(). */
    job->start_id = g_idle_add(on_job_start, job);
}

/* ---- the executor -------------------------------------------------- */

VlExecutor *
vl_executor_new(const VlExecutorHandlers *handlers, gpointer user_data)
{
    VlExecutor *executor = g_new0(VlExecutor, 1);

    /* Templates are rewritten in worker threads (see template.c). */
    xmlInitParser();
    if (handlers)
        executor->handlers = *handlers;
    executor->user_data = user_data;
    executor->jobs = g_ptr_array_new_with_free_func((GDestroyNotify)job_free);
    executor->qemu_img = g_strdup("qemu-img");
    executor->migrate_func = default_migrate;
    executor->migration_uris = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                     g_free, g_free);
    return executor;
}

void
vl_executor_free(VlExecutor *executor)
{
    if (!executor)
        return;
    g_ptr_array_unref(executor->jobs);
    vl_executor_set_migrate_func(executor, NULL, NULL);
    g_free(executor->qemu_img);
    g_free(executor->home_uri);
    g_hash_table_unref(executor->migration_uris);
    g_free(executor);
}

void
vl_executor_set_qemu_img(VlExecutor *executor, const char *path)
{
    g_return_if_fail(path != NULL);
    g_free(executor->qemu_img);
    executor->qemu_img = g_strdup(path);
}

void
vl_executor_set_home_uri(VlExecutor *executor, const char *uri)
{
    g_free(executor->home_uri);
    executor->home_uri = g_strdup(uri);
}

void
vl_executor_set_migrate_func(VlExecutor *executor, VlExecutorMigrateFunc func,
                             gpointer user_data)
{
    vl_executor_set_migrate_func_full(executor, func, user_data, NULL, NULL);
}

void
vl_executor_set_migrate_func_full(VlExecutor *executor, VlExecutorMigrateFunc func,
                                  gpointer user_data, GBoxedCopyFunc ref,
                                  GDestroyNotify unref)
{
    g_return_if_fail(executor != NULL);
    g_return_if_fail((ref == NULL) == (unref == NULL));

    if (executor->migrate_data_unref)
        executor->migrate_data_unref(executor->migrate_data);
    executor->migrate_func = func ? func : default_migrate;
    executor->migrate_data = func ? user_data : NULL;
    executor->migrate_data_ref = func ? ref : NULL;
    executor->migrate_data_unref = func ? unref : NULL;
}

void
vl_executor_handle_lifecycle(VlExecutor *executor, const char *domain,
                             int event, int detail G_GNUC_UNUSED)
{
    guint i;

    if (event != VIR_DOMAIN_EVENT_STOPPED)
        return;
    for (i = 0; i < executor->jobs->len; i++) {
        Job *job = g_ptr_array_index(executor->jobs, i);
        Step *step = current_step(job);

        if (!step || step->kind != STEP_SHUTDOWN ||
            !g_str_equal(step->domain, domain))
            continue;
        if (job->phase == SHUTDOWN_CALLING)
            job->stopped_seen = TRUE;
        else if (job->phase == SHUTDOWN_WAITING)
            shutdown_check(job);
    }
}

gboolean
vl_executor_is_migrating(VlExecutor *executor, const char *domain)
{
    guint i;

    for (i = 0; i < executor->jobs->len; i++) {
        Step *step = current_step(g_ptr_array_index(executor->jobs, i));

        if (step && (step->kind == STEP_MIGRATE_AWAY ||
                     step->kind == STEP_BRING_BACK) &&
            g_str_equal(step->domain, domain))
            return TRUE;
    }
    return FALSE;
}

guint
vl_executor_get_migrations(VlExecutor *executor)
{
    guint n = 0;
    guint i;

    for (i = 0; i < executor->jobs->len; i++) {
        Job *job = g_ptr_array_index(executor->jobs, i);
        Step *step = current_step(job);

        if (!job->start_id && step && (step->kind == STEP_MIGRATE_AWAY ||
                                       step->kind == STEP_BRING_BACK))
            n++;
    }
    return n;
}

const char *
vl_executor_get_step(VlExecutor *executor, const char *container)
{
    guint i;

    for (i = 0; i < executor->jobs->len; i++) {
        Job *job = g_ptr_array_index(executor->jobs, i);

        if (g_str_equal(container_of(job), container))
            return job->status;
    }
    return NULL;
}

void
vl_executor_set_migration_uri(VlExecutor *executor, const char *dest_uri,
                              const char *migration_uri)
{
    g_return_if_fail(executor != NULL && dest_uri != NULL);
    if (migration_uri)
        g_hash_table_replace(executor->migration_uris, g_strdup(dest_uri),
                             g_strdup(migration_uri));
    else
        g_hash_table_remove(executor->migration_uris, dest_uri);
}

void
vl_executor_clear_migration_uris(VlExecutor *executor)
{
    g_return_if_fail(executor != NULL);
    g_hash_table_remove_all(executor->migration_uris);
}

const char *
vl_executor_get_migration_uri(VlExecutor *executor, const char *dest_uri)
{
    GHashTableIter iter;
    gpointer key;
    gpointer value;

    g_return_val_if_fail(executor != NULL, NULL);
    if (!dest_uri)
        return NULL;
    value = g_hash_table_lookup(executor->migration_uris, dest_uri);
    if (value)
        return value;
    /* The same host written another way ("qemu+tcp://B/system/"). */
    g_hash_table_iter_init(&iter, executor->migration_uris);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        if (vl_migrate_uri_equal(key, dest_uri))
            return value;
    }
    return NULL;
}
