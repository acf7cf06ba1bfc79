/* test_lab1.c - example hidden test (throwaway). */
#include <criterion/criterion.h>
#include <string.h>

#include "../../../tests/integration/harness.h"

Test(hidden1, hello16_again)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", guest("hello16.bin"), NULL });
	cr_assert_eq(r.status, 0, "hv run hello16.bin: status %d: %s", r.status, r.err);
	cr_assert(strstr(r.out, "Hello from real mode"), "no hello: %s", r.out);
}
