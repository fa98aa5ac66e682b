/* Exec argv[1] with an argv made of arbitrary bytes given as hex in argv[2...] (so tests can pass
 * non-UTF-8 bytes exactly), or with N generated args: argvbytes PATH --many N SIZE */
#include "result.h"
#include <unistd.h>

static int hexval(char c)
{
	return c >= 'a' ? c - 'a' + 10 : c - '0';
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	char **args;
	if (strcmp(argv[2], "--many") == 0 && argc >= 5) {
		long n = atol(argv[3]), size = atol(argv[4]);
		args = calloc((size_t)n + 2, sizeof(char *));
		args[0] = argv[1];
		for (long i = 1; i <= n; i++) {
			args[i] = malloc((size_t)size + 1);
			memset(args[i], 'a' + (int)(i % 26), (size_t)size);
			args[i][size] = '\0';
		}
	} else {
		args = calloc((size_t)argc, sizeof(char *));
		for (int i = 2; i < argc; i++) {
			size_t len = strlen(argv[i]) / 2;
			char *s = malloc(len + 1);
			for (size_t k = 0; k < len; k++)
				s[k] = (char)(hexval(argv[i][2 * k]) << 4 | hexval(argv[i][2 * k + 1]));
			s[len] = '\0';
			args[i - 2] = s;
		}
	}
	execv(argv[1], args);
	return result_errno("execv", errno);
}
