/*
 * defaults.h - every built-in limit and default, each with the reason for
 * its number.  Defaults can be changed in the config file; the MAX_ and
 * MIN_ bounds are what the config parser accepts.
 */
#ifndef SLUICE_DEFAULTS_H
#define SLUICE_DEFAULTS_H

/*
 * FastCGI caps a record's content at 65535 bytes (16-bit length) and its
 * padding at 255.  An input buffer that holds one whole record plus its
 * header lets the codec parse every record in place, with no reassembly.
 */
#define FCGI_MAX_CONTENT	65535
#define FCGI_MAX_PADDING	255
#define FCGI_HEADER_LEN		8
#define CONN_INBUF_SIZE		(FCGI_HEADER_LEN + FCGI_MAX_CONTENT + FCGI_MAX_PADDING)

/*
 * The worker's read buffer, shared by its connections.  nginx writes a
 * request's head and a body it holds in memory in one writev, so a read
 * this size takes a request with a body of 64 KiB (limits.body_buffer_size)
 * whole, and the body is handed to the handler from here, uncopied until
 * then; a body that streams is read in pieces this size.  A connection's
 * own buffer (conn.c) still holds one record.  Resident only as far as
 * reads have filled it.
 */
#define CONN_READ_SIZE		(256 * 1024)

/*
 * Response bytes gathered before they leave: small responses go out in
 * one writev at the end, large ones in writevs of 256 KiB or more.  Each
 * writev wakes the web server, and on a shared 2-core machine a response
 * written in 64 KiB pieces (the size of one FastCGI record, which this
 * used to be) costs a fifth to two fifths more CPU per megabyte than in
 * 256 KiB ones, far more than copying it into this buffer does (README,
 * benchmark, resp1m).  A write this size or larger is not copied.  The
 * buffer is resident only as far as a response has filled it.
 */
#define OUTBUF_SIZE		(256 * 1024)

/*
 * Body bytes written by reference (sl_write_ref) wait, unsent, until
 * RESPONSE_REF_BATCH bytes or RESPONSE_REFS pieces are pending: a writev
 * of a megabyte fills the socket as often as its buffer allows, with no
 * copy, as the floor's does; 64 KiB pieces sent one by one would wake
 * the web server for each.  A piece of up to RESPONSE_REF_COPY bytes is
 * copied instead, when nothing is pending by reference: a vector entry
 * costs the kernel more than copying that little.
 */
#define RESPONSE_REFS		32
#define RESPONSE_REF_BATCH	(1024 * 1024)
#define RESPONSE_REF_COPY	4096

/*
 * nginx builds PARAMS as a single record and refuses anything above
 * 65535 bytes, Apache similarly; 64 KiB lets every real web server
 * through and stops a peer that streams parameters without end.
 */
#define DEFAULT_MAX_PARAMS_BYTES	65536
#define MAX_MAX_PARAMS_BYTES		(1 << 20)

/* A browser sends 10-30 headers; 512 parameters leaves room for proxies. */
#define DEFAULT_MAX_PARAMS		512
#define MAX_MAX_PARAMS			8192

/*
 * The response head must fit nginx's fastcgi_buffer_size (4 KiB or 8 KiB
 * by default) or nginx answers 502 "upstream sent too big header".  We
 * refuse a bigger head ourselves, with a log line that says so.
 */
#define DEFAULT_MAX_HEADER_BYTES	4096
#define MAX_MAX_HEADER_BYTES		65536

/* php-fpm and nginx's client_max_body_size default to 1 MiB and 8 MiB; 8 MiB. */
#define DEFAULT_MAX_BODY_BYTES		(8LL << 20)

/*
 * Per-request arena.  The first block is kept between requests, so the
 * steady state allocates nothing; the cap bounds what one request can
 * take from the worker.
 */
#define ARENA_BLOCK_SIZE		(64 * 1024)
#define DEFAULT_MAX_REQUEST_MEMORY	(64LL << 20)

/*
 * Seconds a peer may stay silent while a request is being received or
 * its response sent (nginx's fastcgi_send_timeout and
 * fastcgi_read_timeout default to 60 s; we give up first so that the
 * worker, not the web server, notices a stalled peer).
 */
#define DEFAULT_READ_TIMEOUT		30
#define DEFAULT_WRITE_TIMEOUT		30

/*
 * Apache mod_reqtimeout's MinRate idea: past its grace (read_timeout for
 * a body, write_timeout for a response), a transfer must average at least
 * this many bytes a second, so that a trickle cannot hold a connection
 * forever by sending a byte just before each deadline.  500 is
 * mod_reqtimeout's own default; a web server on the same machine moves
 * megabytes a second.
 */
#define DEFAULT_MIN_RATE		500
#define MAX_MIN_RATE			(1LL << 30)

/*
 * Bodies up to this size are received whole by the worker's event loop
 * before the handler starts, so that a slow body holds memory, not a
 * worker.  nginx buffers bodies itself (client_body_buffer_size 16 KiB,
 * then a temp file) and sends them at memory speed, so a bigger body
 * streams to the handler under min_rate instead.
 */
#define DEFAULT_BODY_BUFFER_SIZE	(64 * 1024)
#define MAX_BODY_BUFFER_SIZE		(64LL << 20)

/*
 * Response bytes a slow reader may leave queued in memory per
 * connection; past this they go to an unlinked temporary file, drained
 * by the event loop (nginx's proxy buffering, uWSGI's offloading), so
 * that a reader at 10 KB/s costs disk, not a worker or its memory.  A
 * peer that reads at memory speed (nginx) is waited for instead, for at
 * most SPILL_WAIT_MS each time its socket is full: spilling is for the
 * slow, not for every response bigger than a socket buffer.
 */
#define OUTQ_MEM_MAX			(64 * 1024)
#define SPILL_WAIT_MS			20

/*
 * limits.max_temp_file_size: response bytes one connection may have in
 * its temporary file (nginx's fastcgi_max_temp_file_size, and its
 * default).  Past it the handler takes the peer's pace, under
 * limits.min_rate, so that a peer that never reads an endless response
 * costs a bounded file, then a bounded wait, never the disk.
 */
#define DEFAULT_MAX_TEMP_FILE_SIZE	(1024LL << 20)

/*
 * Kept-alive connections the master keeps a duplicate of, across all
 * workers: the shared ownership table has one 8-byte word per entry
 * (512 KiB of address space, touched only as used).  A connection that
 * finds the table full is served as before, by its worker alone.
 */
#define KEPT_SLOTS			65536

/*
 * A handler running longer than this gives up its worker's idle kept-alive
 * connections: the master takes them and hands them to a worker that is
 * free, so that a slow handler delays no other request by more than about
 * this much.  While the pool is in use the master looks when the soonest
 * running handler passes it, or this long after a look that found none.
 */
#define STEAL_AFTER_MS			20

/*
 * After this long with no request started or running, the master stops
 * looking for slow handlers and dozes until its maintenance tick; the
 * first request that starts then, in a worker holding other kept-alive
 * connections, wakes it (worker.c).  So an idle pool costs no wake-ups,
 * and a busy one no system call per request.
 */
#define DOZE_AFTER_MS			1000

/* ondemand: how long the master leaves a waiting connection to the
 * workers (one starting, or one free) before it looks at it again. */
#define DEMAND_WAIT_MS			100

/* Idle kept-alive connections are closed after this many seconds
 * (nginx's own keepalive_timeout for upstreams is 60 s). */
#define DEFAULT_IDLE_TIMEOUT		60

/* Connections one worker holds at once, idle or not. */
#define DEFAULT_MAX_CONNS		1024

/* The kernel caps the backlog at net.core.somaxconn; 511 is nginx's default. */
#define DEFAULT_BACKLOG			511

/* Workers when pm.max_children is not given: one per core of a small box. */
#define DEFAULT_MAX_CHILDREN		2
#define MAX_MAX_CHILDREN		4096

/*
 * Seconds a worker may take to finish its request after SIGTERM or
 * SIGQUIT before the master kills it.
 */
#define DEFAULT_SHUTDOWN_TIMEOUT	10

/* A worker that dies sooner than this after its start counts as a failed start. */
#define FAST_EXIT_SECONDS		1

/* Longest respawn delay for a worker that keeps dying at once. */
#define MAX_RESPAWN_DELAY_MS		5000

/*
 * Dynamic pool defaults, php-fpm's: start with min_spare + (max_spare -
 * min_spare) / 2, keep 1 to 3 idle workers, and start at most 32 workers
 * a second (php-fpm doubles its spawn rate per second up to 32).
 */
#define DEFAULT_MIN_SPARE		1
#define DEFAULT_MAX_SPARE		3
#define DEFAULT_MAX_SPAWN_RATE		32

/* ondemand: php-fpm's pm.process_idle_timeout default. */
#define DEFAULT_PROCESS_IDLE_TIMEOUT	10

/*
 * Recycling: a worker's limit is max_requests plus up to this much jitter
 * by default, so that workers started together do not all leave together;
 * and two recycles are at least this far apart, so that a pool never
 * restarts all at once.
 */
#define DEFAULT_MAX_REQUESTS_JITTER	0
#define DEFAULT_MIN_RECYCLE_INTERVAL_MS	1000

/*
 * How often the master looks at the scoreboard for timeouts, RSS and pool
 * size (php-fpm checks once a second; request timeouts are whole seconds,
 * so a quarter second keeps them within 25%).
 */
#define MAINTENANCE_TICK_MS		250

/*
 * The master remembers this many crash times for emergency_restart_*
 * (master.c's crash_times[] table); php-fpm's users set 10 or so.
 */
#define MAX_EMERGENCY_RESTART_THRESHOLD	64

/*
 * php-fpm's emergency_restart_interval defaults to 0, which makes its
 * threshold count crashes within no time at all; a minute makes
 * "emergency_restart_threshold = 10" alone mean 10 crashes a minute.
 */
#define DEFAULT_EMERGENCY_RESTART_INTERVAL	60

/* After SIGUSR2 (request_terminate_timeout), how long before SIGKILL. */
#define TERMINATE_GRACE_MS		2000

/*
 * How long the master waits for a slow worker to stop under ptrace for
 * its slowlog backtrace (trace.h).  A handler that is running or asleep
 * stops within microseconds; one in uninterruptible sleep (disk I/O) may
 * not, and the master, which serves the whole pool, gives up rather than
 * wait with it.
 */
#define TRACE_STOP_WAIT_MS		100

/*
 * On a graceful stop, a connection that was accepted but has not sent its
 * first request yet (nginx writes right after connecting) gets this long
 * to do so before it is closed.
 */
#define DRAIN_FRESH_MS			1000

/*
 * A replaced worker (reload, recycle) keeps its kept-alive connections
 * this long, closing each after its next response; nginx uses its most
 * recently used connections first, so the old ones mostly fall idle and
 * are closed when this runs out.  Longer leaves fewer to close blind
 * (make bench's reload case counts the ones nginx met while closing).
 */
#define DRAIN_KEPT_MS			5000

/*
 * A connection answered before its request body was all read keeps
 * reading and dropping input this long before it is closed (nginx's
 * lingering_timeout is 5 s).
 */
#define LINGER_MS			5000

/*
 * After accept fails for want of descriptors or memory, a worker stops
 * accepting this long instead of spinning on the still-readable socket.
 */
#define ACCEPT_PAUSE_MS			100

#define MAX_MODULES			64

/*
 * Request ids.  Ours are 16 hex digits (a worker's random prefix and a
 * counter); one the web server sends is taken when it has at most
 * REQUEST_ID_MAX characters: nginx's $request_id is 32 hex digits and a
 * UUID 36 characters, so 64 leaves room for a prefix such as
 * "edge1-<uuid>" without letting a peer put a paragraph into every log
 * line.  The default parameter is what nginx sends for
 * `fastcgi_param HTTP_X_REQUEST_ID $request_id;` (or a client's
 * X-Request-Id header passed through).
 */
#define REQUEST_ID_MAX			64
#define REQUEST_ID_SIZE			(REQUEST_ID_MAX + 1)
#define DEFAULT_REQUEST_ID_PARAM	"HTTP_X_REQUEST_ID"
#define DEFAULT_REQUEST_ID_HEADER	"X-Request-Id"
/* request_id.header's longest name: every real header name is far shorter. */
#define REQUEST_ID_HEADER_MAX		64

/*
 * The access log's default format: nginx's "combined" without the
 * referrer and user agent, plus the duration in milliseconds and the
 * request id, so that a line leads to the error log's lines.
 */
#define DEFAULT_ACCESS_FORMAT \
	"%R - - [%t] \"%m %r%Q%q\" %s %b %{ms}d %I"

/*
 * `env` entries a pool may set for its workers: php-fpm pools set a
 * handful; more than this is a generated file that wants clear_env off.
 */
#define MAX_ENV				64

/* Listening sockets one sluice serves (one per protocol is the usual case). */
#define MAX_LISTEN			8

/*
 * Arguments a supervised program (program.c) may be given: spawn-fcgi
 * and mod_fcgid command lines carry a few; more is a script's job.
 */
#define MAX_PROGRAM_ARGS		32

/*
 * How often the master looks, in /proc, at what a program copy is doing
 * while that matters at once: a copy starting (is it waiting in accept
 * yet?) or asked to leave (is it between requests, so that it can be
 * told to go without cutting one?).  Otherwise every MAINTENANCE_TICK_MS.
 */
#define PROGRAM_WATCH_MS		10
#define MAX_ROUTE_CAPTURES		16

/*
 * listen.allowed_clients names web servers, not a network: php-fpm's
 * lists hold a handful of addresses.  16 per listener covers a balancer
 * pair per site with room to spare, and keeps the check a short loop.
 */
#define MAX_ALLOWED_CLIENTS		16

/*
 * A client that is not allowed and keeps connecting (a scanner, a
 * misrouted balancer) must not flood the error log: each worker writes
 * at most one line per this many milliseconds, counting the rest.
 */
#define REFUSED_LOG_MS			10000

/*
 * System calls seccomp_allow may add to the default list: a module that
 * needs more than a few beyond it wants a list of its own, or none.
 */
#define MAX_SECCOMP_ALLOW		64

#endif
