/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cmd-estimate-priv.h: the parts of "virt-lanes estimate" tests reach */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

/*
 * Appends the human-readable form of an "estimate" reply to @out: the
 * inputs (with where they came from and how old they are), one table row
 * per lane count, then the notes.  The reply is input from outside:
 * missing or mistyped fields print as "?", control characters as '?'.
 */
void vl_cmd_estimate_format(json_object *reply, GString *out);

G_END_DECLS
