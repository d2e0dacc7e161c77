/* test_admin_tmpl.c - the admin console's template engine (src/admin/tmpl.h):
 * every value escaped, sections, inverted sections, includes, trusted
 * fragments only from C, and the Markdown helper (src/admin/markdown.h) in
 * libcmark's safe mode: raw HTML and javascript: links never survive. */
#include "unit.h"

#include <jansson.h>
#include "admin/markdown.h"
#include "admin/tmpl.h"

static char *render(const char *text, const char *json, const struct tmpl_frag *frags)
{
    json_t *ctx = json_loads(json, 0, NULL);
    assert_non_null(ctx);
    char *out = tmpl_render_text(text, ctx, frags);
    json_decref(ctx);
    assert_non_null(out);
    return out;
}

static void expect(const char *text, const char *json, const char *want)
{
    char *out = render(text, json, NULL);
    assert_string_equal(out, want);
    free(out);
}

static void test_values_are_escaped(void **state)
{
    (void)state;
    expect("<p>{{x}}</p>", "{\"x\": \"<script>alert('1')</script> & \\\"`\"}",
           "<p>&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt; &amp; &quot;&#96;</p>");
    expect("{{n}} {{b}} {{missing}}.", "{\"n\": 42, \"b\": true}", "42 true .");
    expect("{{a.b.c}}", "{\"a\": {\"b\": {\"c\": \"<i>\"}}}", "&lt;i&gt;");
    /* triple braces are not Mustache's raw form: "{x" names nothing */
    expect("{{{x}}}", "{\"x\": \"<b>\"}", "}");
}

static void test_sections(void **state)
{
    (void)state;
    expect("{{#rows}}[{{id}}:{{t}}]{{/rows}}", "{\"t\": \"T\", \"rows\": [{\"id\": 1}, {\"id\": 2}]}",
           "[1:T][2:T]");
    expect("{{#rows}}x{{/rows}}{{^rows}}none{{/rows}}", "{\"rows\": []}", "none");
    expect("{{#o}}{{k}}{{/o}}", "{\"o\": {\"k\": \"v\"}}", "v");
    expect("{{#f}}yes{{/f}}{{^f}}no{{/f}}", "{\"f\": false}", "no");
    expect("{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\": \"\"}", "no");
    expect("{{#a}}{{#a}}in{{/a}}{{/a}}", "{\"a\": true}", "in");
    expect("{{#xs}}<{{.}}>{{/xs}}", "{\"xs\": [\"a\", \"<\"]}", "<a><&lt;>");
}

static void test_fragments_only_from_c(void **state)
{
    (void)state;
    struct tmpl_frag frags[] = {{"content", "<b>trusted</b>"}, {NULL, NULL}};
    char *out = render("{{&content}}|{{&x}}", "{\"content\": \"<i>data</i>\", \"x\": \"<u>\"}",
                       frags);
    assert_string_equal(out, "<b>trusted</b>|");
    free(out);
}

static void test_embedded_templates(void **state)
{
    (void)state;
    json_t *ctx = json_pack("{s:s}", "csrf", "\"><script>");
    char *out = tmpl_render("csrf.html", ctx, NULL);
    assert_non_null(out);
    assert_non_null(strstr(out, "value=\"&quot;&gt;&lt;script&gt;\""));
    free(out);
    out = tmpl_render_text("{{>csrf.html}}", ctx, NULL);
    assert_non_null(strstr(out, "name=\"csrf_token\""));
    free(out);
    json_decref(ctx);
    assert_null(tmpl_render("no-such.html", NULL, NULL));
    size_t len = 0;
    assert_non_null(tmpl_asset("admin.css", &len));
    assert_true(len > 100);
}

static void test_markdown_safe(void **state)
{
    (void)state;
    const char *md = "# Title\n\nSome *text* and <script>alert(1)</script>\n\n"
                     "<div onclick=\"x()\">raw</div>\n\n[link](javascript:alert(1)) "
                     "![img](data:text/html;base64,PHNjcmlwdD4=)\n";
    char *html = admin_markdown_html(md, strlen(md));
    assert_non_null(strstr(html, "<h1>Title</h1>"));
    assert_non_null(strstr(html, "<em>text</em>"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "onclick"));
    assert_null(strstr(html, "javascript:"));
    assert_null(strstr(html, "data:text/html"));
    assert_non_null(strstr(html, "raw HTML omitted"));
    free(html);
    html = admin_markdown_html(NULL, 0);
    assert_string_equal(html, "");
    free(html);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_are_escaped),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_fragments_only_from_c),
        cmocka_unit_test(test_embedded_templates),
        cmocka_unit_test(test_markdown_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
