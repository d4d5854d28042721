/*
 * fcgiapp.h - fcgi2's FCGX interface, served by sluice-fcgi.
 *
 * Source-compatible with the fcgiapp.h of the FastCGI developer's kit
 * (libfcgi 2.4): the same names, types and signatures, so that a program
 * written against libfcgi builds unchanged with
 * `pkg-config --cflags --libs sluice-fcgi`.  Underneath is sluice's
 * strict FastCGI reader, with caps on parameters, read and write
 * deadlines, and an error (or a 400/431 answer) where libfcgi aborts.
 *
 * Not binary-compatible: FCGX_Stream is opaque here, and FCGX_Request
 * keeps fcgi2's documented fields only; what fcgi2 marked "don't use
 * anything below here" is one private pointer.
 */
#ifndef _FCGIAPP_H
#define _FCGIAPP_H

#include <stdarg.h>

#ifndef DLLAPI
#define DLLAPI
#endif

#if defined(c_plusplus) || defined(__cplusplus)
extern "C" {
#endif

/* Error codes of FCGX_GetError (besides errno values, which are positive). */
#define FCGX_UNSUPPORTED_VERSION -2
#define FCGX_PROTOCOL_ERROR -3
#define FCGX_PARAMS_ERROR -4
#define FCGX_CALL_SEQ_ERROR -5

/* A byte stream of a request: its input, output or error stream. */
typedef struct FCGX_Stream FCGX_Stream;

/* A request's parameters: NULL-terminated "NAME=VALUE" strings. */
typedef char **FCGX_ParamArray;

/* FCGX_InitRequest flag: FCGX_Accept_r returns -1 when a signal interrupts it. */
#define FCGI_FAIL_ACCEPT_ON_INTR 1

typedef struct FCGX_Request {
	int requestId;
	int role;
	FCGX_Stream *in;
	FCGX_Stream *out;
	FCGX_Stream *err;
	char **envp;
	/* The library's own state: not for programs. */
	struct fcgi2_req *priv;
	int listen_sock;
	int flags;
} FCGX_Request;

DLLAPI int FCGX_IsCGI(void);
DLLAPI int FCGX_Init(void);
DLLAPI int FCGX_OpenSocket(const char *path, int backlog);
DLLAPI int FCGX_InitRequest(FCGX_Request *request, int sock, int flags);
DLLAPI int FCGX_Accept_r(FCGX_Request *request);
DLLAPI void FCGX_Finish_r(FCGX_Request *request);
DLLAPI void FCGX_Free(FCGX_Request *request, int close);
DLLAPI int FCGX_Accept(FCGX_Stream **in, FCGX_Stream **out, FCGX_Stream **err,
		       FCGX_ParamArray *envp);
DLLAPI void FCGX_Finish(void);
DLLAPI int FCGX_StartFilterData(FCGX_Stream *stream);
DLLAPI void FCGX_SetExitStatus(int status, FCGX_Stream *stream);
DLLAPI char *FCGX_GetParam(const char *name, FCGX_ParamArray envp);

DLLAPI int FCGX_GetChar(FCGX_Stream *stream);
DLLAPI int FCGX_UnGetChar(int c, FCGX_Stream *stream);
DLLAPI int FCGX_GetStr(char *str, int n, FCGX_Stream *stream);
DLLAPI char *FCGX_GetLine(char *str, int n, FCGX_Stream *stream);
DLLAPI int FCGX_HasSeenEOF(FCGX_Stream *stream);
DLLAPI int FCGX_PutChar(int c, FCGX_Stream *stream);
DLLAPI int FCGX_PutStr(const char *str, int n, FCGX_Stream *stream);
DLLAPI int FCGX_PutS(const char *str, FCGX_Stream *stream);
DLLAPI int FCGX_FPrintF(FCGX_Stream *stream, const char *format, ...);
DLLAPI int FCGX_VFPrintF(FCGX_Stream *stream, const char *format, va_list arg);
DLLAPI int FCGX_FFlush(FCGX_Stream *stream);
DLLAPI int FCGX_FClose(FCGX_Stream *stream);
DLLAPI int FCGX_GetError(FCGX_Stream *stream);
DLLAPI void FCGX_ClearError(FCGX_Stream *stream);
DLLAPI FCGX_Stream *FCGX_CreateWriter(int socket, int requestId, int bufflen, int streamType);
DLLAPI void FCGX_FreeStream(FCGX_Stream **stream);
DLLAPI void FCGX_ShutdownPending(void);
DLLAPI int FCGX_Attach(FCGX_Request *r);
DLLAPI int FCGX_Detach(FCGX_Request *r);

#if defined(c_plusplus) || defined(__cplusplus)
}
#endif

#endif
