// SPDX-License-Identifier: MIT
/*
 * fuzz_cli_args.c - libFuzzer target for the command line's numbers
 * (src/cli_args.c): byte sizes ("4G", "1KiB"), 32-bit numbers, the size
 * printer, and option parsing as zvd read and write use it.
 *
 * Crashes are not the only findings: every answer is checked against an
 * independent reading of the documented syntax (decimal digits, then
 * nothing or one of K, M, G, T, KiB, MiB, GiB, TiB; no sign, spaces, hex,
 * fractions or trailing junk; nothing that does not fit in 64 bits, or
 * 32 for a number), and a mismatch aborts. The input is:
 *   - as one string (up to its first NUL), a size and a number;
 *   - its first 8 bytes, a value printed by cli_fmt_size and read back;
 *   - split at NULs, the arguments of a command with --offset, --length,
 *     --output and a flag, whose size values are then parsed too.
 * Usage errors are printed to stderr, which points at /dev/null here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_ARGS 12

/* Stop on a wrong answer: libFuzzer reports the input. */
#define require(cond)                                                        \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(real_stderr, "fuzz_cli_args: %s:%d: %s\n",   \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

static FILE *real_stderr;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *null = fopen("/dev/null", "w");

	real_stderr = stderr;
	if (null) {
		stderr = null;
		stdout = null; /* --help */
	}
	return 0;
}

enum ref { REF_OK, REF_SYNTAX, REF_TOO_BIG };

/* The documented syntax, read independently of cli_args.c: 128-bit
 * arithmetic, and the multiplier found from the suffix's first letter. */
static enum ref ref_parse(const char *s, int allow_suffix, uint64_t *out)
{
	static const char letters[] = "KMGT";
	unsigned __int128 v = 0, mul = 1;
	const char *p = s, *l;
	int big = 0;

	if (*p < '0' || *p > '9')
		return REF_SYNTAX;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > UINT64_MAX) {
			big = 1;
			v = (unsigned __int128)UINT64_MAX + 1;
		}
	}
	if (*p) {
		if (!allow_suffix)
			return REF_SYNTAX;
		l = strchr(letters, *p);
		if (!l || !*l)
			return REF_SYNTAX;
		if (strcmp(p + 1, "") && strcmp(p + 1, "iB"))
			return REF_SYNTAX;
		for (long i = 0; i <= l - letters; i++)
			mul *= 1024;
	}
	if (big || v * mul > UINT64_MAX)
		return REF_TOO_BIG;
	*out = (uint64_t)(v * mul);
	return REF_OK;
}

static void check_size(const char *s)
{
	uint64_t got = 0xdeadbeef, want = 0, arg = 0;
	const char *why = NULL;
	enum ref r = ref_parse(s, 1, &want);
	int rc = cli_parse_size(s, &got, &why);

	if (r == REF_OK) {
		require(rc == 0);
		require(got == want);
	} else {
		require(rc == -1);
		require(why && *why);
		require(got == 0xdeadbeef); /* untouched */
		if (r == REF_TOO_BIG)
			require(strstr(why, "too large"));
		if (*s == '-')
			require(strstr(why, "negative"));
	}
	rc = cli_arg_size("fuzz", "--size", s, &arg);
	require(rc == (r == REF_OK ? 0 : CLI_EXIT_USAGE));
	require(r != REF_OK || arg == want);
}

static void check_u32(const char *s)
{
	uint64_t want = 0;
	uint32_t got = 0xdeadbeef, arg = 0;
	const char *why = NULL;
	enum ref r = ref_parse(s, 0, &want);
	int rc = cli_parse_u32(s, &got, &why);

	if (r == REF_OK && want > UINT32_MAX)
		r = REF_TOO_BIG;
	if (r == REF_OK) {
		require(rc == 0);
		require(got == want);
	} else {
		require(rc == -1);
		require(why && *why);
		require(got == 0xdeadbeef);
		if (r == REF_TOO_BIG)
			require(strstr(why, "too large"));
	}
	rc = cli_arg_u32("fuzz", "zone", s, &arg);
	require(rc == (r == REF_OK ? 0 : CLI_EXIT_USAGE));
	require(r != REF_OK || arg == want);
}

/* cli_fmt_size prints "N UNIT" exactly; sizes up to TiB read back. */
static void check_fmt(uint64_t v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
					     "PiB", "EiB" };
	char buf[48], unit[8], back[48], tiny[6];
	unsigned long long n;
	unsigned u;
	uint64_t got;
	const char *why;

	cli_fmt_size(v, buf, sizeof(buf));
	require(sscanf(buf, "%llu %7s", &n, unit) == 2);
	for (u = 0; u < 7 && strcmp(unit, units[u]); u++)
		;
	require(u < 7);
	require(u == 0 || n % 1024 || u == 6 || !n);
	require(((unsigned __int128)n << (10 * u)) == v);
	if (u <= 4) {
		snprintf(back, sizeof(back), "%llu%s", n, u ? units[u] : "");
		require(cli_parse_size(back, &got, &why) == 0 && got == v);
	}
	/* a short buffer is cut, never overrun */
	cli_fmt_size(v, tiny, sizeof(tiny));
	require(strlen(tiny) < sizeof(tiny) && !strncmp(tiny, buf, 5));
}

static const struct cli_opt opts[] = {
	{ "offset", true },
	{ "length", true },
	{ "output", true },
	{ "readonly", false },
	{ NULL, false },
};

/* Is @p inside one of the @n strings of @argv (its terminator included)? */
static int inside(const char *p, char **argv, int n)
{
	for (int i = 1; i < n; i++)
		if (p >= argv[i] && p <= argv[i] + strlen(argv[i]))
			return 1;
	return 0;
}

static void check_parse(char *buf, size_t len)
{
	char *argv[MAX_ARGS + 1] = { "read" };
	struct cli_args a;
	int argc = 1, rc, k;
	size_t i = 0;

	while (i < len && argc < MAX_ARGS) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	rc = cli_parse(argc, argv, opts, 1, 2, &a);
	require(rc == -1 || rc == 0 || rc == 1);
	if (rc)
		return;
	require(a.npos >= 1 && a.npos <= 2);
	require(!strcmp(a.cmd, "read"));
	for (k = 0; k < a.npos; k++)
		require(inside(a.pos[k], argv, argc));
	for (k = 0; opts[k].name; k++) {
		const char *v = a.val[k];

		if (!v)
			continue;
		if (!opts[k].has_arg) {
			require(!strcmp(v, ""));
			continue;
		}
		require(inside(v, argv, argc));
		if (k <= 1)
			check_size(v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	uint64_t v = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	check_size(buf);
	check_u32(buf);
	memcpy(&v, data, size < 8 ? size : 8);
	check_fmt(v);
	check_parse(buf, size);
	free(buf);
	return 0;
}
