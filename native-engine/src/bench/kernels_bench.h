// Entry point of `vggt-engine bench-kernels` (GEMM rates per dtype, Linear wrappers, attention).
#pragma once

// argv[0] is the program or subcommand name (an argv[1] of "bench-kernels" is skipped too);
// see --help. Returns the process exit code.
int kernels_bench_main(int argc, char** argv);
