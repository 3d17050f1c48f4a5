// SPDX-License-Identifier: MIT
/*
 * cli_args.c - command-line parsing for zvd: options, positional
 * arguments, byte sizes with binary suffixes and plain numbers.
 *
 * Parsing is strict: no sign, no spaces, no hex, no trailing junk and no
 * overflow, because a size typed wrong must not become a different size.
 */
#include <stdarg.h>
#include <string.h>

#include "cli.h"

static void vreport(const char *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "zvd%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "Try 'zvd help %s'.\n", cmd);
	else
		fprintf(stderr, "Try 'zvd help'.\n");
	return CLI_EXIT_USAGE;
}

int cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, fmt, ap);
	va_end(ap);
	return CLI_EXIT_REFUSED;
}

static int find_opt(const struct cli_opt *opts, const char *name, size_t len)
{
	int i;

	for (i = 0; opts[i].name; i++)
		if (strlen(opts[i].name) == len &&
		    !strncmp(opts[i].name, name, len))
			return i;
	return -1;
}

/* Handle argv[*i], a "--name" or "--name=value" option. */
static int parse_long(int argc, char **argv, int *i,
		      const struct cli_opt *opts, struct cli_args *a)
{
	const char *name = argv[*i] + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const char *val;
	int k = find_opt(opts, name, len);

	if (k < 0) {
		cli_usage_error(a->cmd, "unknown option '--%.*s'", (int)len,
				name);
		return -1;
	}
	if (a->val[k]) {
		cli_usage_error(a->cmd, "--%s given more than once",
				opts[k].name);
		return -1;
	}
	if (!opts[k].has_arg) {
		if (eq) {
			cli_usage_error(a->cmd, "--%s takes no value",
					opts[k].name);
			return -1;
		}
		a->val[k] = "";
		return 0;
	}
	if (eq) {
		val = eq + 1;
	} else {
		if (*i + 1 >= argc) {
			cli_usage_error(a->cmd, "--%s needs a value",
					opts[k].name);
			return -1;
		}
		val = argv[++*i];
	}
	a->val[k] = val;
	return 0;
}

static int add_pos(struct cli_args *a, const char *arg, int max_pos)
{
	if (a->npos >= max_pos) {
		cli_usage_error(a->cmd, "unexpected argument '%s'", arg);
		return -1;
	}
	a->pos[a->npos++] = arg;
	return 0;
}

int cli_parse(int argc, char **argv, const struct cli_opt *opts,
	      int min_pos, int max_pos, struct cli_args *a)
{
	bool only_pos = false;
	int i;

	memset(a, 0, sizeof(*a));
	a->cmd = argv[0];
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (only_pos || arg[0] != '-' || !arg[1]) {
			if (add_pos(a, arg, max_pos))
				return -1;
		} else if (!strcmp(arg, "--")) {
			only_pos = true;
		} else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			cli_help_print(a->cmd, stdout);
			return 1;
		} else if (arg[1] == '-') {
			if (parse_long(argc, argv, &i, opts, a))
				return -1;
		} else if (arg[1] >= '0' && arg[1] <= '9') {
			cli_usage_error(a->cmd, "'%s': negative numbers are not accepted",
					arg);
			return -1;
		} else {
			cli_usage_error(a->cmd, "unknown option '%s'", arg);
			return -1;
		}
	}
	if (a->npos < min_pos) {
		fprintf(stderr, "zvd %s: missing argument\nusage: ", a->cmd);
		cli_help_synopsis(a->cmd, stderr);
		return -1;
	}
	return 0;
}

/* Parse leading decimal digits; *end points past them. */
static int parse_digits(const char *s, uint64_t *out, const char **end,
			const char **why)
{
	uint64_t v = 0;

	if (*s == '-') {
		*why = "negative numbers are not accepted";
		return -1;
	}
	if (*s < '0' || *s > '9') {
		*why = "expected a decimal number";
		return -1;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10) {
			*why = "number too large";
			return -1;
		}
		v = v * 10 + d;
	}
	*out = v;
	*end = s;
	return 0;
}

static const struct {
	const char *name;
	unsigned shift;
} suffixes[] = {
	{ "", 0 },    { "K", 10 },   { "M", 20 },   { "G", 30 },
	{ "T", 40 },  { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 },
	{ "TiB", 40 },
};

int cli_parse_size(const char *s, uint64_t *out, const char **why)
{
	const char *end;
	uint64_t v;
	size_t i;

	if (parse_digits(s, &v, &end, why))
		return -1;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		unsigned sh = suffixes[i].shift;

		if (strcmp(end, suffixes[i].name))
			continue;
		if (sh && v > (UINT64_MAX >> sh)) {
			*why = "size too large";
			return -1;
		}
		*out = v << sh;
		return 0;
	}
	*why = "unknown suffix (use K, M, G, T or KiB, MiB, GiB, TiB)";
	return -1;
}

int cli_parse_u32(const char *s, uint32_t *out, const char **why)
{
	const char *end;
	uint64_t v;

	if (parse_digits(s, &v, &end, why))
		return -1;
	if (*end) {
		*why = "trailing characters after the number";
		return -1;
	}
	if (v > UINT32_MAX) {
		*why = "number too large";
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int cli_arg_size(const char *cmd, const char *what, const char *s,
		 uint64_t *out)
{
	const char *why;

	if (cli_parse_size(s, out, &why))
		return cli_usage_error(cmd, "%s: invalid size '%s': %s", what, s,
				       why);
	return 0;
}

int cli_arg_u32(const char *cmd, const char *what, const char *s,
		uint32_t *out)
{
	const char *why;

	if (cli_parse_u32(s, out, &why))
		return cli_usage_error(cmd, "%s: invalid number '%s': %s", what,
				       s, why);
	return 0;
}

const char *cli_fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
					     "PiB", "EiB" };
	unsigned u = 0;

	while (v && u < 6 && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)v, units[u]);
	return buf;
}
