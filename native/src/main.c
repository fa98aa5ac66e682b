/* agent-gate-supervisor: placeholder entry point; the gate itself lands with the kernel-gate issue. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("agent-gate-supervisor 0.1.0 protocol 1\n");
		return 0;
	}
	fprintf(stderr, "agent-gate-supervisor: not yet implemented\n");
	return 126;
}
