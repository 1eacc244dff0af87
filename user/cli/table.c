// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/table.h"
#include "lib/str.h"

int cli_table_init(struct cli_table *t, int ncols, const char *align, const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	if (ncols < 1 || ncols > CLI_TABLE_COLS || strlen(align) != (size_t)ncols)
		return -EINVAL;
	t->ncols = ncols;
	t->align = align;
	return cli_table_row(t, headers);
}

int cli_table_row(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		int cap = t->cap ? t->cap * 2 : 8;
		void *p = realloc(t->cells, cap * sizeof(*t->cells));

		if (!p)
			return -ENOMEM;
		t->cells = p;
		t->cap = cap;
	}
	for (int c = 0; c < t->ncols; c++)
		/* names come from the API: shown as printable ASCII only */
		str_printable(t->cells[t->nrows][c], CLI_TABLE_CELL, cells[c] ? cells[c] : "");
	t->nrows++;
	return 0;
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
	int width[CLI_TABLE_COLS] = { 0 };

	for (int r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			int w = strlen(t->cells[r][c]);

			if (w > width[c])
				width[c] = w;
		}
	for (int r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			bool last = c == t->ncols - 1;
			int w = width[c];

			if (t->align[c] == 'r')
				fprintf(f, "%*s", w, t->cells[r][c]);
			else
				fprintf(f, "%-*s", last ? 0 : w, t->cells[r][c]);
			if (!last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
}

void cli_table_free(struct cli_table *t)
{
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}
