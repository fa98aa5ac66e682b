/* SHA-256 (FIPS 180-4), used to identify executables the agent could have planted. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t total;
	unsigned char block[64];
	size_t used;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, unsigned char out[32]);
/* Hash the file open at fd (read from offset 0 with pread). 0 on success, -1 with errno. */
int sha256_fd(int fd, unsigned char out[32]);
