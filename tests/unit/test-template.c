/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A new member's XML from its template: identity, MACs, the container
 * tag, disks as overlays, and what cannot be copied.
 */
#include <config.h>

#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "metadata.h"
#include "template.h"
#include "test-util.h"
#include "vl-autoptr.h"
#include "vl-error.h"

static const char template_xml[] =
    "<domain type='kvm'>\n"
    "  <name>tmpl-web</name>\n"
    "  <uuid>11111111-2222-3333-4444-555555555555</uuid>\n"
    "  <metadata>\n"
    "    <lanes:container xmlns:lanes='" VL_METADATA_CONTAINER_NS "' name='old'/>\n"
    "    <other:thing xmlns:other='https://example.org/other'>kept</other:thing>\n"
    "  </metadata>\n"
    "  <memory unit='KiB'>65536</memory>\n"
    "  <sysinfo type='smbios'>\n"
    "    <system>\n"
    "      <entry name='manufacturer'>ACME</entry>\n"
    "      <entry name='uuid'>11111111-2222-3333-4444-555555555555</entry>\n"
    "    </system>\n"
    "  </sysinfo>\n"
    "  <os><type>hvm</type></os>\n"
    "  <devices>\n"
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='raw'/>\n"
    "      <source file='/var/lib/libvirt/images/tmpl web.img'/>\n"
    "      <backingStore/>\n"
    "      <target dev='vda' bus='virtio'/>\n"
    "    </disk>\n"
    "    <disk type='file' device='cdrom'>\n"
    "      <source file='/iso/install.iso'/>\n"
    "      <target dev='sda' bus='sata'/>\n"
    "      <readonly/>\n"
    "    </disk>\n"
    "    <disk type='file' device='disk'>\n"
    "      <source file='/shared/data.img'/>\n"
    "      <target dev='vdb' bus='virtio'/>\n"
    "      <shareable/>\n"
    "    </disk>\n"
    "    <interface type='network'>\n"
    "      <mac address='52:54:00:AA:BB:CC'/>\n"
    "      <source network='default'/>\n"
    "    </interface>\n"
    "    <interface type='network'>\n"
    "      <mac address='52:54:00:11:22:33'/>\n"
    "      <source network='default'/>\n"
    "    </interface>\n"
    "  </devices>\n"
    "</domain>\n";

/* string(@xpath) in @xml. */
static char *
xpath(const char *xml, const char *expr)
{
    g_autoptr(xmlDoc) doc = xmlReadMemory(xml, (int)strlen(xml), "x.xml", NULL,
                                          XML_PARSE_NONET);
    g_autoptr(xmlXPathContext) ctx = NULL;
    g_autoptr(xmlXPathObject) obj = NULL;

    ck_assert_ptr_nonnull(doc);
    ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, (const xmlChar *)"lanes",
                       (const xmlChar *)VL_METADATA_CONTAINER_NS);
    xmlXPathRegisterNs(ctx, (const xmlChar *)"other",
                       (const xmlChar *)"https://example.org/other");
    obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    ck_assert_ptr_nonnull(obj);
    if (obj->type == XPATH_NUMBER)
        return g_strdup_printf("%g", obj->floatval);
    ck_assert_int_eq(obj->type, XPATH_STRING);
    return g_strdup((const char *)obj->stringval);
}

#define ck_assert_xpath(xml, expr, expected) \
    do { \
        g_autofree char *got_ = xpath((xml), (expr)); \
        ck_assert_msg(g_str_equal(got_, (expected)), "%s: '%s' != '%s'", \
                      (expr), got_, (expected)); \
    } while (0)

START_TEST(test_instantiate)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlTemplateInstance) inst = NULL;
    g_autofree char *tag = NULL;
    VlTemplateDisk *disk;

    inst = vl_template_instantiate(template_xml, strlen(template_xml),
                                   "tmpl-web", "web-7", "web", &error);
    ck_assert_msg(inst != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(inst->name, "web-7");
    ck_assert(g_uuid_string_is_valid(inst->uuid));
    ck_assert_str_ne(inst->uuid, "11111111-2222-3333-4444-555555555555");

    ck_assert_xpath(inst->xml, "string(/domain/name)", "web-7");
    ck_assert_xpath(inst->xml, "string(/domain/uuid)", inst->uuid);
    ck_assert_xpath(inst->xml, "count(/domain/uuid)", "1");
    ck_assert_xpath(inst->xml, "count(//sysinfo/system/entry[@name='uuid'])", "0");
    ck_assert_xpath(inst->xml, "string(//sysinfo/system/entry[@name='manufacturer'])", "ACME");

    /* MACs dropped for libvirt to choose, and remembered. */
    ck_assert_xpath(inst->xml, "count(//interface)", "2");
    ck_assert_xpath(inst->xml, "count(//interface/mac)", "0");
    ck_assert_uint_eq(g_strv_length(inst->template_macs), 2);
    ck_assert_str_eq(inst->template_macs[0], "52:54:00:aa:bb:cc");
    ck_assert_str_eq(inst->template_macs[1], "52:54:00:11:22:33");

    /* Our old tag replaced, someone else's metadata kept. */
    ck_assert_xpath(inst->xml, "count(//metadata/lanes:container)", "1");
    ck_assert_xpath(inst->xml, "string(//metadata/other:thing)", "kept");
    ck_assert(vl_container_tag_from_domain_xml(inst->xml, strlen(inst->xml),
                                               &tag, &error));
    ck_assert_str_eq(tag, "web");

    /* The one own disk becomes an overlay; cdrom and shareable stay. */
    ck_assert_uint_eq(inst->disks->len, 1);
    disk = g_ptr_array_index(inst->disks, 0);
    ck_assert_str_eq(disk->target, "vda");
    ck_assert_str_eq(disk->base, "/var/lib/libvirt/images/tmpl web.img");
    ck_assert_str_eq(disk->base_format, "raw");
    ck_assert_str_eq(disk->overlay, "/var/lib/libvirt/images/web-7.qcow2");
    ck_assert_xpath(inst->xml, "string(//disk[target/@dev='vda']/source/@file)",
                    "/var/lib/libvirt/images/web-7.qcow2");
    ck_assert_xpath(inst->xml, "string(//disk[target/@dev='vda']/driver/@type)", "qcow2");
    ck_assert_xpath(inst->xml, "count(//disk[target/@dev='vda']/backingStore)", "0");
    ck_assert_xpath(inst->xml, "string(//disk[target/@dev='sda']/source/@file)",
                    "/iso/install.iso");
    ck_assert_xpath(inst->xml, "string(//disk[target/@dev='vdb']/source/@file)",
                    "/shared/data.img");
}
END_TEST

START_TEST(test_no_disk_no_metadata)
{
    static const char xml[] =
        "<domain type='test'><name>t</name><memory>8192</memory>"
        "<os><type>hvm</type></os></domain>";
    g_autoptr(GError) error = NULL;
    g_autoptr(VlTemplateInstance) inst = NULL;
    g_autofree char *tag = NULL;

    inst = vl_template_instantiate(xml, strlen(xml), "t", "db-1", "db", &error);
    ck_assert_msg(inst != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(inst->disks->len, 0);
    ck_assert_uint_eq(g_strv_length(inst->template_macs), 0);
    ck_assert_xpath(inst->xml, "string(/domain/name)", "db-1");
    ck_assert_xpath(inst->xml, "string(/domain/uuid)", inst->uuid);
    ck_assert(vl_container_tag_from_domain_xml(inst->xml, strlen(inst->xml),
                                               &tag, &error));
    ck_assert_str_eq(tag, "db");
}
END_TEST

/* Several own disks: one overlay each, named after the target; no
 * <driver>: raw, as libvirt assumes. */
START_TEST(test_several_disks)
{
    static const char xml[] =
        "<domain type='kvm'><name>t</name><devices>"
        "<disk type='file'><source file='/img/a.qcow2'/>"
        "<driver name='qemu' type='qcow2'/><target dev='vda'/></disk>"
        "<disk type='file' device='disk'><source file='/img/b.img'/>"
        "<target dev='vdb'/></disk>"
        "<disk type='file' device='cdrom'><target dev='sda'/></disk>"
        "</devices></domain>";
    g_autoptr(GError) error = NULL;
    g_autoptr(VlTemplateInstance) inst = NULL;
    VlTemplateDisk *a;
    VlTemplateDisk *b;

    inst = vl_template_instantiate(xml, strlen(xml), "t", "web 2", "web", &error);
    ck_assert_msg(inst != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(inst->disks->len, 2);
    a = g_ptr_array_index(inst->disks, 0);
    b = g_ptr_array_index(inst->disks, 1);
    ck_assert_str_eq(a->overlay, "/img/web 2-vda.qcow2");
    ck_assert_str_eq(a->base_format, "qcow2");
    ck_assert_str_eq(b->overlay, "/img/web 2-vdb.qcow2");
    ck_assert_str_eq(b->base_format, "raw");
    ck_assert_xpath(inst->xml, "string(//disk[target/@dev='vdb']/driver/@type)", "qcow2");
    ck_assert_xpath(inst->xml, "string(//disk[target/@dev='vdb']/driver/@name)", "qemu");
}
END_TEST

typedef struct {
    const char *xml;
    const char *name;
    const char *message;
} BadCase;

static const BadCase bad_cases[] = {
    { "<domain><name>t</name><devices><disk type='block' device='disk'>"
      "<source dev='/dev/sdz'/><target dev='vda'/></disk></devices></domain>",
      "n-1",
      "Template 't': disk 'vda' is of type 'block'; only file disks can be copied as overlays" },
    { "<domain><name>t</name><devices><disk type='network'>"
      "<target dev='vdc'/></disk></devices></domain>",
      "n-1",
      "Template 't': disk 'vdc' is of type 'network'; only file disks can be copied as overlays" },
    { "<domain><name>t</name><devices><disk type='file'>"
      "<source file='rel/a.img'/><target dev='vda'/></disk></devices></domain>",
      "n-1", "Template 't': disk 'vda' has a relative path 'rel/a.img'" },
    { "<domain><name>t</name><devices><disk type='file'>"
      "<source file='/a.img'/></disk></devices></domain>",
      "n-1", "Template 't': a file disk has no valid target device name" },
    { "<domain><name>t</name><devices><disk type='file'>"
      "<source file='/a.img'/><target dev='../x'/></disk></devices></domain>",
      "n-1", "Template 't': a file disk has no valid target device name" },
    { "<domain><name>t</name><devices><disk type='file'>"
      "<driver type='qcow2 -o x'/><source file='/a.img'/><target dev='vda'/>"
      "</disk></devices></domain>",
      "n-1", "Template 't': disk 'vda' has an invalid format" },
    { "<network><name>t</name></network>", "n-1",
      "Template 't': the XML is not a <domain>" },
    { "<domain><name>t</name></domain>", "a/b", "Cannot name a new member 'a/b'" },
    { "<domain><name>t</name></domain>", ".hidden", "Cannot name a new member '.hidden'" },
    { "<domain><name>t</name></domain>", "-o", "Cannot name a new member '-o'" },
    { "<domain><name>t</name></domain>", "a\nb", "Cannot name a new member 'a\\nb'" },
    { "<domain><name>t</name></domain>", "", "Cannot name a new member ''" },
};

START_TEST(test_bad)
{
    const BadCase *c = &bad_cases[_i];
    g_autoptr(GError) error = NULL;
    g_autoptr(VlTemplateInstance) inst = NULL;

    inst = vl_template_instantiate(c->xml, strlen(c->xml), "t", c->name, "web",
                                   &error);
    ck_assert_ptr_null(inst);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_str_eq(error->message, c->message);
}
END_TEST

/* Outside XML is parsed with metadata.h's rules: no DOCTYPE, no junk. */
START_TEST(test_hostile_xml)
{
    static const char *const docs[] = {
        "<!DOCTYPE d [<!ENTITY x 'y'>]><domain><name>&x;</name></domain>",
        "<domain><name>t</name>",
        "not xml at all",
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(docs); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VlTemplateInstance) inst = NULL;

        inst = vl_template_instantiate(docs[i], strlen(docs[i]), "t", "n-1",
                                       "web", &error);
        ck_assert_ptr_null(inst);
        ck_assert_ptr_nonnull(error);
    }
}
END_TEST

START_TEST(test_list_macs)
{
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) macs = vl_template_list_macs(template_xml, strlen(template_xml),
                                               &error);

    ck_assert_ptr_nonnull(macs);
    ck_assert_uint_eq(g_strv_length(macs), 2);
    ck_assert_str_eq(macs[0], "52:54:00:aa:bb:cc");
    ck_assert_ptr_null(vl_template_list_macs("<x", 2, &error));
}
END_TEST

START_TEST(test_names)
{
    ck_assert(vl_template_name_is_valid("web-1"));
    ck_assert(vl_template_name_is_valid("web 1; \"q\" 'x'"));
    ck_assert(vl_template_name_is_valid("café"));
    ck_assert(!vl_template_name_is_valid(NULL));
    ck_assert(!vl_template_name_is_valid("caf\xc3"));
    ck_assert(!vl_template_name_is_valid("a\tb"));
}
END_TEST

static Suite *
template_suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("instantiate");

    tcase_add_test(tc, test_instantiate);
    tcase_add_test(tc, test_no_disk_no_metadata);
    tcase_add_test(tc, test_several_disks);
    tcase_add_test(tc, test_list_macs);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad");
    tcase_add_loop_test(tc, test_bad, 0, G_N_ELEMENTS(bad_cases));
    tcase_add_test(tc, test_hostile_xml);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(template_suite());
}
