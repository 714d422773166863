/*
 * cli_help.h: per-command help of `torwart` (issue 11): `torwart CMD --help` and
 * `torwart CMD SUB --help` print that command's (sub-command's) own text instead of the
 * general help. The texts are data here, one entry per command of the command table
 * (cli_table.c); tests/integration/cli_help.sh walks the table (`torwart --commands`)
 * and checks every command and sub-command has its own text.
 */
#ifndef TORWART_CMD_CLI_HELP_H
#define TORWART_CMD_CLI_HELP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cli_help_sub {
	const char *name;   /* "issue" in `torwart ca issue` */
	const char *text;   /* "usage: torwart ca issue ...\n" + what it does */
};

struct cli_help {
	const char *command;                /* a name of the command table */
	const char *text;                   /* overview: usage lines of every sub-command */
	const struct cli_help_sub *subs;    /* NULL-terminated; NULL for no sub-commands */
};

/* The help entry of command, NULL when it has none. */
const struct cli_help *cli_help_find(const char *command);
/*
 * Print the help of `torwart command [sub]` to out: the sub-command's text when sub names
 * one, else the command's. False (nothing printed) when the command has no help entry.
 */
bool cli_help_print(const char *command, const char *sub, FILE *out);
/*
 * `torwart --commands`: every command of the command table, one a line, followed by its
 * sub-commands ("ca issue"), so tests can walk the table.
 */
void cli_help_list_commands(FILE *out);

/* The command table (cli_table.c) by index: NULL past the end. */
const char *cli_command_name_at(size_t i);

#endif
