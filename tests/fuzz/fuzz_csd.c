// SPDX-License-Identifier: MIT
/*
 * fuzz_csd.c - libFuzzer target for the csd layer: random bytes as a raw
 * program (first byte even) or as an ELF object (first byte odd) go
 * through the loader and validator, and whatever loads runs with a small
 * memory window and budget, without a device. Built and run by
 * tests/fuzz/build and tests/fuzz/csd.sh under ASan+UBSan.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <zvd_csd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const struct zvd_csd_prog *p)
{
	struct zvd_csd_run_opts o = { .zone = 0, .max_insns = 20000 };
	uint64_t out[16];
	struct zvd_csd_result res;
	struct zvd_csd_diag d;
	uint8_t mem[64] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	zvd_csd_exec(p, mem, sizeof(mem), 20000, &res, &d);
	o.out = out;
	o.out_cap = sizeof(out);
	zvd_csd_run(p, NULL, &o, &res, &d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zvd_csd_prog *p = NULL;
	struct zvd_csd_diag d;
	int rc;

	if (size < 1)
		return 0;
	if (data[0] & 1)
		rc = zvd_csd_prog_load_elf(data + 1, size - 1, NULL, &p, &d);
	else
		rc = zvd_csd_prog_load_raw(data + 1, (size - 1) & ~(size_t)7,
					   &p, &d);
	if (!rc)
		run(p);
	zvd_csd_prog_free(p);
	return 0;
}
