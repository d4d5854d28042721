/*
 * selfpipe.c - signals as bytes on a pipe.  See selfpipe.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "selfpipe.h"

static int fds[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (write(fds[1], &b, 1) < 0) {
		/* The pipe is full: enough signals are already queued. */
	}
	errno = saved;
}

int selfpipe_init(void)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

int selfpipe_fd(void)
{
	return fds[0];
}

int selfpipe_next(void)
{
	unsigned char b;

	return read(fds[0], &b, 1) == 1 ? b : 0;
}

void selfpipe_close(void)
{
	close(fds[0]);
	close(fds[1]);
	fds[0] = fds[1] = -1;
}
