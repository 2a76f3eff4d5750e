/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_columns.h - `modax detect --columns`: offline scoring of one
 * device's sensors with the live pipeline's device-level detector.
 */
#ifndef MODAX_CLI_DETECT_COLUMNS_H
#define MODAX_CLI_DETECT_COLUMNS_H

#include <stdio.h>

/*
 * Reads CSV 'timestamp,s1,s2,...' (a header row naming the sensors, then
 * data rows) from 'in' ('name' for messages) and prints one device score
 * per data row to stdout. Returns CLI_OK, or CLI_FAIL when the file has no
 * usable header (empty, missing, fewer than 2 or more than
 * MDX_DEVICE_SENSORS_MAX sensor columns), said on stderr.
 */
int detect_columns(FILE *in, const char *name);

#endif
