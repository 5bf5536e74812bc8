/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * template.h: a new container member's XML from its template's
 *
 * A container's "template" domain is never started; new members are
 * defined from its inactive XML with their own identity:
 *   - /domain/name: the new name; /domain/uuid: a new random UUID (and
 *     sysinfo's copy of the UUID dropped, which libvirt would refuse);
 *   - every interface's <mac> dropped, so that libvirt assigns new ones;
 *   - virt-lanes' own metadata (the container tag, a migration plan)
 *     replaced by the container's tag;
 *   - every writable file disk turned into a qcow2 overlay whose backing
 *     file is the template's disk (the overlay is created by the caller,
 *     see VlTemplateDisk); read-only and shareable disks, CD-ROMs and
 *     floppies stay shared.  Disks of other types (block, network,
 *     volume, dir) cannot be copied this way: that is an error naming
 *     the disk.
 * Pure: libxml2 only, no libvirt, no I/O.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    char *target;           /* the disk's target dev, e.g. "vda" */
    char *base;             /* the template's file (the backing file) */
    char *base_format;      /* its format, e.g. "raw", "qcow2" */
    char *overlay;          /* the new member's file: dirname(base)/NAME.qcow2,
                             * or NAME-TARGET.qcow2 with several disks */
} VlTemplateDisk;

typedef struct {
    char *name;
    char *uuid;
    char *xml;              /* the new domain's XML, for virDomainDefineXML */
    GPtrArray *disks;       /* VlTemplateDisk*, to create before defining */
    GStrv template_macs;    /* the template's MACs, which must not recur */
} VlTemplateInstance;

void vl_template_disk_free(VlTemplateDisk *disk);
void vl_template_instance_free(VlTemplateInstance *instance);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlTemplateInstance, vl_template_instance_free)

/* Whether @name may name a new member (and its overlay files): 1 to 200
 * bytes of valid UTF-8, no '/', no control characters, not starting
 * with '.' or '-'. */
gboolean vl_template_name_is_valid(const char *name);

/**
 * vl_template_instantiate:
 * @xml: the template's inactive domain XML; need not be NUL-terminated
 * @len: its length
 * @template_name: (transfer none): the template's name, for messages
 * @name: (transfer none): the new member's name
 * @container: (transfer none): the container it is tagged with
 * @error: (out) (optional): VL_ERROR_INVALID naming what is wrong
 *
 * Returns: (transfer full): the new member's definition, or NULL
 */
VlTemplateInstance *vl_template_instantiate(const char *xml, gsize len,
                                            const char *template_name,
                                            const char *name,
                                            const char *container,
                                            GError **error);

/**
 * vl_template_list_macs:
 *
 * The MAC addresses of every interface in the domain XML @xml, in
 * document order, lower case.
 * Returns: (transfer full): the list (empty when none), or NULL
 */
GStrv vl_template_list_macs(const char *xml, gsize len, GError **error);

G_END_DECLS
