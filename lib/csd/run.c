// SPDX-License-Identifier: MIT
/*
 * run.c - runs of a program: the memory each run owns (a zeroed stack, a
 * fresh copy of the object's data, a read-only context), the grant and
 * budget checks, timing, and decoding of the result records.
 *
 * Everything a run writes is allocated for that run and freed when it
 * ends, so runs of one program on many threads never share writable
 * memory (the caller's exec window aside).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csd.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void map(struct csd_run *run, enum csd_region r, void *base,
		uint64_t len, bool writable)
{
	run->reg[r].base = base;
	run->reg[r].len = base ? len : 0;
	run->reg[r].writable = writable;
}

/* Set up the memory every run has: stack, data copy, rodata. */
static int run_init(struct csd_run *run, const struct zvd_csd_prog *prog,
		    struct zvd_csd_result *res, struct zvd_csd_diag *diag)
{
	uint8_t *stack, *data = NULL;

	memset(run, 0, sizeof(*run));
	memset(res, 0, sizeof(*res));
	memset(diag, 0, sizeof(*diag));
	diag->pc = UINT32_MAX;
	run->prog = prog;
	run->res = res;
	run->diag = diag;
	run->pc = UINT32_MAX;
	stack = calloc(1, CSD_STACK_SIZE);
	if (prog->data_len)
		data = malloc(prog->data_len);
	if (!stack || (prog->data_len && !data)) {
		free(stack);
		free(data);
		return csd_diag(diag, -ENOMEM, UINT32_MAX, "out of memory");
	}
	if (data)
		memcpy(data, prog->data, prog->data_len);
	map(run, CSD_R_STACK, stack, CSD_STACK_SIZE, true);
	map(run, CSD_R_DATA, data, prog->data_len, true);
	map(run, CSD_R_RODATA, prog->rodata, prog->rodata_len, false);
	return 0;
}

static void run_release(struct csd_run *run)
{
	free(run->reg[CSD_R_STACK].base);
	free(run->reg[CSD_R_DATA].base);
	free(run->bounce);
}

/* Execute and time; the result of the run. */
static int run_exec(struct csd_run *run, uint64_t max_insns, uint64_t r1,
		    uint64_t r2)
{
	uint64_t t0 = now_ns();
	int rc;

	run->max_insns = max_insns ? max_insns : ZVD_CSD_DEFAULT_MAX_INSNS;
	rc = csd_vm_run(run, r1, r2);
	run->res->ns = now_ns() - t0;
	return rc;
}

/* Check the grant of @o against @dev; fill the effective options. */
static int check_grant(struct zvd_dev *dev, const struct zvd_csd_run_opts *o,
		       struct zvd_csd_run_opts *eff, struct zvd_csd_diag *diag)
{
	uint32_t nr = dev ? zvd_nr_zones(dev) : UINT32_MAX;

	*eff = *o;
	if (!eff->nr_zones) {
		eff->first_zone = o->zone;
		eff->nr_zones = 1;
	}
	if (o->zone < eff->first_zone || o->zone - eff->first_zone >= eff->nr_zones)
		return csd_diag(diag, -EINVAL, UINT32_MAX,
				"zone %u is not inside the granted zones %u-%u",
				o->zone, eff->first_zone,
				eff->first_zone + eff->nr_zones - 1);
	if (eff->first_zone >= nr || eff->nr_zones > nr - eff->first_zone)
		return csd_diag(diag, -EINVAL, UINT32_MAX,
				"zones %u-%u are not all on the device (%u zones)",
				eff->first_zone,
				eff->first_zone + eff->nr_zones - 1, nr);
	if (o->nr_args && !o->args)
		return csd_diag(diag, -EINVAL, UINT32_MAX, "arguments missing");
	return 0;
}

static void fill_ctx(struct zvd_csd_ctx *ctx, const struct csd_run *run)
{
	const struct zvd_csd_run_opts *o = run->opts;

	memset(ctx, 0, sizeof(*ctx));
	ctx->zone = o->zone;
	ctx->first_zone = o->first_zone;
	ctx->nr_zones = o->nr_zones;
	ctx->flags = o->flags & ZVD_CSD_GRANT_APPEND ? ZVD_CSD_CTX_APPEND : 0;
	ctx->block_size = run->geom.block_size;
	ctx->nr_args = o->nr_args;
	ctx->zone_size = run->geom.zone_size;
	ctx->out_cap = run->out_cap;
	ctx->max_insns = run->max_insns;
}

int zvd_csd_run(const struct zvd_csd_prog *prog, struct zvd_dev *dev,
		const struct zvd_csd_run_opts *opts,
		struct zvd_csd_result *res, struct zvd_csd_diag *diag)
{
	struct zvd_csd_run_opts eff;
	struct zvd_csd_diag local;
	struct zvd_csd_ctx ctx;
	struct csd_run run;
	int rc;

	if (!diag)
		diag = &local;
	rc = run_init(&run, prog, res, diag);
	if (rc)
		return rc;
	rc = check_grant(dev, opts, &eff, diag);
	if (rc)
		goto out;
	run.dev = dev;
	run.opts = &eff;
	run.out = opts->out;
	run.out_cap = opts->out ? opts->out_cap : 0;
	run.max_trace = opts->max_trace ? opts->max_trace : 64;
	run.max_insns = opts->max_insns ? opts->max_insns
					: ZVD_CSD_DEFAULT_MAX_INSNS;
	if (dev)
		zvd_get_geometry(dev, &run.geom);
	fill_ctx(&ctx, &run);
	map(&run, CSD_R_CTX, &ctx, sizeof(ctx), false);
	rc = run_exec(&run, opts->max_insns, CSD_ADDR(CSD_R_CTX, 0),
		      sizeof(ctx));
out:
	run_release(&run);
	return rc;
}

int zvd_csd_exec(const struct zvd_csd_prog *prog, void *mem, size_t mem_len,
		 uint64_t max_insns, struct zvd_csd_result *res,
		 struct zvd_csd_diag *diag)
{
	static const struct zvd_csd_run_opts none;
	struct zvd_csd_diag local;
	struct csd_run run;
	int rc;

	if (!diag)
		diag = &local;
	if (mem_len > UINT32_MAX)
		return csd_diag(diag, -E2BIG, UINT32_MAX,
				"memory window over 4 GiB");
	rc = run_init(&run, prog, res, diag);
	if (rc)
		return rc;
	run.opts = &none;
	run.max_trace = 64;
	map(&run, CSD_R_CTX, mem, mem_len, true);
	rc = run_exec(&run, max_insns, mem ? CSD_ADDR(CSD_R_CTX, 0) : 0,
		      mem_len);
	run_release(&run);
	return rc;
}

/* ---- result records ---- */

int zvd_csd_record_next(const void *buf, size_t len, size_t *pos,
			struct zvd_csd_record *rec)
{
	const uint8_t *b = buf;
	uint32_t val_len;
	uint16_t type;
	uint8_t key_len;
	size_t p = *pos, klen8, vlen8;

	if (p >= len)
		return 0;
	if (len - p < 8)
		return -EBADMSG;
	memcpy(&val_len, b + p, 4);
	memcpy(&type, b + p + 4, 2);
	key_len = b[p + 6];
	klen8 = ((size_t)key_len + 7) & ~(size_t)7;
	vlen8 = ((size_t)val_len + 7) & ~(size_t)7;
	if (!key_len || type < ZVD_CSD_REC_U64 || type > ZVD_CSD_REC_BYTES ||
	    klen8 > len - p - 8 || vlen8 > len - p - 8 - klen8)
		return -EBADMSG;
	rec->type = type;
	rec->key_len = key_len;
	rec->val_len = val_len;
	rec->key = (const char *)b + p + 8;
	rec->val = b + p + 8 + klen8;
	*pos = p + 8 + klen8 + vlen8;
	return 1;
}
