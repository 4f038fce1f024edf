// `vggt-engine serve`: the long-lived engine process spoken to over stdin/stdout.
// Protocol: docs/ENGINE-PROTOCOL.md.
#pragma once

// argv[0] is ignored (the program name or "serve"); an explicit "serve" in argv[1] is also
// accepted. Returns the process exit code.
int serve_main(int argc, char** argv);
