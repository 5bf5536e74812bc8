/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vl-virt-autoptr.h: g_autoptr() cleanups for libvirt's types (core only). */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
