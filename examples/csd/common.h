/* SPDX-License-Identifier: MIT */
/*
 * common.h - what the example programs share: the chunk they read zone
 * data in, and the comparison operators of count.c. Also included by the
 * host-side reference (reference.h), so it stays plain C.
 */
#ifndef ZVD_CSD_EXAMPLES_COMMON_H
#define ZVD_CSD_EXAMPLES_COMMON_H

/* Bytes read per zvd_read() call (the program's buffer size). */
#define CSD_CHUNK (1u << 20)

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

#ifdef __bpf__
/* The operator named by --arg op=..., OP_EQ if none, -1 if unknown. */
static inline int arg_op(void)
{
	char s[4];
	long n = zvd_arg(ZVD_KEY("op"), s, sizeof(s));

	if (n == -ZVD_ENOENT)
		return OP_EQ;
	if (n != 2)
		return -1;
	if (s[0] == 'e' && s[1] == 'q')
		return OP_EQ;
	if (s[0] == 'n' && s[1] == 'e')
		return OP_NE;
	if (s[0] == 'l')
		return s[1] == 't' ? OP_LT : s[1] == 'e' ? OP_LE : -1;
	if (s[0] == 'g')
		return s[1] == 't' ? OP_GT : s[1] == 'e' ? OP_GE : -1;
	return -1;
}
#endif

/*
 * log2(x) in Q16 fixed point for x >= 1, by repeated squaring: the
 * integer part is the top bit, each squaring of the normalised mantissa
 * yields one more fraction bit. Exact same code on the host and in the
 * VM, so both give the same entropy to the last bit.
 */
static inline unsigned long long csd_log2_q16(unsigned long long x)
{
	unsigned long long ip = 0, y, r = 0;
	int i;

	while (ip < 63 && (x >> (ip + 1)))
		ip++;
	y = ip >= 31 ? x >> (ip - 31) : x << (31 - ip);
	for (i = 0; i < 16; i++) {
		y = (y * y) >> 31;
		r <<= 1;
		if (y >= (1ull << 32)) {
			y >>= 1;
			r |= 1;
		}
	}
	return (ip << 16) | r;
}

/* Shannon entropy of a byte histogram in micro-bits per byte. */
static inline unsigned long long
csd_entropy_ubits(const unsigned long long *hist)
{
	unsigned long long n = 0, s = 0, h;
	int i;

	for (i = 0; i < 256; i++)
		n += hist[i];
	if (!n)
		return 0;
	for (i = 0; i < 256; i++)
		if (hist[i])
			s += hist[i] * csd_log2_q16(hist[i]);
	h = csd_log2_q16(n) - s / n;
	return h * 1000000ull >> 16;
}

#endif
