/*
 * stdio.c - fcgi_stdio.h's FCGI_* functions: stdio for fcgi2 programs.
 *
 * An FCGI_FILE is either a C library stream or a request's FCGX_Stream.
 * FCGI_stdin, FCGI_stdout and FCGI_stderr are the request's streams
 * while FastCGI serves one, and the process's own stdin, stdout and
 * stderr otherwise: before the first FCGI_Accept, and as CGI.  Files a
 * program opens are C library streams throughout.  What has no meaning
 * on a request's stream (seeking, fileno, buffering modes) fails on it
 * with ESPIPE or EOF, as in libfcgi.
 *
 * CGI fallback: when fd 0 is not a listening socket, the first
 * FCGI_Accept returns 0 with the real environment and stdio, and the
 * second returns -1, so that the program's loop runs once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NO_FCGI_DEFINES
#include "fcgi_stdio.h"
#include "fcgi2.h"

extern char **environ;

FCGI_FILE _fcgi_sF[3];

static int accepted;		/* FCGI_Accept was called */
static int is_cgi;
static char **first_environ;	/* the process's own, restored between requests */

/*
 * The C library stream behind `fp`, or NULL for a request's stream.  An
 * FCGI_std* entry not set yet is the process's own stdio.
 */
static FILE *cfile(FCGI_FILE *fp)
{
	if (fp->stdio_stream || fp->fcgx_stream)
		return fp->stdio_stream;
	if (fp == FCGI_stdin)
		return stdin;
	if (fp == FCGI_stdout)
		return stdout;
	if (fp == FCGI_stderr)
		return stderr;
	return NULL;
}

static void set_std(FILE *in, FILE *out, FILE *err, FCGX_Stream *fin, FCGX_Stream *fout,
		    FCGX_Stream *ferr)
{
	_fcgi_sF[0] = (FCGI_FILE){ in, fin };
	_fcgi_sF[1] = (FCGI_FILE){ out, fout };
	_fcgi_sF[2] = (FCGI_FILE){ err, ferr };
}

int FCGI_Accept(void)
{
	FCGX_Stream *in, *out, *err;
	FCGX_ParamArray envp;

	if (!accepted) {
		if (FCGX_Init() < 0)
			return -1;
		accepted = 1;
		first_environ = environ;
		is_cgi = FCGX_IsCGI();
		if (is_cgi) {
			set_std(stdin, stdout, stderr, NULL, NULL, NULL);
			return 0;
		}
	} else if (is_cgi) {
		return -1;	/* CGI runs once */
	}
	FCGI_Finish();
	if (FCGX_Accept(&in, &out, &err, &envp) < 0)
		return -1;
	set_std(NULL, NULL, NULL, in, out, err);
	environ = envp;
	return 0;
}

void FCGI_Finish(void)
{
	if (!accepted || is_cgi)
		return;
	FCGX_Finish();
	set_std(NULL, NULL, NULL, NULL, NULL, NULL);
	environ = first_environ;
}

int FCGI_StartFilterData(void)
{
	if (is_cgi || !FCGI_stdin->fcgx_stream)
		return -1;
	return FCGX_StartFilterData(FCGI_stdin->fcgx_stream);
}

void FCGI_SetExitStatus(int status)
{
	if (FCGI_stdin->fcgx_stream)
		FCGX_SetExitStatus(status, FCGI_stdin->fcgx_stream);
}

/* ---- Opening and closing: C library streams only ----------------------- */

static FCGI_FILE *wrap(FILE *f)
{
	FCGI_FILE *fp;

	if (!f)
		return NULL;
	fp = malloc(sizeof(*fp));
	if (!fp) {
		fclose(f);
		return NULL;
	}
	fp->stdio_stream = f;
	fp->fcgx_stream = NULL;
	return fp;
}

/* Free an FCGI_FILE the program opened; the three standard ones are static. */
static void unwrap(FCGI_FILE *fp)
{
	if (fp < _fcgi_sF || fp >= _fcgi_sF + 3)
		free(fp);
}

FCGI_FILE *FCGI_fopen(const char *path, const char *mode)
{
	return wrap(fopen(path, mode));
}

FCGI_FILE *FCGI_fdopen(int fd, const char *mode)
{
	return wrap(fdopen(fd, mode));
}

FCGI_FILE *FCGI_tmpfile(void)
{
	return wrap(tmpfile());
}

/* The FCGI_FILE first: a pipe once opened must be closed with pclose, not fclose. */
FCGI_FILE *FCGI_popen(const char *cmd, const char *type)
{
	FCGI_FILE *fp = malloc(sizeof(*fp));

	if (!fp)
		return NULL;
	fp->stdio_stream = popen(cmd, type);
	fp->fcgx_stream = NULL;
	if (!fp->stdio_stream) {
		free(fp);
		return NULL;
	}
	return fp;
}

int FCGI_pclose(FCGI_FILE *fp)
{
	FILE *f = cfile(fp);
	int rc;

	if (!f)
		return -1;
	rc = pclose(f);
	unwrap(fp);
	return rc;
}

int FCGI_fclose(FCGI_FILE *fp)
{
	FILE *f = cfile(fp);
	int rc;

	if (!f) {
		rc = FCGX_FClose(fp->fcgx_stream);
		fp->fcgx_stream = NULL;
		return rc;
	}
	rc = fclose(f);
	if (fp >= _fcgi_sF && fp < _fcgi_sF + 3)
		fp->stdio_stream = NULL;
	unwrap(fp);
	return rc;
}

FCGI_FILE *FCGI_freopen(const char *path, const char *mode, FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	if (!f) {
		f = fopen(path, mode);
		if (!f)
			return NULL;
		FCGX_FClose(fp->fcgx_stream);
		fp->fcgx_stream = NULL;
		fp->stdio_stream = f;
		return fp;
	}
	f = freopen(path, mode, f);
	if (!f)
		return NULL;
	fp->stdio_stream = f;
	return fp;
}

/* ---- What only a C library stream has ---------------------------------- */

int FCGI_fflush(FCGI_FILE *fp)
{
	FILE *f;

	if (!fp)
		return fflush(NULL);
	f = cfile(fp);
	return f ? fflush(f) : FCGX_FFlush(fp->fcgx_stream);
}

int FCGI_setvbuf(FCGI_FILE *fp, char *buf, int bufmode, size_t size)
{
	FILE *f = cfile(fp);

	return f ? setvbuf(f, buf, bufmode, size) : -1;
}

void FCGI_setbuf(FCGI_FILE *fp, char *buf)
{
	FILE *f = cfile(fp);

	if (f)
		setbuf(f, buf);
}

int FCGI_fseek(FCGI_FILE *fp, long offset, int whence)
{
	FILE *f = cfile(fp);

	if (f)
		return fseek(f, offset, whence);
	errno = ESPIPE;
	return -1;
}

int FCGI_ftell(FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	if (f)
		return (int)ftell(f);
	errno = ESPIPE;
	return -1;
}

void FCGI_rewind(FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	if (f)
		rewind(f);
	else
		errno = ESPIPE;
}

int FCGI_fgetpos(FCGI_FILE *fp, fpos_t *pos)
{
	FILE *f = cfile(fp);

	if (f)
		return fgetpos(f, pos);
	errno = ESPIPE;
	return -1;
}

int FCGI_fsetpos(FCGI_FILE *fp, const fpos_t *pos)
{
	FILE *f = cfile(fp);

	if (f)
		return fsetpos(f, pos);
	errno = ESPIPE;
	return -1;
}

int FCGI_fileno(FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	return f ? fileno(f) : -1;
}

/* ---- Reading ------------------------------------------------------------ */

int FCGI_fgetc(FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	return f ? fgetc(f) : FCGX_GetChar(fp->fcgx_stream);
}

int FCGI_getchar(void)
{
	return FCGI_fgetc(FCGI_stdin);
}

int FCGI_ungetc(int c, FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	return f ? ungetc(c, f) : FCGX_UnGetChar(c, fp->fcgx_stream);
}

char *FCGI_fgets(char *str, int size, FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	return f ? fgets(str, size, f) : FCGX_GetLine(str, size, fp->fcgx_stream);
}

/*
 * gets(3) has no size: it is gone from C11 and glibc.  Kept for the
 * API, it reads a line of at most 4095 bytes and drops the rest of a
 * longer one, rather than writing past a buffer nobody sized.
 */
char *FCGI_gets(char *str)
{
	enum { GETS_MAX = 4096 };
	char *p = FCGI_fgets(str, GETS_MAX, FCGI_stdin);
	size_t n;
	int c;

	if (!p)
		return NULL;
	n = strlen(str);
	if (n > 0 && str[n - 1] == '\n') {
		str[n - 1] = '\0';
		return str;
	}
	while ((c = FCGI_getchar()) != EOF && c != '\n')
		;
	return str;
}

size_t FCGI_fread(void *ptr, size_t size, size_t nmemb, FCGI_FILE *fp)
{
	FILE *f = cfile(fp);
	size_t total;
	int n;

	if (f)
		return fread(ptr, size, nmemb, f);
	if (size == 0 || nmemb == 0)
		return 0;
	if (nmemb > (size_t)0x7fffffff / size) {
		errno = EINVAL;
		return 0;
	}
	total = size * nmemb;
	n = FCGX_GetStr(ptr, (int)total, fp->fcgx_stream);
	return n > 0 ? (size_t)n / size : 0;
}

int FCGI_feof(FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	return f ? feof(f) : FCGX_HasSeenEOF(fp->fcgx_stream) == EOF;
}

int FCGI_ferror(FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	return f ? ferror(f) : FCGX_GetError(fp->fcgx_stream) != 0;
}

void FCGI_clearerr(FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	if (f)
		clearerr(f);
	else
		FCGX_ClearError(fp->fcgx_stream);
}

/* ---- Writing ------------------------------------------------------------ */

int FCGI_fputc(int c, FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	return f ? fputc(c, f) : FCGX_PutChar(c, fp->fcgx_stream);
}

int FCGI_putchar(int c)
{
	return FCGI_fputc(c, FCGI_stdout);
}

int FCGI_fputs(const char *str, FCGI_FILE *fp)
{
	FILE *f = cfile(fp);

	return f ? fputs(str, f) : FCGX_PutS(str, fp->fcgx_stream);
}

int FCGI_puts(const char *str)
{
	FILE *f = cfile(FCGI_stdout);

	if (f)
		return puts(str);
	if (FCGX_PutS(str, FCGI_stdout->fcgx_stream) < 0 ||
	    FCGX_PutChar('\n', FCGI_stdout->fcgx_stream) == EOF)
		return EOF;
	return 1;
}

int FCGI_vfprintf(FCGI_FILE *fp, const char *format, va_list ap)
{
	FILE *f = cfile(fp);

	return f ? vfprintf(f, format, ap) : FCGX_VFPrintF(fp->fcgx_stream, format, ap);
}

int FCGI_fprintf(FCGI_FILE *fp, const char *format, ...)
{
	va_list ap;
	int n;

	va_start(ap, format);
	n = FCGI_vfprintf(fp, format, ap);
	va_end(ap);
	return n;
}

int FCGI_vprintf(const char *format, va_list ap)
{
	return FCGI_vfprintf(FCGI_stdout, format, ap);
}

int FCGI_printf(const char *format, ...)
{
	va_list ap;
	int n;

	va_start(ap, format);
	n = FCGI_vfprintf(FCGI_stdout, format, ap);
	va_end(ap);
	return n;
}

size_t FCGI_fwrite(void *ptr, size_t size, size_t nmemb, FCGI_FILE *fp)
{
	FILE *f = cfile(fp);
	size_t total;

	if (f)
		return fwrite(ptr, size, nmemb, f);
	if (size == 0 || nmemb == 0)
		return 0;
	if (nmemb > (size_t)0x7fffffff / size) {
		errno = EINVAL;
		return 0;
	}
	total = size * nmemb;
	return FCGX_PutStr(ptr, (int)total, fp->fcgx_stream) < 0 ? 0 : nmemb;
}

void FCGI_perror(const char *str)
{
	int e = errno;

	if (str && *str)
		FCGI_fprintf(FCGI_stderr, "%s: %s\n", str, strerror(e));
	else
		FCGI_fprintf(FCGI_stderr, "%s\n", strerror(e));
	errno = e;
}
