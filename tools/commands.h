/* commands.h - the subcommands of the ivcs CLI, one file each (cmd_<name>.c). */
#ifndef IVCS_TOOLS_COMMANDS_H
#define IVCS_TOOLS_COMMANDS_H

/* Each returns the process exit status: 0 ok, 1 failure, 2 usage error.
 * argv[0] is the subcommand name. */
int ivcs_cmd_mux(int argc, char **argv);
int ivcs_cmd_s3(int argc, char **argv);
int ivcs_cmd_push(int argc, char **argv);
int ivcs_cmd_plan(int argc, char **argv);
int ivcs_cmd_ls(int argc, char **argv);
int ivcs_cmd_events(int argc, char **argv);
int ivcs_cmd_playlist(int argc, char **argv);
int ivcs_cmd_export(int argc, char **argv);
int ivcs_cmd_spool(int argc, char **argv);
int ivcs_cmd_serve(int argc, char **argv);
int ivcs_cmd_cors(int argc, char **argv);

#endif
