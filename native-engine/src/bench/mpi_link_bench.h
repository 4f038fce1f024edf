// Entry point of `mpirun -np N vggt-engine bench-mpi`: what the link between ranks delivers, with
// no model around it (docs/PERFORMANCE.md, "Across hosts over TCP").
#pragma once

// argv[0] is "bench-mpi"; see --help. Returns the process exit code.
int mpi_link_bench_main(int argc, char** argv);
