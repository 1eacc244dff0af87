/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Tables as kubectl prints them: a header in capitals, columns two
 * spaces apart, numbers right-aligned. */
#ifndef VS_CLI_TABLE_H
#define VS_CLI_TABLE_H
#include <stdio.h>

#define CLI_TABLE_COLS 12
#define CLI_TABLE_CELL 96

struct cli_table {
	int ncols;
	const char *align; /* 'l' or 'r' per column */
	int nrows;	   /* the header included */
	int cap;
	char (*cells)[CLI_TABLE_COLS][CLI_TABLE_CELL];
};

/* headers: ncols names; align: a string of ncols 'l' or 'r'. 0 or -ENOMEM. */
int cli_table_init(struct cli_table *t, int ncols, const char *align, const char *const *headers);
/* A row of ncols cells (a cell too long is cut, ".." at its end). */
int cli_table_row(struct cli_table *t, const char *const *cells);
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);

#endif
