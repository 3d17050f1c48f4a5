/* SPDX-License-Identifier: MIT */
/*
 * harness.h - the few macros every test program shares.
 *
 * A test program runs named cases and prints one line per case:
 *   "ok NAME", "not ok NAME: file:line: what failed", or
 *   "skip NAME # why". tests/run.sh counts these lines.
 * It exits 1 if any case failed, else 0.
 */
#ifndef ZVD_TEST_HARNESS_H
#define ZVD_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failed_cases;
static int harness_case_failed;
static const char *harness_case_name;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			if (!harness_case_failed)                            \
				printf("not ok %s: %s:%d: %s\n",             \
				       harness_case_name, __FILE__, __LINE__, \
				       #cond);                               \
			harness_case_failed = 1;                             \
			return;                                              \
		}                                                            \
	} while (0)

/* CHECK_EQ for integers: prints both values on failure. */
#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		long long harness_a = (long long)(a);                         \
		long long harness_b = (long long)(b);                         \
		if (harness_a != harness_b) {                                 \
			if (!harness_case_failed)                             \
				printf("not ok %s: %s:%d: %s == %s (%lld != %lld)\n", \
				       harness_case_name, __FILE__, __LINE__, \
				       #a, #b, harness_a, harness_b);         \
			harness_case_failed = 1;                              \
			return;                                               \
		}                                                             \
	} while (0)

/* Mark the running case skipped, with a reason, and leave it. */
#define SKIP(why)                                                   \
	do {                                                        \
		printf("skip %s # %s\n", harness_case_name, why);   \
		harness_case_failed = -1;                           \
		return;                                             \
	} while (0)

static inline void harness_run(const char *name, void (*fn)(void))
{
	harness_case_name = name;
	harness_case_failed = 0;
	fn();
	if (harness_case_failed > 0)
		harness_failed_cases++;
	else if (harness_case_failed == 0)
		printf("ok %s\n", name);
	fflush(stdout);
}

#define RUN(fn) harness_run(#fn, fn)
#define HARNESS_EXIT() return harness_failed_cases ? 1 : 0

#endif
