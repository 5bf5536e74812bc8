/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* history-priv.h: the line codec of history.c, for the unit tests. */
#pragma once

#include "history.h"

G_BEGIN_DECLS

/* One line, without the newline; NULL + VL_ERROR_INVALID on bad fields. */
char *vl_history_record_to_line(const VlHistoryRecord *record,
                                GError **error);

/* Parses one line (no newline); NULL + VL_ERROR_INVALID if it is bad. */
VlHistoryRecord *vl_history_record_from_line(const char *line, gsize len,
                                             GError **error);

G_END_DECLS
