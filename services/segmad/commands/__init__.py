"""The `segmad` command's subcommands, one module each: parse the arguments, call a service function, print."""
