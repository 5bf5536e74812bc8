/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conn-priv.h: VlConn internals exposed for tests only */
#pragma once

#include "conn.h"

G_BEGIN_DECLS

/*
 * What libvirt's close callback runs (@reason is a
 * virConnectCloseReason).  test:///default never closes by itself, so
 * tests call this to drive the real loss-and-reconnect path.
 */
void vl_conn_handle_close(VlConn *conn, int reason);

G_END_DECLS
