/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vl-autoptr.h: g_autoptr()/g_auto() cleanups for foreign types that
 * libvl-common uses.  libvirt's types are declared in the core
 * library's vl-virt-autoptr.h, because libvl-common (and so the hook)
 * must never see a libvirt header.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_tokener, json_tokener_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

/* GLib 2.74 has no g_autofd: "g_auto(VlFd) fd = -1;" closes on scope exit. */
typedef int VlFd;

static inline void
vl_fd_close(VlFd fd)
{
    if (fd >= 0)
        close(fd);
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC(VlFd, vl_fd_close, -1)
