/*
 * multipart.c - fuzz a multipart/form-data body: the first line is its
 * Content-Type, the next byte the size of each read (1 to 256), the rest
 * the body, parsed to the end as a module reading every part would.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>

#include "fuzz.h"
#include "multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
	const uint8_t *p;
	size_t len, chunk;
};

static ssize_t src_read(void *arg, void *buf, size_t len)
{
	struct src *s = arg;
	size_t n = s->len < s->chunk ? s->len : s->chunk;

	if (n > len)
		n = len;
	memcpy(buf, s->p, n);
	s->p += n;
	s->len -= n;
	return (ssize_t)n;
}

/* What every part must look like, whatever the body. */
static void check_part(const struct multipart_part *p)
{
	if (!p->name || !p->type || strlen(p->name) > MULTIPART_MAX_HEADER ||
	    (p->filename && strlen(p->filename) > MULTIPART_MAX_HEADER))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct multipart m;
	struct arena *a = fuzz_arena();
	const char *s = (const char *)data, *nl = memchr(s, '\n', size);
	size_t tlen = nl ? (size_t)(nl - s) : size, total = 0;
	char *type = arena_strndup(a, s, tlen), buf[97];
	struct src src;
	struct multipart_part p;
	ssize_t n;
	int rc;

	if (!type)
		abort();
	if (!nl || size - tlen < 2)
		return 0;
	src = (struct src){ data + tlen + 2, size - tlen - 2, (size_t)data[tlen + 1] + 1 };
	if (multipart_init(&m, type, a, src_read, &src) < 0)
		return multipart_refused(errno) ? 0 : (abort(), 0);
	while ((rc = multipart_next(&m, &p)) > 0) {
		check_part(&p);
		while ((n = multipart_read(&m, buf, sizeof(buf))) > 0)
			total += (size_t)n;
		if (n < 0)
			break;
	}
	/* Data never exceeds the body, and a failure always says why. */
	if (total > size || (m.state == MP_FAILED && !multipart_refused(m.err)))
		abort();
	return 0;
}
