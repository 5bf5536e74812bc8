/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * template.c: a new container member's XML from its template's
 */
#include <config.h>

#include <string.h>

#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "metadata.h"
#include "template.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* Longest member name: a file name must still fit (NAME-TARGET.qcow2). */
#define NAME_MAX_BYTES 200

void
vl_template_disk_free(VlTemplateDisk *disk)
{
    if (!disk)
        return;
    g_free(disk->target);
    g_free(disk->base);
    g_free(disk->base_format);
    g_free(disk->overlay);
    g_free(disk);
}

void
vl_template_instance_free(VlTemplateInstance *instance)
{
    if (!instance)
        return;
    g_free(instance->name);
    g_free(instance->uuid);
    g_free(instance->xml);
    if (instance->disks)
        g_ptr_array_unref(instance->disks);
    g_strfreev(instance->template_macs);
    g_free(instance);
}

gboolean
vl_template_name_is_valid(const char *name)
{
    const char *p;

    if (!name || !*name || strlen(name) > NAME_MAX_BYTES ||
        !g_utf8_validate(name, -1, NULL) || name[0] == '.' || name[0] == '-')
        return FALSE;
    for (p = name; *p; p++) {
        if ((guchar)*p < 0x20 || *p == 0x7f || *p == '/')
            return FALSE;
    }
    return TRUE;
}

static gboolean
is_named(const xmlNode *node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && node->ns == NULL &&
        g_str_equal((const char *)node->name, name);
}

static xmlNode *
child(xmlNode *parent, const char *name)
{
    xmlNode *c;

    for (c = parent ? parent->children : NULL; c; c = c->next) {
        if (is_named(c, name))
            return c;
    }
    return NULL;
}

/* An attribute's value (caller frees), or NULL. */
static char *
attr(xmlNode *node, const char *name)
{
    xmlChar *value = xmlGetNoNsProp(node, (const xmlChar *)name);
    char *copy;

    if (!value)
        return NULL;
    copy = g_strdup((const char *)value);
    xmlFree(value);
    return copy;
}

static void
remove_node(xmlNode *node)
{
    xmlUnlinkNode(node);
    xmlFreeNode(node);
}

/* Text content set literally (escaped on output, never parsed). */
static void
set_text(xmlNode *node, const char *text)
{
    xmlNodeSetContent(node, NULL);
    xmlNodeAddContent(node, (const xmlChar *)text);
}

static void
set_identity(xmlNode *domain, const char *name, const char *uuid)
{
    xmlNode *node = child(domain, "name");
    xmlNode *sysinfo;

    if (!node)
        node = xmlNewChild(domain, NULL, (const xmlChar *)"name", NULL);
    set_text(node, name);

    node = child(domain, "uuid");
    if (!node)
        node = xmlNewChild(domain, NULL, (const xmlChar *)"uuid", NULL);
    set_text(node, uuid);

    /* SMBIOS may repeat the UUID; libvirt refuses a copy that differs. */
    for (sysinfo = domain->children; sysinfo; sysinfo = sysinfo->next) {
        xmlNode *system;

        if (!is_named(sysinfo, "sysinfo"))
            continue;
        system = child(sysinfo, "system");
        if (system) {
            xmlNode *entry = system->children;

            while (entry) {
                xmlNode *next = entry->next;
                g_autofree char *entry_name = is_named(entry, "entry") ?
                    attr(entry, "name") : NULL;

                if (g_strcmp0(entry_name, "uuid") == 0)
                    remove_node(entry);
                entry = next;
            }
        }
    }
}

static void
drop_macs(xmlNode *devices, GPtrArray *macs)
{
    xmlNode *iface;

    for (iface = devices ? devices->children : NULL; iface; iface = iface->next) {
        xmlNode *mac;

        if (!is_named(iface, "interface"))
            continue;
        while ((mac = child(iface, "mac"))) {
            g_autofree char *address = attr(mac, "address");

            if (address)
                g_ptr_array_add(macs, g_ascii_strdown(address, -1));
            remove_node(mac);
        }
    }
}

static gboolean
in_our_namespace(const xmlNode *node)
{
    return node->type == XML_ELEMENT_NODE && node->ns && node->ns->href &&
        (g_str_equal((const char *)node->ns->href, VL_METADATA_CONTAINER_NS) ||
         g_str_equal((const char *)node->ns->href, VL_METADATA_PLAN_NS));
}

static gboolean
set_tag(xmlDoc *doc, xmlNode *domain, const char *container, GError **error)
{
    g_autofree char *tag = NULL;
    g_autoptr(xmlDoc) tag_doc = NULL;
    xmlNode *metadata = child(domain, "metadata");
    xmlNode *node;
    xmlNode *copy;

    tag = vl_container_tag_format(container, TRUE, error);
    if (!tag)
        return FALSE;
    tag_doc = vl_metadata_read_xml(tag, strlen(tag), "container tag", error);
    if (!tag_doc)
        return FALSE;

    if (!metadata)
        metadata = xmlNewChild(domain, NULL, (const xmlChar *)"metadata", NULL);
    node = metadata->children;
    while (node) {
        xmlNode *next = node->next;

        if (in_our_namespace(node))
            remove_node(node);
        node = next;
    }
    copy = xmlDocCopyNode(xmlDocGetRootElement(tag_doc), doc, 1);
    if (!copy || !xmlAddChild(metadata, copy)) {
        xmlFreeNode(copy);
        g_set_error(error, VL_ERROR, VL_ERROR_FAILED,
                    "Cannot add the container tag '%s' to the domain XML",
                    container);
        return FALSE;
    }
    return TRUE;
}

/* Whether @disk is a writable disk of the guest's own (not shared). */
static gboolean
is_own_disk(xmlNode *disk)
{
    g_autofree char *device = attr(disk, "device");

    if (device && !g_str_equal(device, "disk") && !g_str_equal(device, "lun"))
        return FALSE;       /* cdrom, floppy: media, shared */
    return !child(disk, "readonly") && !child(disk, "shareable") &&
        !child(disk, "transient");
}

static gboolean
is_target_name(const char *s)
{
    if (!s || !*s || strlen(s) > 32)
        return FALSE;
    for (; *s; s++) {
        if (!g_ascii_isalnum(*s))
            return FALSE;
    }
    return TRUE;
}

static gboolean
plan_disks(xmlNode *devices, const char *template_name, const char *name,
           GPtrArray *disks, GError **error)
{
    g_autoptr(GPtrArray) nodes = g_ptr_array_new();
    xmlNode *disk;
    guint i;

    for (disk = devices ? devices->children : NULL; disk; disk = disk->next) {
        g_autofree char *type = NULL;
        g_autofree char *target_dev = NULL;
        xmlNode *source;
        xmlNode *target;

        if (!is_named(disk, "disk") || !is_own_disk(disk))
            continue;
        type = attr(disk, "type");
        target = child(disk, "target");
        target_dev = target ? attr(target, "dev") : NULL;
        if (type && !g_str_equal(type, "file")) {
            g_autofree char *shown = g_strescape(type, NULL);

            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Template '%s': disk '%s' is of type '%s'; only file disks can be copied as overlays",
                        template_name, target_dev ? target_dev : "?", shown);
            return FALSE;
        }
        source = child(disk, "source");
        if (!source || !xmlHasProp(source, (const xmlChar *)"file"))
            continue;       /* no medium: nothing to copy */
        if (!is_target_name(target_dev)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Template '%s': a file disk has no valid target device name",
                        template_name);
            return FALSE;
        }
        g_ptr_array_add(nodes, disk);
    }

    for (i = 0; i < nodes->len; i++) {
        xmlNode *node = g_ptr_array_index(nodes, i);
        xmlNode *source = child(node, "source");
        xmlNode *driver = child(node, "driver");
        xmlNode *backing;
        VlTemplateDisk *d = g_new0(VlTemplateDisk, 1);
        g_autofree char *dir = NULL;
        g_autofree char *file = NULL;

        g_ptr_array_add(disks, d);
        d->target = attr(child(node, "target"), "dev");
        d->base = attr(source, "file");
        d->base_format = driver ? attr(driver, "type") : NULL;
        if (!d->base_format)
            d->base_format = g_strdup("raw");   /* libvirt's default */
        if (!g_path_is_absolute(d->base)) {
            g_autofree char *shown = g_strescape(d->base, NULL);

            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Template '%s': disk '%s' has a relative path '%s'",
                        template_name, d->target, shown);
            return FALSE;
        }
        if (!is_target_name(d->base_format)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Template '%s': disk '%s' has an invalid format",
                        template_name, d->target);
            return FALSE;
        }
        dir = g_path_get_dirname(d->base);
        file = nodes->len == 1 ? g_strdup_printf("%s.qcow2", name)
                               : g_strdup_printf("%s-%s.qcow2", name, d->target);
        d->overlay = g_build_filename(dir, file, NULL);

        xmlSetProp(source, (const xmlChar *)"file", (const xmlChar *)d->overlay);
        if (!driver) {
            driver = xmlNewChild(node, NULL, (const xmlChar *)"driver", NULL);
            xmlSetProp(driver, (const xmlChar *)"name", (const xmlChar *)"qemu");
        }
        xmlSetProp(driver, (const xmlChar *)"type", (const xmlChar *)"qcow2");
        /* libvirt reads the new chain from the overlay's header. */
        while ((backing = child(node, "backingStore")))
            remove_node(backing);
    }
    return TRUE;
}

VlTemplateInstance *
vl_template_instantiate(const char *xml, gsize len, const char *template_name,
                        const char *name, const char *container,
                        GError **error)
{
    g_autoptr(VlTemplateInstance) instance = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(GPtrArray) macs = NULL;
    xmlNode *domain;
    xmlNode *devices;
    xmlChar *out = NULL;
    int out_len = 0;

    g_return_val_if_fail(xml && template_name && name && container, NULL);

    if (!vl_template_name_is_valid(name)) {
        g_autofree char *shown = g_strescape(name, NULL);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Cannot name a new member '%s'", shown);
        return NULL;
    }
    doc = vl_metadata_read_xml(xml, len, "template XML", error);
    if (!doc)
        return NULL;
    domain = xmlDocGetRootElement(doc);
    if (!domain || !is_named(domain, "domain")) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Template '%s': the XML is not a <domain>", template_name);
        return NULL;
    }

    instance = g_new0(VlTemplateInstance, 1);
    instance->name = g_strdup(name);
    instance->uuid = g_uuid_string_random();
    instance->disks = g_ptr_array_new_with_free_func((GDestroyNotify)vl_template_disk_free);
    macs = g_ptr_array_new_with_free_func(g_free);

    set_identity(domain, name, instance->uuid);
    devices = child(domain, "devices");
    drop_macs(devices, macs);
    if (!set_tag(doc, domain, container, error))
        return NULL;
    if (!plan_disks(devices, template_name, name, instance->disks, error))
        return NULL;

    xmlDocDumpMemory(doc, &out, &out_len);
    if (!out) {
        g_set_error(error, VL_ERROR, VL_ERROR_FAILED,
                    "Cannot write the XML of '%s'", name);
        return NULL;
    }
    instance->xml = g_strndup((const char *)out, out_len);
    xmlFree(out);
    g_ptr_array_add(macs, NULL);
    instance->template_macs = (GStrv)g_ptr_array_free(g_steal_pointer(&macs), FALSE);
    return g_steal_pointer(&instance);
}

GStrv
vl_template_list_macs(const char *xml, gsize len, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(GPtrArray) macs = g_ptr_array_new_with_free_func(g_free);
    xmlNode *domain;
    xmlNode *iface;

    doc = vl_metadata_read_xml(xml, len, "domain XML", error);
    if (!doc)
        return NULL;
    domain = xmlDocGetRootElement(doc);
    for (iface = child(child(domain, "devices"), "interface"); iface;
         iface = iface->next) {
        xmlNode *mac;

        if (!is_named(iface, "interface"))
            continue;
        mac = child(iface, "mac");
        if (mac) {
            g_autofree char *address = attr(mac, "address");

            if (address)
                g_ptr_array_add(macs, g_ascii_strdown(address, -1));
        }
    }
    g_ptr_array_add(macs, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&macs), FALSE);
}
