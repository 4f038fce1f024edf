// The vggt-engine subcommands (each in its own file).
#pragma once

namespace vggt::cli {

int infer_main(int argc, char** argv);
int preprocess_main(int argc, char** argv);
int bench_main(int argc, char** argv);
int validate_main(int argc, char** argv);
int convert_main(int argc, char** argv);

}  // namespace vggt::cli
