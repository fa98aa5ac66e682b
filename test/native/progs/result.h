/* Every test program prints one "RESULT ..." line the tests parse, and exits 0 when the call succeeded,
 * 1 when it failed (errno in the line), 2 on bad usage. */
#pragma once
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static inline int result_errno(const char *what, int e)
{
	printf("RESULT %s errno=%s\n", what, errname(e));
	fflush(stdout);
	return 1;
}

static inline int result_ok(const char *what)
{
	printf("RESULT %s ok\n", what);
	fflush(stdout);
	return 0;
}
