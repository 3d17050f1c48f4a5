/* SPDX-License-Identifier: MIT */
/*
 * util.h - small helpers shared by every layer: little-endian encoding,
 * alignment arithmetic and CRC32C.
 */
#ifndef ZVD_UTIL_H
#define ZVD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ZVD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ZVD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define ZVD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline uint64_t zvd_div_round_up(uint64_t n, uint64_t d)
{
	return (n + d - 1) / d;
}

static inline int zvd_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Encoding is little-endian and unaligned-safe. */
static inline void put_le16(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = v;
	b[1] = v >> 8;
}

static inline void put_le32(void *p, uint32_t v)
{
	uint8_t *b = p;
	for (int i = 0; i < 4; i++)
		b[i] = v >> (8 * i);
}

static inline void put_le64(void *p, uint64_t v)
{
	uint8_t *b = p;
	for (int i = 0; i < 8; i++)
		b[i] = v >> (8 * i);
}

static inline uint16_t get_le16(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t get_le32(const void *p)
{
	const uint8_t *b = p;
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static inline uint64_t get_le64(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* CRC32C (Castagnoli) of @len bytes, continuing from @crc (start with 0). */
uint32_t zvd_crc32c(uint32_t crc, const void *buf, size_t len);

/* 64 random bits from the kernel (getrandom), for identifiers. */
uint64_t zvd_random64(void);

#endif
