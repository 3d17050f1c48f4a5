// SPDX-License-Identifier: MIT
/*
 * prog.c - program objects: building one from a validated instruction
 * image and its data, loading raw instructions, diagnostics, release.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csd.h"

int csd_diag(struct zvd_csd_diag *diag, int err, uint32_t pc,
	     const char *fmt, ...)
{
	va_list ap;

	if (!diag)
		return err;
	diag->err = err;
	diag->pc = pc;
	va_start(ap, fmt);
	vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
	va_end(ap);
	return err;
}

int csd_prog_build(struct csd_insn *insns, uint32_t n, uint32_t entry,
		   uint8_t *data, uint32_t data_len, uint8_t *rodata,
		   uint32_t rodata_len, struct zvd_csd_prog **out,
		   struct zvd_csd_diag *diag)
{
	struct zvd_csd_prog *p;
	int err;

	err = csd_validate(insns, n, entry, diag);
	if (err)
		goto fail;
	p = calloc(1, sizeof(*p));
	if (!p) {
		err = csd_diag(diag, -ENOMEM, UINT32_MAX, "out of memory");
		goto fail;
	}
	p->insns = insns;
	p->n = n;
	p->entry = entry;
	p->data = data;
	p->data_len = data_len;
	p->rodata = rodata;
	p->rodata_len = rodata_len;
	*out = p;
	return 0;
fail:
	free(insns);
	free(data);
	free(rodata);
	return err;
}

int zvd_csd_prog_load_raw(const void *code, size_t len,
			  struct zvd_csd_prog **out, struct zvd_csd_diag *diag)
{
	struct csd_insn *insns;

	*out = NULL;
	if (!len || len % sizeof(*insns))
		return csd_diag(diag, -EINVAL, UINT32_MAX,
				"program length %zu is not a whole number of 8-byte slots",
				len);
	if (len / sizeof(*insns) > ZVD_CSD_MAX_INSNS)
		return csd_diag(diag, -E2BIG, UINT32_MAX,
				"program of %zu slots is over the limit of %u",
				len / sizeof(*insns), ZVD_CSD_MAX_INSNS);
	insns = malloc(len);
	if (!insns)
		return csd_diag(diag, -ENOMEM, UINT32_MAX, "out of memory");
	memcpy(insns, code, len);
	return csd_prog_build(insns, (uint32_t)(len / sizeof(*insns)), 0, NULL,
			      0, NULL, 0, out, diag);
}

void zvd_csd_prog_free(struct zvd_csd_prog *prog)
{
	if (!prog)
		return;
	free(prog->insns);
	free(prog->data);
	free(prog->rodata);
	free(prog);
}

uint32_t zvd_csd_prog_len(const struct zvd_csd_prog *prog)
{
	return prog->n;
}
