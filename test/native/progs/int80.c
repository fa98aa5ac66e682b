/* A 32-bit syscall (int 0x80, i386 getpid = 20) from a 64-bit process: arch is AUDIT_ARCH_I386. */
#include "result.h"

int main(void)
{
	long ret;
	printf("RESULT int80 trying\n");
	fflush(stdout);
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
	printf("RESULT int80 returned=%ld\n", ret);
	return 0;
}
