#!/bin/sh
# sluice under Apache's mod_fcgid: the program mod_fcgid starts, named by
# the FcgidWrapper line of sluice-fcgid.conf.  The package and `make
# install` put it there, as /usr/lib/sluice/sluice-fcgid.sh and
# /usr/local/lib/sluice/sluice-fcgid.sh (LIBDIR/sluice) respectively.
#
# mod_fcgid starts it with no arguments and an already-listening socket
# as descriptor 0; sluice sees that socket and serves it as a single
# responder, without a master or a pool of its own (mod_fcgid decides how
# many run).  `exec`, so that the process mod_fcgid watches and signals
# is sluice itself, not a shell waiting for it.
#
# The config is an ordinary sluice config, read as Apache's user: its
# modules and folder must be readable, and its error_log writable, by
# that user (www-data on Debian).  `listen` may be left out (it is not
# used here), and the pm and user/group settings do not apply either.
# The installed config logs to /var/log/sluice, which only the user
# sluice may write: under mod_fcgid set error_log = "stderr" (Apache's
# error log) and leave access_log unset, or name files www-data owns.
exec /usr/local/sbin/sluice -c /etc/sluice/sluice.conf
