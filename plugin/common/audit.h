/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * audit.h: the container audit log, one JSON object per line
 *
 * Every container decision (advise or enforce) and every outcome is
 * appended as one line, e.g.
 *   {"time":"2025-01-01T10:00:00.000000Z","container":"web",
 *    "member":"web-3","members":["web-3"],"start":"web-3",
 *    "indicators":{"cpu":81.5,"net_rx":null,...},
 *    "threshold":{"indicator":"cpu","crossed":"overloaded","limit":75},
 *    "action":"start_standby","reason":"overloaded","mode":"enforce",
 *    "outcome":"decided"}
 * (on one line).  Unknown indicator values are null.  Names that are not
 * valid UTF-8 are written with U+FFFD in place of the bad bytes, so every
 * line stays valid JSON.  The file is opened with O_APPEND and every line
 * goes out in one write(), so lines from several writers never
 * interleave.  The format is documented in docs/containers.md.
 */
#pragma once

#include <glib.h>

#include "policy.h"

G_BEGIN_DECLS

typedef struct {
    gint64 time_us;         /* wall clock, microseconds since the epoch */
    char *container;
    char *member;           /* nullable: the principal member */
    GStrv members;          /* nullable: every member involved, in order */
    char *start;            /* nullable: the member started or defined */
    double values[VL_INDICATOR_LAST]; /* container values; NaN = unknown */
    VlIndicator indicator;  /* the threshold crossed; LAST = none */
    char *crossed;          /* nullable: "overloaded", "under_loaded", ... */
    double limit;           /* that threshold's value */
    char *action;           /* "start_standby", "none", ... */
    char *reason;           /* nullable */
    VlContainerMode mode;
    char *outcome;          /* "decided", "advised", "success", "failure" */
} VlAuditRecord;

/* A record with every pointer NULL, values unknown and no threshold. */
VlAuditRecord *vl_audit_record_new(void);
void vl_audit_record_free(VlAuditRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlAuditRecord, vl_audit_record_free)

typedef struct _VlAudit VlAudit;

/**
 * vl_audit_open:
 * @path: (transfer none): the log file, created 0640 when missing
 *
 * Returns the open log, or NULL with @error set.
 */
VlAudit *vl_audit_open(const char *path, GError **error);
void vl_audit_free(VlAudit *audit);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlAudit, vl_audit_free)

/* Reopens the file after logrotate; keeps the old fd on failure. */
gboolean vl_audit_reopen(VlAudit *audit, GError **error);

/**
 * vl_audit_append:
 * @record: (transfer none): written as one line
 *
 * Returns FALSE with @error set when the line could not be written whole.
 */
gboolean vl_audit_append(VlAudit *audit, const VlAuditRecord *record,
                         GError **error);

/* The line vl_audit_append() writes, without its newline. */
char *vl_audit_record_to_json(const VlAuditRecord *record);

/**
 * vl_audit_read_file:
 * @path: (transfer none): an audit log
 *
 * Returns (transfer full) the records in file order (VlAuditRecord*), or
 * NULL with @error naming the file and line of the first bad one.
 */
GPtrArray *vl_audit_read_file(const char *path, GError **error);

G_END_DECLS
