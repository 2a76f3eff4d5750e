/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_rul.h - what `modax train` and `modax predict` share: the options
 * that say how to read a history file, and strict number options.
 */
#ifndef MODAX_CLI_RUL_H
#define MODAX_CLI_RUL_H

#include "modax/rul.h"

/*
 * Handles --format, --asset-col, --time-col, --inputs, --nan with value
 * 'v' into 'ro': 1 if it took the option, 0 if not one of them, -1 on a
 * bad value (printed). ro->format starts at -1 (not given).
 */
int cli_rul_read_option(const char *opt, const char *v, struct mdx_rul_read_opts *ro);
/* Fills ro->format when not given: csv for a .csv file, else cmapss. */
void cli_rul_default_format(struct mdx_rul_read_opts *ro, const char *path);
/* 'v' as an int/double in [lo, hi] into *out: 1, or -1 with a message. */
int cli_rul_int(const char *opt, const char *v, int lo, int hi, int *out);
int cli_rul_double(const char *opt, const char *v, double lo, double hi, double *out);

/* `modax rul export` (cmd_rul_export.c): argv[0] is "export". */
int cmd_rul_export(int argc, char **argv);
/* `modax model export --onnx FILE [MODEL]` (cmd_model_export.c): argv[0] is "export". */
int cmd_model_export(int argc, char **argv);

#endif
