/*
 * libfcgi-hello.c - the comparison of the keep-alive bench: a plain
 * libfcgi responder, run as a fixed pool of processes.
 *
 * This is what most FastCGI programs in C look like: one blocking
 * FCGX_Accept_r loop per process, several processes sharing one
 * listening socket, as `cgi-fcgi -start -connect SOCKET PROGRAM N` or
 * spawn-fcgi run them.  It answers every request with the same bytes as
 * apps/hello.so, so that nginx and the client see the same response from
 * both backends:
 *
 *	Status: 200 OK
 *	Content-Type: text/plain; charset=utf-8
 *
 *	Hello from sluice!
 *
 *	libfcgi-hello SOCKET NPROC
 *
 * The parent binds SOCKET (mode 0666), forks NPROC children that serve
 * it, and waits.  On SIGTERM or SIGINT it stops the children, removes
 * the socket file and exits 0; if a child dies on its own, it stops the
 * others and exits 1.  Children also die with the parent (PDEATHSIG), so
 * a killed bench leaves nothing behind.
 *
 * For the workloads of `make bench` it also does what tests/bench/work.c
 * does for sluice, in libfcgi's own idiom (FCGX_GetParam, FCGX_GetStr,
 * FCGX_PutStr):
 *
 *	/body		reads the request body to its end, answers its size
 *	/resp/N		answers N bytes of 'x'
 *	anything else	the hello response above
 *
 * The pool bench shows the one behaviour that matters here: when the web
 * server keeps its connections open (FCGI_KEEP_CONN), libfcgi, after
 * answering, blocks reading the next request on that same connection,
 * so a process is held by one connection, busy or idle, until the web
 * server closes it.  Nothing in this file is tuned to make that better
 * or worse: it is the library's own loop.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCS	64
#define BACKLOG		1024

static const char response[] =
	"Status: 200 OK\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"Hello from sluice!\n";

#define CHUNK		65536

static char block[CHUNK];

static void body(FCGX_Request *req)
{
	long long total = 0;
	int n;

	while ((n = FCGX_GetStr(block, CHUNK, req->in)) > 0)
		total += n;
	FCGX_FPrintF(req->out, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"
		     "read %lld bytes\n", total);
}

static void resp(FCGX_Request *req, long long left)
{
	static const char head[] =
		"Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n";

	if (block[0] != 'x')
		memset(block, 'x', sizeof(block));
	FCGX_PutStr(head, (int)sizeof(head) - 1, req->out);
	while (left > 0) {
		int n = left < CHUNK ? (int)left : CHUNK;

		if (FCGX_PutStr(block, n, req->out) != n)
			return;
		left -= n;
	}
}

static void answer(FCGX_Request *req)
{
	const char *uri = FCGX_GetParam("DOCUMENT_URI", req->envp);

	if (uri && strcmp(uri, "/body") == 0)
		body(req);
	else if (uri && strncmp(uri, "/resp/", 6) == 0)
		resp(req, strtoll(uri + 6, NULL, 10));
	else
		FCGX_PutStr(response, (int)sizeof(response) - 1, req->out);
}

/*
 * The child: libfcgi's accept loop on the shared listening socket.  It
 * returns only when FCGX_Accept_r fails, which for a listening socket
 * means the process is being torn down.
 */
static void serve(int sock)
{
	FCGX_Request req;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, sock, 0) != 0)
		_exit(1);
	while (FCGX_Accept_r(&req) >= 0)
		answer(&req);
	_exit(0);
}

/*
 * Forks one child that serves `sock` and dies with its parent.  The
 * signals the parent waits for are blocked here; the child restores
 * them.  Returns the child's pid, or -1 if fork failed.
 */
static pid_t spawn(int sock, const sigset_t *waited, pid_t parent)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	sigprocmask(SIG_UNBLOCK, waited, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(1);
	serve(sock);
	return -1;	/* not reached */
}

static void stop_all(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

/*
 * Waits for SIGTERM, SIGINT or the death of a child.  Returns 0 for a
 * requested stop, 1 when a child died first.
 */
static int wait_for_end(const sigset_t *waited)
{
	int sig;

	for (;;) {
		if (sigwait(waited, &sig) != 0)
			return 1;
		if (sig != SIGCHLD)
			return 0;
		if (waitpid(-1, NULL, WNOHANG) > 0) {
			fprintf(stderr, "libfcgi-hello: a child exited\n");
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	pid_t pids[MAX_PROCS] = { 0 }, parent = getpid();
	sigset_t waited;
	int sock, n, i, rc;

	n = argc == 3 ? atoi(argv[2]) : 0;
	if (n < 1 || n > MAX_PROCS) {
		fprintf(stderr, "usage: %s SOCKET NPROC (1..%d)\n", argv[0], MAX_PROCS);
		return 2;
	}
	sigemptyset(&waited);
	sigaddset(&waited, SIGTERM);
	sigaddset(&waited, SIGINT);
	sigaddset(&waited, SIGCHLD);
	sigprocmask(SIG_BLOCK, &waited, NULL);

	unlink(argv[1]);
	sock = FCGX_OpenSocket(argv[1], BACKLOG);
	if (sock == -1 || chmod(argv[1], 0666) == -1) {
		fprintf(stderr, "libfcgi-hello: %s: cannot listen\n", argv[1]);
		return 1;
	}
	for (i = 0; i < n; i++) {
		pids[i] = spawn(sock, &waited, parent);
		if (pids[i] == -1) {
			perror("libfcgi-hello: fork");
			stop_all(pids, i);
			unlink(argv[1]);
			return 1;
		}
	}
	rc = wait_for_end(&waited);
	stop_all(pids, n);
	unlink(argv[1]);
	return rc;
}
