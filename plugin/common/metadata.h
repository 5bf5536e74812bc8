/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * metadata.h: virt-lanes' elements in a domain's <metadata>
 *
 * Two XML namespaces, because libvirt keeps at most one top-level
 * <metadata> element per namespace (virDomainSetMetadata replaces it):
 *
 * - VL_METADATA_CONTAINER_NS, prefix "lanes": the admin's container
 *   tag, <lanes:container name='web'/>.  It stays with the domain.
 *
 * - VL_METADATA_PLAN_NS, prefix "lanesplan": the migration plan the
 *   source puts into the destination XML ("dest_xml"), read by the
 *   destination daemon from the hook's "migrate begin":
 *
 *     <lanesplan:plan xmlns:lanesplan='https://virt-lanes.org/xmlns/plan/1.0'
 *                     id='web-3.1738412345' channels='6'>
 *       <lanesplan:source host='host-a' migration-address='198.19.0.1'/>
 *       <lanesplan:lane source-address='198.18.11.1' dest-address='198.18.11.2'/>
 *       <lanesplan:lane source-address='198.18.12.1' dest-address='198.18.12.2'/>
 *     </lanesplan:plan>
 *
 * Elements are found by namespace URI, never by prefix.  Domain XML
 * comes from outside (the hook, libvirt): it is parsed with a size
 * limit, without network access, without entity substitution, and a
 * document with a DOCTYPE is refused.  Every problem is VL_ERROR_INVALID
 * with a message naming the element or attribute.  No libvirt here.
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

#define VL_METADATA_CONTAINER_NS "https://virt-lanes.org/xmlns/lanes/1.0"
#define VL_METADATA_CONTAINER_PREFIX "lanes"
#define VL_METADATA_PLAN_NS "https://virt-lanes.org/xmlns/plan/1.0"
#define VL_METADATA_PLAN_PREFIX "lanesplan"

/* Largest domain XML parsed (the hook forwards at most 1 MiB). */
#define VL_METADATA_XML_MAX (4 * 1024 * 1024)
/* Most lanes in one plan. */
#define VL_PLAN_LANES_MAX 16
/* Longest plan id. */
#define VL_PLAN_ID_MAX 64
/* Bounds of a plan's channels (libvirt's parallel.connections). */
#define VL_PLAN_CHANNELS_MAX 255

/* ---- the migration plan ------------------------------------------------ */

typedef struct {
    char *source_address;   /* the source's end of the lane, no prefix */
    char *dest_address;     /* the destination's end, no prefix */
} VlPlanLane;

typedef struct {
    char *id;               /* vl_metadata_plan_id_is_valid() */
    char *source_host;      /* the source's name for itself (a label) */
    char *source_migration_address; /* IP address, no prefix */
    guint channels;         /* multifd channels; 0 = not parallel */
    GPtrArray *lanes;       /* VlPlanLane*, 0..VL_PLAN_LANES_MAX */
} VlMigrationPlan;

VlPlanLane *vl_plan_lane_new(const char *source_address,
                             const char *dest_address);
void vl_plan_lane_free(VlPlanLane *lane);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlPlanLane, vl_plan_lane_free)

/* Empty plan (lanes array empty, never NULL). */
VlMigrationPlan *vl_migration_plan_new(void);
void vl_migration_plan_free(VlMigrationPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlMigrationPlan, vl_migration_plan_free)

/* Whether @id is a valid plan id: 1..64 characters of [A-Za-z0-9._:-]. */
gboolean vl_metadata_plan_id_is_valid(const char *id);

/**
 * vl_migration_plan_format:
 *
 * The <lanesplan:plan> element with its xmlns declaration, as a string,
 * after checking every field (VL_ERROR_INVALID otherwise).
 * Returns: (transfer full): the element, or NULL
 */
char *vl_migration_plan_format(const VlMigrationPlan *plan, GError **error);

/**
 * vl_migration_plan_format_for_metadata:
 *
 * The plan as virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
 * xml, VL_METADATA_PLAN_PREFIX, VL_METADATA_PLAN_NS, flags) wants it:
 * without prefix or xmlns (libvirt puts the element and its children
 * into the namespace; a snippet that declares the prefix itself fails
 * with "failed to create a new XML namespace" in libvirt 9.0).
 * Returns: (transfer full): the element, or NULL
 */
char *vl_migration_plan_format_for_metadata(const VlMigrationPlan *plan,
                                            GError **error);

/* Parses a standalone <plan> element in VL_METADATA_PLAN_NS (as
 * virDomainGetMetadata returns it).  Returns: (transfer full) */
VlMigrationPlan *vl_migration_plan_parse(const char *xml, gsize len,
                                         GError **error);

/**
 * vl_migration_plan_from_domain_xml:
 * @xml: a whole <domain> document; need not be NUL-terminated
 * @len: its length (at most VL_METADATA_XML_MAX)
 * @plan: (out) (transfer full): the plan in /domain/metadata, or NULL
 *        when the domain carries none (which is not an error)
 *
 * Returns: FALSE with @error when the XML or the plan is invalid
 * (@plan is then left untouched).
 */
gboolean vl_migration_plan_from_domain_xml(const char *xml, gsize len,
                                           VlMigrationPlan **plan,
                                           GError **error);

/**
 * vl_migration_plan_insert_into_domain_xml:
 *
 * A copy of the domain document @xml with @plan as the only element of
 * VL_METADATA_PLAN_NS in its <metadata> (created when missing; an older
 * plan is replaced), for the "dest_xml" migration parameter.
 * Returns: (transfer full): the new document, or NULL
 */
char *vl_migration_plan_insert_into_domain_xml(const char *xml, gsize len,
                                               const VlMigrationPlan *plan,
                                               GError **error);

/* ---- the container tag ------------------------------------------------- */

/* Whether @name is a valid container name: 1..64 of [A-Za-z0-9_.-]
 * (the policy's rule). */
gboolean vl_metadata_container_name_is_valid(const char *name);

/**
 * vl_container_tag_format:
 * @with_namespace: TRUE: <lanes:container xmlns:lanes='…' name='web'/>
 *   (for raw domain XML); FALSE: <container name='web'/> (what
 *   virDomainSetMetadata takes, with key "lanes" and the URI)
 */
char *vl_container_tag_format(const char *name, gboolean with_namespace,
                              GError **error);

/* The name in a standalone <container> element of
 * VL_METADATA_CONTAINER_NS (as virDomainGetMetadata returns it). */
char *vl_container_tag_parse(const char *xml, gsize len, GError **error);

/* @name: (out) (transfer full): the tag in /domain/metadata, or NULL
 * when there is none (not an error). */
gboolean vl_container_tag_from_domain_xml(const char *xml, gsize len,
                                          char **name, GError **error);

/* ---- helpers for other parsers of outside XML -------------------------- */

/**
 * vl_metadata_read_xml:
 * @what: names the document in errors ("domain XML")
 *
 * Parses @len bytes with the rules above (size limit, XML_PARSE_NONET,
 * no entity substitution, no DOCTYPE).  Returns: (transfer full)
 */
xmlDoc *vl_metadata_read_xml(const char *xml, gsize len, const char *what,
                             GError **error);

G_END_DECLS
