/*
 * table.h - Criterion parameterized tests over a table of cases.
 *
 * Criterion runs each case in a fresh process that receives a copy of
 * its parameter's bytes and nothing else: a pointer into the table (a
 * string, a builder) means nothing there and crashes.  So the parameter
 * is the case's index, and the test reads the table in its own process:
 *
 *	TABLE_PARAMETERS(suite, name, cases)
 *	ParameterizedTest(size_t *i, suite, name, ...)
 *	{
 *		const struct my_case *k = &cases[*i];
 *		...
 *	}
 */
#ifndef SLUICE_TEST_TABLE_H
#define SLUICE_TEST_TABLE_H

#include <stddef.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#define TABLE_LEN(table)	(sizeof(table) / sizeof((table)[0]))

/* The indexes of `table`'s rows, as the parameters of test `suite`/`name`. */
#define TABLE_PARAMETERS(suite, name, table)					\
	static size_t suite##_##name##_rows[TABLE_LEN(table)];			\
										\
	ParameterizedTestParameters(suite, name)				\
	{									\
		for (size_t row = 0; row < TABLE_LEN(table); row++)		\
			suite##_##name##_rows[row] = row;			\
		return cr_make_param_array(size_t, suite##_##name##_rows,	\
					   TABLE_LEN(table));			\
	}

#endif
