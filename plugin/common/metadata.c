/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <string.h>

#include <gio/gio.h>
#include <libxml/parser.h>
#include <libxml/xmlsave.h>

#include "metadata.h"
#include "vl-autoptr.h"
#include "vl-error.h"

#define LABEL_MAX 64

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlParserCtxt, xmlFreeParserCtxt)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlBuffer, xmlBufferFree)

/* ---- plain values ------------------------------------------------------- */

static gboolean
is_label(const char *s, const char *extra)
{
    gsize n = 0;

    if (!s || !*s)
        return FALSE;
    for (; *s; s++, n++) {
        if (!g_ascii_isalnum(*s) && !strchr(extra, *s))
            return FALSE;
    }
    return n <= LABEL_MAX;
}

gboolean
vl_metadata_plan_id_is_valid(const char *id)
{
    return is_label(id, "._:-");
}

gboolean
vl_metadata_container_name_is_valid(const char *name)
{
    return is_label(name, "_.-");
}

/* An IP address without prefix; its canonical spelling, or NULL. */
static char *
canonical_ip(const char *text)
{
    g_autoptr(GInetAddress) addr = NULL;

    if (!text || !(addr = g_inet_address_new_from_string(text)))
        return NULL;
    return g_inet_address_to_string(addr);
}

static GSocketFamily
ip_family(const char *text)
{
    g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(text);

    return addr ? g_inet_address_get_family(addr) : G_SOCKET_FAMILY_INVALID;
}

/* A value from outside, made fit for one line of message: valid UTF-8,
 * control characters, quotes and backslashes escaped, at most @max bytes. */
static char *
shown(const char *value, gsize max)
{
    g_autofree char *valid = g_utf8_make_valid(value ? value : "", -1);
    GString *out = g_string_new(NULL);
    const char *p;

    for (p = valid; *p; p = g_utf8_next_char(p)) {
        guchar c = (guchar) *p;

        if (out->len >= max) {
            g_string_append(out, "...");
            break;
        }
        if (c < 0x20 || c == 0x7f)
            g_string_append_printf(out, "\\x%02x", c);
        else if (c == '\'' || c == '\\')
            g_string_append_printf(out, "\\%c", c);
        else
            g_string_append_len(out, p, g_utf8_next_char(p) - p);
    }
    return g_string_free(out, FALSE);
}

/* ---- VlMigrationPlan ------------------------------------------------------ */

VlPlanLane *
vl_plan_lane_new(const char *source_address, const char *dest_address)
{
    VlPlanLane *lane = g_new0(VlPlanLane, 1);

    lane->source_address = g_strdup(source_address);
    lane->dest_address = g_strdup(dest_address);
    return lane;
}

void
vl_plan_lane_free(VlPlanLane *lane)
{
    if (!lane)
        return;
    g_free(lane->source_address);
    g_free(lane->dest_address);
    g_free(lane);
}

VlMigrationPlan *
vl_migration_plan_new(void)
{
    VlMigrationPlan *plan = g_new0(VlMigrationPlan, 1);

    plan->lanes = g_ptr_array_new_with_free_func((GDestroyNotify) vl_plan_lane_free);
    return plan;
}

void
vl_migration_plan_free(VlMigrationPlan *plan)
{
    if (!plan)
        return;
    g_free(plan->id);
    g_free(plan->source_host);
    g_free(plan->source_migration_address);
    if (plan->lanes)
        g_ptr_array_unref(plan->lanes);
    g_free(plan);
}

/* ---- reading outside XML ------------------------------------------------- */

/* Finds @needle in the first @len bytes of @hay. */
static gboolean
contains(const char *hay, gsize len, const char *needle)
{
    gsize n = strlen(needle);
    gsize i;

    for (i = 0; i + n <= len; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
            return TRUE;
    }
    return FALSE;
}

xmlDoc *
vl_metadata_read_xml(const char *xml, gsize len, const char *what, GError **error)
{
    g_autoptr(xmlParserCtxt) ctxt = NULL;
    g_autoptr(xmlDoc) doc = NULL;

    if (!xml || len == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID, "The %s is empty", what);
        return NULL;
    }
    if (len > VL_METADATA_XML_MAX) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "The %s is too large (%zu bytes, at most %d)", what, len,
                    VL_METADATA_XML_MAX);
        return NULL;
    }
    /*
     * No document type, so no entities at all: libvirt never writes
     * one, and refusing it before parsing leaves nothing to expand.
     */
    if (contains(xml, len, "<!DOCTYPE") || contains(xml, len, "<!ENTITY")) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "The %s has a document type declaration, which is not accepted", what);
        return NULL;
    }

    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        g_set_error(error, VL_ERROR, VL_ERROR_FAILED, "Cannot create an XML parser");
        return NULL;
    }
    /* No XML_PARSE_NOENT (no entity substitution), no DTD loading, no
     * network; libxml2's own limits on depth and sizes stay on. */
    doc = xmlCtxtReadMemory(ctxt, xml, (int) len, "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    if (!doc || !ctxt->wellFormed) {
        const xmlError *xerr = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = g_strdup(xerr && xerr->message ? xerr->message : "not well-formed");

        char *c;

        /* libxml2's messages may span lines ("Bytes: 0xFF ..."). */
        g_strchomp(msg);
        for (c = msg; *c; c++) {
            if ((guchar) *c < 0x20)
                *c = ' ';
        }
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID, "Cannot parse the %s: line %d: %s",
                    what, xerr ? xerr->line : 0, msg);
        return NULL;
    }
    if (doc->intSubset || doc->extSubset) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "The %s has a document type declaration, which is not accepted", what);
        return NULL;
    }
    return g_steal_pointer(&doc);
}

static gboolean
in_ns(const xmlNode *node, const char *uri)
{
    return node->ns && node->ns->href && g_str_equal((const char *) node->ns->href, uri);
}

static gboolean
is_element(const xmlNode *node, const char *uri, const char *name)
{
    return node->type == XML_ELEMENT_NODE && in_ns(node, uri) &&
        g_str_equal((const char *) node->name, name);
}

/*
 * The one element {@uri}@name under /domain/metadata, or NULL (not an
 * error).  FALSE with @error on a document that is not a domain or
 * holds two of them.
 */
static gboolean
find_in_metadata(xmlDoc *doc, const char *uri, const char *name, xmlNode **found,
                 GError **error)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *child;
    xmlNode *node;

    *found = NULL;
    if (!root || root->ns || !g_str_equal((const char *) root->name, "domain")) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "The domain XML's root element is not <domain>");
        return FALSE;
    }
    for (child = root->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE || child->ns ||
            !g_str_equal((const char *) child->name, "metadata"))
            continue;
        for (node = child->children; node; node = node->next) {
            if (!is_element(node, uri, name))
                continue;
            if (*found) {
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "The domain XML has more than one <%s> in namespace '%s'",
                            name, uri);
                *found = NULL;
                return FALSE;
            }
            *found = node;
        }
    }
    return TRUE;
}

/* Refuses attributes other than @allowed (NULL-terminated) on @node. */
static gboolean
check_attributes(xmlNode *node, const char *const *allowed, GError **error)
{
    xmlAttr *attr;

    for (attr = node->properties; attr; attr = attr->next) {
        gboolean ok = FALSE;
        guint i;

        for (i = 0; allowed[i] && !attr->ns; i++)
            ok = ok || g_str_equal((const char *) attr->name, allowed[i]);
        if (!ok) {
            g_autofree char *name = shown((const char *) attr->name, 64);

            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Unknown attribute '%s' on <%s>", name, node->name);
            return FALSE;
        }
    }
    return TRUE;
}

/* A required attribute (owned), or NULL with @error. */
static char *
get_attribute(xmlNode *node, const char *name, GError **error)
{
    xmlChar *value = xmlGetNoNsProp(node, (const xmlChar *) name);
    char *copy;

    if (!value) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Missing attribute '%s' on <%s>", name, node->name);
        return NULL;
    }
    copy = g_strdup((const char *) value);
    xmlFree(value);
    return copy;
}

static char *
get_address(xmlNode *node, const char *name, GError **error)
{
    g_autofree char *value = get_attribute(node, name, error);
    g_autofree char *q = NULL;
    char *canon;

    if (!value)
        return NULL;
    if ((canon = canonical_ip(value)))
        return canon;
    q = shown(value, 64);
    g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                "Attribute '%s' on <%s> is not an IP address: '%s'", name, node->name, q);
    return NULL;
}

/* Only whitespace, comments and our elements inside @node. */
static gboolean
check_children(xmlNode *node, const char *uri, GError **error)
{
    xmlNode *child;

    for (child = node->children; child; child = child->next) {
        switch (child->type) {
        case XML_ELEMENT_NODE:
            if (!in_ns(child, uri)) {
                g_autofree char *name = shown((const char *) child->name, 64);

                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "Unexpected element <%s> in <%s> (not in namespace '%s')",
                            name, node->name, uri);
                return FALSE;
            }
            break;
        case XML_TEXT_NODE:
            if (child->content) {
                const char *p;

                for (p = (const char *) child->content; *p; p++) {
                    if (!g_ascii_isspace(*p)) {
                        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                                    "Unexpected text in <%s>", node->name);
                        return FALSE;
                    }
                }
            }
            break;
        case XML_COMMENT_NODE:
            break;
        default:
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Unexpected content in <%s>", node->name);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
parse_uint(const char *text, guint max, guint *out)
{
    guint64 v = 0;

    if (!text || !*text || strlen(text) > 10)
        return FALSE;
    if (!g_ascii_string_to_unsigned(text, 10, 0, max, &v, NULL))
        return FALSE;
    *out = (guint) v;
    return TRUE;
}

static VlMigrationPlan *
plan_from_node(xmlNode *node, GError **error)
{
    static const char *const plan_attrs[] = { "id", "channels", NULL };
    static const char *const source_attrs[] = { "host", "migration-address", NULL };
    static const char *const lane_attrs[] = { "source-address", "dest-address", NULL };
    g_autoptr(VlMigrationPlan) plan = vl_migration_plan_new();
    xmlChar *value = NULL;
    gboolean have_source = FALSE;
    xmlNode *child;

    if (!check_attributes(node, plan_attrs, error) ||
        !check_children(node, VL_METADATA_PLAN_NS, error))
        return NULL;
    if (!(plan->id = get_attribute(node, "id", error)))
        return NULL;
    if (!vl_metadata_plan_id_is_valid(plan->id)) {
        g_autofree char *q = shown(plan->id, 80);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Invalid plan id '%s' (1 to %d characters of A-Z a-z 0-9 . _ : -)",
                    q, VL_PLAN_ID_MAX);
        return NULL;
    }
    value = xmlGetNoNsProp(node, (const xmlChar *) "channels");
    if (value) {
        gboolean ok = parse_uint((const char *) value, VL_PLAN_CHANNELS_MAX, &plan->channels);
        g_autofree char *q = ok ? NULL : shown((const char *) value, 32);

        xmlFree(value);
        if (!ok) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Attribute 'channels' on <plan> must be 0 to %d, not '%s'",
                        VL_PLAN_CHANNELS_MAX, q);
            return NULL;
        }
    }

    for (child = node->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (g_str_equal((const char *) child->name, "source")) {
            if (have_source) {
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "More than one <source> in <plan>");
                return NULL;
            }
            have_source = TRUE;
            if (!check_attributes(child, source_attrs, error) ||
                !check_children(child, VL_METADATA_PLAN_NS, error) ||
                !(plan->source_host = get_attribute(child, "host", error)) ||
                !(plan->source_migration_address = get_address(child, "migration-address",
                                                               error)))
                return NULL;
            if (!is_label(plan->source_host, "_.-")) {
                g_autofree char *q = shown(plan->source_host, 80);

                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "Attribute 'host' on <source> must be 1 to %d characters of A-Z a-z 0-9 _ . -, not '%s'",
                            LABEL_MAX, q);
                return NULL;
            }
        } else if (g_str_equal((const char *) child->name, "lane")) {
            g_autofree char *src = NULL;
            g_autofree char *dst = NULL;

            if (plan->lanes->len >= VL_PLAN_LANES_MAX) {
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "More than %d <lane> elements in <plan>", VL_PLAN_LANES_MAX);
                return NULL;
            }
            if (!check_attributes(child, lane_attrs, error) ||
                !check_children(child, VL_METADATA_PLAN_NS, error) ||
                !(src = get_address(child, "source-address", error)) ||
                !(dst = get_address(child, "dest-address", error)))
                return NULL;
            if (ip_family(src) != ip_family(dst) || g_str_equal(src, dst)) {
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "The addresses of <lane> %u must be two different addresses of one family ('%s', '%s')",
                            plan->lanes->len, src, dst);
                return NULL;
            }
            g_ptr_array_add(plan->lanes, vl_plan_lane_new(src, dst));
        } else {
            g_autofree char *name = shown((const char *) child->name, 64);

            g_set_error(error, VL_ERROR, VL_ERROR_INVALID, "Unknown element <%s> in <plan>",
                        name);
            return NULL;
        }
    }
    if (!have_source) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID, "Missing <source> in <plan>");
        return NULL;
    }
    return g_steal_pointer(&plan);
}

/* ---- writing ------------------------------------------------------------------ */

static gboolean
plan_check(const VlMigrationPlan *plan, GError **error)
{
    guint i;

    if (!plan->id || !vl_metadata_plan_id_is_valid(plan->id)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID, "The plan has no valid id");
        return FALSE;
    }
    if (!is_label(plan->source_host, "_.-")) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "The plan's source host name is missing or invalid");
        return FALSE;
    }
    if (ip_family(plan->source_migration_address) == G_SOCKET_FAMILY_INVALID) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "The plan's source migration address is missing or invalid");
        return FALSE;
    }
    if (plan->channels > VL_PLAN_CHANNELS_MAX || plan->lanes->len > VL_PLAN_LANES_MAX) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "The plan has too many channels or lanes");
        return FALSE;
    }
    for (i = 0; i < plan->lanes->len; i++) {
        VlPlanLane *lane = g_ptr_array_index(plan->lanes, i);
        GSocketFamily f = ip_family(lane->source_address);

        if (f == G_SOCKET_FAMILY_INVALID || f != ip_family(lane->dest_address) ||
            g_str_equal(lane->source_address, lane->dest_address)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Lane %u of the plan needs two different addresses of one family", i);
            return FALSE;
        }
    }
    return TRUE;
}

/* The plan as a new element of @doc (not linked in); without a
 * namespace when @with_ns is FALSE. */
static xmlNode *
plan_to_node(xmlDoc *doc, const VlMigrationPlan *plan, gboolean with_ns)
{
    xmlNode *node = xmlNewDocNode(doc, NULL, (const xmlChar *) "plan", NULL);
    xmlNs *ns = NULL;
    xmlNode *source;
    guint i;

    if (with_ns) {
        ns = xmlNewNs(node, (const xmlChar *) VL_METADATA_PLAN_NS,
                      (const xmlChar *) VL_METADATA_PLAN_PREFIX);
        xmlSetNs(node, ns);
    }
    xmlNewProp(node, (const xmlChar *) "id", (const xmlChar *) plan->id);
    if (plan->channels > 0) {
        g_autofree char *channels = g_strdup_printf("%u", plan->channels);

        xmlNewProp(node, (const xmlChar *) "channels", (const xmlChar *) channels);
    }
    source = xmlNewChild(node, ns, (const xmlChar *) "source", NULL);
    xmlNewProp(source, (const xmlChar *) "host", (const xmlChar *) plan->source_host);
    xmlNewProp(source, (const xmlChar *) "migration-address",
               (const xmlChar *) plan->source_migration_address);
    for (i = 0; i < plan->lanes->len; i++) {
        VlPlanLane *lane = g_ptr_array_index(plan->lanes, i);
        xmlNode *l = xmlNewChild(node, ns, (const xmlChar *) "lane", NULL);

        xmlNewProp(l, (const xmlChar *) "source-address",
                   (const xmlChar *) lane->source_address);
        xmlNewProp(l, (const xmlChar *) "dest-address", (const xmlChar *) lane->dest_address);
    }
    return node;
}

/* @node serialised without an XML declaration. */
static char *
node_to_string(xmlDoc *doc, xmlNode *node, gboolean format)
{
    g_autoptr(xmlBuffer) buf = xmlBufferCreate();

    xmlNodeDump(buf, doc, node, 0, format ? 1 : 0);
    return g_strndup((const char *) xmlBufferContent(buf), xmlBufferLength(buf));
}

static char *
plan_format(const VlMigrationPlan *plan, gboolean with_ns, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNode *node;

    if (!plan_check(plan, error))
        return NULL;
    doc = xmlNewDoc((const xmlChar *) "1.0");
    node = plan_to_node(doc, plan, with_ns);
    xmlDocSetRootElement(doc, node);
    return node_to_string(doc, node, with_ns);
}

char *
vl_migration_plan_format(const VlMigrationPlan *plan, GError **error)
{
    return plan_format(plan, TRUE, error);
}

char *
vl_migration_plan_format_for_metadata(const VlMigrationPlan *plan, GError **error)
{
    return plan_format(plan, FALSE, error);
}

/* The root element of a standalone snippet, which must be {@uri}@name. */
static xmlNode *
standalone_root(xmlDoc *doc, const char *uri, const char *name, GError **error)
{
    xmlNode *root = xmlDocGetRootElement(doc);

    if (!root || !is_element(root, uri, name)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Expected a <%s> element in namespace '%s'", name, uri);
        return NULL;
    }
    return root;
}

VlMigrationPlan *
vl_migration_plan_parse(const char *xml, gsize len, GError **error)
{
    g_autoptr(xmlDoc) doc = vl_metadata_read_xml(xml, len, "migration plan", error);
    xmlNode *root;

    if (!doc || !(root = standalone_root(doc, VL_METADATA_PLAN_NS, "plan", error)))
        return NULL;
    return plan_from_node(root, error);
}

gboolean
vl_migration_plan_from_domain_xml(const char *xml, gsize len,
                                  VlMigrationPlan **plan, GError **error)
{
    g_autoptr(xmlDoc) doc = vl_metadata_read_xml(xml, len, "domain XML", error);
    VlMigrationPlan *found = NULL;
    xmlNode *node = NULL;

    if (!doc || !find_in_metadata(doc, VL_METADATA_PLAN_NS, "plan", &node, error))
        return FALSE;
    if (node && !(found = plan_from_node(node, error)))
        return FALSE;
    *plan = found;
    return TRUE;
}

char *
vl_migration_plan_insert_into_domain_xml(const char *xml, gsize len,
                                         const VlMigrationPlan *plan,
                                         GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNode *root;
    xmlNode *metadata = NULL;
    xmlNode *child;
    xmlNode *old = NULL;

    if (!plan_check(plan, error))
        return NULL;
    if (!(doc = vl_metadata_read_xml(xml, len, "domain XML", error)) ||
        !find_in_metadata(doc, VL_METADATA_PLAN_NS, "plan", &old, error))
        return NULL;
    root = xmlDocGetRootElement(doc);
    for (child = root->children; child && !metadata; child = child->next) {
        if (child->type == XML_ELEMENT_NODE && !child->ns &&
            g_str_equal((const char *) child->name, "metadata"))
            metadata = child;
    }
    if (!metadata)
        metadata = xmlNewChild(root, NULL, (const xmlChar *) "metadata", NULL);
    if (old) {
        xmlUnlinkNode(old);
        xmlFreeNode(old);
    }
    xmlAddChild(metadata, plan_to_node(doc, plan, TRUE));
    return node_to_string(doc, root, FALSE);
}

/* ---- the container tag ------------------------------------------------------- */

char *
vl_container_tag_format(const char *name, gboolean with_namespace, GError **error)
{
    if (!vl_metadata_container_name_is_valid(name)) {
        g_autofree char *q = shown(name, 80);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Invalid container name '%s' (1 to %d characters of A-Z a-z 0-9 _ . -)",
                    q, LABEL_MAX);
        return NULL;
    }
    /* The name's characters need no escaping. */
    if (with_namespace)
        return g_strdup_printf("<" VL_METADATA_CONTAINER_PREFIX ":container xmlns:"
                               VL_METADATA_CONTAINER_PREFIX "='" VL_METADATA_CONTAINER_NS
                               "' name='%s'/>", name);
    return g_strdup_printf("<container name='%s'/>", name);
}

static char *
container_from_node(xmlNode *node, GError **error)
{
    static const char *const attrs[] = { "name", NULL };
    g_autofree char *name = NULL;

    if (!check_attributes(node, attrs, error) ||
        !check_children(node, VL_METADATA_CONTAINER_NS, error) ||
        !(name = get_attribute(node, "name", error)))
        return NULL;
    if (node->children) {
        xmlNode *child;

        for (child = node->children; child; child = child->next) {
            if (child->type == XML_ELEMENT_NODE) {
                g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                            "Unexpected element in <container>");
                return NULL;
            }
        }
    }
    if (!vl_metadata_container_name_is_valid(name)) {
        g_autofree char *q = shown(name, 80);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Invalid container name '%s' (1 to %d characters of A-Z a-z 0-9 _ . -)",
                    q, LABEL_MAX);
        return NULL;
    }
    return g_steal_pointer(&name);
}

char *
vl_container_tag_parse(const char *xml, gsize len, GError **error)
{
    g_autoptr(xmlDoc) doc = vl_metadata_read_xml(xml, len, "container tag", error);
    xmlNode *root;

    if (!doc || !(root = standalone_root(doc, VL_METADATA_CONTAINER_NS, "container", error)))
        return NULL;
    return container_from_node(root, error);
}

gboolean
vl_container_tag_from_domain_xml(const char *xml, gsize len, char **name, GError **error)
{
    g_autoptr(xmlDoc) doc = vl_metadata_read_xml(xml, len, "domain XML", error);
    char *found = NULL;
    xmlNode *node = NULL;

    if (!doc || !find_in_metadata(doc, VL_METADATA_CONTAINER_NS, "container", &node, error))
        return FALSE;
    if (node && !(found = container_from_node(node, error)))
        return FALSE;
    *name = found;
    return TRUE;
}
