/*
 * respond.h - what respond.c decides that a unit suite checks alone.
 */
#ifndef SLUICE_RESPOND_H
#define SLUICE_RESPOND_H

/*
 * 1 when the Accept header `accept` (NULL: none) prefers JSON
 * (application/json or a +json type) to text/html by q value; else 0.
 * Wildcards count for neither.
 */
int respond_wants_json(const char *accept);

#endif
