/*
 * notify-wait.c - the systemd side of the bench's start-up timing.
 *
 *	notify-wait SOCKET
 *
 * Binds a datagram socket at SOCKET (the NOTIFY_SOCKET given to sluice)
 * and prints every message it receives as one line: the wall-clock time
 * of its arrival in milliseconds, a space, and the message with its
 * newlines turned into spaces.  READY=1 is sluice saying that its first
 * workers all serve, which is what "start-up time to ready" measures.
 * It runs until it is killed.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	struct timespec ts;
	ssize_t n;
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		perror("notify-wait");
		return 1;
	}
	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) >= 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		buf[n] = '\0';
		for (char *p = buf; *p; p++)
			if (*p == '\n')
				*p = ' ';
		printf("%lld %s\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, buf);
		fflush(stdout);
	}
	return 1;
}
