/* test_strbuf.c - the one growable text buffer (engine/core/strbuf.h): grows
 * past its first 4 KiB, printf and add agree, the NUL is kept, a size that
 * cannot be allocated fails without touching the text and every later
 * append fails too (one check at the end suffices). */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "engine/core/strbuf.h"

TEST(grows_and_keeps_the_nul)
{
    ivcs_strbuf_s b = {0};
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(ivcs_strbuf_printf(&b, "%04d,", i), 0);
    CHECK_EQ(b.len, 5000);
    CHECK(b.cap >= 5001);
    CHECK_EQ(b.p[b.len], 0);
    CHECK(!memcmp(b.p, "0000,0001,", 10));
    CHECK(!memcmp(b.p + 4995, "0999,", 5));
    CHECK_EQ(ivcs_strbuf_add(&b, "xy", 2), 0);
    CHECK(!strcmp(b.p + 5000, "xy"));
    ivcs_strbuf_free(&b);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
}

TEST(oom_is_sticky_and_leaves_the_text)
{
    ivcs_strbuf_s b = {0};
    CHECK_EQ(ivcs_strbuf_add(&b, "abc", 3), 0);
    CHECK_EQ(ivcs_strbuf_reserve(&b, SIZE_MAX - 2), IV_ERR_SYS_MALLOC_FAIL);
    CHECK(!strcmp(b.p, "abc"));
    CHECK_EQ(ivcs_strbuf_add(&b, "d", 1), IV_ERR_SYS_MALLOC_FAIL);
    CHECK_EQ(ivcs_strbuf_printf(&b, "%d", 1), IV_ERR_SYS_MALLOC_FAIL);
    CHECK_EQ(b.len, 3);
    ivcs_strbuf_free(&b);
}

int main(void)
{
    RUN(grows_and_keeps_the_nul);
    RUN(oom_is_sticky_and_leaves_the_text);
    return check_done();
}
