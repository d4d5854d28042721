/*
 * fcgi_config.h - sluice-fcgi's answer to fcgi2's configure header.
 *
 * fcgi2 programs include it (often through fcgi_stdio.h or fcgios.h) to
 * learn what the platform has.  sluice-fcgi runs on Linux only, so these
 * are the facts of a Linux system with glibc.
 */
#ifndef SLUICE_FCGI2_CONFIG_H
#define SLUICE_FCGI2_CONFIG_H

#define HAVE_ARPA_INET_H 1
#define HAVE_FILENO_PROTO 1
#define HAVE_FPOS 1
#define HAVE_INTTYPES_H 1
#define HAVE_LIMITS_H 1
#define HAVE_NETDB_H 1
#define HAVE_NETINET_IN_H 1
#define HAVE_PTHREAD 1
#define HAVE_SOCKLEN 1
#define HAVE_STDINT_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRERROR 1
#define HAVE_STRINGS_H 1
#define HAVE_STRING_H 1
#define HAVE_SYS_PARAM_H 1
#define HAVE_SYS_SOCKET_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_UNISTD_H 1

#endif
