/*
 * io.h - blocking-with-deadline I/O on non-blocking sockets.
 *
 * Worker sockets are non-blocking so that the event loop never sticks on
 * one peer.  While a handler runs, though, its request's body is read and
 * its response written synchronously; these helpers wait with poll(2) up
 * to a deadline instead of blocking forever on a stalled peer.
 */
#ifndef SLUICE_IO_H
#define SLUICE_IO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Milliseconds on the monotonic clock. */
long long io_now_ms(void);

/*
 * What io_now_ms last returned, without reading the clock again: for code
 * that runs right after a call to it with nothing slow in between (the
 * worker's loop reads the clock once when epoll_wait returns, and once
 * after each request).
 */
long long io_last_ms(void);

/*
 * Read at most `len` bytes, waiting until `deadline_ms` for the first one.
 * Returns the count, 0 at end of stream, or -1 with errno (ETIMEDOUT when
 * the deadline passed).
 */
ssize_t io_read_wait(int fd, void *buf, size_t len, long long deadline_ms);

/* Wait until `fd` is readable or `deadline_ms` passes: 0, or -1 with errno (ETIMEDOUT). */
int io_wait_readable(int fd, long long deadline_ms);

/* The same for writable. */
int io_wait_writable(int fd, long long deadline_ms);

/*
 * Write every byte of `iov` (which it may modify), waiting up to
 * `timeout_ms` each time the socket is full.  Returns 0, or -1 with errno
 * (EPIPE, ECONNRESET, ETIMEDOUT, ...).
 */
int io_writev_all(int fd, struct iovec *iov, int iovcnt, int timeout_ms);

#endif
